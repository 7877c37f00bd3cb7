"""Pure: snapshot -> HTML bytes for `/`, `/incidents/{id}`, `/history` and the 404 page.

Jinja2 with autoescape on for every template (HTML, XML and SVG alike): anything an operator
typed is escaped on output, and the only pre-built markup is markdown.render's sanitized HTML.
The environment is built on first use, not at import, so importing `app` stays cheap.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Optional
from urllib.parse import quote

from markupsafe import Markup

from . import i18n, view
from .markdown import strip_controls

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")

# Solid colours for the favicon (an image: CSS variables don't reach it).
_FAVICON_FILL = {"ok": "#1a7f37", "degraded": "#9a6700", "partial": "#bc4c00", "major": "#d1242f",
                 "maintenance": "#0969da", "unknown": "#59636e"}


def _finalize(value):
    """Runs on every {{ }} before escaping: drop control characters XML 1.0 forbids."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return Markup(strip_controls(str(value)))
    if isinstance(value, str):
        return strip_controls(value)
    return value


@lru_cache(maxsize=len(i18n.LOCALES))
def environment(locale: str = i18n.DEFAULT):
    """One environment per language: jinja2's i18n extension binds the catalog to it, and
    imported macros see only the environment's globals, not a render's context."""
    from jinja2 import (Environment, FileSystemLoader,  # cold start: on the first render
                        StrictUndefined)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      finalize=_finalize, auto_reload=False, extensions=["jinja2.ext.i18n"])
    # newstyle: {% trans %} and _() escape their arguments under autoescape and fail loudly on
    # a placeholder the msgstr misspells instead of rendering it raw.
    env.install_gettext_translations(i18n.translations(locale), newstyle=True)
    return env


def _render(template: str, **context) -> bytes:
    locale = context["page"]["locale"]
    return environment(locale).get_template(template).render(**context).encode("utf-8")


def _favicon(tone: str) -> Markup:
    svg = ("<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'>"
           f"<circle cx='8' cy='8' r='7' fill='{_FAVICON_FILL.get(tone, '#59636e')}'/></svg>")
    return Markup("data:image/svg+xml," + quote(svg, safe="/:=' "))


def render_index(snapshot: dict, stale: bool, social_url: Optional[str] = None,
                 heartbeat: Optional[str] = None, accounts=()) -> bytes:
    """The status page. Every copy of it (the API's, the S3 copy, whatever a CDN or a browser
    keeps under stale-while-revalidate/stale-if-error) outlives the moment it was rendered, so
    unless it is already stale it carries both the live and the "unknown" view and a few lines
    of script that switch to the latter once its data is older than the staleness limit
    (readers without JS still see the "as of" time next to every status)."""
    ctx = view.index(snapshot, stale, social_url, accounts)
    extra = ctx["extra"]
    return _render("index.html", root="", self_aging=True, **ctx,
                   favicon=_favicon(ctx["banner"]["tone"]), stale_favicon=_favicon("unknown"),
                   stale_banner=view.banner(snapshot, True),
                   as_of_epoch=json.dumps(extra.get("data_as_of_epoch")),
                   stale_after=json.dumps(extra.get("stale_after_seconds") or 180),
                   heartbeat=heartbeat)


def render_incident(snapshot: dict, incident_id: str) -> Optional[bytes]:
    """The page of one incident or maintenance; None when the id is not in the snapshot."""
    item = view.find_incident(snapshot, incident_id)
    if item is None:
        return None
    page = view.page_info(snapshot)
    detail = view.incident(item, page["time_zone"], page["locale"])
    return _render("incident.html", root="../", self_aging=False, page=page, incident=detail,
                   favicon=_favicon(detail["tone"]))


def render_history(snapshot: dict, number: int) -> Optional[bytes]:
    """Page `number` of the incident history; None past the last page."""
    ctx = view.history(snapshot, number)
    if ctx is None:
        return None
    return _render("history.html", root="", self_aging=False, **ctx, favicon=_favicon("unknown"))


def render_not_found(snapshot: dict) -> bytes:
    # Deliberately says nothing about the address asked for: one body per snapshot version,
    # so unknown ids can't grow the render cache.
    return _render("not_found.html", root="/", self_aging=False, page=view.page_info(snapshot),
                   favicon=_favicon("unknown"))
