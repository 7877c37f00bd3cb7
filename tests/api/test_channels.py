"""Chat and on-call channels end to end on the real app over moto: reports, the stream consumer
and the scheduler only queue; the real delivery worker sends through Apprise to fake services
on 127.0.0.1 (tests/channelfakes.py) with the services' real URLs, read from the environment."""
import dataclasses
import json
import time

import boto3
import pytest

from chalicelib.adapters.notify import Notifier
from chalicelib.core.config import load_status_text
from chalicelib.usecases.channels import enqueue_alert
from chalicelib.usecases.manage import mint_key
from local.streams import StreamReader
from tests.api.calls import report
from tests.api.conftest import acme_status
from tests.api.harness import spike_alerts, tick
from tests.api.hooks import Deliveries
from tests.channelfakes import MATRIX_HOST, URLS, FakeServices, the_text

CHANNELS = [{"name": "ops-slack", "url": "${OPS_SLACK}"},
            {"name": "oncall", "url": "${PAGERDUTY_URL}"},
            {"name": "community", "url": "${DISCORD_URL}", "events": ["incidents"]},
            {"name": "everything", "url": "${MATRIX_URL}", "public": True}]
INCIDENTS = "/api/v1/pages/acme/incidents"


@pytest.fixture
def chans(stack, targets, monkeypatch):
    c, client, clock, *_ = stack
    fakes = FakeServices()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", fakes.ca_bundle)
    c.env.update({"OPS_SLACK": URLS["slack"], "PAGERDUTY_URL": URLS["pagerduty"],
                  "DISCORD_URL": URLS["discord"], "MATRIX_URL": URLS["matrix"]})
    c.override(config=load_status_text(acme_status(channels=CHANNELS), "test.yaml",
                                       {"TARGET": targets[0].url, "OTHER": targets[1].url}),
               channel_resolver=fakes.resolver)
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    operator = sns.create_topic(Name="operator")["TopicArn"]
    c.override(notifier=Notifier("us-east-1", None, operator,
                                 operator_channels=lambda s, t: enqueue_alert(c, s, t)))
    ops = sqs.create_queue(QueueName="ops")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=ops, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=operator, Protocol="sqs", Endpoint=arn)
    hooks = Deliveries(c, client, clock)
    c.override(settings=dataclasses.replace(
        c.settings, delivery_queue_url=hooks.url, webhook_deadline=5.0))
    hooks.reader = StreamReader(boto3.client("dynamodb", region_name="us-east-1"),
                                boto3.client("dynamodbstreams", region_name="us-east-1"),
                                c.store.StateRow.Meta.table_name)
    key = mint_key(c, "t", ["incidents:write"])

    def drain_ops():
        out = []
        while msgs := sqs.receive_message(QueueUrl=ops, MaxNumberOfMessages=10).get("Messages"):
            for m in msgs:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=ops, ReceiptHandle=m["ReceiptHandle"])
        return out
    yield c, client, clock, key, hooks, fakes, drain_ops
    fakes.close()


def texts(fakes, host):
    return [the_text(host, doc) for doc in fakes.messages(host)]


def spike(client, n=30):
    for i in range(n):
        resp, _ = report(client, {"component": "api", "kind": "down"},
                         address=f"198.51.100.{i + 1}:{40000 + i}")
        assert resp.status_code == 202


