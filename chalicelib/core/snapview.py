"""Pure: how anything reads a snapshot's own extras, and the one rule for stale data.

The snapshot is Statuspage v2 objects plus Outpost's extras under `outpost` (snapshot.py).
Every reader (renderers, the static copy, the read cache, the CLI, notifications) goes through
these accessors rather than spelling the lookups out, so the shape is known in one place.
"""
from __future__ import annotations

from typing import Optional

DEFAULT_STALE_AFTER = 180.0          # seconds without fresh check data before the page says so


def outpost(snapshot: Optional[dict]) -> dict:
    """The snapshot's extras (empty for a snapshot that has none)."""
    return (snapshot or {}).get("outpost") or {}


def extras(snapshot: Optional[dict]) -> dict:
    """{public component id: its extras} (key, monitored, unknown, scope, reasons, ...)."""
    return outpost(snapshot).get("components") or {}


def component(snapshot: Optional[dict], public_id: str) -> dict:
    return extras(snapshot).get(public_id) or {}


def data_as_of_epoch(snapshot: Optional[dict]) -> Optional[float]:
    """Epoch of the newest check data the snapshot carries, or None."""
    value = outpost(snapshot).get("data_as_of_epoch")
    return None if value is None else float(value)


def too_old(snapshot: dict, now: float) -> bool:
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


def is_stale(snapshot: dict, now: float) -> bool:
    """Whether the page must say its data is stale: the flag stamped on it (by the publisher or
    the read cache, at their `now`), else the rule applied at this `now`."""
    flag = outpost(snapshot).get("stale")
    return bool(flag) if flag is not None else too_old(snapshot, now)
