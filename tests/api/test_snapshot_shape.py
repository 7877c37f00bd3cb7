"""The snapshot's typed view (chalicelib/core/snapview.py) is the truth: a published snapshot,
with an incident, maintenance, a failing component, history and user reports in it, holds no
key its TypedDicts do not declare. A new key must be declared where readers look it up."""
from datetime import datetime, timezone

from chalicelib.core.snapview import ComponentExtras, Extras, Snapshot
from chalicelib.usecases.rounds import run_round
from tests.api.calls import report


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


def test_a_published_snapshot_holds_only_declared_keys(wire, targets):
    api, _ = targets
    for _ in range(2):
        wire.clock.tick(60)
        run_round(wire.c)
        wire.pump()
    resp, _ = wire.call("POST", "/api/v1/pages/acme/incidents", {"incident": {
        "name": "Database upgrade", "scheduled_for": iso(wire.clock() + 30),
        "scheduled_until": iso(wire.clock() + 3600), "component_ids": ["api"]}})
    assert resp.status_code == 201
    resp, _ = wire.call("POST", "/api/v1/pages/acme/incidents", {"incident": {
        "name": "Slow checkout", "status": "investigating", "body": "Looking into it"}})
    assert resp.status_code == 201
    assert report(wire.client, {"component": "api", "kind": "down"})[0].status_code == 202
    api.behaviour = "fail"
    for _ in range(3):
        wire.clock.tick(60)
        run_round(wire.c)
        wire.pump()
    doc, _ = wire.c.store.load_snapshot()[:2]

    assert set(doc) <= set(Snapshot.__annotations__), set(doc) - set(Snapshot.__annotations__)
    extras = doc["outpost"]
    assert set(extras) <= set(Extras.__annotations__), set(extras) - set(Extras.__annotations__)
    for cid, component in extras["components"].items():
        undeclared = set(component) - set(ComponentExtras.__annotations__)
        assert not undeclared, (cid, undeclared)
    # and the check is not vacuous: the document carries what the page is built from
    assert {"uptime", "response_times", "components", "stale"} <= set(extras)
    assert doc["incidents"] and doc["scheduled_maintenances"]
