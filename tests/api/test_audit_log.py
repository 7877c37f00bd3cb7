"""The audit log on the real app over moto: every mutation writes an entry in the same
transaction as the change (incidents, maintenance, component pins, subscriber erasure, key mint
and revoke), and GET /api/v1/pages/{page_id}/audit reads them back newest first, filtered,
paged by a cursor, at a bounded cost per request."""
import json
from dataclasses import replace
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from chalicelib.core import audit
from chalicelib.core.audit import iam_actor
from chalicelib.usecases.manage import mint_key, revoke_key
from tests.api.calls import post

BASE = "/api/v1/pages/acme"


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")


def call(client, key, method, path, body=None):
    hdrs = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    resp = getattr(client.http, method.lower())(
        BASE + path, body=json.dumps(body) if body is not None else None, headers=hdrs)
    return resp, json.loads(resp.body) if resp.body else None


def read_all(client, key, **params):
    """Every page, following the cursor; returns (entries, pages)."""
    out, pages, cursor = [], 0, None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        qs = urlencode(query)
        resp, items = call(client, key, "GET", "/audit" + (f"?{qs}" if qs else ""))
        assert resp.status_code == 200, items
        assert resp.headers["Cache-Control"] == "no-store"
        out += items
        pages += 1
        cursor = resp.headers.get("X-Next-Cursor")
        if not cursor:
            assert "Link" not in resp.headers
            return out, pages
        link = resp.headers["Link"]
        assert link.endswith('>; rel="next"')
        assert parse_qs(urlsplit(link[1:-len('>; rel="next"')]).query)["cursor"] == [cursor]
        assert pages < 100


@pytest.fixture
def audited(wired):
    c, client, clock = wired[0], wired[1], wired[2]
    # paging one entry at a time makes many calls within one second of the test clock
    c.override(config=replace(c.config, operations=replace(c.config.operations,
                                                           api_rate_limit=10_000)))
    clock.tick(1)
    writer = mint_key(c, "writer", ["incidents:write", "components:write", "maintenance:write",
                                    "subscribers:read", "subscribers:write"],
                      actor=iam_actor("alice"))
    clock.tick(1)
    reader = mint_key(c, "auditor", ["audit:read"], actor=iam_actor("alice"))
    return c, client, clock, writer, reader


def test_every_mutation_is_audited_and_read_back_newest_first(audited):
    c, client, clock, writer, reader = audited
    writer_id = writer.split("_")[1]
    # the fixture's own key, minted before ours (with the default actor)
    wired_id = next(k.key_id for k in c.store.list_keys() if k.name == "t")
    clock.tick(1)
    resp, inc = call(client, writer, "POST", "/incidents", {"incident": {
        "name": "API errors", "status": "investigating", "body": "Looking."}})
    assert resp.status_code == 201
    clock.tick(1)
    assert call(client, writer, "PATCH", f"/incidents/{inc['id']}",
                {"incident": {"status": "resolved"}})[0].status_code == 200
    clock.tick(1)
    resp, mx = call(client, writer, "POST", "/incidents", {"incident": {
        "name": "DB upgrade", "scheduled_for": iso(clock() + 3600),
        "scheduled_until": iso(clock() + 7200)}})
    assert resp.status_code == 201
    clock.tick(1)
    assert call(client, writer, "PATCH", "/components/api",
                {"component": {"status": "major_outage"}})[0].status_code == 200
    clock.tick(1)
    assert call(client, writer, "PATCH", "/components/api",
                {"component": {"status": None}})[0].status_code == 200
    clock.tick(1)
    resp, sub = post(client, "/api/v1/subscribe", {"email": "someone@example.com"})
    assert resp.status_code == 202, sub
    sub_id = sub["subscriber"]["id"]
    clock.tick(1)
    assert call(client, writer, "DELETE", f"/subscribers/{sub_id}")[0].status_code == 200
    assert c.store.get_subscriber(sub_id) is None
    clock.tick(1)
    temp = mint_key(c, "temporary", ["incidents:write"], actor=iam_actor("bob"))
    temp_id = temp.split("_")[1]
    clock.tick(1)
    assert revoke_key(c, temp_id, actor=iam_actor("bob"))
    assert not revoke_key(c, "nosuchkey2", actor=iam_actor("bob"))     # no entry for this

    entries, _ = read_all(client, reader)
    got = [(e["action"], e["target"]) for e in entries]
    assert got == [
        ("key.revoke", f"key/{temp_id}"),
        ("key.mint", f"key/{temp_id}"),
        ("subscriber.erase", f"subscriber/{sub_id}"),
        ("component.unpin", "component/api"),
        ("component.pin", "component/api"),
        ("incident.create", f"incident/{mx['id']}"),
        ("incident.update", f"incident/{inc['id']}"),
        ("incident.create", f"incident/{inc['id']}"),
        ("key.mint", f"key/{reader.split('_')[1]}"),
        ("key.mint", f"key/{writer_id}"),
        ("key.mint", f"key/{wired_id}"),
    ]
    by_action = {e["action"]: e for e in entries}
    assert by_action["component.pin"]["actor"] == writer_id
    assert by_action["component.pin"]["details"] == {"status": "major_outage", "previous": None}
    assert by_action["component.unpin"]["details"] == {"status": None,
                                                       "previous": "major_outage"}
    assert by_action["key.revoke"]["actor"] == "iam:bob"
    assert entries[1]["details"]["scopes"] == ["incidents:write"]
    assert entries[1]["details"]["name"] == "temporary" and entries[1]["actor"] == "iam:bob"
    # Erasure leaves no trace of the address, not even in the audit log.
    assert "someone@example.com" not in json.dumps(entries)
    assert by_action["subscriber.erase"]["details"]["kind"] == "email"
    # Secrets never reach the log.
    assert temp.split("_", 2)[2] not in json.dumps(entries)
    assert all(e["at"].endswith("Z") for e in entries)

    # Filters: exact action, prefix action, actor, target, time window.
    assert [e["target"] for e in read_all(client, reader, action="component.pin")[0]] == \
        ["component/api"]
    assert {e["action"] for e in read_all(client, reader, action="key.*")[0]} == \
        {"key.mint", "key.revoke"}
    assert {e["action"] for e in read_all(client, reader, actor=writer_id)[0]} == \
        {"incident.create", "incident.update", "component.pin", "component.unpin",
         "subscriber.erase"}
    assert len(read_all(client, reader, target=f"incident/{inc['id']}")[0]) == 2
    assert len(read_all(client, reader, target="incident/*")[0]) == 3
    window = read_all(client, reader, since=entries[6]["at"], until=entries[2]["at"])[0]
    assert [e["id"] for e in window] == [e["id"] for e in entries[3:7]]   # until is exclusive

    # Pages: any limit walks every entry exactly once.
    for limit in (1, 3, 100):
        paged, pages = read_all(client, reader, limit=limit)
        assert [e["id"] for e in paged] == [e["id"] for e in entries]
        assert pages >= len(entries) // limit


