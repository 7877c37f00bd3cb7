"""Review of the kicked delivery worker (no SQS event source): the paths where a queued delivery
could wait for ever, or the kick could cost more than it promises. Real moto SQS, real webhook
receivers on 127.0.0.1, the real worker handler."""
import pytest

from chalicelib.usecases.housekeeping import HOUSEKEEPING_RESERVE, housekeeping
from tests.api.test_deliver_kicks import Queue, active_webhook, event, received_events


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
