"""The checker end to end on the real app over moto: sub-minute rounds, stale data, maintenance,
uptime history and its day rollover, fed by real check rounds against targets on 127.0.0.1."""

import pytest

from chalicelib.core.config import load_status_text
from chalicelib.core.model import MonitorRegionState
from chalicelib.usecases.checker import run_invocation
from chalicelib.usecases.rounds import run_round
from tests.api.calls import get, summary
from tests.api.conftest import STATUS_FILE
from tests.api.harness import REGIONS, rounds


def by_name(body, name):
    row = next(r for r in body["components"] if r["name"] == name)
    return row, body["outpost"]["components"][row["id"]]


def reconfigure(c, targets, text):
    cfg = load_status_text(text, "test.yaml", {"TARGET": targets[0].url, "OTHER": targets[1].url})
    c.override(config=cfg)
    c._built.pop("prober", None)
    c._built.pop("public_cache", None)
    return cfg


def test_a_sub_minute_monitor_gets_evenly_spaced_rounds_in_one_invocation(stack, targets):
    c, client, clock, *_ = stack
    reconfigure(c, targets, STATUS_FILE.replace("        timeout: 1s\n        conditions:",
                                                "        timeout: 1s\n        interval: 20s\n"
                                                "        conditions:", 1))
    c.override(sleep=clock.tick)             # the invocation waits on the test's clock
    start = clock()
    out = run_invocation(c)
    assert out["rounds"] == 3 and out["checks"] == 3 * 3 + 3      # api x3 rounds, web once
    for region in REGIONS:
        items = sorted(c.store.recent_results(region), key=lambda i: i["round_at"])
        assert [i["round_at"] - start for i in items] == [0, 20, 40]
        assert [sorted(r["m"] for r in i["results"]) for i in items] == [
            ["api.0", "web.0"], ["api.0"], ["api.0"]]


def test_when_the_checker_stops_the_page_says_stale_and_the_gap_is_not_uptime(stack):
    c, client, clock, *_ = stack
    rounds(c, clock, 3)
    body = summary(client, clock)
    assert body["outpost"]["stale"] is False
    row, extra = by_name(body, "API")
    assert (row["status"], extra["unknown"]) == ("operational", False)

    clock.tick(600)                                        # no rounds for ten minutes
    body = summary(client, clock)
    assert body["outpost"]["stale"] is True
    row, extra = by_name(body, "API")
    assert row["status"] == "operational" and extra["unknown"] is True   # v2 enum stays valid
    _, up = get(client, "/api/v2/uptime.json")
    assert up["stale"] is True

    rounds(c, clock, 1)                                    # the checker is back
    clock.tick(6)
    _, up = get(client, "/api/v2/uptime.json")
    api = next(x for x in up["components"] if x["name"] == "API")
    (today,) = api["days"]
    # 3 rounds credited normally, then at most 1.5 rounds of the 10-minute gap
    assert today["operational_seconds"] <= 2 * 60 + 90 + 12
    assert today["nodata_seconds"] >= 600 - 90
    assert today["uptime"] == 100.0 and api["uptime_90d"] == 100.0


def test_fewer_regions_than_quorum_never_turn_an_outage_green(stack):
    c, client, clock, api_target, _ = stack
    api_target.behaviour = "fail"
    rounds(c, clock, 2)
    assert by_name(summary(client, clock), "API")[0]["status"] == "major_outage"
    api_target.behaviour = "ok"
    rounds(c, clock, 4, regions=["us-west-2"])             # the other two regions went quiet
    row, extra = by_name(summary(client, clock), "API")
    assert row["status"] == "major_outage" and extra["unknown"] is True
    rounds(c, clock, 2)                                    # quorum is back and vouches
    row, extra = by_name(summary(client, clock), "API")
    assert row["status"] == "operational" and extra["unknown"] is False


def test_a_maintenance_window_hides_failures_and_is_not_downtime(stack, targets):
    c, client, clock, api_target, _ = stack
    from chalicelib.core.snapshot import iso_ms
    start, end = iso_ms(clock() + 30), iso_ms(clock() + 30 + 300)
    reconfigure(c, targets, STATUS_FILE + f"""
maintenance:
  - id: upgrade
    name: Database upgrade
    components: [api]
    start: "{start}"
    end: "{end}"
""")
    rounds(c, clock, 1)
    api_target.behaviour = "fail"
    rounds(c, clock, 3)                                    # inside the window
    row, extra = by_name(summary(client, clock), "API")
    assert row["status"] == "under_maintenance" and extra["reasons"] == []
    assert extra["maintenance"]["name"] == "Database upgrade"
    rounds(c, clock, 3)                                    # the window is over, still failing
    body = summary(client, clock)
    assert by_name(body, "API")[0]["status"] == "major_outage"
    _, up = get(client, "/api/v2/uptime.json")
    (today,) = next(x for x in up["components"] if x["name"] == "API")["days"]
    assert today["maintenance_seconds"] >= 180 and today["major_seconds"] <= 120
    assert today["uptime"] is not None and today["uptime"] < 100


