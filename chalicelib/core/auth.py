"""Operator API keys: `op_<key id>_<secret>`, 256-bit secret, only its SHA-256 is stored.

A fast hash is right here: the secret has 256 bits of entropy, so there is nothing to brute-force,
and the authorizer runs on every operator call.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Hashable, Optional

SCOPES = ("incidents:write", "components:write", "maintenance:write", "subscribers:read",
          "subscribers:write", "keys:admin",
          "heartbeats:write", "audit:read")
_KEY = re.compile(r"^op_([a-z2-7]{10})_([A-Za-z0-9_-]{43})$")
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    scopes: frozenset
    created_at: float
    expires_at: Optional[float] = None
    revoked_at: Optional[float] = None

    def usable(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def new_key() -> tuple[str, str, str]:
    """(full key shown once, key id, sha256 of the secret)."""
    key_id = "".join(secrets.choice(_B32) for _ in range(10))
    secret = secrets.token_urlsafe(32)
    return f"op_{key_id}_{secret}", key_id, digest(secret)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split(token: str) -> Optional[tuple[str, str]]:
    """(key id, secret) of a well-formed key, else None."""
    match = _KEY.match(token.strip()) if token else None
    return (match.group(1), match.group(2)) if match else None


def secret_matches(secret: str, stored_sha256: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_sha256)


def bearer_token(header: Optional[str]) -> Optional[str]:
    """The key from `Authorization: Bearer <key>` or Statuspage's `OAuth <key>`."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() in ("bearer", "oauth") and value.strip() else None


def validate_scopes(scopes) -> frozenset:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    return frozenset(scopes)


# --- what a warm Lambda remembers between calls ---------------------------------------------

KEY_CACHE_SECONDS = 30.0          # a revoked key stops working within this long
KNOWN_KEYS = 256                  # stored keys read recently; far more than any team uses
UNKNOWN_KEYS = 1024               # recent key ids with no stored key (a negative cache)
FAILURES_PER_CLIENT = 10          # failed authentications per client address ...
FAILURE_WINDOW = 60.0             # ... in this sliding window (seconds), then 429
# Through CloudFront the source address is an edge server shared by many viewers, so its limit
# is far higher; it only stops a caller that skips CloudFront and forges the viewer header.
FAILURES_PER_SOURCE = 500

MISSING = object()


class TtlLru:
    """A bounded map whose entries expire: at most `size` entries, the least recently used
    dropped first, and an entry older than `ttl` seconds is never returned. Thread-safe."""

    def __init__(self, size: int, ttl: float):
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size, self.ttl = size, ttl
        self._lock = threading.Lock()
        self._entries: OrderedDict = OrderedDict()     # key -> (value, stored at)

    def get(self, key: Hashable, now: float) -> Any:
        """The value, or MISSING when absent or expired."""
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return MISSING
            if not 0 <= now - hit[1] < self.ttl:      # expired, or the clock went back
                del self._entries[key]
                return MISSING
            self._entries.move_to_end(key)
            return hit[0]

    def put(self, key: Hashable, value: Any, now: float) -> None:
        with self._lock:
            self._entries[key] = (value, now)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


class FailureLimiter:
    """At most `limit` failures per client in any `window` seconds (a sliding window).

    Memory is bounded whatever callers send: at most `clients` clients are remembered (the one
    that failed least recently is forgotten first), each with at most `limit` timestamps.
    """

    def __init__(self, limit: int, window: float, clients: int = 4096):
        self.limit, self.window = limit, window
        # client -> (the last `limit` failure times, blocked until)
        self._clients = TtlLru(clients, ttl=float("inf"))
        self._lock = threading.Lock()

    def retry_after(self, client: str, now: float) -> int:
        """Whole seconds until `client` may fail again; 0 when it may now."""
        entry = self._clients.get(client, now)
        if entry is MISSING:
            return 0
        times, blocked_until = entry
        wait = blocked_until - now
        if len(times) >= self.limit:
            wait = max(wait, times[0] + self.window - now)
        return math.ceil(wait) if wait > 0 else 0

    def fail(self, client: str, now: float) -> None:
        with self._lock:
            entry = self._clients.get(client, now)
            if entry is MISSING:
                entry = (deque(maxlen=self.limit), 0.0)
            entry[0].append(now)
            self._clients.put(client, entry, now)

    def block(self, client: str, now: float, seconds: float) -> None:
        """Block `client` for `seconds`, e.g. when other Lambdas have counted its failures."""
        with self._lock:
            entry = self._clients.get(client, now)
            times = deque(maxlen=self.limit) if entry is MISSING else entry[0]
            self._clients.put(client, (times, now + seconds), now)

    def __len__(self) -> int:
        return len(self._clients)


@dataclass
class KeyGuard:
    """Per warm Lambda, all bounded: stored keys read recently (`known`, by key id: its record
    and secret hash, whatever secret was presented), key ids that have no stored key
    (`unknown`, so a repeated bogus key costs no read, and a flood of new ones cannot evict the
    real keys), and failed authentications per client address."""
    known: TtlLru = field(default_factory=lambda: TtlLru(KNOWN_KEYS, KEY_CACHE_SECONDS))
    unknown: TtlLru = field(default_factory=lambda: TtlLru(UNKNOWN_KEYS, KEY_CACHE_SECONDS))
    failures: FailureLimiter = field(
        default_factory=lambda: FailureLimiter(FAILURES_PER_CLIENT, FAILURE_WINDOW))
    source_failures: FailureLimiter = field(
        default_factory=lambda: FailureLimiter(FAILURES_PER_SOURCE, FAILURE_WINDOW))
