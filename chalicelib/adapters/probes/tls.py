"""TLS checks without HTTP (tls://host:port): the handshake, certificate chain, hostname, expiry.

The chain and the hostname are verified as any client would; a failure is the check's error
("TLS error: ... Hostname mismatch ..."), and [CERTIFICATE_EXPIRATION] reads notAfter from the
certificate the server actually presented.
"""
from __future__ import annotations

import ssl
from typing import Optional
from urllib.parse import urlsplit

from ...core.conditions import Observation
from ...core.model import Monitor
from ..ssrf import Refused
from . import Deadline, ProbeContext, cert_expires_in, short
from .tcp import connect, network_error


def probe(monitor: Monitor, ctx: ProbeContext) -> tuple[Observation, Optional[str]]:
    parts = urlsplit(monitor.url)
    host = parts.hostname or ""
    deadline = Deadline(monitor.timeout)
    try:
        sock = connect(host, parts.port or 443, ctx, deadline)
    except Refused as exc:
        return Observation(), f"blocked: {exc}"
    except OSError as exc:
        return Observation(), network_error(exc, monitor.timeout)
    try:
        sock.settimeout(max(deadline.left(), 0.001))
        # server_hostname drives SNI and, with the default context, the hostname check.
        with ctx.ssl_context().wrap_socket(sock, server_hostname=host) as tls:
            expires_in = cert_expires_in(tls)
            return Observation(connected=True, response_time_ms=deadline.elapsed_ms(),
                               certificate_expires_in=expires_in), None
    except ssl.SSLCertVerificationError as exc:
        return Observation(), f"TLS error: {short(exc.verify_message or exc)}"
    except (ssl.SSLError, OSError) as exc:
        if isinstance(exc, TimeoutError) or "timed out" in str(exc):
            return Observation(), f"timeout after {monitor.timeout:g}s (TLS handshake)"
        return Observation(), f"TLS error: {short(exc)}"
    finally:
        sock.close()