def test_scopes_and_bad_queries(audited):
    c, client, clock, writer, reader = audited
    resp, err = call(client, writer, "GET", "/audit")
    assert resp.status_code == 403 and "audit:read" in err["error"]
    for qs, field in (("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"),
                      ("since=yesterday", "since"), ("until=2026-01-01T00:00:00", "until"),
                      ("until=2026-02-30T00:00:00Z", "until"),
                      ("action=" + "a" * 201, "action"), ("target=a%20b", "target"),
                      ("colour=red", "colour"), ("until=", "until"), ("since=", "since"),
                      ("actor=", "actor"), ("limit=", "limit"), ("cursor=", "cursor")):
        resp, err = call(client, reader, "GET", f"/audit?{qs}")
        assert resp.status_code == 400, (qs, err)
        assert err["field"] == field, (qs, err)
    # Whatever the OpenAPI document allows is answered: odd but well-formed times, any cursor,
    # an empty window.
    for qs in ("since=0000-01-01T00:00:00Z", "until=9999-12-31T23:59:60.123456789-23:59",
               "since=2026-02-01T00:00:00z&until=2026-01-01T00:00:00Z", "cursor=%25%25",
               "cursor=0", "cursor=~", "actor=*&action=*&target=*",
               # either end of the range, either bound: no date outside Python's years
               "until=0000-01-01T00:00:00Z", "until=0001-01-01T00:00:00%2B23:59",
               "since=9999-12-31T23:59:59-23:59",
               "since=9999-12-31T23:59:59-23:59&until=9999-12-31T23:59:59-23:59"):
        resp, body = call(client, reader, "GET", f"/audit?{qs}")
        assert resp.status_code == 200 and isinstance(body, list), (qs, body)


def test_a_failed_mutation_leaves_no_entry(audited):
    c, client, clock, writer, reader = audited
    before, _ = read_all(client, reader)
    assert call(client, writer, "PATCH", "/components/nope",
                {"component": {"status": "major_outage"}})[0].status_code == 404
    assert call(client, writer, "DELETE", "/subscribers/nope")[0].status_code == 404
    assert not revoke_key(c, "nosuchkey2", actor=iam_actor("bob"))
    assert read_all(client, reader)[0] == before


def test_each_request_reads_a_bounded_number_of_entries(audited, monkeypatch):
    """A filter that matches nothing still costs at most SCAN_BUDGET entries and
    MONTHS_PER_REQUEST partitions per request; the cursor carries on across months."""
    c, client, clock, writer, reader = audited
    monkeypatch.setattr(audit, "SCAN_BUDGET", 4)
    monkeypatch.setattr(audit, "MONTHS_PER_REQUEST", 2)
    read = []
    original = c.store.audit_rows

    def counted(month, low, high, limit):
        for row in original(month, low, high, limit):
            read.append(month)
            yield row
    monkeypatch.setattr(c.store, "audit_rows", counted)
    for month in range(6):                         # entries spread over six months
        for _ in range(3):
            clock.tick(1)
            assert call(client, writer, "PATCH", "/components/web",
                        {"component": {"status": "degraded_performance"}})[0].status_code == 200
        clock.tick(31 * 86400)
    read.clear()
    found, pages = read_all(client, reader, action="nothing.matches", limit=100)
    assert found == [] and pages > 1
    everything, _ = read_all(client, reader, action="component.pin", limit=100)
    assert len(everything) == 18
    assert len({e["at"][:7] for e in everything}) == 6
    # every page read at most SCAN_BUDGET entries (+1 look-ahead row per partition at most)
    read.clear()
    resp, items = call(client, reader, "GET", "/audit?action=nothing&limit=100")
    assert resp.status_code == 200 and items == [] and len(read) <= 4 + 2
