"""Heartbeat and third-party monitors, and the private certificate heads-ups: the pure parts."""
import pytest

from chalicelib.adapters.probes.statuspage import vendor_status
from chalicelib.core import heartbeats
from chalicelib.core.config import ConfigError, load_status_text
from chalicelib.core.model import (CheckPolicy, CheckResult, Component, ComponentStatus, Level,
                                   Monitor, MonitorRegionState)
from chalicelib.core.status import derive_component_states
from chalicelib.usecases import expiry

BASE = """page: {id: a, name: A, url: https://a.example}
checks: {regions: [r1, r2, r3], interval: 60s}
components:
  - id: jobs
    name: Jobs
    monitors:
"""


def load(monitor_yaml):
    return load_status_text(BASE + monitor_yaml, "s.yaml").components[0].monitors[0]


def problems(monitor_yaml):
    with pytest.raises(ConfigError) as err:
        load_status_text(BASE + monitor_yaml, "s.yaml")
    return str(err.value)


# --- the status file ------------------------------------------------------------------------

def test_a_heartbeat_monitor_parses_its_period_and_grace():
    m = load("      - heartbeat: {every: 1h, grace: 10m}\n")
    assert (m.kind, m.every, m.grace, m.conditions, m.url) == ("heartbeat", 3600, 600, (), "")
    assert load("      - heartbeat: {every: 5m}\n").grace == 0


def test_a_statuspage_monitor_keeps_its_vendor_and_component():
    m = load("      - statuspage: https://status.vendor.example/\n        component: Payments\n")
    assert (m.kind, m.url, m.vendor_component) == ("statuspage", "https://status.vendor.example",
                                                   "Payments")


@pytest.mark.parametrize("yaml, words", [
    ("      - heartbeat: {every: 1h}\n        url: https://x.example\n",
     "s.yaml:7: components[0].monitors[0]: give exactly one of url, heartbeat and statuspage "
     "(got url, heartbeat)"),
    ("      - timeout: 2s\n", "monitors[0].url: required key is missing (or give heartbeat:"),
    ("      - heartbeat: {grace: 1m}\n", "components[0].monitors[0].heartbeat.every: required"),
    ("      - heartbeat: {every: 1h, often: 2}\n", "unknown key 'often'"),
    ("      - heartbeat: {every: soon}\n", "heartbeat.every: bad duration 'soon'"),
    ("      - heartbeat: {every: 1h}\n        timeout: 2s\n",
     "monitors[0].timeout: does not apply to heartbeat monitors"),
    ("      - statuspage: https://v.example\n        conditions: ['[STATUS] == 200']\n",
     "monitors[0].conditions: does not apply to statuspage monitors"),
    ("      - statuspage: ftp://v.example\n", "unsupported URL scheme 'ftp'"),
    ("      - url: https://x.example\n        component: Payments\n",
     "monitors[0].component: only applies to statuspage monitors"),
])
def test_bad_monitor_kinds_name_the_line_and_key(yaml, words):
    assert words in problems(yaml)


# --- heartbeats -----------------------------------------------------------------------------

HB = Monitor(id="jobs.0", every=3600.0, grace=600.0, conditions=())


@pytest.mark.parametrize("beat, now, level, error", [
    (None, 10_000, None, None),                                         # no token: no verdict
    ({"created_at": 0}, 4200, Level.OK, None),                          # first period running
    ({"created_at": 0}, 4201, Level.FAIL,
     "no beat for 1h10m (expected every 1h, grace 10m)"),
    ({"created_at": 0, "beat_at": 5000, "state": "ok"}, 9200, Level.OK, None),
    ({"created_at": 0, "beat_at": 5000, "state": "ok"}, 12_000, Level.FAIL,
     "last beat for 1h56m (expected every 1h, grace 10m)"),
    ({"created_at": 0, "beat_at": 5000, "state": "fail", "msg": "secret"}, 5001, Level.FAIL,
     "the job reported a failure"),
])
def test_judging_a_heartbeat(beat, now, level, error):
    res = heartbeats.judge(HB, beat, now, "r1")
    if level is None:
        assert res is None
    else:
        assert (res.level, res.error, res.region, res.checked_at) == (level, error, "r1", now)
        assert "secret" not in repr(res)


def test_beats_are_coalesced_within_the_spacing_except_a_turn_to_failure():
    gap = heartbeats.spacing(HB)
    assert gap == 60 and heartbeats.spacing(Monitor(id="x", every=30.0)) == 3
    assert heartbeats.should_record({}, "ok", 100, gap)
    ok = {"beat_at": 100, "state": "ok"}
    assert not heartbeats.should_record(ok, "ok", 159, gap)
    assert heartbeats.should_record(ok, "fail", 101, gap)
    assert heartbeats.should_record(ok, "ok", 160, gap)
    failed = {"beat_at": 100, "state": "fail"}
    assert heartbeats.should_record(failed, "ok", 101, gap)      # the one recovery per gap
    assert not heartbeats.should_record(failed, "fail", 101, gap)
    again = {"beat_at": 100, "state": "fail", "recovered_at": 90}
    assert not heartbeats.should_record(again, "ok", 101, gap)
    assert heartbeats.should_record(again, "ok", 150, gap)


