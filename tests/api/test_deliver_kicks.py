"""The delivery worker without an event source, on moto: producers kick it, it drains the queue
itself with the SQS source's semantics (delete what was handled, leave failures to come back,
the queue's redrive dead-letters after 5 receives), the minute's housekeeping kicks it when
something is due, and two workers at once deliver each message once."""
import threading

from chalicelib.core import deliveries
from chalicelib.core.deliveries import Delivery
from chalicelib.usecases.deliver import drain, wake_if_due
from chalicelib.usecases.housekeeping import housekeeping
from tests.api.calls import post
from tests.api.kicks import MAX_RECEIVES, active_webhook, broken_store, event, received_events


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
