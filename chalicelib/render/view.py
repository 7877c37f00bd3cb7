"""Pure: snapshot -> plain dicts the HTML templates draw (no logic left for the templates).

Every text here is still raw operator text; the templates escape it (autoescape), except
update bodies, which come out of markdown.render already sanitized.
"""
from __future__ import annotations

import math
from typing import Optional

from . import charts, common, i18n, markdown
from .common import COMPONENT_LABELS, COMPONENT_TONES, label
from .i18n import N_

HISTORY_PAGE_SIZE = 10
PAST_ON_INDEX = 5


def page_info(snapshot: dict, social_url: Optional[str] = None, accounts=()) -> dict:
    page = snapshot.get("page") or {}
    extra = common.outpost(snapshot)
    locale = common.locale_of(snapshot)
    return {"name": page.get("name") or i18n.translations(locale).gettext("Status"),
            "url": page.get("url") or "", "locale": locale,
            "lang": locale, "time_zone": page.get("time_zone") or "Etc/UTC",
            "hosted_on": common.place(extra.get("hosted_on")),
            "service_hosted_on": common.place(extra.get("service_hosted_on")),
            "regions": list(extra.get("regions") or ()), "quorum": extra.get("quorum"),
            "social": _social(social_url),
            "accounts": _accounts(accounts),
            "last_verified_backup": common.human_time(extra.get("last_verified_backup"),
                                                      page.get("time_zone") or "Etc/UTC", locale)
            if extra.get("last_verified_backup") else None}


def _social(url: Optional[str]) -> Optional[dict]:
    """The official account (status file: operations.social_url), http(s) only."""
    url = str(url or "").strip()
    if not url.lower().startswith(("https://", "http://")):
        return None
    return {"url": url, "name": url.split("://", 1)[1].rstrip("/")}


def _accounts(accounts) -> dict:
    """The official accounts (status file `social:`): listed with rel="me", and the platforms
    where updates are posted, in words for "About this page"."""
    listed = [{"platform": p, "name": n, "url": u} for p, n, u, _ in accounts
              if str(u).lower().startswith(("https://", "http://"))]
    posting = [p for p, _, _, posts in accounts if posts]
    return {"listed": listed,
            "posting": " and ".join([", ".join(posting[:-1]), posting[-1]] if len(posting) > 1
                                    else posting)}


def banner(snapshot: dict, stale: bool) -> dict:
    page = page_info(snapshot)
    extra = common.outpost(snapshot)
    as_of = extra.get("data_as_of")
    t = i18n.translations(page["locale"])
    when = common.human_time(as_of, page["time_zone"], page["locale"])
    if stale:
        text = (t.gettext("Status unknown: no check results have arrived yet") if not as_of else
                t.gettext("Status unknown: checks have stopped reporting"))
        return {"tone": "unknown", "text": text, "stale": True, "as_of": when, "as_of_iso": as_of}
    status = snapshot.get("status") or {}
    indicator = status.get("indicator", "none")
    # v2's description is one of status.rollup's English phrases (common.STATUS_DESCRIPTIONS)
    return {"tone": common.INDICATOR_TONES.get(indicator, "unknown"),
            "text": t.gettext(status.get("description") or "Status"), "stale": False,
            "as_of": when, "as_of_iso": as_of}


def component_sections(snapshot: dict, stale: bool) -> list[dict]:
    """Sections in page order: a group with its children, or a run of ungrouped components."""
    rows = snapshot.get("components") or []
    by_id = {r.get("id"): r for r in rows}
    tz = page_info(snapshot)["time_zone"]
    sections: list[dict] = []
    for row in rows:
        if row.get("group_id") in by_id:
            continue                                  # drawn inside its group
        if row.get("group"):
            children = [by_id[c] for c in row.get("components") or () if c in by_id]
            items = [_component(snapshot, c, stale, tz) for c in children if _visible(c)]
            sections.append({"group": _component(snapshot, row, stale, tz), "members": items})
        elif _visible(row):
            if sections and sections[-1]["group"] is None:
                sections[-1]["members"].append(_component(snapshot, row, stale, tz))
            else:
                sections.append({"group": None,
                                 "members": [_component(snapshot, row, stale, tz)]})
    return sections


def _visible(row: dict) -> bool:
    return not (row.get("only_show_if_degraded") and row.get("status") == "operational")


