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
