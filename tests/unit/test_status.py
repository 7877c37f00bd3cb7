"""Damping, quorum, component status and roll-up: table-driven, pure."""
import pytest

from chalicelib.core.model import (CheckPolicy, CheckResult, Component, ComponentState,
                                   ComponentStatus, Level, Monitor, MonitorRegionState, Scope)
from chalicelib.core.status import (damp, derive_component_states, describe_scope, monitor_level,
                                    rollup)

OK, DEG, FAIL = Level.OK, Level.DEGRADED, Level.FAIL
POLICY = CheckPolicy(regions=("a", "b", "c"), quorum=2, failure_threshold=2, success_threshold=3,
                     interval=60)


def feed(levels, policy=POLICY):
    state = MonitorRegionState()
    seen = []
    for i, lv in enumerate(levels):
        state = damp(state, CheckResult("m", "a", float(i), lv), policy)
        seen.append(state.level)
    return seen


@pytest.mark.parametrize("observed, confirmed", [
    ([OK, OK, OK], [OK, OK, OK]),
    ([FAIL], [OK]),                                     # one bad round is a blip
    ([FAIL, FAIL], [OK, FAIL]),                         # failure_threshold = 2
    ([FAIL, OK, FAIL, OK], [OK, OK, OK, OK]),           # flapping never confirms
    ([FAIL, FAIL, OK, OK], [OK, FAIL, FAIL, FAIL]),     # recovery needs success_threshold = 3
    ([FAIL, FAIL, OK, OK, OK], [OK, FAIL, FAIL, FAIL, OK]),
    ([DEG, DEG], [OK, DEG]),
    ([DEG, FAIL], [OK, DEG]),                           # both at least degraded: confirm degraded
    ([FAIL, FAIL, DEG, DEG, DEG], [OK, FAIL, FAIL, FAIL, DEG]),
])
def test_damping(observed, confirmed):
    assert feed(observed) == confirmed


def test_damping_records_when_the_level_changed():
    state = MonitorRegionState()
    for t, lv in enumerate([OK, FAIL, FAIL, FAIL]):
        state = damp(state, CheckResult("m", "a", float(t), lv, error="boom" if lv else None), POLICY)
    assert (state.level, state.since, state.last_checked_at) == (FAIL, 2.0, 3.0)
    assert state.last_reasons == ["boom"]


@pytest.mark.parametrize("failing, degraded, quorum, level", [
    (0, 0, 2, OK), (1, 0, 2, OK), (2, 0, 2, FAIL), (3, 0, 2, FAIL),
    (1, 1, 2, DEG), (0, 2, 2, DEG), (0, 1, 2, OK), (1, 0, 1, FAIL), (2, 1, 3, DEG),
])
def test_quorum(failing, degraded, quorum, level):
    assert monitor_level(Scope(failing, degraded, 3, 3), quorum) == level


def view(level, t=100.0, reasons=()):
    return MonitorRegionState(level=level, since=0.0, last_checked_at=t, last_reasons=list(reasons))


COMP = Component("api", "API", monitors=(Monitor("api.0", "http://x"), Monitor("api.1", "http://y")))


@pytest.mark.parametrize("per_region, status, failing", [
    ({"a": [OK, OK], "b": [OK, OK], "c": [OK, OK]}, ComponentStatus.OPERATIONAL, 0),
    ({"a": [FAIL, OK], "b": [OK, OK], "c": [OK, OK]}, ComponentStatus.OPERATIONAL, 1),
    ({"a": [FAIL, OK], "b": [FAIL, OK], "c": [OK, OK]}, ComponentStatus.PARTIAL, 2),
    ({"a": [FAIL, FAIL], "b": [FAIL, FAIL], "c": [OK, OK]}, ComponentStatus.MAJOR, 2),
    ({"a": [DEG, OK], "b": [DEG, OK], "c": [OK, OK]}, ComponentStatus.DEGRADED, 0),
    ({"a": [FAIL, DEG], "b": [DEG, DEG], "c": [OK, OK]}, ComponentStatus.DEGRADED, 1),
])
def test_component_status_from_regions(per_region, status, failing):
    views = {r: {"api.0": view(lv[0], reasons=["[STATUS] (503) == 200"]), "api.1": view(lv[1])}
             for r, lv in per_region.items()}
    states = derive_component_states([COMP], views, POLICY, {}, now=110.0)
    assert states["api"].status == status
    assert states["api"].scope.failing == failing
    assert states["api"].scope.total == 3


def test_reasons_and_since():
    views = {r: {"api.0": view(FAIL, reasons=["[STATUS] (503) == 200"]), "api.1": view(FAIL)}
             for r in "ab"}
    prev = {"api": ComponentState(ComponentStatus.MAJOR, since=50.0, scope=Scope(2, 0, 2, 3),
                                  created_at=1.0)}
    states = derive_component_states([COMP], views, POLICY, prev, now=110.0)
    assert states["api"].since == 50.0                  # unchanged status keeps its since
    assert states["api"].created_at == 1.0
    assert states["api"].reasons == ("[STATUS] (503) == 200",)


def test_silence_never_turns_green():
    """Regions that stopped reporting can't vouch for a recovery."""
    views = {"a": {"api.0": view(OK, t=110.0), "api.1": view(OK, t=110.0)},
             "b": {"api.0": view(OK, t=0.0), "api.1": view(OK, t=0.0)}}     # b is stale
    prev = {"api": ComponentState(ComponentStatus.MAJOR, since=50.0, scope=Scope(2, 0, 2, 3))}
    states = derive_component_states([COMP], views, POLICY, prev, now=1000.0)
    assert states["api"].status == ComponentStatus.MAJOR
    assert states["api"].scope.reporting == 0


@pytest.mark.parametrize("statuses, indicator, description", [
    ([], "none", "All Systems Operational"),
    ([ComponentStatus.OPERATIONAL] * 3, "none", "All Systems Operational"),
    ([ComponentStatus.OPERATIONAL, ComponentStatus.DEGRADED], "minor", "Partially Degraded Service"),
    ([ComponentStatus.PARTIAL, ComponentStatus.DEGRADED], "minor", "Minor Service Outage"),
    ([ComponentStatus.MAJOR, ComponentStatus.OPERATIONAL], "major", "Partial System Outage"),
    ([ComponentStatus.MAJOR, ComponentStatus.MAJOR], "critical", "Major Service Outage"),
    ([ComponentStatus.MAINTENANCE, ComponentStatus.OPERATIONAL], "maintenance",
     "Service Under Maintenance"),
])
def test_rollup(statuses, indicator, description):
    assert rollup(statuses) == (indicator, description)


@pytest.mark.parametrize("scope, text", [
    (Scope(1, 0, 3, 3), "failing from 1 of 3 regions"),
    (Scope(0, 2, 3, 3), "degraded from 2 of 3 regions"),
    (Scope(0, 0, 2, 3), "2 of 3 regions reporting"),
    (Scope(0, 0, 3, 3), None),
])
def test_describe_scope(scope, text):
    assert describe_scope(scope) == text
