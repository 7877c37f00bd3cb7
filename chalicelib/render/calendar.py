"""Pure: snapshot (+ the status file's windows) -> `/maintenance.ics`, an RFC 5545 calendar.

Calendar apps that subscribe to the file keep one event per UID and replace it when a newer
SEQUENCE (or, at equal SEQUENCE, a newer DTSTAMP) arrives, so:
- UIDs are derived from what never changes: the maintenance id and the page's host;
- SEQUENCE is the maintenance's stored revision counter (incidents.sequence), which every
  update bumps by one, and never goes back;
- DTSTAMP is when the maintenance was last revised (RFC 5545 3.8.7.2: without a METHOD,
  DTSTAMP is the last revision in the calendar store), so an unchanged window renders to the
  same bytes and the public cache's ETag holds.
A maintenance completed before its window began was called off: it stays in the file, as
STATUS:CANCELLED, until its planned end, so calendars that kept it learn it is off.
Escaping of TEXT values and line folding at 75 octets are the icalendar library's.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Optional
from urllib.parse import urlsplit

from icalendar import Calendar, Event, vText

from ..core.timefmt import parse_iso
from ..core.timefmt import zone as _zone
from . import common

PRODID = "-//Outpost//Maintenance calendar//EN"
LIVE = ("scheduled", "in_progress", "verifying")
_RRULE = {"daily": "DAILY", "weekly": "WEEKLY"}
DESCRIPTION_LIMIT = 2000     # characters of the latest update shown; the URL has every word


def host_of(page_url: str) -> str:
    return (urlsplit(page_url).hostname or "outpost.invalid").lower()


def _utc(iso) -> Optional[datetime]:
    dt = parse_iso(iso)
    return dt.astimezone(timezone.utc) if dt else None


def _maintenance_event(item: dict, sequence: int, host: str, base: str, now: datetime
                       ) -> Optional[Event]:
    start, end = _utc(item.get("scheduled_for")), _utc(item.get("scheduled_until"))
    if start is None or end is None:
        return None
    status = item.get("status")
    resolved = _utc(item.get("resolved_at"))
    if status in LIVE:
        cancelled = False
    elif status == "completed" and resolved is not None and resolved < start and end > now:
        cancelled = True
    else:
        return None                    # done, or past: no longer upcoming or active
    event = Event()
    event.add("uid", f"maintenance-{item['id']}@{host}")
    event.add("sequence", sequence)
    event.add("dtstamp", _utc(item.get("updated_at")) or now)
    created = _utc(item.get("created_at"))
    if created:
        event.add("created", created)
    event.add("last-modified", _utc(item.get("updated_at")) or now)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", f"Maintenance: {item.get('name') or ''}")
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT")            # maintenance doesn't make anyone busy
    event.add("url", f"{base}/incidents/{item['id']}")
    names = [c.get("name") for c in item.get("components") or () if c.get("name")]
    latest = (item.get("incident_updates") or [{}])[0].get("body") or ""
    lines = []
    if names:
        lines.append("Affects: " + ", ".join(names))
    lines.append("Status: " + common.label(common.UPDATE_LABELS, status))
    if latest:
        lines.append("")
        lines.append(latest[:DESCRIPTION_LIMIT])
    event.add("description", "\n".join(lines))
    return event


def _window_event(window, names: dict, tz_name: str, host: str, base: str,
                  stamp: datetime, now: float) -> Optional[Event]:
    """A status-file window: fixed by each deploy, so its SEQUENCE stays 0 (give a changed
    window a new id to make calendars see a new event). Recurring ones repeat by RRULE in the
    page's time zone, as windows.occurrence counts them (same local time across DST)."""
    length = window.end - window.start
    if window.recurrence is None:
        last_end = window.end
    elif window.until is None:
        last_end = float("inf")
    else:
        last_end = window.until + length
    if last_end <= now:
        return None
    tz = _zone(tz_name)
    event = Event()
    event.add("uid", f"window-{window.id}@{host}")
    event.add("sequence", 0)
    event.add("dtstamp", stamp)
    event.add("dtstart", datetime.fromtimestamp(window.start, tz))
    event.add("dtend", datetime.fromtimestamp(window.end, tz))
    if window.recurrence:
        rule = {"freq": _RRULE[window.recurrence]}
        if window.until is not None:
            rule["until"] = datetime.fromtimestamp(window.until, timezone.utc)
        event.add("rrule", rule)
    event.add("summary", f"Maintenance: {window.name or window.id}")
    event.add("status", "CONFIRMED")
    event.add("transp", "TRANSPARENT")
    event.add("url", base + "/")
    affected = [names.get(cid, cid) for cid in window.components]
    if affected:
        event.add("description", "Affects: " + ", ".join(affected))
    return event


def render_ics(snapshot: dict, windows: Iterable = ()) -> bytes:
    """Every upcoming and active maintenance: the API's (in the snapshot) and the status
    file's `windows` (model.MaintenanceWindow). "Now" is when the snapshot was generated, so
    the file is a function of the snapshot and caches with it."""
    page = snapshot.get("page") or {}
    base = (page.get("url") or "").rstrip("/")
    host = host_of(page.get("url") or "")
    extras = common.outpost(snapshot)
    now_dt = _utc(extras.get("generated_at")) or _utc(page.get("updated_at")) \
        or datetime.fromtimestamp(0, timezone.utc)
    sequences = extras.get("maintenance_sequence") or {}
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    # An X- property: the library escapes it as TEXT only when given one (a raw line break in
    # the status file's page name would otherwise break the file or start a new property).
    cal.add("x-wr-calname", vText(f"{page.get('name') or 'Status'}: maintenance"))
    cal.add("x-wr-timezone", page.get("time_zone") or "Etc/UTC")
    items = sorted(snapshot.get("scheduled_maintenances") or (),
                   key=lambda m: (m.get("scheduled_for") or "", m.get("id") or ""))
    for item in items:
        event = _maintenance_event(item, int(sequences.get(item.get("id"), 0)), host, base,
                                   now_dt)
        if event is not None:
            cal.add_component(event)
    names = {(extras.get("components") or {}).get(row["id"], {}).get("key"): row["name"]
             for row in snapshot.get("components") or ()}
    stamp = _utc(page.get("updated_at")) or now_dt
    for window in windows:
        event = _window_event(window, names, page.get("time_zone") or "Etc/UTC", host, base,
                              stamp, now_dt.timestamp())
        if event is not None:
            cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()
