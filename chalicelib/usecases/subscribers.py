"""Subscriber use-cases: sign up by email, SMS or webhook; verify; unsubscribe; list; delete.

Email double opt-in is SNS's own confirmation mail. SMS needs our verification code first, and
that code is itself an SMS, so it sits behind a country allow-list, per-number, per-IP and global
caps (the global one trips a breaker and tells the operators). Webhooks get a signing secret
shown once and stay pending until the receiver echoes a signed challenge (the delivery worker
sends it). Every kind of sign-up is capped per IP and globally per hour.

Records change only by conditional writes (chalicelib/adapters/storage): a code attempt is an atomic
ADD under the cap, and exactly one caller at a time may create a record's SNS subscription (a
claim on the pending record), so a raced or repeated request never subscribes twice or undoes
another. SNS keeps one subscription per address and topic, so unsubscribing and erasing act on
the address: every record of it, and every subscription of it on the updates topic.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from typing import Any, Optional

from ..adapters.webhooks import url_problem
from ..core import audit
from ..core.audience import filter_policy
from ..core.errors import Conflict, RequestRefused
from ..core.snapshot import known_components
from ..render import i18n, messages
from .deliver import enqueue_verification
from .subscriber_links import mask, signing_key, unsubscribe_token

log = logging.getLogger("outpost.subscribers")
CODE_TTL = 600.0
MAX_CODE_ATTEMPTS = 5
ACTIVATION_LEASE = 30.0      # a claim on a pending record whose holder died is free again after
HOUR = 3600.0
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


class SubscribeError(RequestRefused):
    """A sign-up or verification refused; `retry_after` in seconds, for a 429 or 503."""


def _window_left(now: float, window: float) -> int:
    """Seconds until a fixed rate window (chalicelib/adapters/storage/tokens.py) starts over."""
    return max(1, int(window - now % window) + 1)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


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
        _signup_caps(c, "email", ip)
        return _subscribe_email(c, value.strip(), components)
    if kinds[0] == "phone":
        return _subscribe_phone(c, value.strip(), components, all_updates, ip)
    _signup_caps(c, "webhook", ip)
    return _subscribe_webhook(c, value.strip(), components)


def _signup_caps(c, kind: str, ip: str) -> None:
    """Sign-ups of one kind per client IP per hour, then for everyone per hour (SMS has its own
    caps in _subscribe_phone). Both are atomic counters; a refusal names the field."""
    policy, store, now = c.config.subscribers, c.store, c.clock()
    retry = _window_left(now, HOUR)
    if store.hit(f"{kind}-ip#{_hash(ip)}", now, HOUR) > getattr(policy, f"{kind}_per_ip_per_hour"):
        raise SubscribeError(429, f"too many {kind} sign-ups from this address; try again "
                                  "later", kind, retry)
    cap = getattr(policy, f"{kind}_global_per_hour")
    if store.hit(f"{kind}-global", now, HOUR) > cap:
        if store.hit(f"{kind}-breaker-alert", now, HOUR) == 1:
            c.notifier.publish_operator(
                f"[{c.config.page.name}] {kind} sign-up paused",
                f"More than {cap} {kind} sign-ups in the last hour; they are refused until the "
                "hour is over. A burst like this is more often abuse than interest.")
        raise SubscribeError(429, f"{kind} sign-up is paused for a while; try again later",
                             kind, retry)


def _new_doc(c, kind: str, address: str, components: list[str], state: str,
             sub_id: Optional[str] = None, **extra) -> dict:
    return {"id": sub_id or secrets.token_hex(8), "kind": kind, "address": address,
            "address_hash": _hash(f"{kind}:{address.lower()}"), "components": components,
            "state": state, "created_at": c.clock(), "sns_arn": None, **extra}


def _sns_subscribe(c, protocol: str, endpoint: str, policy: Optional[dict]) -> str:
    """Subscribe the address; SNS answering 'already exists with different attributes' means
    an older sign-up of it holds the one subscription SNS allows, with other choices: the
    newest verified choice replaces it. An SNS failure is a 503, never a 500."""
    from botocore.exceptions import BotoCoreError, ClientError  # loaded with boto3, on first use
    try:
        try:
            return c.notifier.subscribe(protocol, endpoint, policy)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            if err.get("Code") != "InvalidParameter" or "already exists" not in \
                    (err.get("Message") or ""):
                raise
            c.notifier.unsubscribe_address(protocol, endpoint)
            return c.notifier.subscribe(protocol, endpoint, policy)
    except (BotoCoreError, ClientError) as exc:
        log.warning("SNS subscribe failed for a %s sign-up: %s", protocol, exc)
        raise SubscribeError(503, "the notification service did not answer; try again in a "
                                  "minute", None, 60) from None


def _drop_unclaimed(c, doc: dict, arn: str) -> None:
    """We subscribed `arn` but lost the record meanwhile (unsubscribed or erased): take the
    subscription back, unless another live record of the address holds that same one (SNS
    hands out one subscription per address)."""
    others = c.store.address_records(doc["kind"], doc["address_hash"])
    if not any(d["id"] != doc["id"] and d["state"] == "active" and d.get("sns_arn") == arn
               for d in others):
        c.notifier.remove_subscriptions([arn])


def _public(doc: dict) -> dict:
    return {"id": doc["id"], "type": doc["kind"], "state": doc["state"],
            "address": mask(doc), "components": doc["components"]}


def _email_id(c, address_hash: str) -> str:
    """One record per email address, under an id only we can derive: creating it is the
    conditional write that makes a raced double sign-up one sign-up."""
    mac = hmac.new(signing_key(c), f"email-id:{address_hash}".encode(), hashlib.sha256)
    return "e" + mac.hexdigest()[:15]


def _subscribe_email(c, address: str, components: list[str]) -> tuple[int, dict]:
    if not c.config.subscribers.email:
        raise SubscribeError(422, "email subscriptions are not offered on this page", "email")
    if len(address) > 254 or not _EMAIL.match(address):
        raise SubscribeError(422, "is not an email address", "email")

    def answer(doc: dict) -> tuple[int, dict]:
        # Same answer whether or not the address was known: no enumeration of subscribers.
        return 202, {"subscriber": {**_public(doc), "state": "pending"},
                     "message": "Check your inbox for a message to confirm the subscription."}

    store, now, owner = c.store, c.clock(), secrets.token_hex(8)
    address_hash = _hash(f"email:{address.lower()}")
    sub_id = _email_id(c, address_hash)
    fresh = _new_doc(c, "email", address, components, "pending", sub_id=sub_id)
    doc = store.get_subscriber(sub_id)
    if doc is None:
        # records from before ids were derived from the address: one index query, no scan
        legacy = store.find_subscriber("email", address_hash)
        if legacy:
            return answer(legacy)
        try:
            store.create_subscriber({**fresh, "activating": owner, "activating_at": now})
        except Conflict:
            return answer(fresh)                 # a simultaneous sign-up of the same address
    else:
        # an unsubscribed address may come back; a pending one whose sign-up died is retaken
        if store.claim_activation(sub_id, owner, now, ACTIVATION_LEASE,
                                  ("pending", "unsubscribed"), doc=fresh) is None:
            return answer(doc)                   # active, or another sign-up is under way
    try:
        arn = _sns_subscribe(c, "email", address, filter_policy(components, False))
    except SubscribeError:
        store.abandon_activation(sub_id, owner)
        raise
    # "active": handed to SNS, which holds mail until the address confirms
    done = store.finish_activation(sub_id, owner, arn, now)
    if done is None:
        _drop_unclaimed(c, fresh, arn)
    return answer(done or fresh)


def _subscribe_phone(c, phone: str, components: list[str], all_updates: bool,
                     ip: str) -> tuple[int, dict]:
    import phonenumbers  # cold start: its metadata loads only for an SMS sign-up
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
        raise SubscribeError(429, "SMS sign-up is paused for a while; try again later", "phone",
                             _window_left(now, HOUR))
    if store.hit(f"sms-ip#{_hash(ip)}", now, 3600) > policy.sms_per_ip_per_hour:
        raise SubscribeError(429, "too many SMS sign-ups from this address; try again later",
                             "phone", _window_left(now, HOUR))
    if store.hit(f"sms-number#{_hash(e164)}", now, 86400) > policy.sms_per_number_per_day:
        raise SubscribeError(429, "too many codes sent to this number today", "phone",
                             _window_left(now, 86400))
    store.hit("sms-global", now, 3600)
    code = f"{secrets.randbelow(1_000_000):06d}"
    doc = _new_doc(c, "sms", e164, components, "pending", all_updates=all_updates,
                   code_sha=_hash(code), code_expires=now + CODE_TTL, code_attempts=0)
    store.create_subscriber(doc)
    locale = c.config.page.locale
    c.notifier.send_sms(e164, messages.verification_sms(c.config.page.name, code, locale),
                        ucs2=locale in i18n.UCS2_LOCALES)
    return 202, {"subscriber": _public(doc),
                 "message": "We sent a code by SMS; POST it to /api/v1/subscribe/verify."}


def verify(c, payload: Any) -> tuple[int, dict]:
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), str) \
            or not isinstance(payload.get("code"), str):
        raise SubscribeError(422, 'body must be {"id": ..., "code": ...}', "code")
    sub_id, code_sha = payload["id"][:64], _hash(payload["code"].strip())
    if not sub_id.strip():
        raise SubscribeError(404, "no pending SMS subscription with this id", "id")
    store, now = c.store, c.clock()
    # The attempt is spent before the code is looked at: one atomic ADD under the cap, so
    # however many guesses race, at most MAX_CODE_ATTEMPTS codes are ever compared.
    doc = store.count_code_attempt(sub_id, now, MAX_CODE_ATTEMPTS)
    if doc is None:
        return _verify_refused(store.get_subscriber(sub_id), code_sha)
    if not hmac.compare_digest(code_sha, doc.get("code_sha") or ""):
        left = MAX_CODE_ATTEMPTS - int(doc["code_attempts"])
        raise SubscribeError(422, f"wrong code ({left} {'try' if left == 1 else 'tries'} left)"
                             if left else "wrong code; no tries left, sign up again", "code")
    owner = secrets.token_hex(8)
    if store.claim_activation(sub_id, owner, now, ACTIVATION_LEASE, code_sha=code_sha) is None:
        # the same code, submitted twice: the other request is subscribing it, or has
        return _verify_refused(store.get_subscriber(sub_id), code_sha)
    try:
        arn = _sns_subscribe(c, "sms", doc["address"],
                             filter_policy(doc["components"], not doc.get("all_updates")))
    except SubscribeError:
        store.abandon_activation(sub_id, owner)
        raise
    done = store.finish_activation(sub_id, owner, arn, now)
    if done is None:                             # unsubscribed or erased while we subscribed
        _drop_unclaimed(c, doc, arn)
        raise SubscribeError(404, "no pending SMS subscription with this id", "id")
    _retire_older(c, done)
    return 200, {"subscriber": _public(done), "message": "Subscribed. Reply STOP to opt out."}


def _verify_refused(doc: Optional[dict], code_sha: str) -> tuple[int, dict]:
    """Why a code is not checked (again), from the record as it is now."""
    if doc is None or doc["kind"] != "sms" or doc["state"] == "unsubscribed":
        raise SubscribeError(404, "no pending SMS subscription with this id", "id")
    same = hmac.compare_digest(code_sha, doc.get("code_sha") or "")
    if doc["state"] == "active":
        if same:                                 # a repeated submit of the code that won
            return 200, {"subscriber": _public(doc), "message": "Subscribed. Reply STOP to opt out."}
        raise SubscribeError(409, "this subscription is already verified", "code")
    if same and doc.get("activating"):
        raise SubscribeError(409, "this code is being verified right now; check again in a "
                                  "moment", "code", 2)
    raise SubscribeError(410, "this code has expired or had too many tries; sign up again for "
                              "a new one", "code")


def _retire_older(c, doc: dict) -> None:
    """A number verified again replaces its older records: SNS holds one subscription per
    number, now carrying the newest choices, so the older records would only mislead."""
    for other in c.store.address_records(doc["kind"], doc["address_hash"]):
        if other["id"] != doc["id"] and other["state"] == "active":
            c.store.mark_unsubscribed(other["id"], c.clock())


def _subscribe_webhook(c, url: str, components: list[str]) -> tuple[int, dict]:
    """Pending until the receiver proves it owns the URL: the delivery worker POSTs a signed
    url_verification challenge, and only an echo of it activates the subscriber. Nothing here
    connects to the URL (the check below only resolves its name)."""
    if not c.config.subscribers.webhooks:
        raise SubscribeError(422, "webhook subscriptions are not offered on this page", "webhook")
    problem = url_problem(url, c.config.checks.allow_private_targets)
    if problem:
        raise SubscribeError(422, problem, "webhook")
    secret = secrets.token_hex(32)
    doc = _new_doc(c, "webhook", url, components, "pending", secret=secret,
                   challenge=secrets.token_urlsafe(24))
    c.store.put_subscriber(doc)
    try:
        enqueue_verification(c, doc["id"])
    except Exception:
        log.exception("could not queue the verification of webhook %s", doc["id"])
        c.store.delete_subscriber(doc["id"])
        raise SubscribeError(503, "could not start the verification; try again shortly",
                             "webhook") from None
    return 202, {"subscriber": {**_public(doc), "secret": secret},
                 "message": "Pending: Outpost will POST {\"type\": \"url_verification\", "
                            "\"challenge\": ...} to this URL; answer 200 with {\"challenge\": "
                            "<the same value>} to activate it. Every delivery is signed "
                            "X-Outpost-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "
                            "\"<t>.<body>\" with this secret>; the secret is shown only now."}


def _address_records(c, doc: dict) -> list[dict]:
    """This record and every other record of its address (the index lags writes a little;
    the record itself is always included)."""
    others = c.store.address_records(doc["kind"], doc["address_hash"])
    return [doc] + [d for d in others if d["id"] != doc["id"]]


def _unsubscribe_sns(c, records: list[dict]) -> None:
    """Every SNS subscription of the address on the updates topic, not just the stored ARN:
    an address can hold more than one (SNS tells Ann@x from ann@x, +1415... from +1 415...)."""
    protocol = records[0]["kind"]
    if protocol in ("email", "sms"):
        c.notifier.unsubscribe_address(protocol, records[0]["address"],
                                       [d.get("sns_arn") for d in records])


def unsubscribe(c, token: str) -> dict:
    doc = _check_token(c, token)
    if doc["state"] == "unsubscribed":
        return doc                               # a second click costs no SNS call
    records = _address_records(c, doc)
    # SNS first: if it fails, the record still says subscribed and the link still works
    _unsubscribe_sns(c, records)
    now = c.clock()
    for record in records:
        if record["state"] != "unsubscribed":
            c.store.mark_unsubscribed(record["id"], now)
    return c.store.get_subscriber(doc["id"]) or {**doc, "state": "unsubscribed"}


def describe_token(c, token: str) -> dict:
    return _check_token(c, token)


def remove(c, sub_id: str, actor=None) -> bool:
    """Erase a subscriber entirely (GDPR-style): the address's SNS subscriptions and every
    record of the address. With `actor` (an operator's request), the named record's deletion
    and its audit entry land in one transaction, last: a retry after a partial failure finds
    the record and finishes. The entry names the record and its kind, never the address."""
    doc = c.store.get_subscriber(sub_id)
    if doc is None:
        return False
    records = _address_records(c, doc)
    _unsubscribe_sns(c, records)
    for record in records:
        if actor is None or record["id"] != sub_id:
            c.store.delete_subscriber(record["id"])
    if actor is not None:
        record = audit.entry(actor, "subscriber.erase", f"subscriber/{sub_id}", c.clock(),
                             details={"kind": doc.get("kind"), "records": len(records)})
        return c.store.delete_subscriber(sub_id, record)
    return True


def listing(c) -> list[dict]:
    return [{**_public(d), "address": d["address"], "created_at": d["created_at"]}
            for d in sorted(c.store.subscribers(), key=lambda d: d["created_at"])]
