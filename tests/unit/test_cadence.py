"""Sub-minute cadence planning and the snapshot's stale marking: pure."""
import pytest

from chalicelib.core.history import mark_stale
from chalicelib.core.model import Monitor
from chalicelib.core.snapview import is_stale
from chalicelib.usecases.checker import plan


def m(mid, interval=None):
    return Monitor(mid, "https://x.example/", interval=interval)


@pytest.mark.parametrize("monitors, expected", [
    ([m("a"), m("b")], [(0, ("a", "b"))]),
    ([m("a", 20), m("b")], [(0, ("a", "b")), (20, ("a",)), (40, ("a",))]),
    ([m("a", 20), m("b", 30)], [(0, ("a", "b")), (20, ("a",)), (30, ("b",)), (40, ("a",))]),
    ([m("a", 60)], [(0, ("a",))]),
    ([m("a", 7.5)], [(k * 7.5, ("a",)) for k in range(8)]),
])
def test_plan(monitors, expected):
    assert plan(monitors, 60.0) == expected


def snap(as_of, monitored=True):
    return {"outpost": {"data_as_of_epoch": as_of, "stale_after_seconds": 180,
                        "components": {"c1": {"key": "api", "monitored": monitored, "unknown": False}}}}


def test_fresh_data_is_returned_untouched():
    doc = snap(1000.0)
    assert mark_stale(doc, 1100.0) is doc and not is_stale(doc, 1100.0)


def test_old_data_is_marked_stale_without_touching_the_stored_document():
    doc = snap(1000.0)
    seen = mark_stale(doc, 1181.0)
    assert seen["outpost"]["stale"] is True and seen["outpost"]["components"]["c1"]["unknown"] is True
    assert doc["outpost"]["components"]["c1"]["unknown"] is False and "stale" not in doc["outpost"]


def test_never_checked_is_stale_unless_nothing_is_monitored():
    assert is_stale(snap(None), 0.0)
    assert not is_stale(snap(None, monitored=False), 0.0)