def _component(snapshot: dict, row: dict, stale: bool, tz: str) -> dict:
    extra = common.outpost(snapshot)
    cid = row.get("id")
    mine = (extra.get("components") or {}).get(cid) or {}
    status = common.effective_status(snapshot, row, stale)
    # What the static copy switches to in the browser once its data has gone stale.
    if_stale = common.effective_status(snapshot, row, True)
    locale = common.locale_of(snapshot)
    return {
        "id": cid, "key": mine.get("key"), "name": row.get("name") or "",
        "description": row.get("description"),
        "status": status, "label": label(COMPONENT_LABELS, status, locale),
        "tone": COMPONENT_TONES.get(status, "unknown"),
        "stale_label": label(COMPONENT_LABELS, if_stale, locale),
        "stale_tone": COMPONENT_TONES.get(if_stale, "unknown"),
        # Scope and reasons describe live checks; with stale data they would mislead.
        "scope_text": None if stale else scope_text(mine, locale),
        "reasons": [] if stale or status == "operational" else list(mine.get("reasons") or ()),
        "maintenance": _window(mine.get("maintenance"), tz, locale),
        "last_checked": common.human_time(mine.get("last_checked_at"), tz, locale),
        "last_checked_iso": mine.get("last_checked_at"),
        "uptime": charts.uptime_bars((extra.get("uptime") or {}).get(cid), locale),
        "chart": charts.response_chart((extra.get("response_times") or {}).get(cid), locale),
        "reported": reported(extra, cid, row.get("name") or ""),
        "third_party": mine.get("third_party"),      # the vendor's host, or None
    }


# The report form's choices, in the words of someone who is having the trouble.
REPORT_KINDS = (("down", N_("It is down or won't load")), ("slow", N_("It is slow")),
                ("errors", N_("I get errors")), ("login", N_("I can't log in")),
                ("other", N_("Something else")))


def scope_text(mine: dict, locale: str) -> Optional[str]:
    """status.describe_scope's words in the page's language, from the counts in the snapshot
    (older snapshots carry only the English text)."""
    scope = mine.get("scope")
    if not scope:
        return mine.get("scope_text")
    t = i18n.translations(locale)
    total = scope.get("total") or 0
    if scope.get("failing"):
        return t.ngettext("failing from %(count)d of %(total)d region",
                          "failing from %(count)d of %(total)d regions",
                          total) % {"count": scope["failing"], "total": total}
    if scope.get("degraded"):
        return t.ngettext("degraded from %(count)d of %(total)d region",
                          "degraded from %(count)d of %(total)d regions",
                          total) % {"count": scope["degraded"], "total": total}
    if (scope.get("reporting") or 0) < total:
        return t.ngettext("%(count)d of %(total)d region reporting",
                          "%(count)d of %(total)d regions reporting",
                          total) % {"count": scope.get("reporting") or 0, "total": total}
    return None


