"""Read an SQS queue (moto's) and hand its messages to the Lambda handler, as Lambda's SQS event
source would in AWS: batches of up to 10 in Lambda's record shape; the messages the handler does
not report as failed are deleted, the others come back after their visibility timeout."""
from __future__ import annotations

import hashlib
import logging
from typing import Callable, Optional

log = logging.getLogger("outpost.queues")


def lambda_record(message: dict, queue_arn: str) -> dict:
    body = message["Body"]
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
            "body": body, "attributes": message.get("Attributes", {}),
            "messageAttributes": {}, "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
            "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": "us-east-1"}


class QueuePump:
    def __init__(self, sqs, url: str, visibility: int = 60):
        self.sqs, self.url, self.visibility = sqs, url, visibility
        self.arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]

    def receive(self, wait: int = 0, limit: Optional[int] = None) -> list[dict]:
        """The messages visible now (up to `limit`), hidden for `visibility` seconds."""
        got: list[dict] = []
        while limit is None or len(got) < limit:
            want = 10 if limit is None else min(10, limit - len(got))
            msgs = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=want,
                                            VisibilityTimeout=self.visibility,
                                            WaitTimeSeconds=wait if not got else 0,
                                            AttributeNames=["All"]).get("Messages", [])
            if not msgs:
                break
            got.extend(msgs)
        return got

    def handle(self, messages: list[dict], handler: Callable[[dict], Optional[dict]]) -> int:
        """Feed `messages` to `handler` in batches of 10; returns how many were deleted."""
        done = 0
        for i in range(0, len(messages), 10):
            batch = messages[i:i + 10]
            result = handler({"Records": [lambda_record(m, self.arn) for m in batch]}) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            ok = [m for m in batch if m["MessageId"] not in failed]
            if failed:
                log.warning("%d deliveries failed; SQS will deliver them again", len(failed))
            if ok:
                self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                    {"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]} for k, m in enumerate(ok)])
            done += len(ok)
        return done

    def poll(self, handler: Callable[[dict], Optional[dict]], wait: int = 0,
             limit: Optional[int] = None) -> int:
        """One pass: what is visible now goes to the handler. Messages the handler queues while
        it runs are left for the next pass (so a handler that re-queues cannot loop for ever)."""
        return self.handle(self.receive(wait, limit), handler)
