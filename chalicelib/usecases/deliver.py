"""Use-case: the delivery worker, and the only way in to it (enqueue).

The checker, the stream consumer and the API never connect to a subscriber's endpoint: they
queue one message per (event, destination) and return. The worker (a Lambda that drains the
queue when kicked: chalicelib/adapters/queues.py) posts each under a hard deadline
(chalicelib.adapters.webhooks), retries with backoff for about a day, then parks it in the
dead-letter queue with the reason; a destination that keeps failing is paused (its deliveries
are held, not lost) and the operators are told once. The rules are pure, in
chalicelib.core.deliveries; this module is the shell around them.

Exactly once per (event, destination), as far as we can see: the enqueue is fenced per page of
webhooks by `sent#<event>#webhooks:<page>` (a replayed stream record queues nothing twice), the
post by `sent#<event>#webhook:<sub>` (a redelivered or re-queued copy posts nothing twice). Every delivery
carries the event id in X-Outpost-Event, so a receiver can drop the rare duplicate that a crash
between its answer and our record of it can cause.
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Callable, Optional, Protocol

from .. import __version__
from ..adapters.webhooks import DeliveryFailed, post
from ..core import deliveries
from ..core.audience import wants
from ..core.deliveries import Delivery
from ..core.errors import QueueFailed
from . import deps, sends, social
from .fences import once
from .subscriber_links import mask, unsubscribe_url


class Deps(deps.Clock, deps.Jitter, deps.Env, deps.Settings, deps.Config, deps.Store,
           deps.Notifier, deps.Deliveries, deps.ChannelResolver, deps.PublicCache,
           deps.SocialPosters, Protocol):
    """What this use-case is given (wiring.Container provides it all)."""


log = logging.getLogger("outpost.deliver")
LEASE_SECONDS = sends.LEASE_SECONDS
MAX_PARALLEL = 10             # one thread per message of a batch (SQS batch size)
VERIFY_READ = 4096            # bytes of a verification answer we read; others: none
FANOUT_PAGE = 100             # webhooks read and queued per fan-out invocation


# -- enqueue (stream consumer, scheduler, API) ---------------------------------------------------

def fanout_spec(components, body: dict) -> bytes:
    """What a fan-out message carries: the event's body (without anyone's unsubscribe link)
    and the components it is about (who wants it)."""
    return json.dumps({"components": list(components), "body": body},
                      separators=(",", ":")).encode()


def enqueue_event(c: Deps, event_id: str, components, body: dict) -> int:
    """Queue this event for every active webhook that wants it; returns how many deliveries
    were queued now (a replay queues none). The caller (stream consumer, housekeeping) queues
    the first page of webhooks only; the worker fans out the rest a page per message, so what
    the caller spends per event does not grow with the number of webhooks. Raises errors.Busy
    while another invocation is queueing the same page."""
    return _fan_out(c, Delivery("fanout", event_id, "", c.clock(), fanout_spec(components, body)))


def _fan_out(c: Deps, d: Delivery) -> int:
    """One page of a fan-out, fenced by (event, page): a replay or a redelivered message
    queues nothing twice. Should a crash land between queueing and the fence's record, the
    page is queued again, and the (event, destination) fence of the post absorbs the copies."""
    page = hashlib.sha256(d.cursor.encode()).hexdigest()[:16] if d.cursor else "first"
    queued: list[int] = []
    once(c, f"{d.event}#webhooks:{page}", lambda: queued.append(_queue_page(c, d)) or "queued")
    return queued[0] if queued else 0


def _queue_page(c: Deps, d: Delivery) -> int:
    spec = json.loads(d.body)
    subs, nxt = c.store.subscriber_page("webhook", json.loads(d.cursor) if d.cursor else None,
                                        FANOUT_PAGE)
    now = c.clock()
    items = []
    for sub in subs:
        if sub.get("state") != "active" or not wants(sub.get("components") or [],
                                                      spec["components"]):
            continue
        body = dict(spec["body"], meta={**(spec["body"].get("meta") or {}),
                                        "unsubscribe": unsubscribe_url(c, sub["id"])})
        items.append(Delivery("event", d.event, sub["id"], now,
                              json.dumps(body, separators=(",", ":")).encode()))
    refused = c.deliveries.send(items, now)
    if refused:
        raise QueueFailed(f"SQS refused {len(refused)} of {len(items)} deliveries of {d.event}")
    if nxt is not None:
        sends.requeue(c, replace(d, cursor=json.dumps(nxt, separators=(",", ":")), attempt=0,
                            not_before=0.0), now)
    return len(items)


def enqueue_verification(c: Deps, sub_id: str) -> None:
    """Queue the url_verification challenge of a new webhook subscriber."""
    d = Delivery("verify", f"verify:{secrets.token_hex(8)}", sub_id, c.clock())
    sends.requeue(c, d, d.first_at)


# -- the worker ----------------------------------------------------------------------------------

def wake_if_due(c: Deps) -> bool:
    """The minute's kick (housekeeping): wake the worker if the queue holds messages that are
    due now. One SQS request a minute, about $0.02 a month; an idle queue costs nothing more."""
    if c.deliveries.due():
        c.deliveries.wake()
        return True
    return False


# The worker stops taking batches with less than this left of its invocation: a batch takes at
# most one webhook deadline (its posts run in parallel) plus our own writes.
DRAIN_RESERVE = 5.0


def drain(c: Deps, time_left: Callable[[], float], successor: Callable[[], object]) -> dict:
    """A kicked worker: receive from the delivery queue and handle each batch as Lambda's SQS
    source did (only the messages handled are deleted; a failure comes back after the
    visibility timeout, and after 5 receives the queue's redrive parks it in the dead-letter
    queue), until the queue is empty or the time is nearly up; then `successor()` (a kick of
    this same function) takes over what is left. Two workers at once never share a message
    (SQS hides a received one), and the fences make a redelivered copy a no-op.
    One kick on an empty queue costs one receive."""
    out = {"receives": 0, "received": 0, "deleted": 0, "failed": 0, "more": False}
    reserve = c.settings.webhook_deadline + DRAIN_RESERVE
    while True:
        messages = c.deliveries.receive()
        out["receives"] += 1
        if not messages:
            break
        out["received"] += len(messages)
        result = handle_messages(c, [{"messageId": m["MessageId"], "body": m["Body"]}
                                     for m in messages])
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        c.deliveries.delete([m for m in messages if m["MessageId"] not in failed])
        out["deleted"] += len(messages) - len(failed)
        out["failed"] += len(failed)
        if time_left() < reserve:
            out["more"] = True           # maybe more: the next invocation takes over
            successor()
            break
    return out


def handle_messages(c: Deps, records: list[dict]) -> dict:
    """One SQS batch, each message in its own thread: a batch of slow receivers costs one
    deadline, not one each. Returns Lambda's partial-batch response; only a message whose
    handling hit an error of ours (DynamoDB, SQS) is left for SQS to deliver again. Failures of
    the receiver are not errors here: they are retried by re-queueing with a delay."""
    def one(record: dict) -> Optional[str]:
        try:
            outcome = process(c, record["body"])
            log.info("delivery %s: %s", record.get("messageId"), outcome)
            return None
        except Exception:                            # noqa: BLE001 - SQS delivers it again
            log.exception("delivery %s failed; SQS will redeliver it", record.get("messageId"))
            return record.get("messageId")
    if not records:
        return {"batchItemFailures": []}
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(records))) as pool:
        failed = [m for m in pool.map(one, records) if m]
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}


def process(c: Deps, body: str) -> str:
    """Handle one queued delivery; returns what happened (for the log and tests)."""
    now = c.clock()
    try:
        d = deliveries.decode(body)
    except ValueError as exc:
        try:
            d = deliveries.revive(body, now)         # redriven from the dead-letter queue
        except ValueError:
            c.deliveries.dead_letter(body, str(exc))
            return "unreadable"
    if d.not_before > now + 1:
        sends.requeue(c, d, now)                      # a long wait, in hops of at most 15 minutes
        return "early"
    if d.kind == "fanout":
        return f"fanned out {_fan_out(c, d)}"
    if d.kind == "social":                       # the official accounts (chalicelib/usecases/social.py)
        return social.process(c, d)
    if d.kind == "channel":
        # Here, not at the top: the API imports this module to queue a webhook's challenge,
        # and Apprise (50-130 ms to import) belongs to the worker's cold start only.
        from . import channel_worker
        return channel_worker.deliver(c, d, now)
    sub = c.store.get_subscriber(d.sub)
    if sub is None or sub.get("kind") != "webhook":
        return "gone"                            # erased: nothing to deliver to
    if d.kind == "verify":
        return _verify(c, d, sub)
    if sub.get("state") != "active":
        return "inactive"
    return _deliver_event(c, d, sub, now)


def _post(c: Deps, sub: dict, event_id: str, body: bytes, read_body: int = 0):
    """(Reply, None) for any answer, (None, reason) for none within the deadline."""
    headers = {"Content-Type": "application/json",
               "User-Agent": f"Outpost/{__version__} (+{c.config.page.url}; webhook)",
               "X-Outpost-Event": event_id,
               "X-Outpost-Signature": deliveries.signature(sub["secret"], body, int(c.clock()))}
    try:
        return post(sub["address"], body, headers, c.config.checks.allow_private_targets,
                    c.settings.webhook_deadline, read_body=read_body), None
    except DeliveryFailed as exc:
        return None, str(exc)


def _deliver_event(c: Deps, d: Delivery, sub: dict, now: float) -> str:
    def send() -> Optional[str]:
        reply, error = _post(c, sub, d.event, d.body)
        return None if reply is not None and 200 <= reply.status < 300 else \
            (error or f"HTTP {reply.status}")
    return sends.through_breaker(c, d, f"sent#{d.fence}", _breaker_key(d.sub), now, send,
                                 lambda doc: _tell_operators(c, sub, doc))


def _verify(c: Deps, d: Delivery, sub: dict) -> str:
    challenge = sub.get("challenge")
    if sub.get("state") != "pending" or not challenge:
        return "not pending"
    reply, error = _post(c, sub, d.event, deliveries.challenge_body(challenge), VERIFY_READ)
    if reply is not None and deliveries.echoes(reply.status, reply.body, challenge):
        return "verified" if activate(c, d.sub) else "not pending"
    reason = error or f"HTTP {reply.status} without the challenge's echo"
    nxt = deliveries.retry(d, c.clock(), c.uniform)
    if nxt is None:
        # No dead letter: a stranger's URL that never answers must not page the operators.
        log.info("webhook %s did not answer its challenge (%s); it stays pending", d.sub, reason)
        return "unverified"
    sends.requeue(c, nxt, c.clock())
    return "retry"


def activate(c: Deps, sub_id: str) -> bool:
    """pending -> active with conditional writes (chalicelib/adapters/storage): an unsubscribe or
    erase that lands meanwhile stands, and of two racing echoes one wins."""
    owner, now = secrets.token_hex(8), c.clock()
    if c.store.claim_activation(sub_id, owner, now, LEASE_SECONDS) is None:
        return False
    return c.store.finish_activation(sub_id, owner, None, now) is not None


# -- the per-destination breaker (a small versioned document per destination) ------------------

def _breaker_key(sub_id: str) -> str:
    return f"breaker#webhook:{sub_id}"


def _tell_operators(c: Deps, sub: dict, doc: dict) -> None:
    cfg = c.config
    where = mask(sub)
    if doc["state"] == "open":
        once(c, f"breaker:{sub['id']}:{doc['opened_at']}#operator",
             lambda: c.notifier.publish_operator(
                 f"[{cfg.page.name}] Webhook paused: {where[:40]}",
                 f"Webhook paused: {where}\n\n"
                 f"Deliveries to the webhook {where} (subscriber {sub['id']}) failed "
                 f"{doc['failures']} times in a row; the last error: {doc['last_error']}.\n\n"
                 f"Outpost has paused it: its deliveries are held and it is tried again now "
                 f"and then; one success resumes it. Deliveries still failing after a day go "
                 f"to the dead-letter queue. If it is gone for good, erase it:\n"
                 f"DELETE {cfg.page.url.rstrip('/')}/api/v1/pages/{cfg.page.id}/subscribers/"
                 f"{sub['id']}"))
    else:
        log.info("webhook %s resumed", sub["id"])
        c.notifier.publish_operator(f"[{cfg.page.name}] Webhook resumed: {where[:40]}",
                                    f"Webhook resumed: {where}\n\n"
                                    f"The webhook {where} (subscriber {sub['id']}) answers "
                                    "again; its held deliveries are on their way.")
