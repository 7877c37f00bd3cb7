"""Subscriber use-cases: sign up by email, SMS or webhook; verify; unsubscribe; list; delete.

Email double opt-in is SNS's own confirmation mail. SMS needs our verification code first, and
that code is itself an SMS, so it sits behind a country allow-list, per-number, per-IP and global
caps (the global one trips a breaker and tells the operators). Webhooks are active at once, as
Statuspage's are, and get a signing secret shown once.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from typing import Any, Optional

from .manage import known_components

log = logging.getLogger("outpost.subscribers")
CODE_TTL = 600.0
MAX_CODE_ATTEMPTS = 5
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


class SubscribeError(Exception):
    def __init__(self, status: int, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _signing_key(c) -> bytes:
    return c.store.secret("signing", lambda: secrets.token_hex(32)).encode()


def unsubscribe_token(c, sub_id: str) -> str:
    mac = hmac.new(_signing_key(c), f"unsubscribe:{sub_id}".encode(), hashlib.sha256)
    return f"{sub_id}.{mac.hexdigest()[:32]}"


def unsubscribe_url(c, sub_id: str) -> str:
    return f"{c.config.page.url.rstrip('/')}/api/v1/unsubscribe/{unsubscribe_token(c, sub_id)}"


def _check_token(c, token: str) -> dict:
    token = token or ""
    sub_id, _, mac = token.partition(".")
    if not sub_id or not token.isascii() or len(token) > 100 \
            or not hmac.compare_digest(unsubscribe_token(c, sub_id).encode(), token.encode()):
        raise SubscribeError(404, "this unsubscribe link is not valid")
    doc = c.store.get_subscriber(sub_id)
    if doc is None:
        raise SubscribeError(404, "this subscription no longer exists")
    return doc


def mask(doc: dict) -> str:
    addr = doc["address"]
    if doc["kind"] == "email":
        user, _, domain = addr.partition("@")
        return f"{user[:1]}***@{domain}"
    if doc["kind"] == "sms":
        return f"***{addr[-3:]}"
    return addr.split("?")[0][:60]


def _components(c, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SubscribeError(422, "must be a list of component ids", "components")
    known = known_components(c.config)
    unknown = [v for v in value if v not in known]
    if unknown:
        raise SubscribeError(422, f"unknown component {unknown[0][:40]!r}", "components")
    return sorted({known[v] for v in value})


def subscribe(c, payload: Any, ip: str) -> tuple[int, dict]:
    if not isinstance(payload, dict):
        raise SubscribeError(422, "body must be a JSON object", "body")
    kinds = [k for k in ("email", "phone", "webhook") if k in payload]
    if len(kinds) != 1:
        raise SubscribeError(422, "give exactly one of email, phone or webhook", "body")
    unknown = sorted(set(payload) - {"email", "phone", "webhook", "components", "all_updates"})
    if unknown:
        raise SubscribeError(422, "unknown field", unknown[0][:40])
    components = _components(c, payload.get("components"))
    all_updates = payload.get("all_updates", False)
    if not isinstance(all_updates, bool):
        raise SubscribeError(422, "must be true or false", "all_updates")
    value = payload[kinds[0]]
    if not isinstance(value, str):
        raise SubscribeError(422, "must be a string", kinds[0])
    if kinds[0] == "email":
        return _subscribe_email(c, value.strip(), components)
    if kinds[0] == "phone":
        return _subscribe_phone(c, value.strip(), components, all_updates, ip)
    return _subscribe_webhook(c, value.strip(), components)


def _new_doc(c, kind: str, address: str, components: list[str], state: str, **extra) -> dict:
    return {"id": secrets.token_hex(8), "kind": kind, "address": address,
            "address_hash": _hash(f"{kind}:{address.lower()}"), "components": components,
            "state": state, "created_at": c.clock(), "sns_arn": None, **extra}


def _public(doc: dict) -> dict:
    return {"id": doc["id"], "type": doc["kind"], "state": doc["state"],
            "address": mask(doc), "components": doc["components"]}


def _subscribe_email(c, address: str, components: list[str]) -> tuple[int, dict]:
    from .notify import filter_policy
    if not c.config.subscribers.email:
        raise SubscribeError(422, "email subscriptions are not offered on this page", "email")
    if len(address) > 254 or not _EMAIL.match(address):
        raise SubscribeError(422, "is not an email address", "email")
    existing = c.store.find_subscriber("email", _hash(f"email:{address.lower()}"))
    doc = existing if existing and existing["state"] != "unsubscribed" else \
        _new_doc(c, "email", address, components, "pending")
    if doc is not existing:
        doc["sns_arn"] = c.notifier.subscribe("email", address, filter_policy(components, False))
        doc["state"] = "active"        # handed to SNS, which holds mail until it is confirmed
        c.store.put_subscriber(doc)
    # Same answer whether or not the address was known: no enumeration of subscribers.
    return 202, {"subscriber": {**_public(doc), "state": "pending"},
                 "message": "Check your inbox for a message to confirm the subscription."}


def _subscribe_phone(c, phone: str, components: list[str], all_updates: bool,
                     ip: str) -> tuple[int, dict]:
    import phonenumbers
    policy = c.config.subscribers
    if not policy.sms_countries:
        raise SubscribeError(422, "SMS subscriptions are not offered on this page", "phone")
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        raise SubscribeError(422, "is not a phone number in international form, e.g. "
                                  "+14155550123", "phone") from None
    if not phonenumbers.is_valid_number(parsed):
        raise SubscribeError(422, "is not a valid phone number", "phone")
    country = phonenumbers.region_code_for_number(parsed)
    if country not in policy.sms_countries:
        raise SubscribeError(422, f"SMS is not offered to {country} numbers here "
                                  f"(offered: {', '.join(policy.sms_countries)})", "phone")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    now = c.clock()
    store = c.store
    if store.count("sms-global", now, 3600) >= policy.sms_global_per_hour:
        if store.hit("sms-breaker-alert", now, 3600) == 1:
            c.notifier.publish_operator(
                f"[{c.config.page.name}] SMS sign-up paused",
                f"More than {policy.sms_global_per_hour} verification SMS in the last hour; "
                "SMS sign-up is refused until the hour is over. This can be SMS pumping.")
        raise SubscribeError(429, "SMS sign-up is paused for a while; try again later", "phone")
    if store.hit(f"sms-ip#{_hash(ip)}", now, 3600) > policy.sms_per_ip_per_hour:
        raise SubscribeError(429, "too many SMS sign-ups from this address; try again later",
                             "phone")
    if store.hit(f"sms-number#{_hash(e164)}", now, 86400) > policy.sms_per_number_per_day:
        raise SubscribeError(429, "too many codes sent to this number today", "phone")
    store.hit("sms-global", now, 3600)
    code = f"{secrets.randbelow(1_000_000):06d}"
    doc = _new_doc(c, "sms", e164, components, "pending", all_updates=all_updates,
                   code_sha=_hash(code), code_expires=now + CODE_TTL, code_attempts=0)
    store.put_subscriber(doc)
    c.notifier.send_sms(e164, f"{c.config.page.name[:40]} code: {code}. It expires in 10 "
                              "minutes. Reply STOP to opt out.")
    return 202, {"subscriber": _public(doc),
                 "message": "We sent a code by SMS; POST it to /api/v1/subscribe/verify."}


def verify(c, payload: Any) -> tuple[int, dict]:
    from .notify import filter_policy
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), str) \
            or not isinstance(payload.get("code"), str):
        raise SubscribeError(422, 'body must be {"id": ..., "code": ...}', "code")
    doc = c.store.get_subscriber(payload["id"][:64]) if payload["id"].strip() else None
    if doc is None or doc["kind"] != "sms" or doc["state"] != "pending":
        raise SubscribeError(404, "no pending SMS subscription with this id", "id")
    now = c.clock()
    if now > doc["code_expires"] or doc["code_attempts"] >= MAX_CODE_ATTEMPTS:
        raise SubscribeError(410, "this code has expired; sign up again for a new one", "code")
    doc["code_attempts"] += 1
    if not hmac.compare_digest(_hash(payload["code"].strip()), doc["code_sha"]):
        c.store.put_subscriber(doc)
        raise SubscribeError(422, "wrong code", "code")
    doc["sns_arn"] = c.notifier.subscribe(
        "sms", doc["address"], filter_policy(doc["components"], not doc.get("all_updates")))
    doc.update(state="active", code_sha=None, verified_at=now)
    c.store.put_subscriber(doc)
    return 200, {"subscriber": _public(doc), "message": "Subscribed. Reply STOP to opt out."}


def _subscribe_webhook(c, url: str, components: list[str]) -> tuple[int, dict]:
    from .webhooks import url_problem
    if not c.config.subscribers.webhooks:
        raise SubscribeError(422, "webhook subscriptions are not offered on this page", "webhook")
    problem = url_problem(url, c.config.checks.allow_private_targets)
    if problem:
        raise SubscribeError(422, problem, "webhook")
    secret = secrets.token_hex(32)
    doc = _new_doc(c, "webhook", url, components, "active", secret=secret)
    c.store.put_subscriber(doc)
    return 201, {"subscriber": {**_public(doc), "secret": secret},
                 "message": "Active. Deliveries carry X-Outpost-Signature: sha256=<HMAC-SHA256 "
                            "of the body with this secret>; it is shown only now."}


def unsubscribe(c, token: str) -> dict:
    doc = _check_token(c, token)
    if doc["state"] != "unsubscribed":
        if doc.get("sns_arn"):
            c.notifier.unsubscribe(doc["sns_arn"])
        doc.update(state="unsubscribed", unsubscribed_at=c.clock())
        c.store.put_subscriber(doc)
    return doc


def describe_token(c, token: str) -> dict:
    return _check_token(c, token)


def remove(c, sub_id: str) -> bool:
    """Erase a subscriber entirely (GDPR-style): SNS subscription and our record."""
    doc = c.store.get_subscriber(sub_id)
    if doc is None:
        return False
    if doc.get("sns_arn") and doc["state"] != "unsubscribed":
        c.notifier.unsubscribe(doc["sns_arn"])
    return c.store.delete_subscriber(sub_id)


def listing(c) -> list[dict]:
    return [{**_public(d), "address": d["address"], "created_at": d["created_at"]}
            for d in sorted(c.store.subscribers(), key=lambda d: d["created_at"])]
