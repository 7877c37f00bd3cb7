"""Operator API on the real Chalice app over moto: auth, scopes, incidents, races, retries."""
import json
import threading

import pytest

from chalicelib.usecases.manage import mint_key
from tests.api.calls import ALL, BASE


@pytest.fixture
def op(stack):
    c, client, clock, *_ = stack
    key = mint_key(c, "test", ALL)
    return Operator(client, key), c, clock


class Operator:
    def __init__(self, client, key):
        self.client, self.key = client, key

    def call(self, method, path, body=None, key=None, raw=None, **headers):
        hdrs = {"Content-Type": "application/json", **headers}
        if key is not False:
            hdrs["Authorization"] = f"Bearer {key or self.key}"
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        resp = getattr(self.client.http, method.lower())(BASE + path, body=data, headers=hdrs)
        return resp, (json.loads(resp.body) if resp.body else None)


def open_incident(op, **fields):
    body = {"incident": {"name": "API errors", "status": "investigating",
                         "body": "We are looking into elevated errors.", **fields}}
    return op.call("POST", "/incidents", body)


ROUTES = [("GET", "/incidents"), ("POST", "/incidents"), ("GET", "/incidents/abc"),
          ("PATCH", "/incidents/abc"), ("DELETE", "/incidents/abc"), ("GET", "/components"),
          ("PATCH", "/components/api"), ("GET", "/incidents/unresolved")]


@pytest.mark.parametrize("method, path", ROUTES)
def test_every_operator_route_needs_a_valid_key(op, method, path):
    o, c, clock = op
    body = {"incident": {"name": "x"}}
    resp, err = o.call(method, path, body, key=False)
    assert resp.status_code == 401 and "API key" in err["error"]
    resp, err = o.call(method, path, body, key="op_aaaaaaaaaa_" + "x" * 43)
    assert resp.status_code == 401 and err["error"] == "invalid API key"
    prefix = o.key.rsplit("_", 1)[0]
    resp, err = o.call(method, path, body, key=prefix + "_" + "y" * 43)   # right id, wrong secret
    assert resp.status_code == 401


def test_oauth_scheme_is_accepted_like_statuspage(op):
    o, *_ = op
    resp, _ = o.call("GET", "/incidents", Authorization=f"OAuth {o.key}")
    assert resp.status_code == 200


def test_revoked_and_expired_keys_are_401(op):
    o, c, clock = op
    expiring = mint_key(c, "short", ["incidents:write"], expires_at=clock() + 10)
    assert o.call("GET", "/incidents", key=expiring)[0].status_code == 200
    clock.tick(60)                                   # past expiry and the key cache
    resp, err = o.call("GET", "/incidents", key=expiring)
    assert resp.status_code == 401 and err["error"] == "API key expired"
    revoked = mint_key(c, "gone", ["incidents:write"])
    c.store.revoke_key(revoked.split("_")[1], clock())
    resp, err = o.call("GET", "/incidents", key=revoked)
    assert resp.status_code == 401 and err["error"] == "API key revoked"


@pytest.mark.parametrize("method, path, scope", [
    ("POST", "/incidents", "incidents:write"), ("PATCH", "/incidents/abc", "incidents:write"),
    ("DELETE", "/incidents/abc", "incidents:write"), ("PATCH", "/components/api", "components:write"),
])
def test_missing_scope_is_403(op, method, path, scope):
    o, c, clock = op
    reader = mint_key(c, "reader", ["subscribers:read"])
    resp, err = o.call(method, path, {"incident": {"name": "x"}}, key=reader)
    assert resp.status_code == 403 and scope in err["error"]


def test_keys_are_never_stored_in_clear(op):
    o, c, _ = op
    secret = o.key.split("_", 2)[2]
    for row in c.store.KeyRow.scan():
        assert secret not in json.dumps(row.attribute_values, default=str)


