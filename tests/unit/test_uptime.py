"""Uptime maths: weighting, no-data never counts, day splits, response-time percentiles."""
from datetime import datetime, timezone

import pytest

from chalicelib.core.uptime import (advance, day_key, day_uptime, kind_of, percentile, record_rt,
                                    rt_bucket, rt_value, uptime_over)

DAY = 86400.0


def t(*a):
    return datetime(*a, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("bucket, expected", [
    ({"operational_seconds": 100}, 100.0),
    ({"operational_seconds": 50, "major_seconds": 50}, 50.0),
    ({"operational_seconds": 50, "partial_seconds": 50}, 85.0),        # partial weighs 0.3
    ({"operational_seconds": 50, "degraded_seconds": 50}, 100.0),      # degraded weighs 0
    ({"operational_seconds": 50, "maintenance_seconds": 1000, "nodata_seconds": 1000}, 100.0),
    ({"maintenance_seconds": 10, "nodata_seconds": 10}, None),         # nothing observed
    ({}, None),
])
def test_statuspage_weighting(bucket, expected):
    assert day_uptime(bucket) == expected


@pytest.mark.parametrize("status, unknown, kind", [
    ("operational", False, "operational"), ("operational", True, "nodata"),
    ("major_outage", True, "nodata"), ("under_maintenance", True, "maintenance"),
    ("partial_outage", False, "partial"), ("degraded_performance", False, "degraded"),
])
def test_kind_of(status, unknown, kind):
    assert kind_of(status, unknown) == kind


def test_regular_rounds_are_fully_credited():
    days, _ = advance([], None, None, t(2026, 5, 1, 10), 90)
    for i in range(1, 11):
        days, closed = advance(days, "operational", t(2026, 5, 1, 10, i - 1), t(2026, 5, 1, 10, i), 90)
        assert closed == []
    (today,) = days
    assert today["operational_seconds"] == 600 and today["nodata_seconds"] == 0
    assert today["uptime"] == 100.0


def test_a_gap_is_nodata_beyond_the_credit():
    days, _ = advance([], "major", t(2026, 5, 1, 10), t(2026, 5, 1, 11), credit=90)
    assert days[-1]["major_seconds"] == 90 and days[-1]["nodata_seconds"] == 3510
    assert days[-1]["uptime"] == 0.0        # the 90 s observed were all down


def test_time_is_split_at_midnight_and_closed_days_are_returned():
    days, closed = advance([], "operational", t(2026, 5, 1, 23, 59), t(2026, 5, 3, 0, 1), credit=120)
    assert [d["date"] for d in days] == ["2026-05-01", "2026-05-02", "2026-05-03"]
    assert days[0]["operational_seconds"] == 60 and days[0]["nodata_seconds"] == 0
    assert days[1]["operational_seconds"] == 60 and days[1]["nodata_seconds"] == DAY - 60
    assert days[2]["nodata_seconds"] == 60
    assert [d["date"] for d in closed] == ["2026-05-01", "2026-05-02"]


def test_page_time_zone_sets_the_day_boundary():
    assert day_key(t(2026, 5, 1, 23, 30), "Asia/Tokyo") == "2026-05-02"
    days, _ = advance([], "operational", t(2026, 5, 1, 14, 59), t(2026, 5, 1, 15, 1), 300, "Asia/Tokyo")
    assert [(d["date"], d["operational_seconds"]) for d in days] == [("2026-05-01", 60), ("2026-05-02", 60)]


def test_only_ninety_days_are_kept():
    days = []
    for i in range(100):
        days, _ = advance(days, "operational", t(2026, 1, 1) + i * DAY, t(2026, 1, 1) + i * DAY + 60, 90)
    assert len(days) == 90 and days[0]["date"] == "2026-01-11"
    assert uptime_over(days) == 100.0


def test_histogram_percentiles_are_within_five_percent():
    days = {}
    for ms in range(10, 1010, 10):                            # 10..1000 ms, uniform
        days = record_rt(days, "2026-05-01", ms)
    hist = days["2026-05-01"]
    assert sum(hist.values()) == 100
    assert abs(percentile(hist, 0.5) - 500) / 500 < 0.06
    assert abs(percentile(hist, 0.95) - 950) / 950 < 0.06
    assert rt_value(rt_bucket(0.2)) == 0 and percentile({}, 0.5) is None


def test_histograms_keep_today_and_yesterday_only():
    h = record_rt({}, "2026-05-01", 100)
    h = record_rt(h, "2026-05-02", 100)
    h = record_rt(h, "2026-05-03", 100)
    assert sorted(h) == ["2026-05-02", "2026-05-03"]
