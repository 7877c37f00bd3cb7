"""Review of the kicked delivery worker (no SQS event source): the paths where a queued delivery
could wait for ever, or the kick could cost more than it promises. Real moto SQS, real webhook
receivers on 127.0.0.1, the real worker handler."""
import re
import threading

import pytest

from chalicelib.adapters.queues import RECEIVE_MAX, DeliveryQueue, WorkerKick
from chalicelib.usecases.deliver import drain
from chalicelib.usecases.housekeeping import HOUSEKEEPING_RESERVE, housekeeping
from tests.api.kicks import active_webhook, event, received_events
from tests.targets import FakeServer, Reply


def test_a_round_that_ran_long_still_gets_the_minutes_kick(kicked):
    """The minute's kick is the only one a retry whose delay ran out (or a message back from a
    crashed worker) ever gets. Housekeeping stops starting tasks near the checker's timeout,
    and the kick was its last task: a round that runs long every minute (sub-minute slots,
    a slow target during an outage) skipped it every minute, and nothing woke the worker."""
    c, client, receiver, q = kicked
    active_webhook(c, receiver.url, "sub")
    q.send(event(c, "e1", "sub"))                  # stands for a retry that became due
    q.kicks.clear()

    short = HOUSEKEEPING_RESERVE - 2.0             # less than the chores' reserve, not zero
    housekeeping(c, "late-minute", lambda: short)
    assert q.kicks == [None]
    out = client.lambda_.invoke("deliver", {}).payload
    assert out["deleted"] == 1 and received_events(receiver) == ["e1"]


# -- the kick itself: best effort, on the API's, the stream consumer's and the checker's path ---

MAX_ASYNC_PAYLOAD = 256 * 1024           # Lambda: an asynchronous (Event) invocation's payload


@pytest.fixture
def lambda_endpoint(monkeypatch):
    """A Lambda API on 127.0.0.1 that answers as `mode` says: "ok" (202, an async invoke
    queued), "throttle" (429 TooManyRequestsException) or "hang" (never, until closed)."""
    state = {"mode": "ok"}

    def answer(req):
        if state["mode"] == "hang":
            server.release.wait(30)
            return None
        if state["mode"] == "throttle":
            return Reply(429, {"Type": "User", "message": "Rate exceeded"},
                         {"x-amzn-ErrorType": "TooManyRequestsException"})
        return Reply(202, b"")
    server = FakeServer(answer)
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", server.url)
    yield server, state
    server.close()


def test_a_kick_is_one_async_invoke_of_the_worker_with_a_tiny_payload(lambda_endpoint):
    server, _ = lambda_endpoint
    assert WorkerKick("us-east-1", "outpost-prod-deliver")() is True
    (req,) = server.requests
    assert req.method == "POST"
    assert req.path == "/2015-03-31/functions/outpost-prod-deliver/invocations"
    assert req.headers["X-Amz-Invocation-Type"] == "Event"
    assert len(req.body) <= MAX_ASYNC_PAYLOAD
    assert WorkerKick("us-east-1", None)() is False and len(server.requests) == 1


def test_a_throttled_kick_is_one_request_not_a_retry_loop_on_the_callers_path(lambda_endpoint):
    """A kick is best effort (the next minute's covers it), but it runs inside a subscribe
    request, a stream batch and the checker's invocation: botocore's default retries made a
    throttled kick 5 requests with backoff there."""
    server, state = lambda_endpoint
    state["mode"] = "throttle"
    assert WorkerKick("us-east-1", "outpost-prod-deliver")() is False
    assert len(server.requests) == 1


