"""The prober against real HTTP targets on 127.0.0.1: every failure is data, never an exception."""
import socket

import pytest

from chalicelib.adapters.prober import HttpProber, run_checks
from chalicelib.core.model import Level, Monitor
from tests.targets import Target


@pytest.fixture
def target():
    t = Target()
    yield t
    t.close()


def prober(allow_private=True):
    return HttpProber("https://status.acme.example", allow_private)


def mon(url, **kw):
    return Monitor(id="api.0", url=url, **kw)


def test_healthy_target_passes_and_sends_the_contract_user_agent(target):
    res = prober().check(mon(target.url + "/health", conditions=("[STATUS] == 200",
                                                                 "[BODY].status == ok")), "eu-west-1")
    assert res.level == Level.OK and res.status_code == 200 and res.error is None
    assert res.response_time_ms is not None and res.region == "eu-west-1"
    assert target.requests[0]["ua"] == \
        "Outpost/0.1.0 (+https://status.acme.example; region=eu-west-1)"


def test_failed_condition_keeps_the_resolved_text(target):
    target.behaviour = "fail"
    res = prober().check(mon(target.url, conditions=("[STATUS] == 200",)), "a")
    assert res.level == Level.FAIL
    assert res.reasons == ["[STATUS] (503) == 200"]


def test_degraded_when_slow(target):
    target.behaviour, target.slow_seconds = "slow", 0.3
    res = prober().check(mon(target.url, degraded_when=("[RESPONSE_TIME] > 100",)), "a")
    assert res.level == Level.DEGRADED


def test_hanging_target_is_a_timeout_result(target):
    target.behaviour = "hang"
    res = prober().check(mon(target.url, timeout=0.5), "a")
    assert res.level == Level.FAIL and res.error == "timeout after 0.5s"
    assert res.reasons[0] == "timeout after 0.5s"


def test_refused_connection_is_a_failed_check():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # closed again: nothing listens here
    res = prober().check(mon(f"http://127.0.0.1:{port}/"), "a")
    assert res.level == Level.FAIL and res.error.startswith("connection failed")
    assert "[STATUS] (n/a) == 200" in res.reasons


def test_private_targets_are_refused_unless_allowed(target):
    res = prober(allow_private=False).check(mon(target.url), "a")
    assert res.level == Level.FAIL and res.error.startswith("blocked:")
    assert "127.0.0.1" in res.error
    assert target.requests == []                    # no packet reached it


def test_round_reports_every_check_and_hung_ones_as_timeouts(target):
    hang = Target()
    hang.behaviour = "hang"
    try:
        jobs = [(Monitor(f"ok.{i}", target.url, timeout=1.0), r) for i in range(5) for r in "ab"]
        jobs += [(Monitor("hang.0", hang.url, timeout=0.5), "a")]
        results = run_checks(prober(), jobs)
    finally:
        hang.close()
    assert len(results) == 11
    assert sum(r.level == Level.OK for r in results) == 10
    (hung,) = [r for r in results if r.monitor_id == "hang.0"]
    assert hung.level == Level.FAIL and "timeout" in hung.error
