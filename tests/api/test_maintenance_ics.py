"""`/maintenance.ics` on the real app over moto: maintenance scheduled through the operator
API comes back out as an RFC 5545 calendar that the icalendar library parses and that keeps
the rules calendar apps rely on (stable UID, SEQUENCE bumped by every update, DTSTAMP, CRLF
lines of at most 75 octets), cached like the other public routes."""
import json
import re
from dataclasses import replace
from datetime import datetime, timezone

import icalendar

from chalicelib.core.config import load_status_text
from chalicelib.usecases.manage import mint_key
from tests.api.conftest import acme_status
from tests.statusfiles import ACME

BASE = "/api/v1/pages/acme"
OPS = ["incidents:write", "maintenance:write"]


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


def call(client, key, method, path, body=None, **headers):
    resp = getattr(client.http, method.lower())(
        BASE + path, body=json.dumps(body) if body is not None else None,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}",
                 **headers})
    return resp, json.loads(resp.body) if resp.body else None


def fetch(client, **headers):
    return client.http.get("/maintenance.ics", headers=headers)


def strict_lines(raw: bytes) -> list[bytes]:
    """RFC 5545 3.1: content lines end in CRLF and are at most 75 octets, continuation lines
    start with one space; nothing but CRLF ends a line."""
    assert raw.endswith(b"\r\n")
    lines = raw[:-2].split(b"\r\n")
    for line in lines:
        assert b"\n" not in line and b"\r" not in line, line
        assert len(line) <= 75, (len(line), line)
    return lines


def events(raw: bytes) -> dict:
    cal = icalendar.Calendar.from_ical(raw)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def schedule(client, key, clock, name, start_in=3600, length=7200, body="Upgrading."):
    resp, doc = call(client, key, "POST", "/incidents", {"incident": {
        "name": name, "scheduled_for": iso(clock() + start_in),
        "scheduled_until": iso(clock() + start_in + length), "component_ids": ["api"],
        "body": body}})
    assert resp.status_code == 201, doc
    return doc


def test_calendar_parses_keeps_uid_and_bumps_sequence(stack):
    c, client, clock, *_ = stack
    key = mint_key(c, "ops", OPS)
    hostile = 'Move; db, "primary" \\ with a very long name ' + "x" * 120
    doc = schedule(client, key, clock, hostile,
                   body="Line one\nLine two; with, commas and \\ backslash\r\nÜber 日本語 " * 5)

    first = fetch(client)
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "max-age" in first.headers["Cache-Control"]
    assert "stale-if-error" in first.headers["Cache-Control"]
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    lines = strict_lines(first.body)
    assert lines[0] == b"BEGIN:VCALENDAR" and lines[-1] == b"END:VCALENDAR"
    # A folded line is continued by exactly one leading space (what the library emits).
    assert any(line.startswith(b" ") for line in lines)

    found = events(first.body)
    uid = f"maintenance-{doc['id']}@status.acme.example"
    assert list(found) == [uid]
    ev = found[uid]
    assert str(ev["SUMMARY"]) == f"Maintenance: {hostile}"          # escaped, then unescaped
    assert "Line two; with, commas and \\ backslash" in str(ev["DESCRIPTION"])
    assert "Über 日本語" in str(ev["DESCRIPTION"])
    assert int(ev["SEQUENCE"]) == 0
    assert str(ev["STATUS"]) == "CONFIRMED"
    assert str(ev["URL"]) == f"https://status.acme.example/incidents/{doc['id']}"
    assert ev.decoded("DTSTART") == datetime.fromtimestamp(clock() + 3600, timezone.utc)
    assert ev.decoded("DTEND") == datetime.fromtimestamp(clock() + 3600 + 7200, timezone.utc)
    assert ev.decoded("DTSTAMP").tzinfo is not None                  # UTC, as 3.8.7.2 asks

    # Conditional GET: same ETag, 304.
    etag = first.headers["ETag"]
    assert fetch(client, **{"If-None-Match": etag}).status_code == 304

    # Every update bumps SEQUENCE, even one that adds no public update (a reschedule); the
    # UID stays.
    seqs = [0]
    clock.tick(60)
    resp, _ = call(client, key, "PATCH", f"/incidents/{doc['id']}", {"incident": {
        "scheduled_until": iso(clock() + 3 * 3600)}})
    assert resp.status_code == 200
    clock.tick(60)
    resp, _ = call(client, key, "PATCH", f"/incidents/{doc['id']}", {"incident": {
        "body": "Now with a second step."}})
    assert resp.status_code == 200
    second = fetch(client)
    assert second.headers["ETag"] != etag
    strict_lines(second.body)
    ev2 = events(second.body)[uid]
    seqs.append(int(ev2["SEQUENCE"]))
    assert seqs == [0, 2]
    assert ev2.decoded("DTSTAMP") > ev.decoded("DTSTAMP")
    assert ev2.decoded("DTEND") == datetime.fromtimestamp(clock() - 60 + 3 * 3600, timezone.utc)
    assert "Now with a second step." in str(ev2["DESCRIPTION"])

    # Started by the clock, it is active and still listed (and bumped once more).
    clock.tick(3600)
    resp, _ = call(client, key, "PATCH", f"/incidents/{doc['id']}", {"incident": {
        "status": "in_progress"}})
    assert resp.status_code == 200
    ev3 = events(fetch(client).body)[uid]
    assert int(ev3["SEQUENCE"]) == 3 and str(ev3["STATUS"]) == "CONFIRMED"

    # Done: no longer upcoming or active, so it leaves the calendar.
    resp, _ = call(client, key, "PATCH", f"/incidents/{doc['id']}", {"incident": {
        "status": "completed"}})
    assert resp.status_code == 200
    assert events(fetch(client).body) == {}