def post(client, path, body, key, method="post"):
    resp = getattr(client.http, method)(path, body=json.dumps(body), headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    return json.loads(resp.body)


def test_a_report_spike_is_one_alert_on_each_alert_channel(chans):
    c, client, clock, key, hooks, fakes, drain_ops = chans
    spike(client)
    tick(client)                                  # the sweep: SNS at once, channels queued
    assert len(spike_alerts(drain_ops())) == 1
    assert fakes.requests == []                   # the scheduler only queued
    queued = [d for d, _ in hooks.queued() if d.kind == "channel"]
    assert sorted(d.sub for d in queued) == ["everything", "oncall", "ops-slack"]
    hooks.deliver()
    tick(client)                                  # the spike goes on: no second alert
    hooks.deliver()
    (slack,) = texts(fakes, "hooks.slack.com")
    (pd,) = texts(fakes, "events.pagerduty.com")
    (matrix,) = texts(fakes, MATRIX_HOST)
    assert "30 user reports about API" in slack and "30 user reports about API" in pd
    assert "30 people reported problems with API" in matrix
    assert texts(fakes, "discord.com") == []      # public updates only


def test_a_retried_record_and_a_redelivered_message_send_nothing_twice(chans):
    c, client, clock, key, hooks, fakes, _ = chans
    events = []

    def consume(ev):
        events.append(ev)
        return client.lambda_.invoke("on_state_change", ev).payload
    inc = post(client, INCIDENTS, {"incident": {"name": "API errors", "body": "Looking into it",
                                                "components": {"api": "major_outage"}}}, key)
    hooks.reader.poll(consume)
    for ev in events:                             # Lambda retries the whole batch
        client.lambda_.invoke("on_state_change", ev)
    bodies = [m for m in __import__("tests.api.hooks", fromlist=["_moto_queue"])
              ._moto_queue(hooks.url)._messages]
    public = [d for d, _ in hooks.queued() if d.kind == "channel"]
    assert sorted(d.sub for d in public) == ["community", "everything"]
    from chalicelib.usecases.deliver import process
    copy = [m.body for m in bodies if json.loads(m.body)["kind"] == "channel"][0]
    hooks.deliver()
    assert process(c, copy) == "duplicate"        # SQS delivered a message twice
    (discord,) = texts(fakes, "discord.com")
    assert discord.startswith("[Acme Status] Investigating: API errors")
    assert discord.rstrip().endswith(f"https://status.acme.example/incidents/{inc['id']}")
    assert len(texts(fakes, MATRIX_HOST)) == 1
    assert texts(fakes, "hooks.slack.com") == []  # not an auto-incident: no operator alert


def test_a_service_that_fails_once_gets_the_message_once_on_the_retry(chans):
    c, client, clock, key, hooks, fakes, _ = chans
    fakes.fail_next = 1
    c.notifier.publish_operator("[Acme Status] Test alert", "Something to look at.\n"
                                "https://status.acme.example/")
    hooks.deliver()
    assert len(fakes.requests) == 3               # ops-slack, oncall, everything: one failed
    retries = [d for d, _ in hooks.queued()]
    assert len(retries) == 1 and retries[0].attempt == 1
    while hooks.advance_to_next():
        hooks.deliver()
    for host in ("hooks.slack.com", "events.pagerduty.com", MATRIX_HOST):
        assert len([t for t in texts(fakes, host) if "Test alert" in t]) >= 1
    delivered = [r for r in fakes.requests]
    assert len(delivered) == 4                    # three messages, one of them tried twice


def test_a_hanging_service_is_cut_at_the_deadline_and_retried(chans):
    c, client, clock, key, hooks, fakes, _ = chans
    fakes.hang = True
    c.override(settings=dataclasses.replace(c.settings, webhook_deadline=1.0))
    c.notifier.publish_operator("[Acme Status] Test alert", "Slow service.")
    started = time.monotonic()
    hooks.deliver()
    took = time.monotonic() - started
    assert took < 3 * 1.0 + 3.0                   # at most a deadline each, whatever the batching
    for name in ("everything", "oncall", "ops-slack"):
        doc, _ = c.store.load_document(f"breaker#channel:{name}")
        assert doc["failures"] == 1 and doc["last_error"] == "no complete answer within 1s"
    assert sorted(d.sub for d, _ in hooks.queued()) == ["everything", "oncall", "ops-slack"]
    assert all(d.attempt == 1 for d, _ in hooks.queued())
    fakes.hang = False


def test_deliver_notifications_false_stays_off_the_channels(chans):
    c, client, clock, key, hooks, fakes, _ = chans
    post(client, INCIDENTS, {"incident": {"name": "Quiet fix", "body": "internal",
                                          "deliver_notifications": False}}, key)
    hooks.reader.poll(lambda ev: client.lambda_.invoke("on_state_change", ev).payload)
    hooks.deliver()
    assert [d for d, _ in hooks.queued()] == [] and fakes.requests == []


def test_an_unset_variable_parks_the_message_with_its_name(chans):
    c, client, clock, key, hooks, fakes, _ = chans
    del c.env["PAGERDUTY_URL"]
    c.notifier.publish_operator("[Acme Status] Test alert", "x")
    hooks.deliver()
    (dead,) = hooks.dead_letters()
    assert dead["reason"] == ("channel oncall: environment variable PAGERDUTY_URL is not set in "
                              "the delivery worker")
    assert "hooks.slack.com" in {h for h, *_ in fakes.requests}
