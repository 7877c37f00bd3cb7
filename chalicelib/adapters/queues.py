"""I/O: the only SQS module. The delivery queue (one message per event and destination) and its
dead-letter queue, where deliveries that ran out of tries are parked with the reason; and the
kick that wakes the delivery worker.

No event-source mapping reads the queue: an idle one long-polls around the clock, a bill for
nothing. Whoever queues a delivery that is due now kicks the worker (an asynchronous Lambda
invocation, no payload) and the worker receives from the queue itself until it is empty; the
home checker's housekeeping kicks it each minute when the queue holds due messages (retries
whose delay ran out, failures whose visibility timeout did). A lost kick delays a delivery by
at most a minute; it never loses one."""
from __future__ import annotations

import contextlib
import logging
import threading
from typing import Callable, Iterator, Optional

from ..core import deliveries
from ..core.errors import QueueFailed

log = logging.getLogger("outpost.queues")


class WorkerKick:
    """Wake the delivery worker: one asynchronous invocation, fire and forget. Best effort by
    design: a kick that fails is logged, and the next minute's housekeeping kick covers it.
    So it is one request with short timeouts (an async Invoke answers in milliseconds): it
    runs inside a subscribe request, a stream batch and the checker's invocation, where
    botocore's defaults (60 s timeouts, 3 attempts with backoff) would hold them."""

    TIMEOUT = 2.0                    # seconds, to connect and to read the 202

    def __init__(self, region: str, function: Optional[str]):
        self.region, self.function = region, function
        self._client = None

    @property
    def client(self):
        if self._client is None:
            import boto3  # cold start: boto3 loads on first use
            from botocore.config import Config  # with boto3, on first use
            self._client = boto3.client("lambda", region_name=self.region, config=Config(
                connect_timeout=self.TIMEOUT, read_timeout=self.TIMEOUT,
                retries={"mode": "standard", "total_max_attempts": 1}))
        return self._client

    def __call__(self, function: Optional[str] = None) -> bool:
        """Kick `function` (default: the configured worker); False if none or it failed."""
        name = function or self.function
        if not name:
            return False                 # the worker itself, a checker stage: nobody to kick
        try:
            self.client.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
            return True
        except Exception:                # noqa: BLE001 - the minute's kick covers a lost one
            log.exception("could not kick the delivery worker %s", name)
            return False


RECEIVE_MAX = 10                   # ReceiveMessage's limit per call
RECEIVE_WAIT = 1                   # seconds: a long poll asks every SQS server, so an empty
#                                    answer means empty (a short poll samples a few of them)


