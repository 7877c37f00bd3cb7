"""Pure: the two embeds. `/embed` is a compact, chrome-free HTML view of the snapshot for an
iframe; `/embed.js` is a fixed script (static/embed.js) that reads summary.json itself.

Who may frame `/embed` is the status file's `page.embed.frame_ancestors`, sent as CSP
`frame-ancestors`; with none listed the answer is `'none'`, with X-Frame-Options: DENY to say
the same to browsers that predate CSP 2. With a list, X-Frame-Options is left out: it cannot
name several origins, and a DENY next to an allow-list would contradict it.
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache

from . import common
from .html import environment

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")


@lru_cache(maxsize=1)
def script() -> tuple[bytes, str]:
    """(embed.js, its strong ETag): read once per process."""
    with open(os.path.join(STATIC, "embed.js"), "rb") as fh:
        body = fh.read()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def frame_headers(frame_ancestors) -> dict:
    sources = [("'self'" if s == "self" else s.rstrip("/")) for s in frame_ancestors]
    if not sources:
        return {"Content-Security-Policy": "frame-ancestors 'none'", "X-Frame-Options": "DENY"}
    return {"Content-Security-Policy": "frame-ancestors " + " ".join(sources)}


def render_embed(snapshot: dict, stale: bool) -> bytes:
    page = snapshot.get("page") or {}
    base = (page.get("url") or "").rstrip("/")
    status = snapshot.get("status") or {}
    tone = common.INDICATOR_TONES.get(common.UNKNOWN if stale else status.get("indicator"),
                                      "unknown")
    rows = []
    for row in snapshot.get("components") or ():
        if row.get("group"):
            continue
        shown = common.effective_status(snapshot, row, stale)
        if shown != "operational":
            rows.append({"name": row.get("name"), "tone": common.COMPONENT_TONES.get(shown),
                         "label": common.label(common.COMPONENT_LABELS, shown)})
    incidents = [{"name": i.get("name"), "url": f"{base}/incidents/{i.get('id')}",
                  "label": common.label(common.UPDATE_LABELS, i.get("status"))}
                 for i in snapshot.get("incidents") or () if i.get("status") in common.UNRESOLVED]
    maintenance = [{"name": m.get("name"), "url": f"{base}/incidents/{m.get('id')}",
                    "label": common.label(common.UPDATE_LABELS, m.get("status"))}
                   for m in snapshot.get("scheduled_maintenances") or ()
                   if m.get("status") in common.MAINTENANCE_ACTIVE]
    description = ("Status unknown: checks have stopped reporting" if stale
                   else status.get("description") or "")
    return environment().get_template("embed.html").render(
        page=page, base=base, tone=tone, description=description, rows=rows[:20],
        more=max(0, len(rows) - 20), incidents=incidents[:5],
        maintenance=maintenance[:5]).encode("utf-8")
