"""Pure: geometry for the inline SVG charts (90-day uptime bars, response-time sparkline).

Only numbers and short texts come out; the templates draw them, with autoescape, so a day's
tooltip can never carry markup.

The page draws 50 components or more, so the drawing is compact (the page-weight bench rows):
the good days of a bar chart are one dashed stroke, the other days one path per tone drawn
over it, and the chart has one tooltip; the response-time lines are
relative paths in whole units.
"""
from __future__ import annotations

import math
from datetime import date
from typing import Optional

DAYS = 90
BAR_WIDTH, BAR_GAP, BAR_HEIGHT = 3, 1, 28     # the stylesheet's dash pattern is "3 1"
CHART_HEIGHT = 48


def uptime_text(percent: Optional[float]) -> str:
    """Rounded down, so 99.996 % never shows as 100 % when there was downtime."""
    if percent is None:
        return "no data"
    if percent >= 100:
        return "100%"
    return f"{math.floor(max(percent, 0.0) * 100) / 100:.2f}%"


def _duration(seconds: int) -> str:
    if seconds < 60:
        return "under 1 min"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def day_tone(day: dict) -> str:
    if day.get("uptime") is None:
        return "nodata"
    for key, tone in (("major_seconds", "major"), ("partial_seconds", "partial"),
                      ("degraded_seconds", "degraded"), ("maintenance_seconds", "maintenance")):
        if (day.get(key) or 0) > 0:
            return tone
    return "ok"


def day_title(day: dict) -> str:
    when = _day_label(day.get("date"))
    if day.get("uptime") is None:
        return f"{when}: no data"
    text = f"{when}: {uptime_text(day['uptime'])} uptime"
    details = [f"{name} {_duration(day[key])}"
               for key, name in (("major_seconds", "major outage"),
                                 ("partial_seconds", "partial outage"),
                                 ("degraded_seconds", "degraded"),
                                 ("maintenance_seconds", "maintenance"),
                                 ("nodata_seconds", "no data"))
               if (day.get(key) or 0) > 0]
    return "; ".join([text, *details])


def _day_label(text) -> str:
    try:
        d = date.fromisoformat(str(text))
    except ValueError:
        return str(text)
    return f"{d:%b} {d.day}, {d:%Y}"


def uptime_bars(entry: Optional[dict]) -> Optional[dict]:
    """{bars: [{x, tone, title}], ok_path, marks, width, height, percent, summary, title} or
    None without data. `bars` is every day; the page draws `ok_path` (the good days) and
    `marks` (the others, by tone), which together cover the same days, and `title` (the summary
    and the latest bad day) as the chart's tooltip and accessible name.

    Fewer than 90 days (a young page) are drawn right-aligned: today is always at the right edge.
    """
    if not entry or not entry.get("days"):
        return None
    days = list(entry["days"])[-DAYS:]
    offset = DAYS - len(days)
    step = BAR_WIDTH + BAR_GAP
    bars = [{"x": (offset + i) * step, "tone": day_tone(d), "title": day_title(d)}
            for i, d in enumerate(days)]
    percent = uptime_text(entry.get("uptime_90d"))
    bad = sum(1 for b in bars if b["tone"] in ("major", "partial", "degraded"))
    if entry.get("uptime_90d") is None:
        summary = f"no uptime data for the last {len(days)} days"
    else:
        summary = (f"{percent} uptime over the last {len(days)} days, "
                   f"{bad} day{'s' if bad != 1 else ''} with downtime or degradation")
    latest = next((b["title"] for b in reversed(bars) if b["tone"] != "ok"), None)
    title = f"{summary}; latest: {latest}" if latest else summary
    return {"bars": bars, "ok_path": _ok_path(bars), "height": BAR_HEIGHT, "title": title,
            "marks": _marks(bars), "width": DAYS * step - BAR_GAP,
            "bar_width": BAR_WIDTH, "percent": percent, "days": len(days), "summary": summary,
            "since": f"{len(days)} day{'s' if len(days) != 1 else ''} ago"}


def _marks(bars: list[dict]) -> list[dict]:
    """[{tone, d}]: the days that are not plainly good, one path per tone (a 3-unit stroke per
    day) drawn over the good days' stroke. No element or tooltip per day: at 50 components
    with a few bad days each, per-day tooltips alone would cost more than the whole page's
    compressed budget (bench (a')); the chart's title names the latest bad day instead."""
    groups: dict[str, list] = {}
    for b in bars:
        if b["tone"] != "ok":
            groups.setdefault(b["tone"], []).append(f"M{b['x']} {BAR_HEIGHT // 2}h{BAR_WIDTH}")
    return [{"tone": tone, "d": "".join(parts)} for tone, parts in groups.items()]


def _ok_path(bars: list[dict]) -> str:
    """The good days: one horizontal stroke along the middle of the chart from the first day
    to past the last, dashed "3 1" by the stylesheet so it falls into one bar per day. The
    other days are drawn over it, each its own bar of the same size. The same for every
    component of the same age, so it costs nothing once compressed."""
    step = BAR_WIDTH + BAR_GAP
    return f"M{bars[0]['x']} {BAR_HEIGHT // 2}h{len(bars) * step}"


def _number(value) -> Optional[float]:
    try:
        n = float(value)
    except (TypeError, ValueError):
        return None
    return n if math.isfinite(n) and n >= 0 else None


def response_chart(points: Optional[list]) -> Optional[dict]:
    """Two lines (median and p95) as relative SVG paths in a box `count - 1` units wide (one
    unit per sample; the page stretches it) and CHART_HEIGHT high, plus a text summary.

    Points with missing values are dropped; fewer than two usable points draw nothing.
    """
    usable = [(p.get("t"), _number(p.get("p50")), _number(p.get("p95"))) for p in points or ()]
    usable = [(t, p50, p95 if p95 is not None else p50) for t, p50, p95 in usable if p50 is not None]
    if len(usable) < 2:
        return None
    top = max(max(p50, p95) for _, p50, p95 in usable) or 1.0
    top *= 1.1                                      # headroom so the line never sits on the edge
    last = len(usable) - 1

    def line(index: int) -> str:
        ys = [round(CHART_HEIGHT - v[index] / top * CHART_HEIGHT) for v in usable]
        # "1 5 1-3": one unit right, then up or down; a minus sign needs no space before it.
        steps = " ".join(f"1 {b - a}" if b >= a else f"1{b - a}" for a, b in zip(ys, ys[1:]))
        return f"M0 {ys[0]}l{steps}"
    _, p50, p95 = usable[-1]
    return {"width": last, "height": CHART_HEIGHT, "p50": line(1), "p95": line(2),
            "latest_p50": round(p50), "latest_p95": round(p95),
            "max": round(max(v for _, _, v in usable)), "count": len(usable),
            "from": usable[0][0], "to": usable[-1][0],
            "summary": f"Response time: median {round(p50)} ms, 95th percentile {round(p95)} ms "
                       f"(latest of {len(usable)} samples)"}
