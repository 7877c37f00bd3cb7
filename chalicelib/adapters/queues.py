"""I/O: the only SQS module. The delivery queue (one message per event and destination) and its
dead-letter queue, where deliveries that ran out of tries are parked with the reason."""
from __future__ import annotations

import logging
from typing import Optional

from ..core import deliveries
from ..core.errors import QueueFailed

log = logging.getLogger("outpost.queues")


class DeliveryQueue:
    def __init__(self, region: str, url: Optional[str], dead_letter_url: Optional[str] = None):
        self.region, self.url, self.dead_letter_url = region, url, dead_letter_url
        self._client = None

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
        start = 0
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
            start += len(batch)
        return sorted(failed)

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
