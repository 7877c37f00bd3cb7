"""The `outpost` console script against the real local stack, as an operator would use it."""
import json
import os
import subprocess
import sys

import boto3
import pytest

from chalicelib.core import deliveries
from tests.e2e.stack import Stack, fetch, outpost, wait_for

# Public reads go through the local edge, which caches them for max-age (15 s) as CloudFront
# does: an operator's change shows there within about 15 s, so those reads wait for it.
EDGE_DELAY = 40


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("cli"))
    yield s
    s.stop()


def test_incident_lifecycle_from_the_terminal(stack):
    out = outpost(stack, "incident", "open", "Checkout errors", "-m", "Looking into it",
                  "-c", "api=partial_outage")
    assert out.returncode == 0, out.stderr
    incident_id = out.stdout.split()[0]
    assert "[investigating]" in out.stdout and "API: operational -> partial_outage" in out.stdout
    status = wait_for(lambda: (lambda o: o if "Operational" not in o.stdout.split("\n")[0] else None)(
        outpost(stack, "status")), EDGE_DELAY, "the incident in `outpost status`")
    assert status.returncode == 0
    assert "Minor Service Outage" in status.stdout or "Partial System Outage" in status.stdout
    assert f"incident {incident_id}" in status.stdout
    out = outpost(stack, "incident", "update", incident_id, "--status", "monitoring",
                  "-m", "Fix rolled out", "--if-match", "1")
    assert out.returncode == 0, out.stderr
    stale = outpost(stack, "incident", "update", incident_id, "-m", "late", "--if-match", "1")
    assert stale.returncode == 1 and "412" in stale.stderr
    assert outpost(stack, "incident", "resolve", incident_id).returncode == 0
    listed = outpost(stack, "incident", "list", "--json")
    assert json.loads(listed.stdout)[0]["status"] == "resolved"
    wait_for(lambda: fetch(stack.url + "/api/v2/incidents/unresolved.json")["incidents"] == [],
             EDGE_DELAY, "no unresolved incident")


def test_component_pin_and_release(stack):
    out = outpost(stack, "component", "set", "search", "under_maintenance")
    assert out.returncode == 0 and "pinned" in out.stdout
    wait_for(lambda: stack.status_of("Search") == "under_maintenance", EDGE_DELAY, "the pin")
    assert outpost(stack, "component", "clear", "search").returncode == 0
    wait_for(lambda: stack.status_of("Search") == "operational", EDGE_DELAY, "the release")


def test_maintenance_schedule_and_list(stack):
    out = outpost(stack, "maintenance", "schedule", "DB upgrade", "--start", "+1h",
                  "--end", "+2h", "-c", "api")
    assert out.returncode == 0, out.stderr
    listed = outpost(stack, "maintenance", "list")
    assert "DB upgrade" in listed.stdout and "scheduled" in listed.stdout


def test_errors_are_clear_and_non_zero(stack):
    bad = outpost(stack, "component", "set", "nosuch", "major_outage")
    assert bad.returncode == 1 and "404" in bad.stderr
    usage = outpost(stack, "incident", "open", "x", "-c", "api")
    assert usage.returncode == 2 and "COMPONENT=STATUS" in usage.stderr
    nokey = outpost(stack, "incident", "list", local_dir="/nonexistent")
    assert nokey.returncode == 1 and "no API key" in nokey.stderr
    badkey = outpost(stack, "incident", "list", key="op_aaaaaaaaaa_" + "b" * 43)
    assert badkey.returncode == 1 and "401: invalid API key" in badkey.stderr
    down = subprocess.run([os.path.join(os.path.dirname(sys.executable), "outpost"),
                           "--url", "http://127.0.0.1:9", "status"],
                          capture_output=True, text=True, timeout=60)
    assert down.returncode == 2 and "cannot reach" in down.stderr


def test_keys_against_the_local_tables(stack):
    made = outpost(stack, "keys", "--local", "create", "--name", "ci", "--scope", "incidents:write")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("op_")
    listed = outpost(stack, "keys", "--local", "list")
    key_id = key.split("_")[1]
    assert key_id in listed.stdout and "active" in listed.stdout
    assert outpost(stack, "keys", "--local", "revoke", key_id).returncode == 0
    assert "revoked" in outpost(stack, "keys", "--local", "list").stdout


def test_audit_reads_back_what_was_done(stack):
    made = outpost(stack, "keys", "--local", "create", "--name", "audited", "--scope",
                   "components:write")
    assert made.returncode == 0, made.stderr
    key_id = made.stdout.strip().split("_")[1]
    assert outpost(stack, "keys", "--local", "revoke", key_id).returncode == 0
    assert outpost(stack, "component", "set", "web", "degraded_performance").returncode == 0
    assert outpost(stack, "component", "clear", "web").returncode == 0

    out = outpost(stack, "audit", "--target", f"key/{key_id}", "--json")
    assert out.returncode == 0, out.stderr
    entries = [json.loads(line) for line in out.stdout.splitlines()]
    assert [e["action"] for e in entries] == ["key.revoke", "key.mint"]
    assert all(e["actor"].startswith("iam:") for e in entries)
    pins = outpost(stack, "audit", "--action", "component.*", "--target", "component/web",
                   "--since", "-1h")
    assert pins.returncode == 0, pins.stderr
    lines = pins.stdout.splitlines()
    assert "component.unpin" in lines[0] and "component.pin" in lines[1]
    assert len(outpost(stack, "audit", "--limit", "2", "--json").stdout.splitlines()) == 2
    bad = outpost(stack, "audit", "--until", "yesterday")
    assert bad.returncode == 1 and "400" in bad.stderr and "until" in bad.stderr
    nothing = outpost(stack, "audit", "--action", "no.such")
    assert nothing.returncode == 0 and "no audit entries" in nothing.stdout


def test_dead_letters_against_the_local_queue(stack):
    """`outpost dead-letters --local`: the local stack's one dead-letter queue, as deployed."""
    env = dict(line.strip().split("=", 1) for line in
               open(os.path.join(stack.local_dir, "aws.env")) if "=" in line)
    sqs = boto3.client("sqs", region_name=env.get("AWS_DEFAULT_REGION") or "us-east-1",
                       endpoint_url=env["AWS_ENDPOINT_URL"],
                       aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    dead = deliveries.dead_letter(deliveries.encode(deliveries.Delivery(
        "event", "update:e2e", "nobody", 0.0, b"{}")), "HTTP 503 for a day")
    sqs.send_message(QueueUrl=env["DELIVERY_DLQ_URL"], MessageBody=dead)
    sqs.send_message(QueueUrl=env["DELIVERY_DLQ_URL"], MessageBody=json.dumps(
        {"Type": "Notification", "TopicArn": env["UPDATES_TOPIC_ARN"], "Message": "x"}))
    listed = outpost(stack, "dead-letters", "--local", "list")
    assert listed.returncode == 0, listed.stderr
    assert "HTTP 503 for a day" in listed.stdout and env["UPDATES_TOPIC_ARN"] in listed.stdout
    replayed = outpost(stack, "dead-letters", "--local", "replay")
    assert replayed.returncode == 0, replayed.stderr
    assert "moved 1 deliveries" in replayed.stdout and "1 other letter(s) left" in replayed.stdout
    assert env["UPDATES_TOPIC_ARN"] in outpost(stack, "dead-letters", "--local", "list").stdout
