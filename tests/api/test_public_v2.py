"""Public Statuspage v2 routes on the real Chalice app over moto, fed by real check rounds."""
import json
import re

from chalicelib.usecases.rounds import run_round


def get(client, path, **headers):
    resp = client.http.get(path, headers=headers)
    return resp, (json.loads(resp.body) if resp.body else None)


def component(body, name):
    return next(c for c in body["components"] if c["name"] == name)


def rounds(c, clock, n):
    reports = []
    for _ in range(n):
        clock.tick(60)
        reports.append(run_round(c))
    return reports


def test_before_any_round_the_configured_page_is_served(stack):
    c, client, clock, *_ = stack
    resp, body = get(client, "/api/v2/summary.json")
    assert resp.status_code == 200
    assert body["page"]["id"] == "acme"
    assert [x["name"] for x in body["components"]] == ["Core", "API", "Website"]
    assert body["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert body["incidents"] == [] and body["scheduled_maintenances"] == []


def test_outage_needs_damping_and_quorum_then_recovers(stack):
    c, client, clock, api_target, _ = stack
    rounds(c, clock, 2)
    api_target.behaviour = "fail"
    (first,) = rounds(c, clock, 1)
    assert first.transitions == {}                       # one bad round is not an outage
    (second,) = rounds(c, clock, 1)
    assert second.transitions == {"api": ("operational", "major_outage")}
    clock.tick(6)                                        # past the public cache's 5 s
    _, body = get(client, "/api/v2/summary.json")
    api = component(body, "API")
    assert api["status"] == "major_outage"
    assert component(body, "Core")["status"] == "major_outage"
    assert body["status"] == {"indicator": "major", "description": "Partial System Outage"}
    extra = body["outpost"]["components"][api["id"]]
    assert extra["scope_text"] == "failing from 3 of 3 regions"
    assert extra["reasons"] == ["[STATUS] (503) == 200", "[BODY].status (down) == ok"]

    api_target.behaviour = "ok"
    assert rounds(c, clock, 1)[0].transitions == {}
    assert rounds(c, clock, 1)[0].transitions == {"api": ("major_outage", "operational")}
    clock.tick(6)
    _, body = get(client, "/api/v2/status.json")
    assert body["status"]["indicator"] == "none"


def test_one_region_alone_changes_nothing_but_is_shown(stack):
    c, client, clock, api_target, _ = stack
    c.override(config=c.config)
    # Only eu-west-1 sees failures: run that region's rounds against a failing target,
    # the others against a healthy one.
    for _ in range(3):
        clock.tick(60)
        api_target.behaviour = "fail"
        run_round(c, ["eu-west-1"])
        api_target.behaviour = "ok"
        run_round(c, ["us-west-2", "ap-southeast-2"])
    clock.tick(6)
    _, body = get(client, "/api/v2/summary.json")
    api = component(body, "API")
    assert api["status"] == "operational"
    assert body["outpost"]["components"][api["id"]]["scope_text"] == "failing from 1 of 3 regions"


def test_etag_304_cache_control_and_cors_on_every_v2_route(stack):
    c, client, clock, *_ = stack
    rounds(c, clock, 1)
    for path in ("summary", "status", "components", "incidents", "incidents/unresolved",
                 "scheduled-maintenances", "scheduled-maintenances/upcoming",
                 "scheduled-maintenances/active"):
        resp, _ = get(client, f"/api/v2/{path}.json")
        assert resp.status_code == 200, path
        h = resp.headers
        assert h["Access-Control-Allow-Origin"] == "*"
        assert h["Content-Type"] == "application/json; charset=utf-8"
        cc = h["Cache-Control"]
        assert "max-age=" in cc and "stale-while-revalidate=" in cc and "stale-if-error=" in cc
        stale_if_error = int(re.search(r"stale-if-error=(\d+)", cc).group(1))
        assert 0 < stale_if_error <= 300, path          # minutes, never a day of old green
        etag = h["ETag"]
        assert etag.startswith('"') and etag.endswith('"')
        again, body = get(client, f"/api/v2/{path}.json", **{"If-None-Match": etag})
        assert again.status_code == 304 and body is None
        assert again.headers["ETag"] == etag
        other, _ = get(client, f"/api/v2/{path}.json", **{"If-None-Match": '"nope"'})
        assert other.status_code == 200


def test_etag_changes_when_the_snapshot_does(stack):
    c, client, clock, api_target, _ = stack
    rounds(c, clock, 1)
    clock.tick(6)
    etag1 = get(client, "/api/v2/status.json")[0].headers["ETag"]
    api_target.behaviour = "fail"
    rounds(c, clock, 2)
    clock.tick(6)
    resp, body = get(client, "/api/v2/status.json", **{"If-None-Match": etag1})
    assert resp.status_code == 200 and body["status"]["indicator"] == "major"


def test_results_are_one_item_per_region_per_round(stack):
    c, client, clock, *_ = stack
    rounds(c, clock, 3)
    for region in ("us-west-2", "eu-west-1", "ap-southeast-2"):
        items = c.store.recent_results(region)
        assert len(items) == 3
        assert sorted(r["m"] for r in items[0]["results"]) == ["api.0", "web.0"]


def test_storage_outage_serves_the_cached_copy_and_never_500(stack):
    c, client, clock, *_ = stack
    rounds(c, clock, 1)
    clock.tick(6)
    good, body = get(client, "/api/v2/summary.json")
    assert good.status_code == 200
    broken = c.store

    class Down:
        def load_snapshot(self, consistent=False):
            raise ConnectionError("dynamodb unreachable")
    c.override(store=Down())
    clock.tick(60)                                       # past the cache TTL: it must try again
    stale, stale_body = get(client, "/api/v2/summary.json")
    assert stale.status_code == 200 and stale_body == body
    c.override(store=broken)


def test_storage_outage_with_nothing_cached_is_503(stack):
    c, client, *_ = stack

    class Down:
        def load_snapshot(self, consistent=False):
            raise ConnectionError("dynamodb unreachable")
    c.override(store=Down())
    c._built.pop("public_cache", None)
    resp, body = get(client, "/api/v2/status.json")
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    assert body["error"] == "status temporarily unavailable"
