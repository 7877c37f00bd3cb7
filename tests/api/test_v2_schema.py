"""Every Statuspage v2 endpoint against a strict schema, on the real app over moto.

Pages: before any check, after check rounds (with a group), and with incidents of several
updates plus maintenance in every state, made by the real incident lifecycle
(chalicelib.core.incidents) and snapshot builder, then served by the real routes.
"""
import copy
import json
from datetime import datetime

import jsonschema

from chalicelib.core import incidents as lifecycle
from chalicelib.core.snapshot import build_snapshot, iso_ms, public_id
from chalicelib.usecases.rounds import run_round
from tests.api.v2_schema import ENDPOINTS

VALIDATORS = {name: jsonschema.Draft202012Validator(schema) for name, schema in ENDPOINTS.items()}


def fetch_all(client) -> dict:
    out = {}
    for name in ENDPOINTS:
        resp = client.http.get(f"/api/v2/{name}.json")
        assert resp.status_code == 200, name
        out[name] = json.loads(resp.body)
    return out


def when(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def check(bodies: dict) -> None:
    for name, body in bodies.items():
        errors = sorted(VALIDATORS[name].iter_errors(body), key=lambda e: list(e.path))
        assert not errors, f"{name}: " + "; ".join(
            f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5])
    _check_semantics(bodies)


def _check_semantics(bodies: dict) -> None:
    """What a schema can't say: references resolve, lists are newest first, views agree."""
    summary = bodies["summary"]
    page = summary["page"]
    assert all(b["page"] == page for b in bodies.values())
    rows = {r["id"]: r for r in summary["components"]}
    assert bodies["components"]["components"] == summary["components"]
    for row in rows.values():
        if row["group"]:
            assert all(rows[c]["group_id"] == row["id"] and not rows[c]["group"]
                       for c in row["components"])
        elif row["group_id"]:
            assert row["id"] in rows[row["group_id"]]["components"]
    for key in ("incidents", "scheduled_maintenances"):
        for body in bodies.values():
            items = body.get(key, [])
            for item in items:
                assert item["page_id"] == page["id"]
                stamps = [when(u["created_at"]) for u in item["incident_updates"]]
                assert stamps == sorted(stamps, reverse=True), "updates must be newest first"
                assert item["incident_updates"][0]["status"] == item["status"]
                for u in item["incident_updates"]:
                    assert u["incident_id"] == item["id"]
                    for a in u["affected_components"] or ():
                        assert a["code"] in rows and a["name"] == rows[a["code"]]["name"]
    created = [when(i["created_at"]) for i in bodies["incidents"]["incidents"]]
    assert created == sorted(created, reverse=True), "incidents must be newest first"
    assert summary["incidents"] == bodies["incidents/unresolved"]["incidents"]
    assert summary["scheduled_maintenances"] == (
        bodies["scheduled-maintenances/active"]["scheduled_maintenances"]
        + bodies["scheduled-maintenances/upcoming"]["scheduled_maintenances"])


def publish_with_incidents(c, clock) -> list:
    """Incidents and maintenance through the real lifecycle, published with the real builder."""
    known = {}
    for comp in c.config.components:
        known[comp.id] = comp.id
        known[public_id(c.config.page.id, "component", comp.id)] = comp.id
    t = clock()

    def create(body, at):
        return lifecycle.create({"incident": body}, known, at, lifecycle.new_id())

    def patch(doc, body, at):
        return lifecycle.update(doc, {"incident": body}, known, at)

    outage = create({"name": "API errors", "body": "Investigating **errors**.",
                     "components": {"api": "major_outage"}}, t - 3600)
    outage = patch(outage, {"status": "identified", "body": "Found a bad deploy."}, t - 2400)
    outage = patch(outage, {"status": "monitoring", "components": {"api": "degraded_performance"}},
                   t - 1200)
    old = create({"name": "Slow website", "component_ids": ["web"]}, t - 86400)
    old = patch(old, {"status": "resolved", "body": "Fixed."}, t - 80000)
    old = patch(old, {"status": "postmortem", "body": "Root cause: a full disk."}, t - 70000)
    quiet = create({"name": "Partner API blip", "impact_override": "none"}, t - 300)

    def window(start, hours):
        return {"scheduled_for": iso_ms(t + start), "scheduled_until": iso_ms(t + start + hours * 3600)}
    upcoming = create({"name": "Database upgrade", "component_ids": ["api"], **window(86400, 2)},
                      t - 7200)
    running = create({"name": "Network work", "component_ids": ["web"], **window(-600, 1)},
                     t - 86400)
    running = patch(running, {"status": "in_progress"}, t - 600)
    running = patch(running, {"status": "verifying", "body": "Checking."}, t - 60)
    done = create({"name": "Old maintenance", **window(-3 * 86400, 1)}, t - 5 * 86400)
    done = patch(done, {"status": "in_progress"}, t - 3 * 86400)
    done = patch(done, {"status": "completed"}, t - 3 * 86400 + 3600)
    docs = [outage, old, quiet, upcoming, running, done]

    states, _ = c.store.load_component_states()
    snap = build_snapshot(c.config, states, t, t - 10, incident_docs=tuple(docs))
    _, version = c.store.load_snapshot(consistent=True)
    c.store.save_snapshot(snap, version, t)
    clock.tick(6)
    return docs


