"""Operator API keys: `op_<key id>_<secret>`, 256-bit secret, only its SHA-256 is stored.

A fast hash is right here: the secret has 256 bits of entropy, so there is nothing to brute-force,
and the authorizer runs on every operator call.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Optional

SCOPES = ("incidents:write", "components:write", "maintenance:write", "subscribers:read",
          "subscribers:write", "keys:admin")
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
