"""The delivery worker without an event source, on moto: producers kick it, it drains the queue
itself with the SQS source's semantics (delete what was handled, leave failures to come back,
the queue's redrive dead-letters after 5 receives), the minute's housekeeping kicks it when
something is due, and two workers at once deliver each message once."""
import json
import threading

import boto3
import pytest

from chalicelib.adapters.queues import DeliveryQueue
from chalicelib.core import deliveries
from chalicelib.core.deliveries import Delivery
from chalicelib.usecases.deliver import drain, wake_if_due
from chalicelib.usecases.housekeeping import housekeeping
from chalicelib.usecases.subscribers import _hash
from tests.api.calls import post
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


@pytest.fixture
def kicked(wired):
    c, client, clock, key, pump, _, receiver, hooks = wired
    yield c, client, receiver, Queue(c)


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


def test_a_kick_drains_a_batch_and_deletes_only_what_it_handled(kicked, monkeypatch):
    c, client, receiver, q = kicked
    for sub in ("ok1", "ok2", "bad"):
        active_webhook(c, receiver.url, sub)
    broken_store(c, monkeypatch, "bad")
    q.send(event(c, "e1", "ok1"), event(c, "e2", "ok2"), event(c, "e3", "bad"))
    assert q.kicks == [None]                       # one kick for the call that queued them

    out = client.lambda_.invoke("deliver", {}).payload
    assert (out["received"], out["deleted"], out["failed"]) == (3, 2, 1)
    assert received_events(receiver) == ["e1", "e2"]
    (left,) = q.waiting()                          # the failure is still queued, hidden
    assert deliveries.decode(left.body).event == "e3" and not left.visible
    assert "DeleteMessageBatch" in q.requests


def test_a_failure_comes_back_and_the_minutes_kick_retries_it(kicked, monkeypatch):
    c, client, receiver, q = kicked
    active_webhook(c, receiver.url, "flaky")
    broken_store(c, monkeypatch, "flaky", times=1)
    q.send(event(c, "e1", "flaky"))
    assert client.lambda_.invoke("deliver", {}).payload["failed"] == 1
    q.kicks.clear()
    housekeeping(c, "minute-1")                    # hidden: nothing due, no kick
    assert q.kicks == [] and q.requests[-1] == "GetQueueAttributes"

    q.time_out_visibility()
    housekeeping(c, "minute-2")                    # visible again: due, one kick
    assert q.kicks == [None]
    out = client.lambda_.invoke("deliver", {}).payload
    assert (out["received"], out["deleted"]) == (1, 1)
    assert received_events(receiver) == ["e1"] and not q.waiting()


def test_after_5_receives_the_queue_dead_letters_what_the_worker_keeps_failing_on(
        kicked, monkeypatch):
    c, client, receiver, q = kicked
    active_webhook(c, receiver.url, "doomed")
    broken_store(c, monkeypatch, "doomed")
    q.send(event(c, "e1", "doomed"))
    for attempt in range(MAX_RECEIVES):
        assert client.lambda_.invoke("deliver", {}).payload["failed"] == 1, attempt
        q.time_out_visibility()
        assert wake_if_due(c)
    out = client.lambda_.invoke("deliver", {}).payload    # the 6th receive: redriven instead
    assert out["received"] == 0 and not q.waiting()
    (body,) = q.dead()
    assert deliveries.decode(body).event == "e1" and receiver.deliveries == []


def test_a_kick_on_an_empty_queue_costs_one_receive(kicked):
    c, client, receiver, q = kicked
    out = client.lambda_.invoke("deliver", {}).payload
    assert out == {"receives": 1, "received": 0, "deleted": 0, "failed": 0, "more": False}
    assert q.requests == ["ReceiveMessage"] and q.kicks == []
    q.requests.clear()
    assert not wake_if_due(c)                      # the minute's check: one request, no kick
    assert q.requests == ["GetQueueAttributes"] and q.kicks == []


def test_two_concurrent_kicks_deliver_each_message_once(kicked):
    c, client, receiver, q = kicked
    active_webhook(c, receiver.url, "sub")
    q.send(*[event(c, f"e{n:02d}", "sub") for n in range(25)])
    results, start = [], threading.Barrier(2)

    def worker():
        start.wait()
        results.append(drain(c, lambda: 30.0, lambda: q.kicks.append("successor")))
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert received_events(receiver) == [f"e{n:02d}" for n in range(25)]
    assert sum(r["deleted"] for r in results) == 25 and not q.waiting()
    assert "successor" not in q.kicks              # both stopped on an empty queue


def test_a_worker_out_of_time_hands_over_to_a_successor(kicked):
    c, client, receiver, q = kicked
    active_webhook(c, receiver.url, "sub")
    q.send(*[event(c, f"e{n:02d}", "sub") for n in range(15)])
    q.kicks.clear()
    # chalice's test context gives 3 s: less than one webhook deadline plus the reserve
    out = client.lambda_.invoke("deliver", {}).payload
    assert (out["received"], out["more"]) == (10, True)
    assert q.kicks == ["deliver"]                  # its own name: the next invocation goes on
    out = client.lambda_.invoke("deliver", {}).payload
    assert out["received"] == 5 and len(receiver.deliveries) == 15


def test_producers_kick_once_per_request_or_batch_and_not_for_delayed_deliveries(kicked):
    c, client, receiver, q = kicked
    later = Delivery("event", "later", "sub", c.clock(), b"{}", not_before=c.clock() + 120)
    q.send(later)
    assert q.kicks == []                           # not due: the minute's kick finds it then
    with q.queue.held():
        q.send(event(c, "a", "sub"))
        q.send(event(c, "b", "sub"))
        assert q.kicks == []
    assert q.kicks == [None]
    q.kicks.clear()
    resp, body = post(client, "/api/v1/subscribe", {"webhook": receiver.url})
    assert resp.status_code == 202, body
    assert q.kicks == [None]                       # the sign-up's challenge: one kick
