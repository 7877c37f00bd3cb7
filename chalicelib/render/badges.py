"""Pure: status badges, as SVG (`/badge/{id}.svg`, `/badge.svg`) and shields.io endpoint JSON.

A stale snapshot gives "unknown" in grey: a badge must not stay green after checks stop.
Labels are operator text (component and page names): the SVG template escapes them.
"""
from __future__ import annotations

import json
from typing import Optional

from . import common
from .html import environment

# Our SVG colours: dark enough for white 11px text. shields.io takes its own named colours.
SVG_COLOURS = {"ok": "#1a7f37", "degraded": "#9a6700", "partial": "#bc4c00", "major": "#cf222e",
               "maintenance": "#0969da", "unknown": "#6e7781"}
SHIELDS_COLOURS = {"ok": "brightgreen", "degraded": "yellow", "partial": "orange",
                   "major": "red", "maintenance": "blue", "unknown": "lightgrey"}
MAX_LABEL = 48

# Approximate advance widths of Verdana 11px (what shields.io measures with), in pixels.
_NARROW, _WIDE = set("fijlrt.,:;'!|()[] "), set("mwMW@%")


def _text_width(text: str) -> float:
    width = 0.0
    for ch in text:
        if ch in _NARROW:
            width += 3.9
        elif ch in _WIDE:
            width += 10.5
        elif ch.isupper() or ch.isdigit():
            width += 7.5
        else:
            width += 6.6
    return width


def _clip(text: str) -> str:
    text = " ".join(str(text).split())               # newlines and runs of spaces: one space
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"


def component_status(snapshot: dict, row: dict, stale: bool) -> tuple[str, str]:
    """(message, tone) for a component or group row."""
    status = common.effective_status(snapshot, row, stale)
    return (common.label(common.COMPONENT_LABELS, status).lower(),
            common.COMPONENT_TONES.get(status, "unknown"))


def page_status(snapshot: dict, stale: bool) -> tuple[str, str]:
    if stale:
        return "unknown", "unknown"
    status = snapshot.get("status") or {}
    return ((status.get("description") or "unknown").lower(),
            common.INDICATOR_TONES.get(status.get("indicator"), "unknown"))


def svg(label: str, message: str, tone: str) -> bytes:
    label, message = _clip(label), _clip(message)
    lw, mw = round(_text_width(label) + 10), round(_text_width(message) + 10)
    return environment().get_template("badge.svg").render(
        label=label, message=message, color=SVG_COLOURS.get(tone, SVG_COLOURS["unknown"]),
        width=lw + mw, label_width=lw, message_width=mw,
        label_x=lw / 2, message_x=lw + mw / 2).encode("utf-8")


def shields(label: str, message: str, tone: str, error: bool = False) -> bytes:
    body = {"schemaVersion": 1, "label": _clip(label), "message": _clip(message),
            "color": SHIELDS_COLOURS.get(tone, "lightgrey")}
    if error:
        body["isError"] = True
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def component_svg(snapshot: dict, row: dict, stale: bool) -> bytes:
    return svg(row.get("name") or "component", *component_status(snapshot, row, stale))


def component_shields(snapshot: dict, row: dict, stale: bool) -> bytes:
    return shields(row.get("name") or "component", *component_status(snapshot, row, stale))


def page_svg(snapshot: dict, stale: bool) -> bytes:
    return svg(_page_name(snapshot), *page_status(snapshot, stale))


def page_shields(snapshot: dict, stale: bool) -> bytes:
    return shields(_page_name(snapshot), *page_status(snapshot, stale))


def not_found_svg() -> bytes:
    return svg("status", "unknown component", "unknown")


def not_found_shields() -> bytes:
    return shields("status", "unknown component", "unknown", error=True)


def _page_name(snapshot: dict) -> str:
    return (snapshot.get("page") or {}).get("name") or "status"


def find(snapshot: dict, filename: str, suffix: str) -> Optional[dict]:
    """The component named by `filename` ("<public id or status-file key><suffix>"), or None."""
    if not filename.endswith(suffix):
        return None
    return common.find_component(snapshot, filename[: -len(suffix)])
