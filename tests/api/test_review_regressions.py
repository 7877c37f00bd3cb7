"""Inputs a review found that once gave 500s, froze the page, blocked the notifier or sent
twice. Each must now be a clear 4xx, or handled without harm."""
import json

import pytest

from chalicelib.usecases.manage import mint_key
from tests.api.calls import ALL, BASE, post


def raw_post(client, path, raw, key=None):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    resp = client.http.post(path, body=raw, headers=headers)
    return resp, json.loads(resp.body) if resp.body else None


@pytest.mark.parametrize("fields, field", [
    ({"backfilled": True, "created_at": "0001-01-01T00:30:00+01:00"}, "incident.created_at"),
    ({"scheduled_for": "9999-12-31T00:00:00-05:00", "scheduled_until": "9999-12-31T10:00:00-05:00"},
     "incident.scheduled_for"),
    ({"status": None}, "incident.status"),
])
def test_out_of_range_times_and_nulls_are_422_and_the_page_lives(wired, fields, field):
    c, client, clock, _, *_ = wired
    key = mint_key(c, "all", ALL)
    resp, err = post(client, f"{BASE}/incidents", {"incident": {"name": "x", **fields}}, key)
    assert resp.status_code == 422 and err["field"] == field
    assert client.http.get("/api/v2/summary.json").status_code == 200


@pytest.mark.parametrize("raw, message", [
    ('{"incident": {"name": "a\\ud800b"}}', "lone surrogate"),
    ('{"incident": {"name": "x", "metadata": {"a": NaN}}}', "NaN"),
    ("[" * 2000 + "]" * 2000, "nested too deeply"),     # under the public 4 KB cap
])
def test_unrepresentable_json_is_400(wired, raw, message):
    c, client, clock, key, *_ = wired
    for path, k in ((f"{BASE}/incidents", key), ("/api/v1/subscribe", None),
                    ("/api/v1/subscribe/verify", None)):
        resp, err = raw_post(client, path, raw, k)
        assert resp.status_code == 400 and message in err["error"], (path, err)
    assert client.http.get("/").status_code == 200


def test_maintenance_needs_its_scope_for_every_change(wired):
    c, client, clock, key, *_ = wired
    full = mint_key(c, "all", ALL)
    _, mx = post(client, f"{BASE}/incidents", {"incident": {
        "name": "DB", "scheduled_for": "2030-01-01T00:00:00Z",
        "scheduled_until": "2030-01-01T01:00:00Z"}}, full)
    narrow = mint_key(c, "incidents only", ["incidents:write"])
    patch = client.http.patch(f"{BASE}/incidents/{mx['id']}",
                              body=json.dumps({"incident": {"status": "in_progress"}}),
                              headers={"Content-Type": "application/json",
                                       "Authorization": f"Bearer {narrow}"})
    delete = client.http.delete(f"{BASE}/incidents/{mx['id']}",
                                headers={"Authorization": f"Bearer {narrow}"})
    assert patch.status_code == delete.status_code == 403


def test_null_schedule_on_patch_is_422(wired):
    c, client, clock, key, *_ = wired
    full = mint_key(c, "all", ALL)
    _, mx = post(client, f"{BASE}/incidents", {"incident": {
        "name": "DB", "scheduled_for": "2030-01-01T00:00:00Z",
        "scheduled_until": "2030-01-01T01:00:00Z"}}, full)
    resp = client.http.patch(f"{BASE}/incidents/{mx['id']}",
                             body=json.dumps({"incident": {"scheduled_for": None}}),
                             headers={"Content-Type": "application/json",
                                      "Authorization": f"Bearer {full}"})
    assert resp.status_code == 422 and json.loads(resp.body)["field"] == "incident.scheduled_for"


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/x", "https://1.1.1.1:abc/x",
                                 "https://[::1/"])
def test_unparseable_webhook_urls_are_422(wired, url):
    c, client, *_ = wired
    resp, err = post(client, "/api/v1/subscribe", {"webhook": url})
    assert resp.status_code == 422 and err["field"] == "webhook"


def test_odd_verify_ids_and_unsubscribe_tokens_are_404(wired):
    c, client, *_ = wired
    resp, err = post(client, "/api/v1/subscribe/verify", {"id": "", "code": "1"})
    assert resp.status_code == 404
    for token in ("abc.\u00fc", "x" * 500, ".", "abc"):
        assert client.http.get(f"/api/v1/unsubscribe/{token}").status_code == 404


def test_backfilled_incidents_notify_nobody(wired):
    c, client, clock, key, pump, drain, receiver, hooks = wired
    hooks.subscribe(post, receiver.url)
    resp, _ = post(client, f"{BASE}/incidents", {"incident": {
        "name": "Old", "backfilled": True, "created_at": "2024-01-01T00:00:00Z"}}, key)
    assert resp.status_code == 201
    pump()
    assert drain("public") == [] and receiver.deliveries == []


def test_a_huge_incident_still_fits_one_sns_message(wired):
    c, client, clock, key, pump, drain, receiver, _ = wired
    _, inc = post(client, f"{BASE}/incidents", {"incident": {"name": "Big", "body": "a" * 19_000}},
                  key)
    for n in range(5):
        client.http.patch(f"{BASE}/incidents/{inc['id']}",
                          body=json.dumps({"incident": {"body": f"{n}" * 19_000}}),
                          headers={"Content-Type": "application/json",
                                   "Authorization": f"Bearer {key}"})
    pump()
    assert len(drain("public")) == 6


def test_a_failed_snapshot_rebuild_does_not_undo_the_idempotency_fence(wired, monkeypatch):
    c, client, clock, key, pump, drain, receiver, _ = wired
    import chalicelib.usecases.publish as publish
    real = publish.publish_snapshot
    calls = []

    def flaky(*a, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("dynamodb hiccup")
        return real(*a, **kw)
    monkeypatch.setattr(publish, "publish_snapshot", flaky)
    body = {"incident": {"name": "Once"}}
    first = client.http.post(f"{BASE}/incidents", body=json.dumps(body),
                             headers={"Content-Type": "application/json",
                                      "Authorization": f"Bearer {key}", "Idempotency-Key": "k1"})
    again = client.http.post(f"{BASE}/incidents", body=json.dumps(body),
                             headers={"Content-Type": "application/json",
                                      "Authorization": f"Bearer {key}", "Idempotency-Key": "k1"})
    assert first.status_code == 201 and again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    pump()
    assert len(drain("public")) == 1
