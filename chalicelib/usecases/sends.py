"""One queued delivery's life in the worker, the same for a webhook, a chat channel and a
social post: claim its fence, ask its destination's breaker, send, then settle (done; or
released and retried with backoff; or parked in the dead-letter queue with the reason).

The fence `sent#<event>#<kind>:<destination>` makes a redelivered or re-queued copy send
nothing twice; a send that dies mid-way leaves the claim to lapse after LEASE_SECONDS."""
from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from typing import Callable, Optional, Union

from ..core import deliveries
from ..core.deliveries import Delivery
from ..core.errors import QueueFailed
from . import breakers

log = logging.getLogger("outpost.deliver")
LEASE_SECONDS = 60.0          # a claimed (event, destination) is someone's for this long


def requeue(c, d: Delivery, now: float) -> None:
    if c.deliveries.send([d], now):
        raise QueueFailed(f"SQS refused delivery {d.kind} {d.event} to {d.sub}")


def dead(c, d: Delivery, reason: str) -> str:
    log.error("%s delivery %s to %s stopped: %s", d.kind, d.event, d.sub, reason)
    c.deliveries.dead_letter(deliveries.encode(d), reason)
    return "dead"


def retry_or_dead(c, d: Delivery, reason: str, permanent: bool = False) -> str:
    """After a failed send: again later with backoff, or (out of tries, or no use) parked."""
    nxt = None if permanent else deliveries.retry(d, c.clock(), c.uniform)
    if nxt is None:
        return dead(c, d, f"gave up after {d.attempt + 1} tries: {reason}")
    requeue(c, nxt, c.clock())
    return "retry"


def claim(c, pk: str, d: Delivery, now: float) -> Union[str, tuple[str]]:
    """(owner,) when this worker holds the fence now; else "duplicate" (already sent) or
    "busy" (someone is on it: the copy comes back after the lease)."""
    owner = secrets.token_hex(8)
    held = c.store.claim_idempotency(pk, owner, "", now, lease=LEASE_SECONDS)
    if held is None:
        return (owner,)
    if held.state == "done":
        return "duplicate"
    requeue(c, replace(d, not_before=now + LEASE_SECONDS), now)
    return "busy"


def through_breaker(c, d: Delivery, pk: str, breaker_key: str, now: float,
                    send: Callable[[], Optional[str]], on_flip: Callable[[dict], None]) -> str:
    """Claim, gate, send, settle. `send()` returns None on success or the failure's reason;
    `on_flip(doc)` tells the operators when the breaker pauses or resumes the destination."""
    got = claim(c, pk, d, now)
    if not isinstance(got, tuple):
        return got
    (owner,) = got
    try:
        verdict, until = breakers.gate(c, breaker_key, now, c.settings.webhook_deadline + 30)
        if verdict == "hold":
            c.store.release_idempotency(pk, owner)
            later = deliveries.hold(d, until, c.uniform)
            if later is None:
                return dead(c, d, "destination paused for longer than the retry horizon")
            requeue(c, later, now)
            return "held"
        reason = send()
    except Exception:
        c.store.release_idempotency(pk, owner)
        raise
    if reason is None:
        c.store.complete_token(pk, owner, {"result": "sent"}, c.clock())
        _settle_breaker(c, breaker_key, deliveries.after_success, on_flip)
        return "delivered"
    c.store.release_idempotency(pk, owner)
    _settle_breaker(c, breaker_key,
                    lambda doc: deliveries.after_failure(doc, c.clock(), reason), on_flip)
    return retry_or_dead(c, d, reason)


def _settle_breaker(c, key: str, rule, on_flip: Callable[[dict], None]) -> None:
    flipped = breakers.change(c, key, rule)
    if flipped:
        on_flip(flipped)
