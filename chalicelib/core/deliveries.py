"""Pure: the delivery worker's rules. What a queued delivery is, how it is signed, when it is
tried again, when a destination is paused, and how deliveries are packed into SQS calls.

One SQS message per (event, destination). The message names the subscriber, not its URL or
secret: the worker reads those at send time, so an erased or unsubscribed destination gets
nothing more and no secret ever sits in a queue. The body is compressed JSON, so a long
incident still fits SQS's 256 KiB.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass, replace
from typing import Iterable, Optional

# SQS limits (AWS, not moto: moto takes bigger messages and batches).
MAX_MESSAGE_BYTES = 262_144          # one message, and the sum of one SendMessageBatch
MAX_BATCH = 10                       # entries per SendMessageBatch
MAX_DELAY = 900                      # DelaySeconds

# Retries: exponential, capped, with jitter, over about a day; then the dead-letter queue.
BACKOFF_BASE = 30.0
BACKOFF_CAP = 6 * 3600.0
HORIZON = 24 * 3600.0
VERIFY_ATTEMPTS = 4                  # a sign-up's challenge: a few tries, then it stays pending
VERIFY_HORIZON = 3600.0

# Breaker: this many failures in a row pause a destination; it is probed again after a
# cool-down that doubles with each failed probe, up to the cap. One success closes it.
BREAKER_THRESHOLD = 5
COOL_DOWN = 300.0
COOL_DOWN_CAP = 3600.0
REPLAY_WINDOW = 300                  # what the README tells receivers to accept


@dataclass(frozen=True)
class Delivery:
    kind: str                 # "event" | "verify" | "fanout" (one event to a page of webhooks)
    #                           | "social" (sub: the platform; chalicelib/usecases/social.py)
    #                           | "channel" (sub: the channel's name; chalicelib.usecases.channels)
    event: str                # the event id receivers deduplicate on (X-Outpost-Event)
    sub: str                  # subscriber id
    first_at: float           # when it was first queued: the retry horizon counts from here
    body: bytes = b""         # the event's JSON (verify: built from the subscriber's challenge)
    attempt: int = 0          # tries that failed so far
    not_before: float = 0.0   # not to be tried before this time
    cursor: str = ""          # fanout: where the page of subscribers starts (JSON; "" = first)

    @property
    def fence(self) -> str:
        """The dedupe key of this (event, destination)."""
        return f"{self.event}#webhook:{self.sub}"


def encode(d: Delivery) -> str:
    """The SQS message body. Raises ValueError when it would be over SQS's limit."""
    doc = {"v": 1, "kind": d.kind, "event": d.event, "sub": d.sub, "first_at": d.first_at,
           "attempt": d.attempt, "not_before": d.not_before,
           "z": base64.b64encode(zlib.compress(d.body, 6)).decode() if d.body else ""}
    if d.cursor:
        doc["c"] = d.cursor
    text = json.dumps(doc, separators=(",", ":"))
    if len(text.encode()) > MAX_MESSAGE_BYTES:
        raise ValueError(f"delivery message is {len(text.encode())} bytes; SQS takes "
                         f"{MAX_MESSAGE_BYTES}")
    return text


def decode(text: str) -> Delivery:
    """Raises ValueError on anything that is not a delivery this code wrote."""
    try:
        doc = json.loads(text)
        if doc.get("v") != 1 or doc["kind"] not in ("event", "verify", "fanout", "social",
                                                     "channel"):
            raise ValueError("unknown delivery version or kind")
        body = zlib.decompress(base64.b64decode(doc["z"])) if doc["z"] else b""
        return Delivery(kind=doc["kind"], event=str(doc["event"]), sub=str(doc["sub"]),
                        first_at=float(doc["first_at"]), body=body,
                        attempt=int(doc["attempt"]), not_before=float(doc["not_before"]),
                        cursor=str(doc.get("c") or ""))
    except (KeyError, TypeError, ValueError, AttributeError, zlib.error) as exc:
        raise ValueError(f"unreadable delivery: {exc}") from None


def dead_letter(text: str, reason: str) -> str:
    """What the dead-letter queue holds: the delivery and why it stopped (within SQS's limit)."""
    reason = reason[:1000]
    out = json.dumps({"reason": reason, "delivery": text}, separators=(",", ":"))
    if len(out.encode()) > MAX_MESSAGE_BYTES:
        out = json.dumps({"reason": reason, "delivery": text[:200_000], "truncated": True},
                         separators=(",", ":"))
    return out


def revive(text: str, now: float) -> Delivery:
    """A dead letter moved back to the delivery queue (SQS redrive, once the receiver is
    fixed): the same delivery, tried now, with a fresh day of retries."""
    try:
        doc = json.loads(text)
        inner = doc["delivery"] if isinstance(doc, dict) and "reason" in doc else None
    except (ValueError, KeyError):
        inner = None
    if not isinstance(inner, str):
        raise ValueError("unreadable delivery: not a delivery nor a dead letter")
    return replace(decode(inner), first_at=now, attempt=0, not_before=0.0)


