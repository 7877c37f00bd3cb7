"""HTTP(S) checks over urllib3, connecting to the address the SSRF guard validated.

requests/urllib3 would resolve the name again when connecting, and a rebinding DNS server could
answer differently the second time. So each hop resolves once (ssrf.resolve), opens a pool on
that IP, and keeps the original name for the Host header, SNI and certificate checks.
Redirects are followed by hand so every hop goes through the guard again.
"""
from __future__ import annotations

from typing import Optional
from urllib.parse import urljoin, urlsplit

import urllib3
import urllib3.connection
from urllib3.exceptions import (ConnectTimeoutError, HTTPError, NewConnectionError,
                                ReadTimeoutError, SSLError)

from ...core.conditions import Observation
from ...core.model import Monitor
from ..ssrf import Refused
from . import Deadline, ProbeContext, cert_expires_in, short

MAX_BODY_BYTES = 1 << 20          # conditions look at the first MiB; nobody's health body is larger
REDIRECTS = {301, 302, 303, 307, 308}


def probe(monitor: Monitor, ctx: ProbeContext) -> tuple[Observation, Optional[str]]:
    deadline = Deadline(monitor.timeout)
    url, method, body = monitor.url, monitor.method, monitor.body
    extra = dict(monitor.headers)
    origin = _origin(url)
    for hop in range(monitor.max_redirects + 1):
        try:
            resp, expires_in = _request(method, url, body, extra, ctx, deadline)
        except Refused as exc:
            where = "" if hop == 0 else f"redirect {hop} to "
            return Observation(), f"blocked: {where}{exc}"
        except _Failure as exc:
            return Observation(connected=exc.connected), str(exc)
        try:
            location = resp.headers.get("Location")
            if resp.status in REDIRECTS and location and hop < monitor.max_redirects:
                url = urljoin(url, location)
                problem = _redirect_problem(url)
                if problem:
                    return Observation(), f"blocked: redirect {hop + 1}: {problem}"
                if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                    method, body = "GET", None          # what browsers and curl -L do
                if _origin(url) != origin:
                    extra = {}      # operator headers (tokens) are for the configured origin only
                continue
            if resp.status in REDIRECTS and location and monitor.max_redirects:
                return (Observation(status_code=resp.status, connected=True),
                        f"too many redirects (more than {monitor.max_redirects})")
            text = None if method == "HEAD" else _read_body(resp, deadline)
            if text is _TIMED_OUT:
                return Observation(connected=True), f"timeout after {monitor.timeout:g}s"
            return Observation(status_code=resp.status, response_time_ms=deadline.elapsed_ms(),
                               body=text, headers=dict(resp.headers), connected=True,
                               certificate_expires_in=expires_in), None
        finally:
            resp.release_conn()
            resp.close()
    raise AssertionError("unreachable: the loop returns on its last hop")


class _CertRecording(urllib3.connection.HTTPSConnection):
    """Reads the peer certificate right after the handshake: once a response says it will close
    the connection, http.client drops the socket before we could ask it."""
    expires_in: Optional[float] = None

    def connect(self) -> None:
        super().connect()
        self.expires_in = cert_expires_in(self.sock)


class _Failure(Exception):
    def __init__(self, text: str, connected: bool = False):
        super().__init__(text)
        self.connected = connected


_TIMED_OUT = object()


def _origin(url: str) -> tuple:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def _redirect_problem(url: str) -> Optional[str]:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return f"scheme {parts.scheme or '(none)'!r} is not allowed"
    if parts.username is not None or parts.password is not None:
        return "credentials in the URL are not allowed"
    if not parts.hostname:
        return "no host in the Location"
    return None


def _request(method: str, url: str, body: Optional[str], extra: dict, ctx: ProbeContext,
             deadline: Deadline):
    """One request to the validated address of `url`'s host; returns (response, cert expiry)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme.lower() == "https"
    port = parts.port or (443 if https else 80)
    address = str(ctx.resolve(host)[0])
    if deadline.expired():
        raise _Failure(f"timeout after resolving {host}")
    left = deadline.left()
    timeout = urllib3.Timeout(connect=left, read=left)
    if https:
        pool = urllib3.HTTPSConnectionPool(
            address, port, timeout=timeout, retries=False, maxsize=1,
            ssl_context=ctx.ssl_context(), cert_reqs="CERT_REQUIRED",
            server_hostname=host, assert_hostname=host)       # SNI and the cert check use the name
        pool.ConnectionCls = _CertRecording
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)
    default_port = port == (443 if https else 80)
    bracketed = f"[{host}]" if ":" in host else host
    headers = {**extra, "Host": bracketed if default_port else f"{bracketed}:{port}",
               "User-Agent": ctx.user_agent, "Accept-Encoding": "gzip, deflate"}
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        resp = pool.urlopen(method, path, body=body.encode() if body is not None else None,
                            headers=headers, redirect=False, retries=False,
                            preload_content=False, assert_same_host=False)
    except NewConnectionError as exc:         # before ConnectTimeoutError: it subclasses it
        raise _Failure(f"connection failed: {_reason(exc)}") from None
    except ConnectTimeoutError:
        raise _Failure(f"connect timeout after {_secs(deadline)}") from None
    except ReadTimeoutError:
        raise _Failure(f"timeout after {_secs(deadline)}", connected=True) from None
    except SSLError as exc:
        raise _Failure(f"TLS error: {_tls_reason(exc)}") from None
    except (HTTPError, OSError) as exc:
        raise _Failure(f"request failed: {short(exc)}") from None
    finally:
        pool.close()        # closes idle connections only; the response keeps its own
    return resp, getattr(resp.connection, "expires_in", None)


def _secs(deadline: Deadline) -> str:
    return f"{deadline.at - deadline.started:g}s"


def _tls_reason(exc: BaseException) -> str:
    inner = exc.__context__ or exc.__cause__ or exc
    return short(getattr(inner, "verify_message", None) or inner)


def _reason(exc: BaseException) -> str:
    cause = exc.__context__ or exc.__cause__
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    return short(exc)


def _read_body(resp, deadline: Deadline):
    """The body as text, or _TIMED_OUT when the deadline passes first (a trickling server)."""
    chunks, size = [], 0
    try:
        for chunk in resp.stream(16384, decode_content=True):
            chunks.append(chunk)
            size += len(chunk)
            if deadline.expired():
                return _TIMED_OUT
            if size >= MAX_BODY_BYTES:
                break
    except (ReadTimeoutError, TimeoutError):
        return _TIMED_OUT
    except (HTTPError, OSError):
        pass                 # a truncated or malformed body is judged on what did arrive
    charset = _charset(resp.headers.get("Content-Type", ""))
    return b"".join(chunks)[:MAX_BODY_BYTES].decode(charset, errors="replace")


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            name = value.strip('"').lower()
            try:
                "".encode(name)
                return name
            except LookupError:
                break
    return "utf-8"
