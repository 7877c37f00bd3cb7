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

from . import i18n

DAYS = 90
BAR_WIDTH, BAR_GAP, BAR_HEIGHT = 3, 1, 28     # the stylesheet's dash pattern is "3 1"
CHART_HEIGHT = 48


def uptime_text(percent: Optional[float], locale: str = i18n.DEFAULT) -> str:
    """Rounded down, so 99.996 % never shows as 100 % when there was downtime."""
    if percent is None:
        return i18n.translations(locale).gettext("no data")
    if percent >= 100:
        return i18n.percent("100", locale)
    return i18n.percent(i18n.decimal(math.floor(max(percent, 0.0) * 100) / 100, 2, locale),
                        locale)


def _duration(seconds: int, locale: str = i18n.DEFAULT) -> str:
    t = i18n.translations(locale)
    if seconds < 60:
        return t.gettext("under 1 min")
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return t.gettext("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    return t.gettext("%(minutes)d min") % {"minutes": minutes}


def day_tone(day: dict) -> str:
    if day.get("uptime") is None:
        return "nodata"
    for key, tone in (("major_seconds", "major"), ("partial_seconds", "partial"),
                      ("degraded_seconds", "degraded"), ("maintenance_seconds", "maintenance")):
        if (day.get(key) or 0) > 0:
            return tone
    return "ok"


def day_title(day: dict, locale: str = i18n.DEFAULT) -> str:
    t = i18n.translations(locale)
    when = _day_label(day.get("date"), locale)
    if day.get("uptime") is None:
        return t.gettext("%(day)s: no data") % {"day": when}
    text = t.gettext("%(day)s: %(percent)s uptime") % {
        "day": when, "percent": uptime_text(day["uptime"], locale)}
    details = [t.gettext(name) % {"duration": _duration(day[key], locale)}
               for key, name in (("major_seconds", i18n.N_("major outage %(duration)s")),
                                 ("partial_seconds", i18n.N_("partial outage %(duration)s")),
                                 ("degraded_seconds", i18n.N_("degraded %(duration)s")),
                                 ("maintenance_seconds", i18n.N_("maintenance %(duration)s")),
                                 ("nodata_seconds", i18n.N_("no data %(duration)s")))
               if (day.get(key) or 0) > 0]
    return "; ".join([text, *details])


def _day_label(text, locale: str = i18n.DEFAULT) -> str:
    try:
        d = date.fromisoformat(str(text))
    except ValueError:
        return str(text)
    return i18n.day(d, locale)


def uptime_bars(entry: Optional[dict], locale: str = i18n.DEFAULT) -> Optional[dict]:
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
    t = i18n.translations(locale)
    bars = [{"x": (offset + i) * step, "tone": day_tone(d), "title": day_title(d, locale)}
            for i, d in enumerate(days)]
    percent = uptime_text(entry.get("uptime_90d"), locale)
    bad = sum(1 for b in bars if b["tone"] in ("major", "partial", "degraded"))
    n = len(days)
    if entry.get("uptime_90d") is None:
        summary = t.ngettext("no uptime data for the last %(days)d day",
                             "no uptime data for the last %(days)d days", n) % {"days": n}
    else:
        summary = (t.ngettext("%(percent)s uptime over the last %(days)d day",
                              "%(percent)s uptime over the last %(days)d days", n)
                   % {"percent": percent, "days": n} + ", "
                   + t.ngettext("%(bad)d day with downtime or degradation",
                                "%(bad)d days with downtime or degradation", bad) % {"bad": bad})
    latest = next((b["title"] for b in reversed(bars) if b["tone"] != "ok"), None)
    title = (t.gettext("%(summary)s; latest: %(latest)s") % {"summary": summary, "latest": latest}
             if latest else summary)
    return {"bars": bars, "ok_path": _ok_path(bars), "height": BAR_HEIGHT, "title": title,
            "marks": _marks(bars), "width": DAYS * step - BAR_GAP,
            "bar_width": BAR_WIDTH, "percent": percent, "days": len(days), "summary": summary,
            "since": t.ngettext("%(days)d day ago", "%(days)d days ago", n) % {"days": n}}


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


def response_chart(points: Optional[list], locale: str = i18n.DEFAULT) -> Optional[dict]:
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
            "summary": i18n.translations(locale).gettext(
                "Response time: median %(p50)d ms, 95th percentile %(p95)d ms (latest of "
                "%(count)d samples)") % {"p50": round(p50), "p95": round(p95),
                                         "count": len(usable)}}