class DeliveryQueue:
    def __init__(self, region: str, url: Optional[str], dead_letter_url: Optional[str] = None,
                 wake: Optional[Callable[..., object]] = None, receive_wait: int = RECEIVE_WAIT):
        self.region, self.url, self.dead_letter_url = region, url, dead_letter_url
        self.receive_wait = receive_wait
        self._client = None
        self._wake = wake
        self._held = threading.local()   # per thread: a Lambda handler runs on one thread

    @property
    def client(self):
        if self._client is None:
            import boto3  # cold start: boto3 loads on first use
            self._client = boto3.client("sqs", region_name=self.region)
        return self._client

    def send(self, items: list[deliveries.Delivery], now: float) -> list[int]:
        """Queue each delivery, delayed until its `not_before` (at most 15 minutes at a time).
        Returns the indexes of `items` that SQS refused (the others are queued)."""
        if not items:
            return []
        if not self.url:
            raise QueueFailed("DELIVERY_QUEUE_URL is not set: webhook deliveries cannot be queued")
        encoded = [deliveries.encode(d) for d in items]
        failed: list[int] = []
        start, due = 0, False
        for batch in deliveries.batches(encoded):
            entries = [{"Id": str(start + k), "MessageBody": m,
                        "DelaySeconds": deliveries.delay_seconds(items[start + k], now)}
                       for k, m in enumerate(batch)]
            assert len(entries) <= deliveries.MAX_BATCH
            assert sum(len(e["MessageBody"].encode()) for e in entries) <= \
                deliveries.MAX_MESSAGE_BYTES
            assert all(0 <= e["DelaySeconds"] <= deliveries.MAX_DELAY for e in entries)
            resp = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
            for bad in resp.get("Failed", []):
                log.warning("SQS refused delivery %s: %s %s", bad["Id"], bad.get("Code"),
                            bad.get("Message"))
                failed.append(int(bad["Id"]))
            refused = {b["Id"] for b in resp.get("Failed", [])}
            due = due or any(e["DelaySeconds"] == 0 and e["Id"] not in refused for e in entries)
            start += len(batch)
        if due:                          # one kick per call; delayed ones wait for the minute's
            self.wake()
        return sorted(failed)

    # -- waking the worker ----------------------------------------------------------------

    def wake(self) -> None:
        """Kick the worker, or, inside `held()`, once when the hold ends."""
        if getattr(self._held, "depth", 0):
            self._held.pending = True
        elif self._wake is not None:
            self._wake()

    def kick(self, function: str) -> None:
        """Kick `function` now, held or not: a worker out of time hands over to its successor."""
        if self._wake is not None:
            self._wake(function)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Coalesce this thread's kicks: a stream batch or a housekeeping run that queues
        many deliveries kicks the worker once, at the end."""
        self._held.depth = getattr(self._held, "depth", 0) + 1
        try:
            yield
        finally:
            self._held.depth -= 1
            if not self._held.depth and getattr(self._held, "pending", False):
                self._held.pending = False
                self.wake()

    def due(self) -> int:
        """About how many messages are visible now (due, not held by a worker): one request."""
        if not self.url:
            return 0
        got = self.client.get_queue_attributes(QueueUrl=self.url,
                                               AttributeNames=["ApproximateNumberOfMessages"])
        return int(got["Attributes"].get("ApproximateNumberOfMessages", 0))

    # -- the worker's side ----------------------------------------------------------------

    def receive(self) -> list[dict]:
        """Up to 10 visible messages, each hidden for the queue's visibility timeout and counted
        as a receive (the queue's redrive policy dead-letters a message after 5)."""
        if not self.url:
            return []
        return self.client.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=RECEIVE_MAX, WaitTimeSeconds=self.receive_wait,
            AttributeNames=["ApproximateReceiveCount"]).get("Messages", [])

    def delete(self, messages: list[dict]) -> int:
        """Delete handled messages (by receipt handle); returns how many SQS did not delete
        (they come back after the visibility timeout, and the fences absorb the copy)."""
        if not messages:
            return 0
        assert len(messages) <= RECEIVE_MAX
        resp = self.client.delete_message_batch(QueueUrl=self.url, Entries=[
            {"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]} for k, m in enumerate(messages)])
        for bad in resp.get("Failed", []):
            log.warning("SQS did not delete a handled delivery: %s %s", bad.get("Code"),
                        bad.get("Message"))
        return len(resp.get("Failed", []))

    def dead_letter(self, body: str, reason: str) -> None:
        """Park a delivery that will not be tried again, with why (the DLQ is alarmed)."""
        if not self.dead_letter_url:
            log.error("no DELIVERY_DLQ_URL; dropping a dead delivery (%s): %s", reason, body[:200])
            return
        self.client.send_message(QueueUrl=self.dead_letter_url,
                                 MessageBody=deliveries.dead_letter(body, reason))


class DeadLetterQueue:
    """The one dead-letter queue (infra/resources.yaml), read by the operator CLI: list what
    is in it, and move the deliveries back to the delivery queue. SQS's own redrive
    (StartMessageMoveTask) moves every letter to one queue, and the others (SNS envelopes,
    Lambda's failure records) are not deliveries."""

    # how long a letter being looked at stays hidden from the next look (and the alarm)
    LOOK_SECONDS = 30

    def __init__(self, region: str, url: Optional[str], delivery_url: Optional[str]):
        self.region, self.url, self.delivery_url = region, url, delivery_url
        self._client = None

    @property
    def client(self):
        if self._client is None:
            import boto3  # cold start: boto3 loads on first use
            self._client = boto3.client("sqs", region_name=self.region)
        return self._client

    def _url(self) -> str:
        if not self.url:
            raise QueueFailed("DELIVERY_DLQ_URL is not set: no dead-letter queue to read")
        return self.url

    def _take(self, limit: int) -> list[dict]:
        """Up to `limit` letters, each hidden for LOOK_SECONDS (a bounded look: SQS hands out
        at most 10 per call, and a letter already taken is not handed out again meanwhile)."""
        out: list[dict] = []
        while len(out) < limit:
            resp = self.client.receive_message(
                QueueUrl=self._url(), MaxNumberOfMessages=min(10, limit - len(out)),
                VisibilityTimeout=self.LOOK_SECONDS, WaitTimeSeconds=1)
            got = resp.get("Messages", [])
            if not got:
                break
            out.extend(got)
        return out

    def _show_again(self, messages: list[dict]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start:start + 10]
            self.client.change_message_visibility_batch(QueueUrl=self._url(), Entries=[
                {"Id": str(k), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for k, m in enumerate(chunk)])

    def peek(self, limit: int) -> list[str]:
        """The bodies of up to `limit` letters, left in the queue."""
        messages = self._take(limit)
        self._show_again(messages)
        return [m["Body"] for m in messages]

    def replay(self, wanted, limit: int) -> tuple[int, int]:
        """Move each letter for which `wanted(body)` gives a message to the delivery queue, as
        that message (None: the letter stays). Sent first, then deleted: a failure between the
        two repeats a delivery, never loses one. Returns (moved, left)."""
        if not self.delivery_url:
            raise QueueFailed("DELIVERY_QUEUE_URL is not set: nowhere to replay deliveries to")
        messages = self._take(limit)
        moved, kept = 0, []
        for m in messages:
            message = wanted(m["Body"])
            if message is None:
                kept.append(m)
                continue
            self.client.send_message(QueueUrl=self.delivery_url, MessageBody=message)
            self.client.delete_message(QueueUrl=self._url(), ReceiptHandle=m["ReceiptHandle"])
            moved += 1
        self._show_again(kept)
        return moved, len(kept)
