"""The delivery worker's queue as deployed, for the kick tests: a moto queue with the deployed
redrive, the worker's kicks recorded, every SQS request counted; and the deliveries they send."""
import json

import boto3

from chalicelib.adapters.queues import DeliveryQueue
from chalicelib.core.deliveries import Delivery
from chalicelib.usecases.subscribers import _hash
from tests.api.hooks import ACCOUNT, REGION

MAX_RECEIVES = 5                       # the deployed RedrivePolicy's maxReceiveCount


def active_webhook(c, url, sub_id):
    c.store.put_subscriber({"id": sub_id, "kind": "webhook", "address": url, "components": [],
                            "address_hash": _hash(f"webhook:{url}#{sub_id}"), "state": "active",
                            "created_at": c.clock(), "sns_arn": None, "secret": "s" * 64})


class Queue:
    """A delivery queue as deployed (redrive to a dead-letter queue after 5 receives), the
    worker's kicks recorded, and every SQS request the app makes counted."""

    def __init__(self, c):
        self.c = c
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.dlq = self.sqs.create_queue(QueueName="kicked-dlq")["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=self.dlq, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.url = self.sqs.create_queue(QueueName="kicked", Attributes={
            "VisibilityTimeout": "180", "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES})})["QueueUrl"]
        self.kicks = []
        self.queue = DeliveryQueue(REGION, self.url, None, receive_wait=0,
                                   wake=lambda function=None: self.kicks.append(function))
        c.override(deliveries=self.queue)
        self.requests = []
        self.queue.client.meta.events.register(
            "before-call.sqs.*", lambda model, **_: self.requests.append(model.name))

    def send(self, *items):
        assert self.queue.send(list(items), self.c.clock()) == []

    def time_out_visibility(self):
        """Every received message's visibility timeout runs out (moto counts real seconds)."""
        from moto.sqs.models import sqs_backends
        for m in sqs_backends[ACCOUNT][REGION].queues["kicked"]._messages:
            m.visible_at = 0.0

    def waiting(self):
        from moto.sqs.models import sqs_backends
        return sqs_backends[ACCOUNT][REGION].queues["kicked"]._messages

    def dead(self):
        got = self.sqs.receive_message(QueueUrl=self.dlq, MaxNumberOfMessages=10)
        return [m["Body"] for m in got.get("Messages", [])]


def event(c, event_id, sub_id):
    body = json.dumps({"event": event_id}).encode()
    return Delivery("event", event_id, sub_id, c.clock(), body)


def broken_store(c, monkeypatch, bad_sub, times=None):
    """Our own error (DynamoDB failing) while handling deliveries to `bad_sub`."""
    real, left = c.store.get_subscriber, [times]

    def get_subscriber(sub_id):
        if sub_id == bad_sub and (left[0] is None or left[0] > 0):
            left[0] = None if left[0] is None else left[0] - 1
            raise RuntimeError("DynamoDB is unreachable")
        return real(sub_id)
    monkeypatch.setattr(c.store, "get_subscriber", get_subscriber)


def received_events(receiver):
    return sorted(h["X-Outpost-Event"] for h, _ in receiver.deliveries)
