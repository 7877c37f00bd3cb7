"""I/O: one module per check kind. Each exposes `probe(monitor, ctx) -> (Observation, error)`.

An error is the short public reason a check could not observe anything useful (refused by the
SSRF guard, timeout, connection refused, TLS failure); anything observed goes in the
Observation for the conditions to judge. Nothing here raises for a target's misbehaviour.
"""
from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence

from ..ssrf import IPAddress, Resolver, resolve


@dataclass
class ProbeContext:
    """What every check kind needs besides the monitor; built once per prober."""
    user_agent: str
    allow_private: bool = False
    resolver: Optional[Resolver] = None                  # None: the system resolver
    ca_file: Optional[str] = None                        # None: certifi's bundle
    nameservers: Sequence[tuple[str, int]] = ()          # DNS checks; () = the system's
    allowed_networks: Sequence = ()                      # exceptions to the SSRF guard
    _ssl: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def resolve(self, host: str) -> list[IPAddress]:
        """Validated addresses of `host` (ssrf.resolve); raises ssrf.Refused."""
        return resolve(host, self.allow_private, self.resolver, self.allowed_networks)

    def ssl_context(self) -> ssl.SSLContext:
        """One verifying context per prober: loading a CA bundle costs ~10 ms, too much per check.
        SSLContext is safe to share between threads once configured."""
        with self._lock:
            if "ctx" not in self._ssl:
                cafile = self.ca_file
                if cafile is None:
                    import certifi  # cold start: only a TLS probe needs it
                    cafile = certifi.where()
                ctx = ssl.create_default_context(cafile=cafile)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                self._ssl["ctx"] = ctx
            return self._ssl["ctx"]


class Deadline:
    """The whole check (resolve, connect, redirects, body) shares one time budget."""

    def __init__(self, seconds: float):
        self.started = time.monotonic()
        self.at = self.started + seconds

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


def short(exc: BaseException, limit: int = 160) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:limit]


def cert_expires_in(sock: ssl.SSLSocket) -> Optional[float]:
    """Seconds until the peer certificate's notAfter, from the handshake that just happened.
    Wall time on purpose (not the app's injectable clock): the certificate lives in real time."""
    try:
        cert = sock.getpeercert()
    except (ValueError, OSError):
        return None
    if not cert or "notAfter" not in cert:
        return None
    return ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()
