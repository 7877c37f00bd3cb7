"""Pure: when maintenance windows are on. Windows come from the status file (a list of
MaintenanceWindow) and from the operator API (scheduled maintenances, stored incidents); both
silence their components the same way (see `silenced`).

Recurring windows repeat in the page's time zone, so a weekly "Sunday 02:00-04:00" window stays
at 02:00 local time across daylight-saving changes (it is 23 or 25 hours from UTC's view).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Optional

from .incidents import maintaining
from .model import MaintenanceWindow
from .timefmt import zone as _zone

_STEP = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


def occurrence(window: MaintenanceWindow, now: float, tz_name: str = "Etc/UTC"
               ) -> Optional[tuple[float, float]]:
    """(start, end) of the occurrence of `window` that contains `now`, or None."""
    if window.recurrence is None:
        return (window.start, window.end) if window.start <= now < window.end else None
    if now < window.start or (window.until is not None and now >= window.until + (window.end - window.start)):
        return None
    tz = _zone(tz_name)
    first = datetime.fromtimestamp(window.start, tz)
    length = window.end - window.start
    step = _STEP[window.recurrence]
    # Whole periods since the first start, counted on the local calendar, then a step back in
    # case DST moved the latest start past `now`.
    local_now = datetime.fromtimestamp(now, tz)
    periods = (local_now.replace(tzinfo=None) - first.replace(tzinfo=None)) // step
    for k in (periods, periods - 1):
        if k < 0:
            continue
        start = _local_add(first, step * k, tz)
        if window.until is not None and start > window.until:
            continue
        if start <= now < start + length:
            return start, start + length
    return None


def _local_add(first: datetime, delta: timedelta, tz) -> float:
    """Wall-clock arithmetic: the same local time `delta` later, resolved in `tz`."""
    naive = first.replace(tzinfo=None) + delta
    return naive.replace(tzinfo=tz).timestamp()


def active(windows: Iterable[MaintenanceWindow], now: float, tz_name: str = "Etc/UTC"
           ) -> dict[str, tuple[MaintenanceWindow, float, float]]:
    """component id -> (window, occurrence start, occurrence end) for windows on at `now`.
    When windows overlap the one that ends last wins: it says how long the work goes on."""
    out: dict[str, tuple[MaintenanceWindow, float, float]] = {}
    for w in windows:
        occ = occurrence(w, now, tz_name)
        if occ is None:
            continue
        for cid in w.components:
            if cid not in out or out[cid][2] < occ[1]:
                out[cid] = (w, occ[0], occ[1])
    return out


def silenced(windows: Iterable[MaintenanceWindow], incident_docs: Iterable[dict], now: float,
             tz_name: str = "Etc/UTC") -> frozenset[str]:
    """Component ids under maintenance at `now`, from the status file's windows and from
    maintenances scheduled through the API alike. A component in this set shows
    under_maintenance whatever its checks say, so its failures change no status: no
    auto-incident, no component notification, no operator alert (chalicelib.core.status)."""
    return frozenset(active(windows, now, tz_name)) | frozenset(maintaining(incident_docs, now))
