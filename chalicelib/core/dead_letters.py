"""Pure: what a letter in the one dead-letter queue is, and where it came from.

Four producers share the queue (infra/resources.yaml, DeadLetterQueue), so that CloudWatch
watches one queue depth instead of four: SNS (a subscription's message after its retries), the
stream consumer and the checker (Lambda's failure records), and the delivery worker. Each body
says which it is; only deliveries can be replayed (the worker takes them up again).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Optional

from . import deliveries

SUMMARY_CHARS = 160


@dataclass(frozen=True)
class Letter:
    kind: str            # delivery | topic | stream | invocation | unknown
    source: str          # the topic, function or queue that gave up on it
    summary: str         # one line for the operator
    replayable: bool     # a delivery: `outpost dead-letters replay` moves it back


def classify(body: str) -> Letter:
    """Read one dead letter; never raises (an unreadable one is `unknown`, shown as is)."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):   # nesting past the parser's depth is RecursionError
        doc = None
    if isinstance(doc, dict):
        letter = _delivery(doc) or _topic(doc) or _lambda(doc)
        if letter:
            return letter
    if _is_delivery(body):
        # DeliveryQueue's own redrive: the worker failed on it 5 times (a bug of ours, or a
        # timeout), so the body is the queued delivery itself.
        return Letter("delivery", "DeliveryQueue", "the worker failed on it 5 times", True)
    return Letter("unknown", "?", _line(body), False)


def to_replay(body: str, now: float) -> Optional[str]:
    """What `replay` sends back to the delivery queue for this letter, or None to leave it.
    The worker revives its own letters ({"reason", "delivery"}) with a fresh day of retries;
    a redriven delivery is the queued message as it was (first try long ago, tries counted),
    which the worker would take as is, so it is re-encoded as new here (never larger)."""
    if not classify(body).replayable:
        return None
    try:
        d = deliveries.decode(body)
    except (ValueError, RecursionError):
        return body                       # the worker's own letter: it revives it
    return deliveries.encode(replace(d, first_at=now, attempt=0, not_before=0.0))


def _is_delivery(body: str) -> bool:
    try:
        deliveries.decode(body)
        return True
    except (ValueError, RecursionError):   # decode's json.loads, on a deeply nested body
        return False


def _delivery(doc: dict) -> Optional[Letter]:
    """The worker's own: {"reason", "delivery"} (chalicelib.core.deliveries.dead_letter).
    Replayable only when the worker can read the delivery inside: one it parked as unreadable,
    or one cut short to fit SQS, would come straight back, wrapped one level deeper."""
    if isinstance(doc.get("reason"), str) and isinstance(doc.get("delivery"), str):
        if not doc.get("truncated") and _is_delivery(doc["delivery"]):
            return Letter("delivery", "delivery worker", _line(doc["reason"]), True)
        return Letter("delivery", "delivery worker",
                      _line(f"not replayable (unreadable): {doc['reason']}"), False)
    return None


def _topic(doc: dict) -> Optional[Letter]:
    """SNS's envelope (raw delivery is off): TopicArn names the updates or operator topic."""
    if doc.get("Type") == "Notification" and isinstance(doc.get("TopicArn"), str):
        text = doc.get("Subject") or doc.get("Message") or ""
        return Letter("topic", doc["TopicArn"], _line(str(text)), False)
    return None


def _lambda(doc: dict) -> Optional[Letter]:
    """Lambda's on-failure records: the stream consumer's (a shard and sequence range to
    replay within the stream's 24 h) and an asynchronous invocation's (a check round)."""
    ctx = doc.get("requestContext")
    if not isinstance(ctx, dict) or not isinstance(ctx.get("functionArn"), str):
        return None
    function = ctx["functionArn"]
    condition = str(ctx.get("condition") or "")
    batch = doc.get("DDBStreamBatchInfo")
    if isinstance(batch, dict):
        return Letter("stream", function, _line(
            f"{condition}: shard {batch.get('shardId')} sequence "
            f"{batch.get('startSequenceNumber')}..{batch.get('endSequenceNumber')} "
            f"({batch.get('batchSize')} records)"), False)
    error = doc.get("responsePayload")
    if isinstance(error, dict):
        error = f"{error.get('errorType') or 'error'}: {error.get('errorMessage') or ''}"
    return Letter("invocation", function,
                  _line(f"{condition}" + (f": {error}" if error else "")), False)


def _line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS - 1] + "…"
