"""Pure: how anything reads a snapshot's own extras, and the one rule for stale data.

The snapshot is Statuspage v2 objects plus Outpost's extras under `outpost` (snapshot.py).
Every reader (renderers, the static copy, the read cache, the CLI, notifications) goes through
these accessors rather than spelling the lookups out, so the shape is known in one place: the
typed view below (Snapshot, Extras, ComponentExtras; tests/api/test_snapshot_shape.py checks
that a published snapshot holds nothing it does not declare).
"""
from __future__ import annotations

from typing import Optional, TypedDict

DEFAULT_STALE_AFTER = 180.0          # seconds without fresh check data before the page says so


class ComponentExtras(TypedDict, total=False):
    """`outpost.components[<public id>]`: what Outpost knows about one component."""
    key: str                       # the status file's component id
    scope: dict                    # {failing, degraded, reporting, total} regions
    scope_text: str
    reasons: list
    last_checked_at: Optional[str]
    automatic_status: str          # what the checks say, before incidents and pins
    overridden: bool
    monitored: bool                # False: no monitor of our own (never "unknown")
    unknown: bool                  # its checks stopped: shown as unknown, never green
    maintenance: bool
    third_party: str               # the vendor whose status page it mirrors


class Extras(TypedDict, total=False):
    """`outpost`: Outpost's extras beside the Statuspage v2 objects (build_snapshot, then
    history.annotate and attach, then the publisher's facts)."""
    generated_at: str
    data_as_of: Optional[str]
    data_as_of_epoch: Optional[float]
    stale_after_seconds: float
    stale: bool                    # stamped by the publisher and the read cache (too_old)
    regions: list
    quorum: int
    hosted_on: Optional[dict]
    service_hosted_on: Optional[dict]
    locale: str
    components: dict               # {public id: ComponentExtras}
    maintenance_sequence: dict     # {maintenance id: revision}, for /maintenance.ics
    uptime: dict                   # {public id: [day, ...]} (history.attach)
    response_times: dict
    reports: dict                  # {public id: user reports in the window}
    reports_window_seconds: int
    last_verified_backup: Optional[str]


class Snapshot(TypedDict, total=False):
    """The public document: Statuspage v2 objects, Outpost's extras, and the storage's own
    bookkeeping (`_uptime`, `_history`, `_archive`: never served)."""
    format: int
    page: dict
    components: list
    incidents: list
    scheduled_maintenances: list
    status: dict
    outpost: Extras
    _uptime: dict
    _history: dict
    _archive: dict


def outpost(snapshot: Optional[Snapshot]) -> Extras:
    """The snapshot's extras (empty for a snapshot that has none)."""
    return (snapshot or {}).get("outpost") or {}


def extras(snapshot: Optional[Snapshot]) -> dict[str, ComponentExtras]:
    """{public component id: its extras} (key, monitored, unknown, scope, reasons, ...)."""
    return outpost(snapshot).get("components") or {}


def component(snapshot: Optional[Snapshot], public_id: str) -> ComponentExtras:
    return extras(snapshot).get(public_id) or {}


def data_as_of_epoch(snapshot: Optional[Snapshot]) -> Optional[float]:
    """Epoch of the newest check data the snapshot carries, or None."""
    value = outpost(snapshot).get("data_as_of_epoch")
    return None if value is None else float(value)


def too_old(snapshot: Snapshot, now: float) -> bool:
    """The staleness rule itself: no fresh check data at all (every checker stopped, or none
    ever ran). A page without monitored components is never stale: nothing is supposed to
    report. Applied by whoever stamps the `stale` flag: the publisher when it writes, the read
    cache when it serves (history.mark_stale)."""
    out = outpost(snapshot)
    if not any(e.get("monitored", True) for e in (out.get("components") or {}).values()):
        return False
    as_of = out.get("data_as_of_epoch")
    return as_of is None or now - float(as_of) > float(out.get("stale_after_seconds")
                                                        or DEFAULT_STALE_AFTER)


def is_stale(snapshot: Snapshot, now: float) -> bool:
    """Whether the page must say its data is stale: the flag stamped on it (by the publisher or
    the read cache, at their `now`), else the rule applied at this `now`."""
    flag = outpost(snapshot).get("stale")
    return bool(flag) if flag is not None else too_old(snapshot, now)
