"""Public human-facing routes: the HTML page, incident pages, history, feeds and badges.

Each route names one representation of the current snapshot and asks the public cache for it:
rendered once per snapshot version and staleness (the cache keys on both), then served as
bytes with a strong ETag.
Renderers are imported inside the handlers so importing `app` (a Lambda cold start) does not
pay for Jinja2 until a page is asked for.
"""
from __future__ import annotations

import functools
import logging
from typing import Callable

from chalice import Blueprint, Response

from ... import wiring
from ...core.budget import archived
from ...core.snapshot import incident_v2
from ...core.snapview import is_stale
from .. import httpkit

bp = Blueprint(__name__)
c = wiring.container
log = logging.getLogger("outpost")

HTML, ATOM, RSS = "text/html", "application/atom+xml", "application/rss+xml"
SVG, JSON = "image/svg+xml", "application/json"
ICS = "text/calendar"
# Errors are cheap to re-ask and may stop being errors (an incident appears): cache briefly.
ERROR_CACHE_CONTROL = "public, max-age=15"


def _stale(snapshot: dict) -> bool:
    """Judged on the snapshot being rendered. The public cache marks a snapshot stale once its
    data is too old and keys its renderings by that mark, so a page rendered while fresh is
    never served once the data has gone stale (and the reverse)."""
    return is_stale(snapshot, c.clock())


def _content_type(content_type: str) -> str:
    return content_type + ("; charset=utf-8" if content_type in (HTML, JSON) else "")


def _unavailable() -> Response:
    # Storage down with nothing cached (or a broken render): a 503 lets CDNs fall back on
    # stale-if-error, where a 500 might be cached as the page.
    return Response(body="Status temporarily unavailable", status_code=503,
                    headers={"Content-Type": "text/plain; charset=utf-8", "Retry-After": "5",
                             "Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"})


def _public(handler):
    """Any failure (storage down with nothing cached, a render bug) answers 503, logged."""
    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except Exception:
            log.exception("public route %s failed", handler.__name__)
            return _unavailable()
    return wrapper


def _serve(name: str, render: Callable[[dict], bytes], content_type: str,
           history: bool = False) -> Response:
    """The cached representation `name`; `render(snapshot)` runs once per snapshot version."""
    body, etag = c.public_cache.rendered(name, lambda snap, _name: render(snap), history)
    return httpkit.cached(bp.current_request, body, etag, content_type)


def _not_found(name: str, render: Callable[[dict], bytes], content_type: str) -> Response:
    """A 404 whose body is rendered once per snapshot version, whatever address was asked
    for, so random ids can't grow the cache."""
    body, _ = c.public_cache.rendered(name, lambda snap, _name: render(snap))
    return Response(body=body, status_code=404,
                    headers={"Content-Type": _content_type(content_type),
                             "Cache-Control": ERROR_CACHE_CONTROL,
                             "Access-Control-Allow-Origin": "*"})


def _html_not_found() -> Response:
    from ...render import html  # cold start: Babel and jinja2 load on first use, never for JSON
    return _not_found("html:404", html.render_not_found, HTML)


@bp.route("/", cors=True)
@_public
def index():
    from ...render import html  # cold start: Babel and jinja2 load on first use, never for JSON

    # The social link comes from the status file, fixed for the life of this process.
    social, accounts = c.config.operations.social_url, c.config.social.accounts()
    return _serve("html:index", lambda s: html.render_index(s, _stale(s), social_url=social,
                                                            accounts=accounts), HTML,
                  history=True)


# CloudFront asks its origins for the default root object, /index.html, when a visitor asks for
# "/" (infra's static fallback): the API must answer that path with the same page.
@bp.route("/index.html", cors=True)
@_public
def index_html():
    return index()


@bp.route("/history", cors=True)
@_public
def history():
    from ...render import (html,  # cold start: Babel and jinja2 load on first use, never for JSON
                           view)
    raw = (bp.current_request.query_params or {}).get("page", "1")
    snap, _ = c.public_cache.snapshot()
    # ASCII digits only: "²".isdigit() is true, and int() of it raises.
    number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 7 else 0
    if not 1 <= number <= view.history_pages(snap):
        return _html_not_found()
    return _serve(f"html:history:{number}", lambda s: html.render_history(s, number)
                  or html.render_not_found(s), HTML)


@bp.route("/incidents/{incident_id}", cors=True)
@_public
def incident(incident_id):
    from ...render import (html,  # cold start: Babel and jinja2 load on first use, never for JSON
                           view)
    snap, _ = c.public_cache.snapshot()
    if archived(snap, incident_id):
        # Left out of the snapshot (or shortened there) for its size: the incident's own item
        # has every word. Only ids the snapshot names cost this read, so strangers can't
        # make random ids cost one.
        return _serve(f"html:incident:{incident_id}",
                      lambda s: _archived_page(s, incident_id), HTML)
    if view.find_incident(snap, incident_id) is None:
        return _html_not_found()
    # If the snapshot changed between the lookup and the render (the incident was deleted in
    # that instant), this version's body is the not-found page: wrong status, right content.
    return _serve(f"html:incident:{incident_id}",
                  lambda s: html.render_incident(s, incident_id) or html.render_not_found(s), HTML)