def test_empty_page_before_any_check(stack):
    c, client, clock, *_ = stack
    bodies = fetch_all(client)
    check(bodies)
    assert bodies["incidents"]["incidents"] == []
    assert bodies["scheduled-maintenances"]["scheduled_maintenances"] == []


def test_after_rounds_with_a_group_and_an_outage(stack):
    c, client, clock, api_target, _ = stack
    api_target.behaviour = "fail"
    for _ in range(2):
        clock.tick(60)
        run_round(c)
    clock.tick(6)
    bodies = fetch_all(client)
    check(bodies)
    groups = [r for r in bodies["components"]["components"] if r["group"]]
    assert [g["name"] for g in groups] == ["Core"] and groups[0]["status"] == "major_outage"
    assert bodies["status"]["status"]["indicator"] in ("major", "critical")


def test_incidents_with_several_updates_and_maintenance_in_every_state(stack):
    c, client, clock, *_ = stack
    clock.tick(60)
    run_round(c)
    publish_with_incidents(c, clock)
    bodies = fetch_all(client)
    check(bodies)
    names = [i["name"] for i in bodies["incidents"]["incidents"]]
    assert names == ["Partner API blip", "API errors", "Slow website"]
    outage = bodies["incidents"]["incidents"][1]
    assert [u["status"] for u in outage["incident_updates"]] == ["monitoring", "identified",
                                                                "investigating"]
    assert outage["monitoring_at"] is not None and outage["resolved_at"] is None
    assert [i["name"] for i in bodies["incidents/unresolved"]["incidents"]] == [
        "Partner API blip", "API errors"]
    assert [m["name"] for m in bodies["scheduled-maintenances/upcoming"]["scheduled_maintenances"]] \
        == ["Database upgrade"]
    assert [m["name"] for m in bodies["scheduled-maintenances/active"]["scheduled_maintenances"]] \
        == ["Network work"]
    assert len(bodies["scheduled-maintenances"]["scheduled_maintenances"]) == 3


BREAKAGES = {
    "drop nullable field": ("incidents", lambda b: b["incidents"][0].pop("resolved_at")),
    "bad timestamp": ("incidents", lambda b: b["incidents"][0].__setitem__(
        "created_at", "2026-05-28T20:26:40Z")),
    "offset-less timestamp": ("status", lambda b: b["page"].__setitem__(
        "updated_at", "2026-05-28T20:26:40.000")),
    "extra key": ("status", lambda b: b["status"].__setitem__("extra", 1)),
    "bad id": ("components", lambda b: b["components"][1].__setitem__("id", "API")),
    "bad enum": ("components", lambda b: b["components"][1].__setitem__("status", "down")),
    "null where a list belongs": ("incidents", lambda b: b["incidents"][0].__setitem__(
        "incident_updates", None)),
    "resolved in unresolved": ("incidents/unresolved", lambda b: b["incidents"][0].__setitem__(
        "status", "resolved")),
    "completed in upcoming": ("scheduled-maintenances/upcoming",
                              lambda b: b["scheduled_maintenances"][0].__setitem__(
                                  "status", "completed")),
    "maintenance without a window": ("scheduled-maintenances", lambda b: b[
        "scheduled_maintenances"][0].pop("scheduled_until")),
    "group without children": ("components", lambda b: b["components"][0].__setitem__(
        "components", [])),
}


def test_the_schema_is_strict(stack):
    """Each deliberate breakage of a real response must be caught."""
    c, client, clock, *_ = stack
    clock.tick(60)
    run_round(c)
    publish_with_incidents(c, clock)
    bodies = fetch_all(client)
    for breakage, (name, mutate) in BREAKAGES.items():
        assert VALIDATORS[name].is_valid(bodies[name]), name
        broken = copy.deepcopy(bodies[name])
        mutate(broken)
        assert not VALIDATORS[name].is_valid(broken), breakage