def test_called_off_maintenance_is_cancelled_until_its_planned_end(stack):
    c, client, clock, *_ = stack
    key = mint_key(c, "ops", OPS)
    doc = schedule(client, key, clock, "Network swap", start_in=7200)
    resp, _ = call(client, key, "PATCH", f"/incidents/{doc['id']}", {"incident": {
        "status": "completed", "body": "Called off: no longer needed."}})
    assert resp.status_code == 200
    ev = events(fetch(client).body)[f"maintenance-{doc['id']}@status.acme.example"]
    assert str(ev["STATUS"]) == "CANCELLED" and int(ev["SEQUENCE"]) == 1


def test_status_file_windows_repeat_in_the_page_time_zone(stack):
    c, client, clock, *_ = stack
    text = acme_status(page={**ACME, "time_zone": "Europe/Berlin"}, maintenance=[
        {"id": "sunday-backup", "name": "Weekly backup", "components": ["api"],
         "start": "2026-05-31T02:00:00", "duration": "2h", "recurrence": "weekly"},
        {"id": "old-one", "components": ["web"], "start": "2020-01-01T00:00:00Z",
         "duration": "1h"}])
    cfg = load_status_text(text, "test.yaml", {"TARGET": "http://127.0.0.1:9", "OTHER":
                                               "http://127.0.0.1:9"})
    c.override(config=cfg)
    c.public_cache.invalidate()
    from chalicelib.usecases.manage import republish
    republish(c)
    raw = fetch(client).body
    strict_lines(raw)
    found = events(raw)
    assert list(found) == ["window-sunday-backup@status.acme.example"]      # the past one is gone
    ev = found["window-sunday-backup@status.acme.example"]
    assert ev["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert ev.decoded("DTSTART").hour == 2
    assert str(ev["RRULE"].to_ical().decode()) == "FREQ=WEEKLY"
    assert "API" in str(ev["DESCRIPTION"])
    cal = icalendar.Calendar.from_ical(raw)
    assert [str(t["TZID"]) for t in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]


def test_the_page_links_to_the_calendar(stack):
    _, client, *_ = stack
    html = client.http.get("/").body.decode()
    assert re.search(r'href="[^"]*maintenance\.ics"', html)


def test_page_name_with_line_breaks_stays_one_escaped_property(stack):
    # X-WR-CALNAME is an X- property: the library only escapes it when told it is TEXT.
    c, client, *_ = stack
    page = replace(c.config.page, name="Acme\r\nMETHOD:CANCEL\rBEGIN:VALARM")
    c.override(config=replace(c.config, page=page))
    resp = fetch(client)
    assert resp.status_code == 200
    strict_lines(resp.body)
    cal = icalendar.Calendar.from_ical(resp.body)
    assert "METHOD" not in cal
    assert str(cal["X-WR-CALNAME"]).startswith("Acme")

