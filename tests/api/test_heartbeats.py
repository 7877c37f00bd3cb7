"""Heartbeat monitors on the real app over moto: the beat URL, rotation, and what a round makes
of the beats (a missed beat is a damped failure; no quorum). DynamoDB calls are counted at
botocore, so "one conditional write at most" and "no write for an unknown token" are measured."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from botocore.client import BaseClient
from chalice.test import Client
from moto import mock_aws

from chalicelib import wiring
from chalicelib.core.config import load_status_text
from chalicelib.usecases.manage import mint_key
from chalicelib.usecases.rounds import run_round
from tests.api.conftest import Clock
from tests.statusfiles import component, heartbeat_monitor, status_yaml

STATUS = status_yaml([component("nightly", "Nightly export",
                                heartbeat_monitor("export", every="1h", grace="10m"))])
BASE = "/api/v1/pages/acme"


@pytest.fixture
def hb():
    with mock_aws():
        c = wiring.container
        c.reset()
        c.env = {"AWS_DEFAULT_REGION": "us-east-1", "SNAPSHOT_CACHE_SECONDS": "0",
                 "CHECK_REGIONS": "us-west-2,eu-west-1,ap-southeast-2"}
        clock = Clock()
        c.override(config=load_status_text(STATUS, "hb.yaml"), clock=clock)
        c.store.create_tables()
        from app import app
        with Client(app) as client:
            yield c, client, clock
        c.reset()
        c.env = None


@pytest.fixture
def dynamo_calls(monkeypatch):
    calls: list = []
    original = BaseClient._make_api_call

    def counting(client, operation, params):
        if client.meta.service_model.service_name == "dynamodb":
            calls.append(operation)
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    return calls


def auth(c, scopes=("heartbeats:write",)):
    return {"Authorization": f"Bearer {mint_key(c, 't', list(scopes))}"}


def rotate(c, client, monitor="export"):
    resp = client.http.post(f"{BASE}/heartbeats/{monitor}/rotate", headers=auth(c))
    return resp, json.loads(resp.body)


def status(client):
    body = json.loads(client.http.get("/api/v2/summary.json").body)
    return body["components"][0]["status"], body


def test_rotation_shows_the_token_once_and_stores_only_its_hash(hb):
    c, client, _ = hb
    resp, body = rotate(c, client)
    assert resp.status_code == 201
    token = body["token"]
    assert body["path"] == f"/api/v1/heartbeat/{token}"
    assert body["url"] == f"https://status.acme.example/api/v1/heartbeat/{token}"
    rows = list(c.heartbeat_store.Row.scan())
    assert rows and all(token not in json.dumps(r.attribute_values, default=str) for r in rows)
    listed = json.loads(client.http.get(f"{BASE}/heartbeats", headers=auth(c)).body)
    assert listed[0]["has_token"] and "token" not in listed[0]


def test_rotation_needs_its_scope_and_a_heartbeat_monitor(hb):
    c, client, _ = hb
    resp = client.http.post(f"{BASE}/heartbeats/export/rotate",
                            headers=auth(c, ["incidents:write"]))
    assert resp.status_code == 403 and "heartbeats:write" in json.loads(resp.body)["error"]
    assert client.http.post(f"{BASE}/heartbeats/export/rotate").status_code == 401
    resp = client.http.post(f"{BASE}/heartbeats/nope/rotate", headers=auth(c))
    assert resp.status_code == 404


def test_a_rotated_token_stops_working_and_the_last_beat_carries_over(hb):
    c, client, clock = hb
    _, first = rotate(c, client)
    assert client.http.get(first["path"]).status_code == 200
    _, second = rotate(c, client)
    assert client.http.post(first["path"]).status_code == 404
    assert client.http.post(second["path"]).status_code == 200
    beats = c.heartbeat_store.beats(["export"])
    assert beats["export"]["beat_at"] == clock()


def test_unknown_and_malformed_tokens_are_404_without_any_write(hb, dynamo_calls):
    c, client, _ = hb
    rotate(c, client)
    dynamo_calls.clear()
    assert client.http.get("/api/v1/heartbeat/not-a-token").status_code == 404
    assert dynamo_calls == []                       # malformed: no read either
    resp = client.http.post("/api/v1/heartbeat/hb_" + "A" * 43)
    assert resp.status_code == 404 and json.loads(resp.body)["error"] == "unknown heartbeat token"
    assert dynamo_calls == ["GetItem"]


def test_a_flood_on_one_token_costs_bounded_writes(hb, dynamo_calls):
    c, client, clock = hb
    _, body = rotate(c, client)
    dynamo_calls.clear()
    answers = []
    for i in range(50):                             # 50 beats within one spacing window
        clock.tick(0.1)
        state = "fail" if i % 2 else "ok"
        resp = client.http.get(f"{body['path']}?status={state}")
        assert resp.status_code == 200
        answers.append(json.loads(resp.body)["recorded"])
    writes = sum(1 for op in dynamo_calls if op in ("UpdateItem", "PutItem"))
    # the first beat, the ok -> fail turn, the window's one fail -> ok recovery, and the
    # ok -> fail turn after it
    assert writes == 4 == sum(answers)
    assert dynamo_calls.count("GetItem") == 50      # one read per request, nothing else
    clock.tick(60)
    assert json.loads(client.http.get(body["path"]).body)["recorded"] is True


def test_any_request_body_type_is_accepted_and_ignored(hb):
    c, client, _ = hb
    _, body = rotate(c, client)
    for ctype in ("application/x-www-form-urlencoded", "image/png", "text/plain"):
        resp = client.http.post(body["path"], body=b"\x00" * 100, headers={"Content-Type": ctype})
        assert resp.status_code == 200, (ctype, resp.body)


def test_bad_status_is_a_400_naming_the_field(hb):
    c, client, _ = hb
    _, body = rotate(c, client)
    resp = client.http.get(body["path"] + "?status=maybe")
    assert resp.status_code == 400 and json.loads(resp.body)["field"] == "status"


def test_a_missed_beat_turns_the_component_red_after_damping_without_quorum(hb):
    c, client, clock = hb
    _, body = rotate(c, client)
    client.http.post(body["path"])
    run_round(c)
    assert status(client)[0] == "operational"
    clock.tick(3600 + 600 + 1)                      # every + grace has passed, no beat
    run_round(c)
    assert status(client)[0] == "operational"       # one failing round: damped
    clock.tick(60)
    run_round(c)
    state, summary = status(client)
    assert state == "major_outage"                  # one region's verdict was enough
    extra = next(iter(summary["outpost"]["components"].values()))
    assert any(r.startswith("last beat for 1h11m") for r in extra["reasons"])
    client.http.post(body["path"])                   # the job is back
    for _ in range(2):
        clock.tick(60)
        run_round(c)
    assert status(client)[0] == "operational"


def test_an_explicit_failure_fails_and_its_message_stays_private(hb):
    c, client, clock = hb
    _, body = rotate(c, client)
    secret = "disk /dev/sda1 full on db-7\x1b[31m \u202e"
    resp = client.http.get(body["path"] + "?" + urlencode({"status": "fail", "msg": secret}))
    assert resp.status_code == 200
    for _ in range(2):
        clock.tick(60)
        run_round(c)
    state, summary = status(client)
    assert state == "major_outage"
    page = client.http.get("/").body.decode()
    assert "db-7" not in json.dumps(summary) and "db-7" not in page
    assert "the job reported a failure" in page
    listed = json.loads(client.http.get(f"{BASE}/heartbeats", headers=auth(c)).body)
    assert listed[0]["state"] == "fail"
    assert listed[0]["message"] == "disk /dev/sda1 full on db-7 [31m"


def test_a_heartbeat_without_a_token_is_unknown_not_red(hb):
    c, client, clock = hb
    run_round(c)
    clock.tick(7200)
    run_round(c)
    _, summary = status(client)
    row = summary["components"][0]
    assert row["status"] == "operational"
    assert summary["outpost"]["components"][row["id"]]["reasons"] == []


def test_a_recovery_reported_right_after_a_failure_is_recorded(hb):
    """A job fails, is re-run and succeeds within the spacing window: the ok is news (the next
    beat may be a day away), so the component must not stay red until then."""
    c, client, clock = hb
    _, body = rotate(c, client)
    assert json.loads(client.http.post(body["path"]).body)["recorded"] is True
    clock.tick(120)
    assert json.loads(client.http.post(body["path"] + "?status=fail").body)["recorded"] is True
    clock.tick(20)                                   # the re-run, inside the 60 s spacing
    assert json.loads(client.http.post(body["path"]).body)["recorded"] is True
    for _ in range(2):
        clock.tick(60)
        run_round(c)
    assert status(client)[0] == "operational"
    listed = json.loads(client.http.get(f"{BASE}/heartbeats", headers=auth(c)).body)
    assert listed[0]["state"] == "ok"
