"""Public route of the checker's history: GET /api/v2/uptime.json (our extension to v2).

Like every public read it renders from the one cached snapshot (the history is put into the
snapshot when it is written), so it costs at most one DynamoDB call, none while warm. A page too
big for one item keeps its history in items of its own (chalicelib.core.budget): then one more call,
once per snapshot version.
"""
from __future__ import annotations

from chalice import Blueprint

from ... import wiring
from ...core.errors import SnapshotUnavailable
from ...render.v2 import render_uptime
from .. import httpkit

bp = Blueprint(__name__)
c = wiring.container


@bp.route("/api/v2/uptime.json", cors=True)
def uptime():
    try:
        body, etag = c.public_cache.rendered("uptime", render_uptime, history=True)
    except SnapshotUnavailable:
        return httpkit.unavailable()
    return httpkit.cached(bp.current_request, body, etag, "application/json")
