"""Maintenance scheduled through the operator API silences its components exactly as a
status-file window does: real check rounds against broken targets on 127.0.0.1 open no
auto-incident, send no component notification and no operator alert for them, while a
component outside the maintenance still does all three."""
import json
from datetime import datetime, timezone

from chalicelib.usecases.fanout import flush_component_updates
from chalicelib.usecases.manage import Actor, advance_maintenance
from chalicelib.usecases.rounds import run_round


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


def rounds(wire, n):
    for _ in range(n):
        wire.clock.tick(60)
        run_round(wire.c)
        wire.pump()
        wire.pump()                      # component event -> auto-incident -> its update


def states(wire):
    return {k: s.status.value for k, s in wire.c.store.load_component_states()[0].items()}


def open_incidents(wire):
    _, docs = wire.call("GET", "/api/v1/pages/acme/incidents")
    return sorted(d["name"] for d in docs if d["status"] in ("investigating", "identified"))


def component_hooks(rec):
    return sorted((b["component"]["name"], b["component_update"]["new_status"])
                  for b in rec.bodies if "component_update" in b)


def failing_alerts(messages, name):
    return [m for m in messages if name in m and ("outage" in m or "by itself" in m
                                                  or "degraded" in m)]


def test_api_maintenance_silences_its_components_and_only_those(wire, targets):
    api, web = targets
    hook = wire.receiver()
    assert wire.client.http.post("/api/v1/subscribe", body=json.dumps({"webhook": hook.url}),
                                 headers={"Content-Type": "application/json"}).status_code == 202
    wire.deliver()                                            # it answers its challenge
    rounds(wire, 2)
    assert states(wire) == {"api": "operational", "web": "operational"}

    # Announced through the API, due in 30 s: the scheduler has not started it yet when the
    # first failing round runs, and the round must not wait for it.
    resp, mx = wire.call("POST", "/api/v1/pages/acme/incidents", {"incident": {
        "name": "Database upgrade", "scheduled_for": iso(wire.clock() + 30),
        "scheduled_until": iso(wire.clock() + 3600), "component_ids": ["api"]}})
    assert resp.status_code == 201 and mx["status"] == "scheduled"
    api.behaviour = web.behaviour = "fail"
    rounds(wire, 3)
    assert states(wire) == {"api": "under_maintenance", "web": "major_outage"}
    advance_maintenance(wire.c, Actor("scheduler", "t"))      # now it is in progress
    _, doc = wire.call("GET", f"/api/v1/pages/acme/incidents/{mx['id']}")
    assert doc["status"] == "in_progress"
    rounds(wire, 3)
    wire.clock.tick(301)                                      # past the debounce window
    flush_component_updates(wire.c)
    wire.deliver()                                            # the worker posts them

    assert states(wire) == {"api": "under_maintenance", "web": "major_outage"}
    assert open_incidents(wire) == ["Website is experiencing issues"]
    assert component_hooks(hook) == [("API", "under_maintenance"),
                                     ("Website", "major_outage")]
    ops = wire.drain("ops")
    assert failing_alerts(ops, "Website") and not failing_alerts(ops, "API")

    # The work is over and the API is still broken: now it is news.
    resp, _ = wire.call("PATCH", f"/api/v1/pages/acme/incidents/{mx['id']}",
                        {"incident": {"status": "completed"}})
    assert resp.status_code == 200
    rounds(wire, 1)
    wire.clock.tick(301)
    flush_component_updates(wire.c)
    wire.deliver()                                            # the worker posts them
    assert states(wire)["api"] == "major_outage"
    assert open_incidents(wire) == ["API is experiencing issues", "Website is experiencing issues"]
    assert ("API", "major_outage") in component_hooks(hook)
    assert failing_alerts(wire.drain("ops"), "API")


def test_a_maintenance_the_clock_is_about_to_complete_no_longer_silences(wire, targets):
    api, _ = targets
    rounds(wire, 2)
    resp, mx = wire.call("POST", "/api/v1/pages/acme/incidents", {"incident": {
        "name": "Short job", "scheduled_for": iso(wire.clock() - 10),
        "scheduled_until": iso(wire.clock() + 100), "component_ids": ["api"],
        "status": "in_progress"}})
    assert resp.status_code == 201
    api.behaviour = "fail"
    rounds(wire, 1)
    assert states(wire)["api"] == "under_maintenance"
    rounds(wire, 2)                       # scheduled_until has passed: the window is over
    assert states(wire)["api"] == "major_outage"
    assert open_incidents(wire) == ["API is experiencing issues"]