def reported(extra: dict, cid: str, name: str) -> Optional[str]:
    """"N people reported problems with X in the last 30 minutes", when the snapshot has a
    public count for the component (only counts at or over the threshold are published)."""
    count = (extra.get("reports") or {}).get(cid)
    window = extra.get("reports_window_seconds")
    if not count or not window:
        return None
    t = i18n.translations(i18n.known(extra.get("locale")))
    m = int(window // 60)               # the window's words as reports.minutes has them
    if m == 60:
        return t.ngettext("%(count)d person reported problems with %(name)s in the last hour",
                          "%(count)d people reported problems with %(name)s in the last hour",
                          count) % {"count": count, "name": name}
    if m % 60 == 0 and m > 60:
        return t.ngettext("%(count)d person reported problems with %(name)s in the last "
                          "%(hours)d hours", "%(count)d people reported problems with %(name)s "
                          "in the last %(hours)d hours", count) % {"count": count, "name": name,
                                                                   "hours": m // 60}
    return t.ngettext("%(count)d person reported problems with %(name)s in the last "
                      "%(minutes)d minutes", "%(count)d people reported problems with %(name)s "
                      "in the last %(minutes)d minutes", count) % {"count": count, "name": name,
                                                                   "minutes": m}


def report_kinds(extra: dict) -> list[dict]:
    """The choices of the per-component report form; empty (no forms) when reports are off."""
    if not extra.get("reports_window_seconds"):
        return []
    t = i18n.translations(i18n.known(extra.get("locale")))
    return [{"value": value, "label": t.gettext(text)} for value, text in REPORT_KINDS]


def _window(window: Optional[dict], tz: str, locale: str = i18n.DEFAULT) -> Optional[dict]:
    """A maintenance window from the status file that covers the component right now."""
    if not window:
        return None
    return {"name": window.get("name") or i18n.translations(locale).gettext("Maintenance"),
            "until": common.human_time(window.get("ends_at"), tz, locale),
            "until_iso": window.get("ends_at")}


def incident(item: dict, tz: str, locale: str = i18n.DEFAULT) -> dict:
    """An incident or maintenance with its timeline (updates newest first, as stored)."""
    maintenance = "scheduled_for" in item
    updates = []
    for u in item.get("incident_updates") or ():
        affected = [{"name": a.get("name") or "",
                     "old": label(COMPONENT_LABELS, a.get("old_status"), locale),
                     "new": label(COMPONENT_LABELS, a.get("new_status"), locale)}
                    for a in u.get("affected_components") or ()]
        at = u.get("display_at") or u.get("created_at")
        updates.append({"id": u.get("id"), "status": u.get("status"),
                        "label": label(common.UPDATE_LABELS, u.get("status"), locale),
                        "body": markdown.render(u.get("body")),
                        "at": common.human_time(at, tz, locale),
                        "at_iso": at, "affected": affected})
    impact = item.get("impact") or "none"
    return {
        "id": item.get("id") or "", "name": item.get("name") or "", "maintenance": maintenance,
        "status": item.get("status"),
        "label": label(common.UPDATE_LABELS, item.get("status"), locale),
        "impact": label(common.IMPACT_LABELS, impact, locale),
        "tone": common.IMPACT_TONES.get(impact, "unknown"),
        "created": common.human_time(item.get("created_at"), tz, locale),
        "created_iso": item.get("created_at"),
        "resolved": common.human_time(item.get("resolved_at"), tz, locale),
        "resolved_iso": item.get("resolved_at"),
        "scheduled_for": common.human_time(item.get("scheduled_for"), tz, locale),
        "scheduled_for_iso": item.get("scheduled_for"),
        "scheduled_until": common.human_time(item.get("scheduled_until"), tz, locale),
        "scheduled_until_iso": item.get("scheduled_until"),
        "components": [c.get("name") or "" for c in item.get("components") or ()],
        "updates": updates,
    }


def index(snapshot: dict, stale: bool, social_url: Optional[str] = None, accounts=()) -> dict:
    page = page_info(snapshot, social_url, accounts)
    tz, locale = page["time_zone"], page["locale"]
    incidents = snapshot.get("incidents") or []
    maintenances = snapshot.get("scheduled_maintenances") or []
    active = [i for i in incidents if i.get("status") in common.UNRESOLVED]
    past = [i for i in incidents if i.get("status") in common.PAST]
    return {
        "page": page, "banner": banner(snapshot, stale), "stale": stale,
        "extra": common.outpost(snapshot),
        "sections": component_sections(snapshot, stale),
        "active": [incident(i, tz, locale) for i in active],
        "maintenance_now": [incident(m, tz, locale) for m in maintenances
                            if m.get("status") in common.MAINTENANCE_ACTIVE],
        "maintenance_next": [incident(m, tz, locale) for m in
                             sorted((m for m in maintenances if m.get("status") == "scheduled"),
                                    key=common.sort_key)],
        "past": [incident(i, tz, locale) for i in past[:PAST_ON_INDEX]],
        "report_kinds": report_kinds(common.outpost(snapshot)),
    }


def history_pages(snapshot: dict) -> int:
    count = len(snapshot.get("incidents") or ()) + len(snapshot.get("scheduled_maintenances") or ())
    return max(1, math.ceil(count / HISTORY_PAGE_SIZE))


def history(snapshot: dict, number: int) -> Optional[dict]:
    """Page `number` (1-based) of everything, newest first, grouped by month; None past the end."""
    pages = history_pages(snapshot)
    if not 1 <= number <= pages:
        return None
    page = page_info(snapshot)
    tz, locale = page["time_zone"], page["locale"]
    items = sorted([*(snapshot.get("incidents") or ()), *(snapshot.get("scheduled_maintenances") or ())],
                   key=common.sort_key, reverse=True)
    chunk = items[(number - 1) * HISTORY_PAGE_SIZE: number * HISTORY_PAGE_SIZE]
    months: list[dict] = []
    for item in chunk:
        month = common.month_label(item.get("scheduled_for") or item.get("created_at"), tz, locale)
        if not months or months[-1]["label"] != month:
            months.append({"label": month, "members": []})
        months[-1]["members"].append(incident(item, tz, locale))
    return {"page": page, "number": number, "pages": pages, "months": months,
            "newer": number - 1 if number > 1 else None,
            "older": number + 1 if number < pages else None}


def find_incident(snapshot: dict, incident_id: str) -> Optional[dict]:
    for item in [*(snapshot.get("incidents") or ()), *(snapshot.get("scheduled_maintenances") or ())]:
        if item.get("id") == incident_id:
            return item
    return None