def test_tokens_are_random_hashed_and_shape_checked():
    token, sha = heartbeats.new_token()
    other, _ = heartbeats.new_token()
    assert token != other and heartbeats.well_formed(token)
    assert sha == heartbeats.token_hash(token) and len(sha) == 64 and token not in sha
    for bad in ("", "hb_short", token + "x", "op_" + token[3:], token[:-1] + "/"):
        assert not heartbeats.well_formed(bad)


def test_messages_are_bounded_and_one_printable_line():
    assert heartbeats.clean_message(None) is None and heartbeats.clean_message(" \n\t") is None
    assert heartbeats.clean_message("a\r\nb\x00c\u202ed\u200b") == "a b c d"
    assert len(heartbeats.clean_message("é" * 10_000)) == heartbeats.MAX_MESSAGE


# --- component status: heartbeats without quorum, vendors mirrored ----------------------------

POLICY = CheckPolicy(regions=("r1", "r2", "r3"), quorum=2, interval=60)


def view(level, at=1000.0, vendor=None):
    return MonitorRegionState(level=level, last_checked_at=at, since=at, vendor_status=vendor,
                              last_reasons=["why"] if level else [])


def derive(monitor, views):
    comp = Component(id="c", name="C", monitors=(monitor,))
    return derive_component_states([comp], views, POLICY, {}, 1000.0)["c"]


def test_one_home_verdict_decides_a_heartbeat():
    state = derive(HB, {"r1": {"jobs.0": view(Level.FAIL)}})
    assert (state.status, state.unknown, state.scope.total) == (ComponentStatus.MAJOR, False, 1)
    state = derive(HB, {"r2": {"jobs.0": view(Level.OK)}})
    assert (state.status, state.unknown) == (ComponentStatus.OPERATIONAL, False)
    assert derive(HB, {}).unknown


VENDOR = Monitor(id="pay.0", url="https://v.example", statuspage=True, conditions=())


@pytest.mark.parametrize("vendor, level", [
    ("partial_outage", Level.FAIL), ("major_outage", Level.FAIL),
    ("degraded_performance", Level.DEGRADED), ("under_maintenance", Level.OK),
    ("operational", Level.OK)])
def test_a_vendor_status_is_mirrored_once_a_quorum_agrees(vendor, level):
    views = {r: {"pay.0": view(level, vendor=vendor)} for r in ("r1", "r2")}
    assert derive(VENDOR, views).status == ComponentStatus(vendor)


def test_one_region_alone_does_not_move_a_mirror():
    views = {"r1": {"pay.0": view(Level.FAIL, vendor="partial_outage")},
             "r2": {"pay.0": view(Level.OK, vendor="operational")},
             "r3": {"pay.0": view(Level.OK, vendor="operational")}}
    assert derive(VENDOR, views).status == ComponentStatus.OPERATIONAL


@pytest.mark.parametrize("doc, component, expected", [
    ({"components": [{"name": "Payments", "status": "partial_outage"}]}, "payments",
     ("partial_outage", None)),
    ({"components": [{"name": "A", "status": "operational"},
                     {"name": "B", "status": "major_outage"},
                     {"name": "G", "status": "operational", "group": True}]}, None,
     ("major_outage", None)),
    ({"status": {"indicator": "minor"}, "components": []}, None, ("degraded_performance", None)),
    ({"components": [{"name": "A", "status": "on_fire"}]}, "A",
     (None, "vendor status page: unknown component status 'on_fire'")),
    ([1, 2], None, (None, "vendor status page: not a Statuspage summary")),
    ({"components": "x"}, None, (None, "vendor status page: not a Statuspage summary")),
])
def test_reading_a_vendor_summary(doc, component, expected):
    assert vendor_status(doc, component) == expected


# --- certificate heads-ups --------------------------------------------------------------------

DAY = 86400.0


@pytest.mark.parametrize("left_days, threshold", [
    (30, None), (14.5, None), (14, 14), (10, 14), (7, 7), (3.5, 7), (3, 3), (0.5, 3), (-1, 3)])
def test_the_tightest_threshold_is_due(left_days, threshold):
    assert expiry.due(1000 + left_days * DAY, 1000) == threshold


def test_heads_ups_use_the_soonest_certificate_any_region_saw():
    results = [CheckResult("a.0", "r1", 0, Level.OK, certificate_expires_at=10 * DAY),
               CheckResult("a.0", "r2", 0, Level.OK, certificate_expires_at=6 * DAY),
               CheckResult("b.0", "r1", 0, Level.OK, certificate_expires_at=60 * DAY),
               CheckResult("c.0", "r1", 0, Level.FAIL)]
    assert expiry.heads_ups(results, 0) == {"a.0": (7, 6 * DAY)}
    subject, text = expiry.message("Acme", "https://a.example", 7, 6 * DAY, 0)
    assert subject == "[Acme] TLS certificate for https://a.example expires in 6 days"
    assert "1970-01-07 00:00 UTC" in text and "private" in text
