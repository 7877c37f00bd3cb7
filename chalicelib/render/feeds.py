"""Pure: snapshot -> `/history.atom` and `/history.rss` (incidents and maintenance, every update).

One entry per incident or maintenance, newest activity first, its content the whole timeline
as HTML. That HTML is built from escaped text plus markdown.render's sanitized subset, then
escaped once more by the XML template (autoescape), as Atom's type="html" and RSS's
<description> require, so `]]>` or `<script>` in an update body stay text at both levels.
"""
from __future__ import annotations

from datetime import timezone
from email.utils import format_datetime

from markupsafe import Markup

from ..core.timefmt import parse_iso
from . import common, i18n, view
from .html import environment

FEED_LIMIT = 50


def _rfc822(iso) -> str:
    dt = parse_iso(iso)
    return format_datetime(dt.astimezone(timezone.utc), usegmt=True) if dt else ""


def _entry_html(item: dict, tz: str, locale: str = i18n.DEFAULT) -> str:
    """The timeline as an HTML string (not Markup: the feed template must escape it)."""
    t = i18n.translations(locale)
    v = view.incident(item, tz, locale)
    # Markup(msgstr).format escapes the values, as the literal templates did before.
    parts = [Markup("<p><strong>{}</strong> · {}</p>").format(
        v["label"], t.gettext("Maintenance") if v["maintenance"]
        else t.gettext("Impact: %(impact)s") % {"impact": v["impact"]})]
    if v["maintenance"] and v["scheduled_for"]:
        parts.append(Markup("<p>{}</p>").format(
            t.gettext("Scheduled %(start)s until %(end)s") % {
                "start": v["scheduled_for"], "end": v["scheduled_until"]}
            if v["scheduled_until"] else
            t.gettext("Scheduled %(start)s until further notice") % {"start": v["scheduled_for"]}))
    if v["components"]:
        parts.append(Markup("<p>{}</p>").format(
            t.gettext("Affects %(names)s") % {"names": ", ".join(v["components"])}))
    for u in v["updates"]:
        parts.append(Markup("<h3>{} · {}</h3>").format(u["label"], u["at"]))
        parts.append(u["body"])                       # already sanitized Markup
    return str(Markup("").join(parts))


def _entries(snapshot: dict) -> list[dict]:
    page = view.page_info(snapshot)
    t = i18n.translations(page["locale"])
    base = page["url"].rstrip("/")
    items = [*(snapshot.get("incidents") or ()), *(snapshot.get("scheduled_maintenances") or ())]
    items.sort(key=lambda i: (parse_iso(i.get("updated_at") or i.get("created_at"))
                              or parse_iso("1970-01-01T00:00:00Z")), reverse=True)
    out = []
    for item in items[:FEED_LIMIT]:
        maintenance = "scheduled_for" in item
        status = common.label(common.UPDATE_LABELS, item.get("status"), page["locale"])
        title = (t.gettext("Maintenance: %(name)s (%(status)s)") if maintenance
                 else t.gettext("%(name)s (%(status)s)")) % {"name": item.get("name") or "",
                                                            "status": status}
        published = item.get("created_at")
        updated = item.get("updated_at") or published
        out.append({
            "title": title, "link": f"{base}/incidents/{item.get('id')}",
            "published": published, "updated": updated,
            "published_rfc822": _rfc822(published),
            "categories": ["maintenance" if maintenance else "incident", item.get("status") or ""],
            "html": _entry_html(item, page["time_zone"], page["locale"]),
        })
    return out


def _context(snapshot: dict) -> dict:
    page = view.page_info(snapshot)
    entries = _entries(snapshot)
    stamps = [e["updated"] for e in entries if e["updated"]]
    # The feed changes only when an entry does, so its date is the newest entry's, not "now".
    updated = max(stamps, key=parse_iso) if stamps else (
        (snapshot.get("page") or {}).get("updated_at") or "1970-01-01T00:00:00.000Z")
    # Readers treat RSS descriptions as HTML, the channel's too: escape the name as HTML here,
    # and the template escapes that again for XML.
    description = Markup("{}").format(i18n.translations(page["locale"]).gettext(
        "Incidents and maintenance for %(name)s, with every update") % {"name": page["name"]})
    return {"page": page, "base": page["url"].rstrip("/"), "entries": entries,
            "updated": updated, "updated_rfc822": _rfc822(updated),
            "description_html": str(description)}


def render_atom(snapshot: dict) -> bytes:
    ctx = _context(snapshot)
    return environment(ctx["page"]["locale"]).get_template("atom.xml").render(**ctx).encode("utf-8")


def render_rss(snapshot: dict) -> bytes:
    ctx = _context(snapshot)
    return environment(ctx["page"]["locale"]).get_template("rss.xml").render(**ctx).encode("utf-8")