def test_create_get_update_resolve_shows_on_the_page(op):
    o, c, clock = op
    resp, inc = open_incident(o, components={"api": "partial_outage"})
    assert resp.status_code == 201 and resp.headers["ETag"] == '"1"'
    assert inc["status"] == "investigating" and inc["impact"] == "major"
    assert inc["incident_updates"][0]["body"] == "We are looking into elevated errors."
    affected = inc["incident_updates"][0]["affected_components"]
    assert affected[0]["new_status"] == "partial_outage" and affected[0]["name"] == "API"
    summary = json.loads(o.client.http.get("/api/v2/summary.json").body)
    assert [i["id"] for i in summary["incidents"]] == [inc["id"]]
    api = next(x for x in summary["components"] if x["name"] == "API")
    assert api["status"] == "partial_outage"
    assert summary["status"]["indicator"] == "major"

    resp, got = o.call("GET", f"/incidents/{inc['id']}")
    assert resp.status_code == 200 and got["name"] == "API errors"
    resp, upd = o.call("PATCH", f"/incidents/{inc['id']}",
                       {"incident": {"status": "monitoring", "body": "Fix deployed."}},
                       **{"If-Match": '"1"'})
    assert resp.status_code == 200 and resp.headers["ETag"] == '"2"'
    assert [u["status"] for u in upd["incident_updates"]] == ["monitoring", "investigating"]
    assert upd["monitoring_at"] is not None
    resp, done = o.call("PATCH", f"/incidents/{inc['id']}", {"incident": {"status": "resolved"}})
    assert done["resolved_at"] is not None
    summary = json.loads(o.client.http.get("/api/v2/summary.json").body)
    assert summary["incidents"] == []
    api = next(x for x in summary["components"] if x["name"] == "API")
    assert api["status"] == "operational"                 # the incident's override ended
    history = json.loads(o.client.http.get("/api/v2/incidents.json").body)["incidents"]
    assert history[0]["status"] == "resolved" and len(history[0]["incident_updates"]) == 3


def test_stale_if_match_is_412_and_nothing_is_lost(op):
    o, *_ = op
    _, inc = open_incident(o)
    path = f"/incidents/{inc['id']}"
    assert o.call("PATCH", path, {"incident": {"body": "first"}}, **{"If-Match": '"1"'})[0].status_code == 200
    resp, err = o.call("PATCH", path, {"incident": {"body": "second"}}, **{"If-Match": '"1"'})
    assert resp.status_code == 412 and resp.headers["ETag"] == '"2"'
    _, now = o.call("GET", path)
    assert [u["body"] for u in now["incident_updates"]][:1] == ["first"]


@pytest.fixture
def atomic_dynamo(monkeypatch):
    """DynamoDB applies each call (a transaction included) atomically; moto checks conditions and
    writes in separate Python steps, and undoes a cancelled transaction by restoring a copy of
    the table, which can wipe a racer's write. One lock per call restores the service's
    atomicity, so these races test our conditions, not moto's threading (flaked ~1 in 15)."""
    from moto.dynamodb.responses import DynamoHandler
    lock, original = threading.RLock(), DynamoHandler.call_action

    def call_action(self):
        with lock:
            return original(self)
    monkeypatch.setattr(DynamoHandler, "call_action", call_action)


def _race(n, fn):
    """Run fn(i) on n threads released at once. Chalice's app.current_request is one global (a
    Lambda serves one request at a time), so races are driven at the use-case layer."""
    barrier = threading.Barrier(n)
    out = [None] * n

    def run(i):
        barrier.wait()
        try:
            out[i] = ("ok", fn(i))
        except Exception as exc:            # noqa: BLE001 - the outcome is what we compare
            out[i] = (type(exc).__name__, exc)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return out


def test_concurrent_patches_with_the_same_version_one_wins(op, atomic_dynamo):
    from chalicelib.usecases import manage
    o, c, _ = op
    _, inc = open_incident(o)
    texts = ["alpha", "beta", "gamma"]
    outcomes = _race(3, lambda i: manage.update_incident(
        c, inc["id"], {"incident": {"body": texts[i]}}, manage.Actor("k", f"r{i}"), if_match=1))
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["PreconditionFailed", "PreconditionFailed", "ok"]
    winner = texts[next(i for i, (kind, _) in enumerate(outcomes) if kind == "ok")]
    _, now = o.call("GET", f"/incidents/{inc['id']}")
    assert [u["body"] for u in now["incident_updates"]] == [winner, inc["incident_updates"][0]["body"]]


def test_concurrent_patches_without_if_match_all_land(op, atomic_dynamo):
    """No If-Match: each PATCH is re-applied on the newest version, none is lost."""
    from chalicelib.usecases import manage
    o, c, _ = op
    _, inc = open_incident(o)
    _race(3, lambda i: manage.update_incident(c, inc["id"], {"incident": {"body": f"u{i}"}},
                                              manage.Actor("k", f"r{i}")))
    _, now = o.call("GET", f"/incidents/{inc['id']}")
    assert sorted(u["body"] for u in now["incident_updates"][:3]) == ["u0", "u1", "u2"]
    assert o.call("GET", f"/incidents/{inc['id']}")[0].headers["ETag"] == '"4"'


