"""Review of the kicked delivery worker (no SQS event source): the paths where a queued delivery
could wait for ever, or the kick could cost more than it promises. Real moto SQS, real webhook
receivers on 127.0.0.1, the real worker handler."""
import threading

import pytest

from chalicelib.adapters.queues import WorkerKick
from chalicelib.usecases.housekeeping import HOUSEKEEPING_RESERVE, housekeeping
from tests.api.test_deliver_kicks import Queue, active_webhook, event, received_events
from tests.targets import FakeServer, Reply


@pytest.fixture
def kicked(wired):
    c, client, clock, key, pump, _, receiver, hooks = wired
    yield c, client, receiver, Queue(c)


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