def test_a_hanging_lambda_api_does_not_hold_the_caller(lambda_endpoint):
    """botocore's defaults wait 60 s for an answer, and retry: a Lambda API that does not
    answer held a subscribe request (10 s Lambda) and the checker's round past their timeouts."""
    server, state = lambda_endpoint
    state["mode"] = "hang"
    kick = WorkerKick("us-east-1", "outpost-prod-deliver")
    config = kick.client.meta.config
    assert config.connect_timeout <= 2 and config.read_timeout <= 2
    got = []
    t = threading.Thread(target=lambda: got.append(kick()), daemon=True)
    t.start()
    t.join(15)                                     # liveness, not a speed claim
    assert not t.is_alive() and got == [False]
    assert len(server.requests) == 1


# -- AWS limits moto does not enforce ----------------------------------------------------------

def test_the_worker_stays_inside_sqs_request_limits(kicked, monkeypatch):
    """ReceiveMessage: MaxNumberOfMessages 1..10, WaitTimeSeconds 0..20; DeleteMessageBatch: at
    most 10 entries, Ids unique, up to 80 of [A-Za-z0-9_-] (AWS; moto takes more)."""
    c, client, receiver, q = kicked
    for sub in ("ok", "bad"):
        active_webhook(c, receiver.url, sub)
    broken = c.store.get_subscriber
    monkeypatch.setattr(c.store, "get_subscriber", lambda sub_id: (_ for _ in ()).throw(
        RuntimeError("DynamoDB is unreachable")) if sub_id == "bad" else broken(sub_id))
    q.send(*[event(c, f"e{n:02d}", "bad" if n % 7 == 3 else "ok") for n in range(33)])
    calls = []
    q.queue.client.meta.events.register(
        "provide-client-params.sqs.*",
        lambda params, model, **_: calls.append((model.name, dict(params))))
    took = 0
    while True:
        out = drain(c, lambda: 60.0, lambda: None)
        took += out["deleted"]
        if not out["received"]:
            break
    assert took == 33 - 5 and len(receiver.deliveries) == 28
    receives = [p for name, p in calls if name == "ReceiveMessage"]
    deletes = [p for name, p in calls if name == "DeleteMessageBatch"]
    assert receives and deletes
    for p in receives:
        assert 1 <= p["MaxNumberOfMessages"] <= 10 and 0 <= p["WaitTimeSeconds"] <= 20
    for p in deletes:
        ids = [e["Id"] for e in p["Entries"]]
        assert 1 <= len(ids) <= 10 and len(set(ids)) == len(ids)
        assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,80}", i) for i in ids)
    # the deployed queue's long poll
    deployed = DeliveryQueue("us-east-1", q.url)
    assert 0 <= deployed.receive_wait <= 20 and RECEIVE_MAX == 10


# -- never two ---------------------------------------------------------------------------------

def test_a_copy_received_while_the_first_worker_still_posts_is_not_posted_again(kicked):
    """Worker A posts to a slow receiver; the message's visibility runs out meanwhile and
    worker B receives it too. B finds the fence claimed and puts the copy back for later; A's
    delete then uses a receipt handle that is no longer the newest; the copy, when it comes
    back, finds the fence done. The receiver gets one post."""
    c, client, receiver, q = kicked
    active_webhook(c, receiver.url, "sub")
    q.send(event(c, "e1", "sub"))
    receiver.hold = threading.Event()
    first = []
    a = threading.Thread(target=lambda: first.append(drain(c, lambda: 60.0, lambda: None)))
    a.start()
    for _ in range(200):                           # until A's post is at the receiver
        if receiver.waiting:
            break
        threading.Event().wait(0.02)
    assert receiver.waiting == 1
    q.time_out_visibility()
    second = drain(c, lambda: 60.0, lambda: None)  # worker B, while A's post is held
    assert second["received"] == 1 and second["deleted"] == 1
    receiver.hold.set()
    a.join(30)
    assert first and first[0]["deleted"] == 1
    q.clock.tick(61)                               # B's copy, 60 s later
    for m in q.waiting():
        m.delayed_until = 0.0
    third = drain(c, lambda: 60.0, lambda: None)
    assert third["received"] == 1 and third["deleted"] == 1
    assert received_events(receiver) == ["e1"] and not q.waiting()