def test_idempotency_key_returns_the_first_result(op):
    o, c, _ = op
    body = {"incident": {"name": "Once", "body": "only once"}}
    r1, a = o.call("POST", "/incidents", body, **{"Idempotency-Key": "abc-1"})
    r2, b = o.call("POST", "/incidents", body, **{"Idempotency-Key": "abc-1"})
    assert r1.status_code == r2.status_code == 201 and a["id"] == b["id"]
    assert r2.headers["Idempotent-Replayed"] == "true"
    listed = o.call("GET", "/incidents")[1]
    assert [i["name"] for i in listed] == ["Once"]
    r3, err = o.call("POST", "/incidents", {"incident": {"name": "Other"}},
                     **{"Idempotency-Key": "abc-1"})
    assert r3.status_code == 422 and err["field"] == "Idempotency-Key"


def test_concurrent_idempotent_posts_create_one_incident(op, atomic_dynamo):
    from chalicelib.usecases import manage
    o, c, _ = op
    body = {"incident": {"name": "Race", "body": "x"}}
    outcomes = _race(4, lambda i: manage.create_incident(c, body, manage.Actor("k1", f"r{i}"),
                                                         "race-key"))
    kinds = {kind for kind, _ in outcomes}
    assert kinds <= {"ok", "IdempotencyInFlight"} and "ok" in kinds
    ids = {result[0]["id"] for kind, result in outcomes if kind == "ok"}
    assert len(ids) == 1
    assert [i["name"] for i in o.call("GET", "/incidents")[1]] == ["Race"]


@pytest.mark.parametrize("body, status, field", [
    ({"incident": {}}, 422, "incident.name"),
    ({"incident": {"name": "x", "status": "exploded"}}, 422, "incident.status"),
    ({"incident": {"name": "x", "colour": "red"}}, 422, "incident.colour"),
    ({"incident": {"name": "x", "components": {"nope": "major_outage"}}}, 422,
     "incident.components.nope"),
    ({"incident": {"name": "x", "components": {"api": "on_fire"}}}, 422, "incident.components.api"),
    ({"incident": {"name": "x", "scheduled_for": "2026-01-01T10:00:00Z"}}, 422,
     "incident.scheduled_until"),
    ({"incident": {"name": "x", "scheduled_for": "tomorrow", "scheduled_until": "later"}}, 422,
     "incident.scheduled_for"),
    ({"name": "x"}, 422, "incident"),
    ([1, 2], 422, "incident"),
])
def test_bad_input_is_a_clear_4xx(op, body, status, field):
    o, *_ = op
    resp, err = o.call("POST", "/incidents", body)
    assert resp.status_code == status and err["field"] == field, err


def test_malformed_json_and_oversized_bodies(op):
    o, *_ = op
    resp, err = o.call("POST", "/incidents", raw="{not json")
    assert resp.status_code == 400 and "not valid JSON" in err["error"]
    resp, err = o.call("POST", "/incidents", {"incident": {"name": "x", "body": "y" * 70_000}})
    assert resp.status_code == 413


def test_unknown_ids_are_404(op):
    o, *_ = op
    assert o.call("GET", "/incidents/nosuchthing")[0].status_code == 404
    assert o.call("PATCH", "/components/nosuch", {"component": {"status": "major_outage"}})[0].status_code == 404
    resp = o.client.http.get("/api/v1/pages/other/incidents",
                             headers={"Authorization": f"Bearer {o.key}"})
    assert resp.status_code == 404


def test_component_override_holds_until_cleared(op):
    o, c, clock = op
    resp, comp = o.call("PATCH", "/components/api", {"component": {"status": "under_maintenance"}})
    assert resp.status_code == 200 and comp["status"] == "under_maintenance" and comp["overridden"]
    summary = json.loads(o.client.http.get("/api/v2/components.json").body)
    assert next(x for x in summary["components"] if x["name"] == "API")["status"] == "under_maintenance"
    resp, comp = o.call("PATCH", f"/components/{comp['id']}", {"component": {"status": None}})
    assert comp["status"] == "operational" and not comp["overridden"]
    resp, err = o.call("PATCH", "/components/api", {"component": {"status": "bad"}})
    assert resp.status_code == 422 and err["field"] == "component.status"