def test_uptime_json_is_cached_and_carries_response_times(stack):
    c, client, clock, *_ = stack
    rounds(c, clock, 3)
    # Response-time counts live in the region views; the snapshot takes them when it is next
    # written (a change, a closed day, or FOLD_EVERY after the last write).
    from chalicelib.core.history import FOLD_EVERY
    clock.tick(FOLD_EVERY - 3 * 60)
    rounds(c, clock, 1)
    clock.tick(6)
    resp, up = get(client, "/api/v2/uptime.json")
    assert resp.status_code == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"
    assert get(client, "/api/v2/uptime.json", **{"If-None-Match": resp.headers["ETag"]})[0].status_code == 304
    api = next(x for x in up["components"] if x["name"] == "API")
    (point,) = api["response_times"]
    assert point["p50"] is not None and point["p95"] >= point["p50"]
    assert sorted(point["regions"]) == sorted(REGIONS) and point["regions"]["eu-west-1"]["n"] == 4
    # summary.json stays lean: the history is only in uptime.json
    assert "uptime" not in summary(client, clock)["outpost"]


def test_a_closed_day_is_stored_once_in_the_history_table(stack):
    c, client, clock, *_ = stack
    rounds(c, clock, 2)                                    # 2026-05-28 ~20:28 UTC
    clock.tick(4 * 3600)                                   # past midnight, checker silent
    rounds(c, clock, 2)
    stored = c.store.load_history_days("api", "2026-01-01")
    assert [d["date"] for d in stored] == ["2026-05-28"]
    day = stored[0]
    assert day["operational_seconds"] > 0 and day["nodata_seconds"] > 3 * 3600
    assert day["response_time"]["p50"] is not None
    _, up = get(client, "/api/v2/uptime.json")
    api = next(x for x in up["components"] if x["name"] == "API")
    assert [d["date"] for d in api["days"]] == ["2026-05-28", "2026-05-29"]
    assert [p["date"] for p in api["response_times"]] == ["2026-05-28", "2026-05-29"]


def test_a_round_that_would_overrun_the_lambda_is_skipped_not_failed(stack, targets):
    c, client, clock, *_ = stack
    reconfigure(c, targets, STATUS_FILE.replace("        timeout: 1s\n        conditions:",
                                                "        timeout: 1s\n        interval: 20s\n"
                                                "        conditions:", 1))
    c.override(sleep=clock.tick)
    deadline = clock() + 30                  # a Lambda with 30 s left: the +40 s round can't run
    out = run_invocation(c, type("Ctx", (), {
        "get_remaining_time_in_millis": lambda self: (deadline - clock()) * 1000})())
    assert out["rounds"] == 2 and out["failing"] == 0
    items = c.store.recent_results("eu-west-1")
    assert len(items) == 2


def test_two_regions_of_three_change_the_page_within_the_thresholds(stack):
    """quorum 2, failure_threshold 2, success_threshold 2: the second failing round from two
    regions changes the page, the second passing round restores it."""
    c, client, clock, api_target, _ = stack

    def split_round(bad_regions):
        clock.tick(60)
        api_target.behaviour = "fail"
        run_round(c, bad_regions)
        api_target.behaviour = "ok"
        run_round(c, [r for r in REGIONS if r not in bad_regions])

    rounds(c, clock, 2)
    statuses = []
    for _ in range(3):
        split_round(["us-west-2", "eu-west-1"])
        statuses.append(by_name(summary(client, clock), "API")[0]["status"])
    assert statuses == ["operational", "major_outage", "major_outage"]
    _, extra = by_name(summary(client, clock), "API")
    assert extra["scope_text"] == "failing from 2 of 3 regions"
    statuses = []
    for _ in range(2):
        rounds(c, clock, 1)
        statuses.append(by_name(summary(client, clock), "API")[0]["status"])
    assert statuses == ["major_outage", "operational"]


class _Overtaken:
    """The app's prober, but while the first check runs another round saves the region's views:
    the round's early read (rounds.run_round) is then out of date when it writes."""

    def __init__(self, c, region):
        self.inner, self.c, self.region, self.done = c.prober, c, region, False
        self.clock = self.inner.clock

    def check(self, monitor, region):
        if not self.done:
            self.done = True
            views, version = self.c.store.load_region_views([self.region])[self.region]
            views = {**views, "elsewhere.0": MonitorRegionState(last_checked_at=self.clock())}
            self.c.store.save_region_views(self.region, views, version, self.clock())
        return self.inner.check(monitor, region)


def test_a_round_overtaken_while_its_checks_ran_folds_onto_the_newer_views(stack):
    c, client, clock, *_ = stack
    rounds(c, clock, 1, ["eu-west-1"])
    before, _ = c.store.load_region_views(["eu-west-1"])["eu-west-1"]
    c.override(prober=_Overtaken(c, "eu-west-1"))
    clock.tick(60)
    run_round(c, ["eu-west-1"])
    views, _ = c.store.load_region_views(["eu-west-1"])["eu-west-1"]
    assert "elsewhere.0" in views                          # the other writer's view is kept
    for monitor_id, view in before.items():                # and this round's are folded in
        assert views[monitor_id].last_checked_at > view.last_checked_at
    assert len(c.store.recent_results("eu-west-1")) == 2   # one results item per round


def test_a_round_whose_results_write_fails_fails(stack, monkeypatch):
    c, client, clock, *_ = stack
    rounds(c, clock, 1, ["eu-west-1"])

    def refused(*args, **kwargs):
        raise RuntimeError("results table unavailable")
    monkeypatch.setattr(c.store, "put_results", refused)
    clock.tick(60)
    with pytest.raises(RuntimeError, match="results table unavailable"):
        run_round(c, ["eu-west-1"])
