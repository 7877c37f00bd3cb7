"""I/O: POST one webhook under a hard wall-clock deadline. Runs only in the delivery worker.

Every step (connect, TLS handshake, send, status line, headers, the few body bytes a
verification needs) runs on a non-blocking socket that waits only for what is left of ONE
deadline. A receiver that trickles a byte a second, never answers, or never completes the
handshake is cut when the deadline passes; per-read timeouts (urllib3's) would let a trickle
hold the worker for ever.

The SSRF guard applies as for checks: the host is resolved once, every address must be public
(unless private targets are allowed), and the connection goes to the validated address.
Redirects are not followed (a 3xx is a failure), and at most `read_body` bytes of the
receiver's body are read.
"""
from __future__ import annotations

import errno
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Optional
from urllib.parse import quote, urlsplit

from ..core.errors import OutpostError
from . import ssrf

MAX_HEAD = 16_384            # status line and headers; more is not a webhook receiver


def url_problem(url: str, allow_private: bool) -> Optional[str]:
    """Why this URL can't be a webhook, or None."""
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7f for ch in url):
        # urlsplit drops some of these and the resolver chokes on others (a NUL is a
        # ValueError, not a resolver error): refuse them all, by name, before either sees them
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port                               # raises on a port that isn't one
    except ValueError as exc:
        return f"is not a valid URL: {exc}"
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        return "must be an https:// URL" if not allow_private else "must be an http(s):// URL"
    if len(url) > 2000:
        return "is longer than 2000 characters"
    try:
        ssrf.resolve(parts.hostname, allow_private)
    except ssrf.Refused as exc:
        return str(exc)
    return None


class DeliveryFailed(OutpostError):
    """No answer from the receiver within the deadline, or one we could not read."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""


class _Deadline:
    """A non-blocking socket whose every wait is bounded by what is left of one deadline."""

    def __init__(self, sock, end: float, seconds: float):
        self.sock, self.end, self.seconds = sock, end, seconds

    def wait(self, write: bool) -> None:
        left = self.end - time.monotonic()
        if left > 0:
            poller = select.poll()
            poller.register(self.sock, select.POLLOUT if write else select.POLLIN)
            if poller.poll(left * 1000):
                return
        raise DeliveryFailed(f"no complete answer within {self.seconds:g}s")

    def handshake(self) -> None:
        while True:
            try:
                self.sock.do_handshake()
                return
            except ssl.SSLWantReadError:
                self.wait(False)
            except ssl.SSLWantWriteError:
                self.wait(True)

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view):]
            except (BlockingIOError, ssl.SSLWantWriteError):
                self.wait(True)
            except ssl.SSLWantReadError:
                self.wait(False)

    def recv(self, n: int) -> bytes:
        while True:
            try:
                return self.sock.recv(n)
            except (BlockingIOError, ssl.SSLWantReadError):
                self.wait(False)
            except ssl.SSLWantWriteError:
                self.wait(True)


def _connect(address: str, port: int, end: float, seconds: float) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        code = sock.connect_ex((address, port))
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            raise DeliveryFailed(f"connect: {errno.errorcode.get(code, code)}")
        if code:
            _Deadline(sock, end, seconds).wait(True)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise DeliveryFailed(f"connect: {errno.errorcode.get(code, code)}")
        return sock
    except BaseException:
        sock.close()
        raise


def _read_reply(conn: _Deadline, read_body: int) -> Reply:
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > MAX_HEAD:
            raise DeliveryFailed("response headers are too long")
        chunk = conn.recv(4096)
        if not chunk:
            raise DeliveryFailed("connection closed before a complete response")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    # isdigit() alone takes '²' (latin-1 superscript two), which int() refuses
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or len(parts[1]) != 3 \
            or not parts[1].isascii() or not parts[1].isdigit():
        raise DeliveryFailed(f"not an HTTP response: {lines[0][:60]!r}")
    status = int(parts[1])
    if not read_body:
        return Reply(status)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return Reply(status, _dechunk(conn, rest, read_body))
    try:
        want = min(read_body, int(headers["content-length"]))
    except (KeyError, ValueError):
        want = read_body                         # to EOF, bounded
    body = rest
    while len(body) < want:
        chunk = conn.recv(want - len(body))
        if not chunk:
            break
        body += chunk
    return Reply(status, body[:want])


def _dechunk(conn: _Deadline, buf: bytes, limit: int) -> bytes:
    """A chunked body, up to `limit` bytes (enough for a challenge's echo)."""
    out = b""
    while len(out) < limit:
        while b"\r\n" not in buf:
            if len(buf) > 64:
                raise DeliveryFailed("bad chunked encoding")
            more = conn.recv(256)
            if not more:
                return out
            buf += more
        size_line, _, buf = buf.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            raise DeliveryFailed("bad chunked encoding") from None
        if size == 0:
            return out
        need = min(size, limit - len(out))
        while len(buf) < need:
            more = conn.recv(need - len(buf))
            if not more:
                return out + buf
            buf += more
        out += buf[:need]
        buf = buf[need:]
        if need < size:
            return out
        buf = buf[2:] if buf.startswith(b"\r\n") else buf
    return out


def _resolve_within(host: str, allow_private: bool, end: float, deadline: float,
                    resolver=None) -> str:
    """The address to connect to, or DeliveryFailed once the deadline passes: getaddrinfo
    blocks for the resolver's own timeouts, so a name whose DNS server never answers would
    otherwise hold the worker past the deadline. The lookup thread is left to finish alone."""
    found: list = []

    def lookup() -> None:
        try:
            found.append(str(ssrf.resolve(host, allow_private, resolver=resolver)[0]))
        except ssrf.Refused as exc:
            found.append(exc)
    thread = threading.Thread(target=lookup, name="webhook-dns", daemon=True)
    thread.start()
    thread.join(max(0.0, end - time.monotonic()))
    if not found:
        raise DeliveryFailed(f"no answer within {deadline:g}s (name lookup)")
    if isinstance(found[0], ssrf.Refused):
        raise DeliveryFailed(str(found[0]))
    return found[0]


def post(url: str, body: bytes, headers: dict, allow_private: bool, deadline: float,
         read_body: int = 0, ssl_context: Optional[ssl.SSLContext] = None,
         resolver=None) -> Reply:
    """POST `body`; the Reply for any answer (the caller judges the status). Raises
    DeliveryFailed when there is no complete answer within `deadline` seconds in all, or the
    URL is refused."""
    end = time.monotonic() + deadline
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise DeliveryFailed(f"bad URL: {exc}") from None
    host = parts.hostname or ""
    address = _resolve_within(host, allow_private, end, deadline, resolver)
    sock = _connect(address, port, end, deadline)
    try:
        if parts.scheme == "https":
            ctx = ssl_context or ssl.create_default_context()
            sock = ctx.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
        conn = _Deadline(sock, end, deadline)
        if parts.scheme == "https":
            conn.handshake()
        path = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                     safe="/?&=%:;@!$'()*+,~-._")
        shown = f"[{host}]" if ":" in host else host
        lines = [f"POST {path} HTTP/1.1",
                 f"Host: {shown if port in (80, 443) else f'{shown}:{port}'}",
                 f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        conn.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        return _read_reply(conn, read_body)
    except (OSError, ssl.SSLError, UnicodeError) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {str(exc)[:120]}") from None
    finally:
        sock.close()
