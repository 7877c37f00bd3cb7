"""TCP connect checks (tcp://host:port): [CONNECTED] and [RESPONSE_TIME] (the connect time)."""
from __future__ import annotations

import socket
from typing import Optional
from urllib.parse import urlsplit

from ...core.conditions import Observation
from ...core.model import Monitor
from ..ssrf import Refused
from . import Deadline, ProbeContext, short


def connect(host: str, port: int, ctx: ProbeContext, deadline: Deadline) -> socket.socket:
    """A connected socket to the validated address of `host` (shared with TLS checks).
    Raises Refused (guard) or OSError (network), each with a message fit for the page."""
    address = ctx.resolve(host)[0]
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(max(deadline.left(), 0.001))
    try:
        sock.connect((str(address), port))
    except BaseException:
        sock.close()
        raise
    return sock


def network_error(exc: OSError, timeout: float) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"connect timeout after {timeout:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection failed: connection refused"
    return f"connection failed: {(exc.strerror or short(exc)).lower()}"


def probe(monitor: Monitor, ctx: ProbeContext) -> tuple[Observation, Optional[str]]:
    parts = urlsplit(monitor.url)
    deadline = Deadline(monitor.timeout)
    try:
        sock = connect(parts.hostname or "", parts.port or 0, ctx, deadline)
    except Refused as exc:
        return Observation(), f"blocked: {exc}"
    except OSError as exc:
        return Observation(), network_error(exc, monitor.timeout)
    elapsed = deadline.elapsed_ms()
    sock.close()
    return Observation(connected=True, response_time_ms=elapsed), None