def test_delete_hides_the_incident_and_audits_it(op):
    o, c, clock = op
    _, inc = open_incident(o)
    resp, _ = o.call("DELETE", f"/incidents/{inc['id']}")
    assert resp.status_code == 200
    assert o.call("GET", f"/incidents/{inc['id']}")[0].status_code == 404
    assert json.loads(o.client.http.get("/api/v2/incidents.json").body)["incidents"] == []
    from datetime import datetime, timezone
    month = datetime.fromtimestamp(clock(), timezone.utc).strftime("%Y-%m")
    actions = [e["action"] for e in c.store.recent_audit(month)
               if e["action"].startswith("incident.")]                 # the key's mint is too
    assert sorted(actions) == ["incident.create", "incident.delete"]   # same test-clock instant


def test_html_payloads_are_stored_as_typed(op):
    o, *_ = op
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    _, inc = open_incident(o, name=evil, body=evil)
    _, got = o.call("GET", f"/incidents/{inc['id']}")
    assert got["name"] == evil and got["incident_updates"][0]["body"] == evil


def test_scheduled_maintenance_starts_and_completes_by_itself(op):
    o, c, clock = op
    from datetime import datetime, timezone

    def iso(t):
        return datetime.fromtimestamp(t, timezone.utc).isoformat()
    resp, mx = o.call("POST", "/incidents", {"incident": {
        "name": "DB upgrade", "scheduled_for": iso(clock() + 120),
        "scheduled_until": iso(clock() + 600), "component_ids": ["api"]}})
    assert resp.status_code == 201 and mx["status"] == "scheduled" and mx["impact"] == "maintenance"
    upcoming = json.loads(o.client.http.get("/api/v2/scheduled-maintenances/upcoming.json").body)
    assert [m["id"] for m in upcoming["scheduled_maintenances"]] == [mx["id"]]
    from app import run_checks
    from chalice.local import LambdaContext
    from chalice.test import Client
    events = o.client.events

    def tick(seconds):
        clock.tick(seconds)
        # the deployed timeout (chalice.test's context gives 3 s, less than housekeeping's
        # reserve, and housekeeping starts and ends the maintenance)
        run_checks(events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]),
            LambdaContext("run_checks", 512, max_runtime_ms=60_000))
        clock.tick(6)
    tick(180)
    active = json.loads(o.client.http.get("/api/v2/scheduled-maintenances/active.json").body)
    assert [m["status"] for m in active["scheduled_maintenances"]] == ["in_progress"]
    comps = json.loads(o.client.http.get("/api/v2/components.json").body)["components"]
    assert next(x for x in comps if x["name"] == "API")["status"] == "under_maintenance"
    tick(600)
    all_mx = json.loads(o.client.http.get("/api/v2/scheduled-maintenances.json").body)
    assert all_mx["scheduled_maintenances"][0]["status"] == "completed"
    comps = json.loads(o.client.http.get("/api/v2/components.json").body)["components"]
    assert next(x for x in comps if x["name"] == "API")["status"] == "operational"


def test_rate_limit_per_key_is_429_with_retry_after(op):
    o, c, clock = op
    from dataclasses import replace
    c.override(config=replace(c.config, operations=replace(c.config.operations, api_rate_limit=3)))
    codes = [o.call("GET", "/incidents")[0] for _ in range(5)]       # same test-clock second
    assert [r.status_code for r in codes] == [200, 200, 200, 429, 429]
    assert codes[3].headers["Retry-After"] == "1"
    clock.tick(1)
    assert o.call("GET", "/incidents")[0].status_code == 200


def test_writers_that_keep_losing_get_the_409s_they_always_got(op, monkeypatch):
    """Regression (issue 11's retry_on_conflict): the 409 bodies named the busy thing in their
    own words ("the incident feed is busy", "component overrides are changing fast"); the
    helper's generic "<what> is changing fast" changed one and broke the grammar of the other."""
    from chalicelib.core.errors import Conflict, FeedChanged
    o, c, _ = op

    def overrides_lost(*a, **k):
        raise Conflict("overrides")
    monkeypatch.setattr(c.store, "save_overrides", overrides_lost)
    resp, err = o.call("PATCH", "/components/api", {"component": {"status": "major_outage"}})
    assert (resp.status_code, err, resp.headers["Retry-After"]) == (
        409, {"error": "component overrides are changing fast; retry in a moment"}, "1")

    def feed_lost(*a, **k):
        raise FeedChanged("incident feed")
    monkeypatch.setattr(c.store, "write_incident", feed_lost)
    monkeypatch.setattr("time.sleep", lambda s: None)
    resp, err = open_incident(o)
    assert (resp.status_code, err, resp.headers["Retry-After"]) == (
        409, {"error": "the incident feed is busy; retry in a moment"}, "1")
