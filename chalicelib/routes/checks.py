"""Public route of the checker's history: GET /api/v2/uptime.json (our extension to v2).

Like every public read it renders from the one cached snapshot (the history is put into the
snapshot when it is written), so it costs at most one DynamoDB call, none while warm. A page too
big for one item keeps its history in items of its own (chalicelib.budget): then one more call,
once per snapshot version.
"""
from __future__ import annotations

import json

from chalice import Blueprint

from .. import http, wiring

bp = Blueprint(__name__)
c = wiring.container


def render_uptime(snapshot: dict, name: str = "uptime") -> bytes:
    """Pure: the uptime document; components keyed by their public id, in page order."""
    out = snapshot.get("outpost") or {}
    uptime, rts = out.get("uptime") or {}, out.get("response_times") or {}
    extras = out.get("components") or {}
    rows = [r for r in snapshot.get("components") or () if not r.get("group")]
    body = {
        "page": snapshot["page"],
        "stale": bool(out.get("stale")),
        "data_as_of": out.get("data_as_of"),
        "components": [{
            "id": r["id"], "name": r["name"], "key": (extras.get(r["id"]) or {}).get("key"),
            "uptime_90d": (uptime.get(r["id"]) or {}).get("uptime_90d"),
            "days": (uptime.get(r["id"]) or {}).get("days") or [],
            "response_times": rts.get(r["id"]) or [],
        } for r in rows],
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


@bp.route("/api/v2/uptime.json", cors=True)
def uptime():
    from ..services import SnapshotUnavailable
    try:
        body, etag = c.public_cache.rendered("uptime", render_uptime, history=True)
    except SnapshotUnavailable:
        return http.unavailable()
    return http.cached(bp.current_request, body, etag, "application/json")
