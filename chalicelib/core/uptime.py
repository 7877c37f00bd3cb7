"""Pure uptime maths: daily buckets, Statuspage's weighting, response-time histograms.

Time is accounted when a snapshot is published: the span since the previous publish is
credited to the state the page showed then (a round vouches for the time until the next one),
but for at most `credit` seconds; the rest of a longer gap is "no data". So a checker that
stops never earns uptime for its silence.

Weighting (Statuspage): a major outage counts fully as downtime, a partial outage 0.3,
degraded 0; maintenance and no-data are left out of the total.

Response times are kept as log-scale histograms (about +-5% resolution) per monitor, region
and day, so daily p50/p95 can be computed from a few dozen counters instead of every sample.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Iterable, Mapping, Optional

from .timefmt import zone as _zone

DAYS = 90
KINDS = ("operational", "degraded", "partial", "major", "maintenance", "nodata")
_WEIGHT = {"operational": 0.0, "degraded": 0.0, "partial": 0.3, "major": 1.0}
_BY_STATUS = {"operational": "operational", "degraded_performance": "degraded",
              "partial_outage": "partial", "major_outage": "major",
              "under_maintenance": "maintenance"}
_RT_BASE = 1.1                 # histogram bucket ratio: +-5% around each bucket's midpoint
RT_KEEP_DAYS = 2               # today and yesterday, so yesterday can still be completed


def day_key(epoch: float, tz: str = "Etc/UTC") -> str:
    return datetime.fromtimestamp(epoch, _zone(tz)).strftime("%Y-%m-%d")


def day_start(day: str, tz: str = "Etc/UTC") -> float:
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=_zone(tz)).timestamp()


def _next_day(day: str) -> str:
    return (datetime.strptime(day, "%Y-%m-%d") + timedelta(days=1)).strftime("%Y-%m-%d")


def kind_of(status: str, unknown: bool) -> str:
    """The uptime kind of what the page showed: maintenance beats unknown (it was declared)."""
    kind = _BY_STATUS.get(status, "nodata")
    return "nodata" if unknown and kind != "maintenance" else kind


def empty_day(day: str) -> dict:
    out = {"date": day, "uptime": None}
    out.update({f"{k}_seconds": 0.0 for k in KINDS})
    return out


def day_uptime(bucket: Mapping) -> Optional[float]:
    """Percent up for one day (or a sum of days), None when nothing was observed."""
    total = sum(bucket.get(f"{k}_seconds", 0.0) for k in _WEIGHT)
    if total <= 0:
        return None
    down = sum(bucket.get(f"{k}_seconds", 0.0) * w for k, w in _WEIGHT.items())
    return round(100.0 * (1 - down / total), 4)


def uptime_over(days: Iterable[Mapping]) -> Optional[float]:
    totals: dict = {}
    for d in days:
        for k in _WEIGHT:
            totals[f"{k}_seconds"] = totals.get(f"{k}_seconds", 0.0) + d.get(f"{k}_seconds", 0.0)
    return day_uptime(totals)


def advance(days: list, kind: Optional[str], since: Optional[float], now: float, credit: float,
            tz: str = "Etc/UTC") -> tuple[list, list]:
    """Account [since, now): up to `credit` seconds as `kind`, the rest as nodata, split at local
    midnights. Returns (days oldest first, at most DAYS, today's bucket last; the days that
    this call closed, i.e. that ended before today and were touched or created here)."""
    by_day = {d["date"]: dict(d) for d in days}
    today = day_key(now, tz)
    closed: list = []
    if since is not None and now > since:
        t, credited = since, 0.0
        day = day_key(since, tz)
        while t < now:
            end = min(now, day_start(_next_day(day), tz))
            bucket = by_day.setdefault(day, empty_day(day))
            span = end - t
            as_kind = min(span, max(0.0, credit - credited)) if kind and kind != "nodata" else 0.0
            if as_kind:
                bucket[f"{kind}_seconds"] += as_kind
                credited += as_kind
            bucket["nodata_seconds"] += span - as_kind
            bucket["uptime"] = day_uptime(bucket)
            if day != today:
                closed.append(bucket)
            t, day = end, _next_day(day)
    by_day.setdefault(today, empty_day(today))
    ordered = [by_day[k] for k in sorted(by_day)][-DAYS:]
    return ordered, [b for b in closed if b["date"] >= ordered[0]["date"]]


# --- response times -----------------------------------------------------------------------------

def rt_bucket(ms: float) -> int:
    return 0 if ms < 1 else int(math.log(ms, _RT_BASE)) + 1


def rt_value(bucket: int) -> int:
    """The bucket's geometric midpoint, in ms."""
    if bucket <= 0:
        return 0
    return int(round(_RT_BASE ** (bucket - 0.5)))