def fits(body: bytes) -> bool:
    try:
        encode(Delivery("event", "e" * 100, "s" * 64, 0.0, body, 99, 0.0))
        return True
    except ValueError:
        return False


def first_fitting(bodies: Iterable[bytes]) -> Optional[bytes]:
    """The first body whose delivery message fits SQS (None if none does)."""
    return next((b for b in bodies if fits(b)), None)


def batches(messages: list[str]) -> list[list[str]]:
    """Messages packed for SendMessageBatch: at most 10 per call and 256 KiB in all."""
    out: list[list[str]] = []
    size = 0
    for m in messages:
        n = len(m.encode())
        if n > MAX_MESSAGE_BYTES:
            raise ValueError(f"a delivery message of {n} bytes is over SQS's limit")
        if not out or len(out[-1]) == MAX_BATCH or size + n > MAX_MESSAGE_BYTES:
            out.append([])
            size = 0
        out[-1].append(m)
        size += n
    return out


def delay_seconds(d: Delivery, now: float) -> int:
    """SQS DelaySeconds for this message: its wait, in hops of at most 15 minutes (the worker
    sends a message that is still early on again, with the rest of its wait)."""
    wait = d.not_before - now
    return 0 if wait <= 0 else min(MAX_DELAY, int(wait + 0.999))


# -- signing -----------------------------------------------------------------------------------

def signature(secret: str, body: bytes, t: int) -> str:
    """`X-Outpost-Signature`: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, now: float,
                     window: int = REPLAY_WINDOW) -> bool:
    """What a receiver does (README, "Webhooks"): the MAC matches and t is recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        t = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - t) > window:
        return False
    expected = signature(secret, body, t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def challenge_body(challenge: str) -> bytes:
    return json.dumps({"type": "url_verification", "challenge": challenge},
                      separators=(",", ":")).encode()


def echoes(reply_status: int, reply_body: bytes, challenge: str) -> bool:
    """A verification answer that proves the receiver read our challenge."""
    if reply_status != 200:
        return False
    try:
        doc = json.loads(reply_body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    got = doc.get("challenge") if isinstance(doc, dict) else None
    return isinstance(got, str) and hmac.compare_digest(got.encode(), challenge.encode())


# -- retries -----------------------------------------------------------------------------------

def retry(d: Delivery, now: float, uniform) -> Optional[Delivery]:
    """The next try after a failure, or None when it is time to give up.

    Exponential with jitter: the wait is drawn from [c/2, c] where c doubles per try up to the
    cap. Half the ceiling is a floor so every retry really backs off (full jitter can retry at
    once, straight back into a receiver that is still down), and the other half desynchronises
    the deliveries that failed together."""
    attempt = d.attempt + 1
    if d.kind == "verify" and attempt >= VERIFY_ATTEMPTS:
        return None
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** d.attempt)
    due = now + ceiling / 2 + uniform(0, ceiling / 2)
    if due - d.first_at > (VERIFY_HORIZON if d.kind == "verify" else HORIZON):
        return None
    return replace(d, attempt=attempt, not_before=due)


def hold(d: Delivery, until: float, uniform) -> Optional[Delivery]:
    """Park a delivery for a paused destination until it is probed again (spread over a minute
    so the held ones don't all arrive at once), or None past the horizon."""
    due = until + uniform(0, 60)
    if due - d.first_at > HORIZON:
        return None
    return replace(d, not_before=due)


# -- the per-destination breaker ---------------------------------------------------------------

def breaker_verdict(doc: Optional[dict], now: float) -> tuple[str, float]:
    """("go", 0), ("probe", 0) or ("hold", until) for a destination's breaker document."""
    if not doc or doc.get("state") != "open":
        return "go", 0.0
    if now < doc["probe_at"]:
        return "hold", doc["probe_at"]
    if now < doc.get("probing_until", 0):
        return "hold", doc["probing_until"]
    return "probe", 0.0


def start_probe(doc: dict, now: float, lease: float) -> dict:
    """One delivery may test a paused destination; the others wait for its outcome."""
    return {**doc, "probing_until": now + lease}


def after_failure(doc: Optional[dict], now: float, error: str) -> tuple[dict, bool]:
    """(new document, True when this failure paused the destination)."""
    doc = doc or {}
    failures = doc.get("failures", 0) + 1
    base = {"failures": failures, "last_error": error[:300], "last_failure_at": now}
    if doc.get("state") == "open":
        cool = min(COOL_DOWN_CAP, COOL_DOWN * 2 ** (failures - BREAKER_THRESHOLD))
        return {**doc, **base, "probe_at": now + cool, "probing_until": 0}, False
    if failures >= BREAKER_THRESHOLD:
        return {**base, "state": "open", "opened_at": now, "probe_at": now + COOL_DOWN,
                "probing_until": 0}, True
    return {**base, "state": "closed"}, False


def after_success(doc: Optional[dict]) -> tuple[Optional[dict], bool]:
    """(new document or None when nothing changes, True when this closed a paused one)."""
    if not doc or (doc.get("state") != "open" and not doc.get("failures")):
        return None, False
    return {"state": "closed", "failures": 0}, doc.get("state") == "open"
