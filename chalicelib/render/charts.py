"""Pure: geometry for the inline SVG charts (90-day uptime bars, response-time sparkline).

Only numbers and short texts come out; the templates draw them, with autoescape, so a day's
tooltip can never carry markup.
"""
from __future__ import annotations

import math
from datetime import date
from typing import Optional

DAYS = 90
BAR_WIDTH, BAR_GAP, BAR_HEIGHT = 3, 1, 28
CHART_WIDTH, CHART_HEIGHT = 300, 48


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
    """{bars: [{x, tone, title}], width, height, percent, summary} or None without data.

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
    return {"bars": bars, "width": DAYS * step - BAR_GAP, "height": BAR_HEIGHT,
            "bar_width": BAR_WIDTH, "percent": percent, "days": len(days), "summary": summary,
            "since": f"{len(days)} day{'s' if len(days) != 1 else ''} ago"}


def _number(value) -> Optional[float]:
    try:
        n = float(value)
    except (TypeError, ValueError):
        return None
    return n if math.isfinite(n) and n >= 0 else None


def response_chart(points: Optional[list]) -> Optional[dict]:
    """Two polylines (median and p95) scaled into a small box, plus a text summary.

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
        return " ".join(f"{i * CHART_WIDTH / last:.1f},{CHART_HEIGHT - v[index] / top * CHART_HEIGHT:.1f}"
                        for i, v in enumerate(usable))
    _, p50, p95 = usable[-1]
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "p50": line(1), "p95": line(2),
            "latest_p50": round(p50), "latest_p95": round(p95),
            "max": round(max(v for _, _, v in usable)), "count": len(usable),
            "from": usable[0][0], "to": usable[-1][0],
            "summary": f"Response time: median {round(p50)} ms, 95th percentile {round(p95)} ms "
                       f"(latest of {len(usable)} samples)"}