def record_rt(rt_days: Mapping, day: str, ms: Optional[float]) -> dict:
    """A new {day: {bucket: count}} with one sample added and days beyond RT_KEEP_DAYS dropped."""
    out = {d: dict(h) for d, h in rt_days.items()}
    if ms is not None:
        key = str(rt_bucket(ms))
        hist = out.setdefault(day, {})
        hist[key] = hist.get(key, 0) + 1
    for old in sorted(out)[:-RT_KEEP_DAYS]:
        del out[old]
    return out


def merge(hists: Iterable[Mapping]) -> dict:
    out: dict = {}
    for h in hists:
        for k, n in h.items():
            out[k] = out.get(k, 0) + n
    return out


def percentile(hist: Mapping, q: float) -> Optional[int]:
    n = sum(hist.values())
    if not n:
        return None
    rank, seen = q * n, 0
    for key in sorted(hist, key=int):
        seen += hist[key]
        if seen >= rank:
            return rt_value(int(key))
    return rt_value(max(map(int, hist)))


def rt_point(day: str, per_region: Mapping[str, Mapping], tz: str, iso) -> Optional[dict]:
    """One day's response-time point: all regions together, and each region."""
    regions = {r: h for r, h in per_region.items() if h}
    if not regions:
        return None
    both = merge(regions.values())
    return {"t": iso(day_start(day, tz), tz), "date": day,
            "p50": percentile(both, 0.5), "p95": percentile(both, 0.95),
            "regions": {r: {"p50": percentile(h, 0.5), "p95": percentile(h, 0.95),
                            "n": sum(h.values())} for r, h in sorted(regions.items())}}


def advance_spans(days: list, kind: Optional[str], since: Optional[float], spans: list,
                  now: float, credit: float, tz: str = "Etc/UTC") -> tuple[list, list]:
    """`advance` over [since, now) when the rounds between were recorded as `spans` of vouched
    time ([start, end] pairs, in order, inside [since, now)): each span counts as `kind`, the
    gaps between them as nodata, and the time after the last recorded round gets the usual
    `credit`. The page showed `kind` all along: a change of status folds the spans first."""
    t, closed = since, {}
    for start, end in spans or ():
        if t is not None and start > t:
            days, done = advance(days, kind, t, start, 0.0, tz)      # a gap: nodata
            closed.update((d["date"], d) for d in done)
        days, done = advance(days, kind, start, end, end - start, tz)
        closed.update((d["date"], d) for d in done)
        t = end
    days, done = advance(days, kind, t, now, credit, tz)
    closed.update((d["date"], d) for d in done)
    first = days[0]["date"] if days else ""
    return days, [closed[k] for k in sorted(closed) if k >= first and k != day_key(now, tz)]


def vouch(spans: list, at: float, now: float, credit: float) -> tuple[list, float]:
    """Record one round at `now` after the previous accounting at `at`: [at, at + min(gap,
    credit)) is vouched for, extending the last span when it ends at `at`. Returns (spans, now)."""
    out = [list(s) for s in spans or ()]
    at, now = round(at, 3), round(now, 3)       # exact through JSON, so spans join
    vouched = min(max(0.0, now - at), credit)
    if vouched > 0:
        if out and out[-1][1] == at:
            out[-1][1] = round(at + vouched, 3)
        else:
            out.append([at, round(at + vouched, 3)])
    return out, now
