"""Maintenance windows: one-off and recurring, in the page's time zone across DST."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib.core.model import MaintenanceWindow
from chalicelib.core.windows import active, occurrence

LONDON = ZoneInfo("Europe/London")


def t(*args, tz=timezone.utc):
    return datetime(*args, tzinfo=tz).timestamp()


ONE_OFF = MaintenanceWindow("m", ("api",), t(2026, 12, 1, 2), t(2026, 12, 1, 4))
# Sundays 02:00-04:00 London time, from 2026-03-22 (GMT) past the 2026-03-29 switch to BST.
WEEKLY = MaintenanceWindow("w", ("api", "web"), t(2026, 3, 22, 2, tz=LONDON), t(2026, 3, 22, 4, tz=LONDON),
                           recurrence="weekly", until=t(2026, 4, 30))


@pytest.mark.parametrize("window, now, expected", [
    (ONE_OFF, t(2026, 12, 1, 1, 59), None),
    (ONE_OFF, t(2026, 12, 1, 2), (t(2026, 12, 1, 2), t(2026, 12, 1, 4))),
    (ONE_OFF, t(2026, 12, 1, 4), None),                                   # the end is exclusive
    (WEEKLY, t(2026, 3, 22, 2, 30), (t(2026, 3, 22, 2), t(2026, 3, 22, 4))),   # GMT = UTC
    (WEEKLY, t(2026, 3, 29, 1, 30), (t(2026, 3, 29, 1), t(2026, 3, 29, 3))),   # BST: 02:00 local = 01:00Z
    (WEEKLY, t(2026, 3, 29, 3, 30), None),
    (WEEKLY, t(2026, 3, 25, 2, 30), None),                                # a Wednesday
    (WEEKLY, t(2026, 3, 15, 2, 30), None),                                # before the first
    (WEEKLY, t(2026, 5, 3, 1, 30), None),                                 # after `until`
])
def test_occurrence(window, now, expected):
    assert occurrence(window, now, "Europe/London") == expected


def test_active_maps_components_to_the_window_that_ends_last():
    longer = MaintenanceWindow("l", ("api",), t(2026, 12, 1, 1), t(2026, 12, 1, 6))
    on = active([ONE_OFF, longer], t(2026, 12, 1, 3))
    assert on["api"][0].id == "l" and on["api"][2] == t(2026, 12, 1, 6)
    assert active([ONE_OFF], t(2026, 12, 2)) == {}