def _archived_page(snapshot: dict, incident_id: str) -> bytes:
    """The page of an incident read from its own item, drawn like one in the snapshot."""
    from ...render import html  # cold start: Babel and jinja2 load on first use, never for JSON
    doc, _ = c.store.load_incident(incident_id)
    if doc is None or doc.get("deleted_at"):
        return html.render_not_found(snapshot)
    extras = (snapshot.get("outpost") or {}).get("components") or {}
    rows = {extras[r["id"]]["key"]: r for r in snapshot.get("components") or ()
            if r["id"] in extras and extras[r["id"]].get("key")}
    page = snapshot["page"]
    item = incident_v2(doc, page["id"], page["url"], rows, page["time_zone"])
    lists = {"incidents": [], "scheduled_maintenances": []}
    lists["scheduled_maintenances" if doc["kind"] == "scheduled" else "incidents"].append(item)
    return html.render_incident({**snapshot, **lists}, incident_id)


@bp.route("/history.atom", cors=True)
@_public
def history_atom():
    from ...render import feeds  # cold start: Babel and jinja2 load on first use, never for JSON
    return _serve("feed:atom", feeds.render_atom, ATOM)


@bp.route("/history.rss", cors=True)
@_public
def history_rss():
    from ...render import feeds  # cold start: Babel and jinja2 load on first use, never for JSON
    return _serve("feed:rss", feeds.render_rss, RSS)


@bp.route("/maintenance.ics", cors=True)
@_public
def maintenance_ics():
    # cold start: Babel and jinja2 load on first use, never for JSON
    from ...render import calendar

    # The status file's windows are fixed for the life of this process, like the social link.
    windows = c.config.maintenance
    return _serve("calendar:maintenance", lambda s: calendar.render_ics(s, windows),
                  ICS + "; charset=utf-8")


@bp.route("/embed.js", cors=True)
def embed_script():
    # A fixed file: served even when storage is down, so host pages never see it fail.
    from ...render import embed  # cold start: Babel and jinja2 load on first use, never for JSON
    body, etag = embed.script()
    return httpkit.cached(bp.current_request, body.decode("utf-8"), etag,
                       "text/javascript; charset=utf-8")


@bp.route("/embed")
@_public
def embed_view():
    from ...render import embed  # cold start: Babel and jinja2 load on first use, never for JSON

    # The status file's allow-list, fixed for the life of this process.
    frame = embed.frame_headers(c.config.page.embed.frame_ancestors)
    resp = _serve("html:embed", lambda s: embed.render_embed(s, _stale(s)), HTML)
    for name in httpkit.NO_FRAMING:                 # the allow-list alone decides who may frame
        resp.headers.pop(name, None)
    resp.headers.update(frame)
    return resp


@bp.route("/badge.svg", cors=True)
@_public
def page_badge():
    from ...render import badges  # cold start: Babel and jinja2 load on first use, never for JSON
    return _serve("badge:page", lambda s: badges.page_svg(s, _stale(s)), SVG)


@bp.route("/badge/{filename}", cors=True)
@_public
def component_badge(filename):
    from ...render import badges  # cold start: Babel and jinja2 load on first use, never for JSON
    return _per_component(filename, ".svg", "badge", badges.component_svg,
                          badges.not_found_svg, SVG)


@bp.route("/api/v2/shields.json", cors=True)
@_public
def page_shields():
    from ...render import badges  # cold start: Babel and jinja2 load on first use, never for JSON
    return _serve("shields:page", lambda s: badges.page_shields(s, _stale(s)), JSON)


@bp.route("/api/v2/shields/{filename}", cors=True)
@_public
def component_shields(filename):
    from ...render import badges  # cold start: Babel and jinja2 load on first use, never for JSON
    return _per_component(filename, ".json", "shields", badges.component_shields,
                          badges.not_found_shields, JSON)


def _per_component(filename: str, suffix: str, kind: str, render, not_found, content_type):
    """One component's badge or shields JSON, by public id or status-file key."""
    from ...render import badges  # cold start: Babel and jinja2 load on first use, never for JSON
    snap, _ = c.public_cache.snapshot()
    row = badges.find(snap, filename, suffix)
    if row is None:
        return _not_found(f"{kind}:404", lambda s: not_found(), content_type)
    cid = row["id"]
    return _serve(f"{kind}:{cid}", lambda s: render(s, _row(s, cid, row), _stale(s)),
                  content_type)


def _row(snapshot: dict, cid: str, fallback: dict) -> dict:
    """The row for `cid` in the snapshot being rendered (it may be newer than the lookup's)."""
    # cold start: Babel and jinja2 load on first use, never for JSON
    from ...render.common import find_component
    return find_component(snapshot, cid) or fallback
