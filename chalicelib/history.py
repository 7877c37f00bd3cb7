"""Pure: what the checker adds to a built snapshot: honesty about missing data, maintenance,
and the uptime / response-time history carried from one snapshot to the next.

Every snapshot write goes through `attach` (services.publish_snapshot), so the history rides in
the one item a public GET reads: serving /api/v2/uptime.json costs no extra DynamoDB call. The
ledger (`_uptime`: when time was last accounted and what each component showed then) lives in
the same item, so accounting is exactly-once under the snapshot's conditional write: a writer
that loses the race reloads and recomputes from the winner's ledger.
"""
from __future__ import annotations

import copy
from typing import Mapping, Optional

from .model import ComponentState, MonitorRegionState, StatusConfig
from .snapshot import iso_ms, public_id
from .uptime import DAYS, advance, kind_of, merge, rt_point, uptime_over

REGION_DETAIL_DAYS = 14


def annotate(doc: dict, config: StatusConfig, states: Mapping[str, ComponentState],
             active: Mapping[str, tuple], now: float) -> dict:
    """Per-component `unknown`, `monitored` and `maintenance`, and the page-wide `stale` flag."""
    tz = config.page.time_zone
    extras = doc["outpost"]["components"]
    for comp in config.components:
        extra = extras.get(public_id(config.page.id, "component", comp.id))
        if extra is None:
            continue
        st = states.get(comp.id)
        extra["monitored"] = bool(comp.monitors)
        # Never checked yet is unknown too: "operational" would be a guess.
        extra["unknown"] = bool(comp.monitors) and (st is None or st.unknown)
        window = active.get(comp.id)
        extra["maintenance"] = None if window is None else {
            "id": window[0].id, "name": window[0].name,
            "starts_at": iso_ms(window[1], tz), "ends_at": iso_ms(window[2], tz)}
    doc["outpost"]["stale"] = is_stale(doc, now)
    return doc


def is_stale(doc: dict, now: float) -> bool:
    """No fresh check data at all: every checker stopped (or none ever ran). A page without
    monitored components is never stale: nothing is supposed to report."""
    out = doc.get("outpost") or {}
    if not any(e.get("monitored", True) for e in (out.get("components") or {}).values()):
        return False
    as_of = out.get("data_as_of_epoch")
    return as_of is None or now - float(as_of) > float(out.get("stale_after_seconds") or 180)


def mark_stale(doc: dict, now: float) -> dict:
    """The document as a reader should see it at `now`. The snapshot is only rewritten when a
    round runs, so when every checker is down nobody would say so: the read side does, here.
    Returns `doc` itself when nothing changes, a marked copy otherwise."""
    stale = is_stale(doc, now)
    if not stale and not (doc.get("outpost") or {}).get("stale"):
        return doc
    marked = copy.copy(doc)
    marked["outpost"] = out = dict(doc["outpost"])
    out["stale"] = stale
    if stale:
        out["components"] = {cid: {**e, "unknown": True} if e.get("monitored", True) else e
                             for cid, e in (out.get("components") or {}).items()}
    return marked


def component_histograms(config: StatusConfig,
                         views: Mapping[str, Mapping[str, MonitorRegionState]]) -> dict:
    """component id -> day -> region -> response-time histogram (all its monitors merged)."""
    out: dict = {}
    for comp in config.components:
        days: dict = {}
        for region, per_monitor in views.items():
            for mon in comp.monitors:
                view = per_monitor.get(mon.id)
                for day, hist in (view.rt_days if view else {}).items():
                    slot = days.setdefault(day, {})
                    slot[region] = merge([slot.get(region, {}), hist])
        out[comp.id] = days
    return out


def _whole_seconds(day: dict) -> dict:
    """A day before today with its seconds rounded to whole ones, in the snapshot only (the
    history table gets the exact day): sums of float spans like 86399.99999999627 are noise
    that compresses badly, 90 days x every component of it (chalicelib.budget). Today's bucket
    stays exact: it still accumulates."""
    return {k: round(v) if k.endswith("_seconds") and isinstance(v, float) else v
            for k, v in day.items()}


def attach(previous: Optional[dict], doc: dict, now: float, credit: float,
           histograms: Optional[Mapping] = None, restored: Optional[Mapping] = None) -> list:
    """Carry uptime and response-time history from `previous` into `doc`, accounting the time
    since the previous publish. `histograms` (component_histograms) refresh today's and
    yesterday's response times; without them (an operator's publish) the old points stay.
    `restored` is history read back from the history table when `previous` has none.
    Returns [(component id, day bucket, response-time point or None)] for days this publish
    closed, to be stored once in the history table."""
    tz = doc["page"]["time_zone"]
    old_out = (previous or {}).get("outpost") or {}
    ledger = (previous or {}).get("_uptime") or {}
    since, kinds = ledger.get("at"), ledger.get("kinds") or {}
    old_uptime = old_out.get("uptime") or (restored or {}).get("uptime") or {}
    old_rt = old_out.get("response_times") or (restored or {}).get("response_times") or {}
    rows = {r["id"]: r for r in doc["components"] if not r.get("group")}
    uptime, rts, new_kinds, closed = {}, {}, {}, []
    for cid, extra in doc["outpost"]["components"].items():
        days, done = advance((old_uptime.get(cid) or {}).get("days") or [], kinds.get(cid),
                             since, now, credit, tz)
        days = [_whole_seconds(d) for d in days[:-1]] + days[-1:]
        uptime[cid] = {"days": days, "uptime_90d": uptime_over(days)}
        # An operator's explicit status vouches for itself even without check data.
        unknown = extra.get("unknown", False) and not extra.get("overridden", False)
        new_kinds[cid] = kind_of(rows[cid]["status"], unknown) if cid in rows else "nodata"
        points = {p["date"]: p for p in old_rt.get(cid) or ()}
        for day, per_region in ((histograms or {}).get(extra.get("key")) or {}).items():
            point = rt_point(day, per_region, tz, iso_ms)
            if point:
                points[day] = point
        kept = [points[d] for d in sorted(points)][-DAYS:]
        # Per-region detail for the last two weeks only: it is most of the bytes, and the item
        # must stay far below DynamoDB's 400 KB (the history table keeps every day in full).
        rts[cid] = [p if i >= len(kept) - REGION_DETAIL_DAYS else
                    {k: v for k, v in p.items() if k != "regions"} for i, p in enumerate(kept)]
        closed.extend((extra.get("key"), d, points.get(d["date"])) for d in done)
    doc["outpost"]["uptime"] = uptime
    doc["outpost"]["response_times"] = rts
    doc["_uptime"] = {"at": now, "kinds": new_kinds}
    return closed
