"""Pure: vocabulary shared by the human-facing renderers (HTML, feeds, badges).

Labels, tones (the CSS/badge colour family of a status), staleness, component lookup and time
formatting. Everything takes the snapshot document (see snapshot.build_snapshot) as plain data.
"""
from __future__ import annotations

from typing import Optional

from ..core.snapview import outpost
from ..core.timefmt import parse_iso
from ..core.timefmt import zone_or_utc as _zone
from . import i18n
from .i18n import N_

UNKNOWN = "unknown"      # our own status for "checks have stopped": never shown as operational

COMPONENT_LABELS = {
    "operational": N_("Operational"),
    "degraded_performance": N_("Degraded performance"),
    "partial_outage": N_("Partial outage"),
    "major_outage": N_("Major outage"),
    "under_maintenance": N_("Under maintenance"),
    UNKNOWN: N_("Unknown"),
}
# tone = colour family, shared by CSS classes, icons and badge colours
COMPONENT_TONES = {
    "operational": "ok", "degraded_performance": "degraded", "partial_outage": "partial",
    "major_outage": "major", "under_maintenance": "maintenance", UNKNOWN: "unknown",
}
INDICATOR_TONES = {"none": "ok", "minor": "degraded", "major": "partial", "critical": "major",
                   "maintenance": "maintenance", UNKNOWN: "unknown"}
IMPACT_TONES = {"none": "unknown", "minor": "degraded", "major": "partial", "critical": "major",
                "maintenance": "maintenance"}
IMPACT_LABELS = {"none": N_("No impact"), "minor": N_("Minor"), "major": N_("Major"),
                 "critical": N_("Critical"), "maintenance": N_("Maintenance")}
UPDATE_LABELS = {
    "investigating": N_("Investigating"), "identified": N_("Identified"),
    "monitoring": N_("Monitoring"), "resolved": N_("Resolved"), "postmortem": N_("Postmortem"),
    "scheduled": N_("Scheduled"), "in_progress": N_("In progress"), "verifying": N_("Verifying"),
    "completed": N_("Completed"),
}
UNRESOLVED = ("investigating", "identified", "monitoring")
PAST = ("resolved", "postmortem")
MAINTENANCE_ACTIVE = ("in_progress", "verifying")
# status.rollup's words for the whole page (v2's status.description stays English; the page
# shows these translated).
STATUS_DESCRIPTIONS = (N_("All Systems Operational"), N_("Service Under Maintenance"),
                       N_("Partially Degraded Service"), N_("Minor Service Outage"),
                       N_("Partial System Outage"), N_("Major Service Outage"))
PROVIDERS = {"aws": "AWS", "gcp": "Google Cloud", "azure": "Microsoft Azure"}


def label(table: dict, value, locale: str = i18n.DEFAULT) -> str:
    """A human label, falling back to the raw value made readable (future enums still render)."""
    if value in table:
        return i18n.translations(locale).gettext(table[value])
    return str(value or "").replace("_", " ").capitalize()


def effective_status(snapshot: dict, row: dict, stale: bool) -> str:
    """The status to show for a component or group row: never a colour the data can't back.

    A component is "unknown" when the checker says so (`unknown`: never checked, or no region
    reporting) or when the whole page is stale, unless an operator set its status (an override
    says nothing about checks, so it stands) or it has no monitors (nothing is meant to report).
    A group is unknown when all its children are, and never shows operational over an unknown
    child.
    """
    extras = outpost(snapshot).get("components") or {}

    def unknown(cid) -> bool:
        e = extras.get(cid) or {}
        if e.get("overridden"):
            return False
        return bool(e.get("unknown")) or (stale and e.get("monitored", True))

    if row.get("group"):
        children = row.get("components") or []
        flags = [unknown(c) for c in children]
        if children and all(flags):
            return UNKNOWN
        if any(flags) and row.get("status") == "operational":
            return UNKNOWN
        return row.get("status")
    return UNKNOWN if unknown(row.get("id")) else row.get("status")


def find_component(snapshot: dict, name: str) -> Optional[dict]:
    """A component (or group) row by public id, or by the status file's key ("api")."""
    for row in snapshot.get("components") or ():
        if row.get("id") == name:
            return row
    for cid, extra in (outpost(snapshot).get("components") or {}).items():
        if extra.get("key") == name:
            return find_component(snapshot, cid)
    return None


def human_time(text: Optional[str], tz_name: str = "Etc/UTC", locale: str = i18n.DEFAULT) -> str:
    """"May 28, 2026 14:06 UTC": absolute, so a cached page never says "5 minutes ago" wrongly.
    In the page's locale ("28. Mai 2026 14:06 UTC")."""
    dt = parse_iso(text)
    if dt is None:
        return ""
    return i18n.date_time(dt.astimezone(_zone(tz_name)), locale)


def month_label(text: Optional[str], tz_name: str = "Etc/UTC", locale: str = i18n.DEFAULT) -> str:
    dt = parse_iso(text)
    if dt is None:
        return i18n.translations(locale).gettext("Undated")
    return i18n.month(dt.astimezone(_zone(tz_name)), locale)


def locale_of(snapshot: dict) -> str:
    """The page's language (status file page.locale), "en" for snapshots from before it."""
    return i18n.known(outpost(snapshot).get("locale"))


def sort_key(item: dict) -> float:
    """Newest first by creation (a maintenance by when it is scheduled), unknown times last."""
    dt = parse_iso(item.get("scheduled_for") or item.get("created_at"))
    return dt.timestamp() if dt else float("-inf")


def place(p: Optional[dict]) -> Optional[str]:
    if not p:
        return None
    provider = PROVIDERS.get(str(p.get("provider", "")).lower(), p.get("provider"))
    return f"{provider} {p.get('region')}".strip()
