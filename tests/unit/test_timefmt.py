"""One place reads zones and ISO timestamps (core/timefmt.py)."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfoNotFoundError

import pytest

from chalicelib.core.timefmt import parse_iso, zone, zone_or_utc


def test_utc_names_need_no_tzdata_lookup():
    assert zone("UTC") is timezone.utc and zone("Etc/UTC") is timezone.utc


def test_a_named_zone_follows_daylight_saving():
    berlin = zone("Europe/Berlin")
    assert datetime(2026, 1, 15, 12, tzinfo=berlin).utcoffset() == timedelta(hours=1)
    assert datetime(2026, 7, 15, 12, tzinfo=berlin).utcoffset() == timedelta(hours=2)


def test_an_unknown_zone_is_an_error_for_rules_and_utc_for_rendering():
    with pytest.raises(ZoneInfoNotFoundError):
        zone("Mars/Olympus_Mons")
    assert zone_or_utc("Mars/Olympus_Mons") is timezone.utc
    assert zone_or_utc("../../etc/passwd") is timezone.utc


@pytest.mark.parametrize("text, expected", [
    ("2026-11-26T10:00:00Z", datetime(2026, 11, 26, 10, tzinfo=timezone.utc)),
    ("2026-11-26T10:00:00.123+02:00",
     datetime(2026, 11, 26, 10, 0, 0, 123000, tzinfo=timezone(timedelta(hours=2)))),
    ("2026-11-26", datetime(2026, 11, 26)),
])
def test_iso_timestamps_parse(text, expected):
    assert parse_iso(text) == expected


@pytest.mark.parametrize("junk", [None, "", "yesterday", "2026-13-01T00:00:00Z", 12345, ["x"]])
def test_anything_else_is_none(junk):
    assert parse_iso(junk) is None
