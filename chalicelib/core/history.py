"""Pure: what the checker adds to a built snapshot: honesty about missing data, maintenance,
and the uptime / response-time history carried from one snapshot to the next.

Every snapshot write goes through `attach` (publish.publish_snapshot), so the history rides in
the one item a public GET reads: serving /api/v2/uptime.json costs no extra DynamoDB call. The
ledger (`_uptime`: when time was last accounted and what each component showed then) lives in
the same item, so accounting is exactly-once under the snapshot's conditional write: a writer
that loses the race reloads and recomputes from the winner's ledger.
"""
from __future__ import annotations

import copy
import hashlib
import json
from typing import Mapping, Optional

from .model import ComponentState, MonitorRegionState, StatusConfig
from .snapshot import iso_ms, public_id
from .snapview import too_old
from .uptime import DAYS, advance_spans, day_key, kind_of, merge, rt_point, uptime_over, vouch

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
    doc["outpost"]["stale"] = too_old(doc, now)
    return doc


def mark_stale(doc: dict, now: float) -> dict:
    """The document as a reader should see it at `now`. The snapshot is only rewritten when a
    round runs, so when every checker is down nobody would say so: the read side does, here.
    Returns `doc` itself when nothing changes, a marked copy otherwise."""
    stale = too_old(doc, now)
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
    that compresses badly, 90 days x every component of it (chalicelib.core.budget). Today's bucket
    stays exact: it still accumulates."""
    return {k: round(v) if k.endswith("_seconds") and isinstance(v, float) else v
            for k, v in day.items()}


def attach(previous: Optional[dict], doc: dict, now: float, credit: float,
           histograms: Optional[Mapping] = None, restored: Optional[Mapping] = None,
           spans: Optional[list] = None) -> list:
    """Carry uptime and response-time history from `previous` into `doc`, accounting the time
    since the previous publish. `histograms` (component_histograms) refresh today's and
    yesterday's response times; without them (an operator's publish) the old points stay.
    `restored` is history read back from the history table when `previous` has none.
    `spans`: the time the rounds since the previous publish vouched for (the heartbeat's, see
    `beat`); without them only `credit` seconds after the previous publish count.
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
        days, done = advance_spans((old_uptime.get(cid) or {}).get("days") or [],
                                   kinds.get(cid), since, spans or [], now, credit, tz)
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


# --- write on change ---------------------------------------------------------------------------
# The snapshot is rewritten only when what it says changes. What changes every round (the time
# of the newest check, today's uptime seconds and response-time counts) lives in the heartbeat,
# a small item of its own, and is folded into the snapshot when it is next written: on a change,
# when a day closes, or after FOLD_EVERY seconds (so today's numbers lag at most that much).
FOLD_EVERY = 3600.0
MAX_SPANS = 16                       # a checker that keeps stopping: fold rather than grow
VOLATILE = ("generated_at", "data_as_of", "data_as_of_epoch", "stale", "uptime",
            "response_times", "last_verified_backup")


def content_hash(doc: dict, salt: str = "") -> str:
    """What the snapshot says, without what every round changes: equal hashes, no rewrite.
    A component's own last-check time is volatile too while it reports (readers take it from
    the heartbeat, see `overlay`); an unknown component's is frozen, so it counts."""
    out = dict(doc.get("outpost") or {})
    for key in VOLATILE:
        out.pop(key, None)
    out["components"] = {cid: {k: v for k, v in e.items()
                               if k != "last_checked_at" or e.get("unknown")}
                         for cid, e in (out.get("components") or {}).items()}
    body = {k: v for k, v in doc.items() if not k.startswith("_") and k != "outpost"}
    body["outpost"] = out
    text = salt + json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def must_fold(heartbeat: Optional[dict], digest: str, now: float, tz: str,
              credit: float) -> bool:
    """True when this round must rewrite the snapshot rather than only beat: what it says
    changed, a day closed, the last fold is FOLD_EVERY old, or the checks come back after a
    gap (the page was stale: its history should say so now, not within the hour)."""
    if not heartbeat or heartbeat.get("hash") != digest or heartbeat.get("ledger_at") is None:
        return True
    ledger_at = float(heartbeat["ledger_at"])
    at = float(heartbeat.get("at") or ledger_at)
    return (day_key(ledger_at, tz) != day_key(now, tz) or now - ledger_at >= FOLD_EVERY
            or now - at > credit or len(heartbeat.get("spans") or ()) >= MAX_SPANS)


