"""The harness that runs the real delivery worker over moto's delivery queue: each pass is the
kick a producer or the minute's housekeeping sends (the webhook receivers it delivers to are
tests/targets.py's).

moto holds a delayed message for real seconds; the tests run on a fake clock. `advance` moves
both: the test clock, and every delay moto is holding (so "15 minutes later" takes no time).
"""
from __future__ import annotations

import json
import time

import boto3

from chalicelib.adapters.queues import DeliveryQueue
from chalicelib.core import deliveries
from chalicelib.usecases.subscribers import _hash

ACCOUNT, REGION = "123456789012", "us-east-1"


def _moto_queue(url):
    from moto.sqs.models import sqs_backends
    name = url.rsplit("/", 1)[1]
    return sqs_backends[ACCOUNT][REGION].queues[name]


class Deliveries:
    """The delivery queue on moto and the real worker handler behind it."""

    def __init__(self, c, client, clock):
        self.c, self.client, self.clock = c, client, clock
        self.sqs = boto3.client("sqs", region_name=REGION)
        dlq = self.sqs.create_queue(QueueName="deliveries-dlq")["QueueUrl"]
        self.url = self.sqs.create_queue(QueueName="deliveries")["QueueUrl"]
        self.dlq = dlq
        self.kicks = []                     # the worker's kicks (function name or None)
        # moto is one SQS server: a short poll sees every message there, and saves a second a pass
        c.override(deliveries=DeliveryQueue(REGION, self.url, dlq, receive_wait=0,
                                            wake=lambda function=None: self.kicks.append(function)))
        self.outcomes = []

    def deliver(self):
        """Kick the worker until a kick finds the queue empty; returns how many it took."""
        took = 0
        while True:
            got = self.client.lambda_.invoke("deliver", {}).payload
            took += got["deleted"]
            if not got["received"]:
                return took

    def queued(self):
        """The deliveries waiting in the queue (decoded), with the DelaySeconds each was sent
        with, without receiving them."""
        out = []
        for m in _moto_queue(self.url)._messages:
            delay = max(0.0, (m.delayed_until - m.sent_timestamp) / 1000) if m.delayed_until else 0
            out.append((deliveries.decode(m.body), delay))
        return out

    def advance(self, seconds):
        """Move the test clock and every delay moto holds by `seconds`."""
        self.clock.tick(seconds)
        for m in _moto_queue(self.url)._messages:
            if m.delayed_until:
                m.delayed_until -= seconds * 1000

    def advance_to_next(self):
        """Jump to the earliest `not_before` among queued deliveries; False if none is queued."""
        waiting = [d.not_before for d, _ in self.queued()]
        if not waiting:
            return False
        self.advance(max(0.0, min(waiting) - self.clock()))
        for m in _moto_queue(self.url)._messages:        # whole seconds in SQS: round up
            m.delayed_until = 0.0
        return True

    def dead_letters(self):
        got = self.sqs.receive_message(QueueUrl=self.dlq, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]

    def subscribe(self, post, url, **extra):
        """Sign a webhook up and let the worker run its challenge; (response, body)."""
        resp, body = post(self.client, "/api/v1/subscribe", {"webhook": url, **extra})
        assert resp.status_code == 202, body
        self.deliver()
        return resp, body


def active_webhook(c, url, sub_id, components=()):
    """A subscriber that proved its URL earlier and has gone dark since (the API cannot make
    one of these directly: a blackhole never answers its challenge)."""
    doc = {"id": sub_id, "kind": "webhook", "address": url, "components": list(components),
           "address_hash": _hash(f"webhook:{url}"), "state": "active", "created_at": c.clock(),
           "sns_arn": None, "secret": "s" * 64}
    c.store.put_subscriber(doc)
    return doc


def wait_until(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
