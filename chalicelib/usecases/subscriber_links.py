"""What every message to a subscriber carries: the signed unsubscribe link, and the address as
shown to others (masked). Used by sign-up, the stream consumer and the delivery worker."""
from __future__ import annotations

import hashlib
import hmac
import secrets


def signing_key(c) -> bytes:
    """The deployment's secret for subscriber links and ids (made once, kept in the state table)."""
    return c.store.secret("signing", lambda: secrets.token_hex(32)).encode()


def unsubscribe_token(c, sub_id: str) -> str:
    mac = hmac.new(signing_key(c), f"unsubscribe:{sub_id}".encode(), hashlib.sha256)
    return f"{sub_id}.{mac.hexdigest()[:32]}"


def unsubscribe_url(c, sub_id: str) -> str:
    return f"{c.config.page.url.rstrip('/')}/api/v1/unsubscribe/{unsubscribe_token(c, sub_id)}"


def mask(doc: dict) -> str:
    addr = doc["address"]
    if doc["kind"] == "email":
        user, _, domain = addr.partition("@")
        return f"{user[:1]}***@{domain}"
    if doc["kind"] == "sms":
        return f"***{addr[-3:]}"
    return addr.split("?")[0][:60]