def beat(heartbeat: dict, data_as_of: Optional[float], now: float, credit: float) -> dict:
    """The heartbeat after one quiet round: the newest check time, and the round's vouched
    time added to the spans the next fold accounts."""
    spans, at = vouch(heartbeat.get("spans") or [], float(heartbeat.get("at")
                                                          or heartbeat["ledger_at"]), now, credit)
    as_of = heartbeat.get("as_of")
    if data_as_of is not None and (as_of is None or data_as_of > as_of):
        as_of = data_as_of
    return {**heartbeat, "as_of": as_of, "at": at, "spans": spans}


def folded(snapshot: dict, version: int, digest: str, data_as_of: Optional[float],
           previous: Optional[dict]) -> dict:
    """The heartbeat right after a snapshot write: nothing left to fold."""
    at = snapshot["_uptime"]["at"]
    as_of = (snapshot.get("outpost") or {}).get("data_as_of_epoch")
    old = (previous or {}).get("as_of")
    if old is not None and (as_of is None or old > as_of):
        as_of = old
    return {"as_of": as_of, "ledger_at": at, "at": at, "spans": [], "hash": digest, "v": version}


def spans_for(heartbeat: Optional[dict], previous: Optional[dict]) -> Optional[list]:
    """The heartbeat's spans when they continue `previous`'s ledger; None otherwise (a race or
    a lost heartbeat: the fold then credits only the usual round after the previous publish)."""
    ledger_at = ((previous or {}).get("_uptime") or {}).get("at")
    if not heartbeat or ledger_at is None or heartbeat.get("ledger_at") != ledger_at:
        return None
    return heartbeat.get("spans") or []


def overlay(doc: dict, heartbeat: Optional[dict]) -> dict:
    """The snapshot as of the heartbeat's newest check: `data_as_of` and every reporting
    component's last-check time. Returns `doc` itself when the heartbeat adds nothing."""
    as_of = (heartbeat or {}).get("as_of")
    out = doc.get("outpost") or {}
    old = out.get("data_as_of_epoch")
    if as_of is None or (old is not None and float(old) >= float(as_of)):
        return doc
    tz = (doc.get("page") or {}).get("time_zone") or "Etc/UTC"
    iso = iso_ms(float(as_of), tz)
    seen = copy.copy(doc)
    seen["outpost"] = new = dict(out)
    new["data_as_of"], new["data_as_of_epoch"] = iso, float(as_of)
    new["components"] = {cid: {**e, "last_checked_at": iso}
                         if e.get("monitored", True) and not e.get("unknown")
                         and e.get("last_checked_at") else e
                         for cid, e in (out.get("components") or {}).items()}
    return seen


def fold_view(doc: dict, heartbeat: Optional[dict]) -> dict:
    """`doc` (its history put back) with the heartbeat's vouched spans accounted in today's
    uptime, as the next fold will: what uptime.json and the page draw between snapshot writes.
    Response-time points stay as of the last write (their counts live in the region views).
    Returns `doc` itself when there is nothing to add."""
    ledger = doc.get("_uptime") or {}
    spans = spans_for(heartbeat, doc)
    uptime = (doc.get("outpost") or {}).get("uptime")
    if not spans or not uptime:
        return doc
    tz = doc["page"]["time_zone"]
    end = float(spans[-1][1])
    kinds, new = ledger.get("kinds") or {}, {}
    for cid, entry in uptime.items():
        days, _ = advance_spans(entry.get("days") or [], kinds.get(cid), ledger["at"], spans,
                                end, 0.0, tz)
        new[cid] = {**entry, "days": days, "uptime_90d": uptime_over(days)}
    seen = copy.copy(doc)
    seen["outpost"] = {**doc["outpost"], "uptime": new}
    return seen
