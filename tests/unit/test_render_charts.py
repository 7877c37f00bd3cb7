"""Geometry and words of the uptime bars and the response-time chart."""
import pytest

from chalicelib.render import charts
from tests import factories as f


@pytest.mark.parametrize("percent, text", [
    (None, "no data"), (100.0, "100%"), (99.996, "99.99%"), (99.5, "99.50%"), (0.0, "0.00%"),
    (-1.0, "0.00%"),
])
def test_uptime_is_rounded_down(percent, text):
    assert charts.uptime_text(percent) == text


@pytest.mark.parametrize("day, tone", [
    ({"uptime": None, "major_seconds": 0}, "nodata"),
    ({"uptime": 100.0}, "ok"),
    ({"uptime": 99.0, "major_seconds": 60, "partial_seconds": 60, "degraded_seconds": 60}, "major"),
    ({"uptime": 99.0, "partial_seconds": 60, "degraded_seconds": 60}, "partial"),
    ({"uptime": 100.0, "degraded_seconds": 1}, "degraded"),
])
def test_a_day_takes_the_worst_tone(day, tone):
    assert charts.day_tone(day) == tone


def test_day_titles():
    assert charts.day_title({"date": "2026-05-03", "uptime": None}) == "May 3, 2026: no data"
    assert charts.day_title({"date": "2026-05-03", "uptime": 95.0, "major_seconds": 3900,
                             "partial_seconds": 30, "nodata_seconds": 120}) == \
        "May 3, 2026: 95.00% uptime; major outage 1 h 5 min; partial outage under 1 min; no data 2 min"


def test_a_young_page_draws_its_days_at_the_right_edge():
    bars = charts.uptime_bars(f.uptime(days=3, nodata=[2]))
    assert [b["x"] for b in bars["bars"]] == [348, 352, 356]
    assert [b["tone"] for b in bars["bars"]] == ["nodata", "ok", "ok"]
    assert bars["since"] == "3 days ago" and charts.uptime_bars(f.uptime(days=1))["since"] == "1 day ago"
    assert bars["summary"] == "100% uptime over the last 3 days, 0 days with downtime or degradation"
    assert charts.uptime_bars(None) is None and charts.uptime_bars({"days": []}) is None
    assert charts.uptime_bars({"days": [{"date": "2026-01-01", "uptime": None}],
                               "uptime_90d": None})["summary"] == "no uptime data for the last 1 day"


def test_the_drawn_paths_cover_every_day_once():
    bars = charts.uptime_bars(f.uptime(days=5, outages={1: (600, 0, 0), 3: (0, 0, 60)},
                                       nodata=[4]))
    # Days at x = 340..356; the good stroke spans all five, dashed into 3-unit bars.
    assert bars["ok_path"] == "M340 14h20"
    assert bars["marks"] == [{"tone": "nodata", "d": "M340 14h3"},
                             {"tone": "degraded", "d": "M344 14h3"},
                             {"tone": "major", "d": "M352 14h3"}]
    assert bars["title"].endswith("; latest: " + bars["bars"][3]["title"])
    assert "latest" not in charts.uptime_bars(f.uptime(days=3))["title"]


def test_a_chart_line_is_whole_units_and_relative():
    chart = charts.response_chart([{"t": str(i), "p50": v, "p95": v}
                                   for i, v in enumerate((100, 50, 100, 0))])
    assert chart["p50"] == "M0 4l1 22 1-22 1 44" and chart["width"] == 3


def test_more_than_90_days_keeps_the_newest():
    bars = charts.uptime_bars(f.uptime(days=120))
    assert len(bars["bars"]) == 90 and bars["bars"][-1]["title"].startswith("May 28, 2026")


def test_response_chart_scales_into_its_box_and_skips_bad_points():
    points = [{"t": "a", "p50": 100, "p95": 200}, {"t": "b", "p50": None, "p95": 5},
              {"t": "c", "p50": "nan", "p95": 1}, {"t": "d", "p50": 50, "p95": None}]
    chart = charts.response_chart(points)
    assert chart["count"] == 2 and chart["latest_p50"] == 50 and chart["latest_p95"] == 50
    # top = 200 ms * 1.1 headroom: 200 -> 48 - 48/1.1, 50 -> 48 - 48 * 50/220
    assert chart["p95"] == "M0 4l1 33" and chart["width"] == 1
    assert chart["from"] == "a" and chart["to"] == "d"
    assert charts.response_chart([{"t": "a", "p50": 1, "p95": 2}]) is None
    assert charts.response_chart(None) is None
    flat = charts.response_chart([{"t": "a", "p50": 0, "p95": 0}] * 2)
    assert flat["p50"] == "M0 48l1 0"                            # all zero: no division by zero


def test_maintenance_days_are_their_own_tone_and_not_downtime():
    day = {"date": "2026-05-03", "uptime": 100.0, "maintenance_seconds": 1800}
    assert charts.day_tone(day) == "maintenance"
    assert charts.day_title(day) == "May 3, 2026: 100% uptime; maintenance 30 min"
    entry = {"days": [day], "uptime_90d": 100.0}
    assert charts.uptime_bars(entry)["summary"].endswith("0 days with downtime or degradation")
