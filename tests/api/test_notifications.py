"""Subscribers and fan-out on the real app over moto: SNS topics with an SQS subscriber, a real
webhook receiver on 127.0.0.1, the real state-table stream feeding the real stream handler, and
the delivery queue feeding the real delivery worker (tests/api/hooks.py)."""
import json

import boto3
import pytest

from chalicelib.adapters.notify import Notifier
from chalicelib.core import deliveries
from tests.api.calls import post, sms_sent


def test_one_message_per_update_per_subscriber_with_valid_signature(wired):
    c, client, clock, key, pump, drain, receiver, hooks = wired
    resp, sub = hooks.subscribe(post, receiver.url)
    secret = sub["subscriber"]["secret"]
    resp, inc = post(client, "/api/v1/pages/acme/incidents",
                     {"incident": {"name": "API errors", "body": "Looking into it",
                                   "components": {"api": "major_outage"}}}, key)
    client.http.patch(f"/api/v1/pages/acme/incidents/{inc['id']}",
                      body=json.dumps({"incident": {"status": "resolved", "body": "Fixed"}}),
                      headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    pump()
    queued = [json.loads(b) for b in drain("public")]
    assert [q["incident"]["incident_updates"][0]["status"] for q in queued] == \
        ["investigating", "resolved"]
    # the page status is the one when the message goes out (the incident is resolved by then)
    assert queued[0]["page"] == {"id": "acme", "status_indicator": "none",
                                 "status_description": "All Systems Operational"}
    assert len(receiver.deliveries) == 2
    for headers, body in receiver.deliveries:
        assert deliveries.verify_signature(secret, body, headers["X-Outpost-Signature"], clock())
        assert headers["X-Outpost-Signature"].startswith(f"t={int(clock())},v1=")
        payload = json.loads(body)
        assert payload["incident"]["id"] == inc["id"]
        assert payload["meta"]["unsubscribe"].startswith("https://status.acme.example/api/v1/unsubscribe/")
    assert len({h["X-Outpost-Event"] for h, _ in receiver.deliveries}) == 2
    # Replaying the whole stream from the start sends nothing twice.
    hooks.reader._iterators.clear()
    hooks.reader._pending.clear()
    assert pump() >= 2
    assert drain("public") == [] and len(receiver.deliveries) == 2


def test_sms_and_email_bodies_per_protocol(wired):
    from moto.sns.models import sns_backends
    c, client, clock, key, pump, drain, receiver, _ = wired
    post(client, "/api/v1/pages/acme/incidents",
         {"incident": {"name": "Login 🔥 failures “everywhere”", "body": "é" * 300}}, key)
    pump()
    backend = sns_backends["123456789012"]["us-east-1"]
    topic = next(t for t in backend.topics.values() if t.arn == c.notifier.updates_topic_arn)
    (sent,) = topic.sent_notifications
    message = json.loads(sent[1])
    assert len(message["sms"]) <= 160 and "🔥" not in message["sms"]
    assert message["sms"].endswith(f"/incidents/{json.loads(message['sqs'])['incident']['id']}")
    assert "Login" in message["email"] and "unsubscribe link" in message["email"]
    assert sent[2] == "[Acme Status] Investigating: Login failures \"everywhere\""


def test_poisoned_record_is_skipped_and_nothing_else_lost(wired):
    c, client, clock, key, pump, drain, receiver, hooks = wired
    post(client, "/api/v1/pages/acme/incidents", {"incident": {"name": "One"}}, key)
    pending = hooks.reader.fetch()              # read the records without handling them
    good = [r for records in pending.values() for r in records]
    poison = json.loads(json.dumps(good[-1]))
    poison["dynamodb"]["NewImage"]["doc"]["B"] = "bm90IHpsaWI="      # "not zlib"
    poison["dynamodb"]["SequenceNumber"] = "999"
    batch = {"Records": [poison] + good}
    first = client.lambda_.invoke("on_state_change", batch).payload
    again = client.lambda_.invoke("on_state_change", batch).payload   # a replayed batch
    assert first == again == {"batchItemFailures": []}
    assert len(drain("public")) == 1
    alerts = drain("ops")
    assert sum("could not be decoded" in a for a in alerts) == 1


def test_failed_send_reports_the_record_and_a_retry_sends_once(wired):
    c, client, clock, key, pump, drain, receiver, reader = wired
    real = c.notifier.publish_update
    calls = []

    def flaky(*a, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("sns throttled")
        return real(*a, **kw)
    c.notifier.publish_update = flaky
    post(client, "/api/v1/pages/acme/incidents", {"incident": {"name": "Retry me"}}, key)
    pump()                         # fails: the record stays pending
    pump()                         # retried: sent
    pump()                         # nothing left
    assert len(drain("public")) == 1 and len(calls) == 2


def test_deliver_notifications_false_sends_nothing(wired):
    c, client, clock, key, pump, drain, receiver, hooks = wired
    hooks.subscribe(post, receiver.url)
    post(client, "/api/v1/pages/acme/incidents",
         {"incident": {"name": "Quiet", "deliver_notifications": False}}, key)
    pump()
    assert drain("public") == [] and receiver.deliveries == []


def test_component_filtered_webhook_only_hears_its_components(wired):
    c, client, clock, key, pump, drain, receiver, hooks = wired
    hooks.subscribe(post, receiver.url, components=["web"])
    post(client, "/api/v1/pages/acme/incidents",
         {"incident": {"name": "API only", "component_ids": ["api"]}}, key)
    post(client, "/api/v1/pages/acme/incidents",
         {"incident": {"name": "Website", "component_ids": ["web"]}}, key)
    pump()
    names = [json.loads(b)["incident"]["name"] for _, b in receiver.deliveries]
    assert names == ["Website"]


def test_unsubscribe_get_shows_post_acts(wired):
    c, client, clock, key, pump, drain, receiver, hooks = wired
    _, sub = hooks.subscribe(post, receiver.url)
    from chalicelib.usecases.subscriber_links import unsubscribe_token
    token = unsubscribe_token(c, sub["subscriber"]["id"])
    page = client.http.get(f"/api/v1/unsubscribe/{token}")
    assert page.status_code == 200 and b"<form method=\"post\">" in page.body
    assert c.store.get_subscriber(sub["subscriber"]["id"])["state"] == "active"
    done = client.http.post(f"/api/v1/unsubscribe/{token}", body="",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200 and b"no further" in done.body
    assert c.store.get_subscriber(sub["subscriber"]["id"])["state"] == "unsubscribed"
    forged = client.http.get(f"/api/v1/unsubscribe/{sub['subscriber']['id']}.{'0' * 32}")
    assert forged.status_code == 404
    post(client, "/api/v1/pages/acme/incidents", {"incident": {"name": "After"}}, key)
    pump()
    assert receiver.deliveries == []


SMS_POLICY = dict(sms_countries=("US", "GB"), sms_per_number_per_day=3, sms_per_ip_per_hour=5,
                  sms_global_per_hour=8)


@pytest.fixture
def sms(wired):
    from dataclasses import replace
    c = wired[0]
    c.override(config=replace(c.config, subscribers=replace(c.config.subscribers, **SMS_POLICY)))
    return wired


def test_sms_verification_then_subscription(sms):
    c, client, clock, key, pump, drain, receiver, _ = sms
    resp, body = post(client, "/api/v1/subscribe", {"phone": "+1 415 555 0123"})
    assert resp.status_code == 202 and body["subscriber"]["state"] == "pending"
    ((phone, text),) = sms_sent()
    assert phone == "+14155550123"
    code = text.split("code: ")[1][:6]
    resp, err = post(client, "/api/v1/subscribe/verify", {"id": body["subscriber"]["id"], "code": "000000" if code != "000000" else "111111"})
    assert resp.status_code == 422 and err["field"] == "code"
    resp, ok = post(client, "/api/v1/subscribe/verify", {"id": body["subscriber"]["id"], "code": code})
    assert resp.status_code == 200 and ok["subscriber"]["state"] == "active"
    sns = boto3.client("sns", region_name="us-east-1")
    subs = [s for s in sns.list_subscriptions()["Subscriptions"] if s["Protocol"] == "sms"]
    assert [s["Endpoint"] for s in subs] == ["+14155550123"]
    attrs = sns.get_subscription_attributes(SubscriptionArn=subs[0]["SubscriptionArn"])["Attributes"]
    assert json.loads(attrs["FilterPolicy"]) == {"sms_worthy": ["true"]}


def test_sms_caps_per_number_per_ip_and_country(sms):
    c, client, clock, key, pump, drain, receiver, _ = sms
    codes = [post(client, "/api/v1/subscribe", {"phone": "+14155550123"})[0].status_code
             for _ in range(4)]
    assert codes == [202, 202, 202, 429]                  # the 4th code to one number
    assert len(sms_sent()) == 3                           # and nothing was sent for it
    resp, err = post(client, "/api/v1/subscribe", {"phone": "+33612345678"})
    assert resp.status_code == 422 and "FR" in err["error"] and err["field"] == "phone"
    more = [post(client, "/api/v1/subscribe", {"phone": f"+1415555{n:04d}"})[0].status_code
            for n in range(200, 204)]
    # 5 per IP per hour, and the refused 4th attempt above counted against the address too
    assert more == [202, 429, 429, 429]
    assert len(sms_sent()) == 4


def test_global_sms_breaker_pauses_signup_and_tells_operators(sms):
    c, client, clock, key, pump, drain, receiver, _ = sms
    from dataclasses import replace

    # a botnet spreads over addresses: only the global breaker can stop it
    c.override(config=replace(c.config, subscribers=replace(c.config.subscribers,
                                                            sms_per_ip_per_hour=1000)))
    statuses = [post(client, "/api/v1/subscribe", {"phone": f"+4474001{n:05d}"})[0].status_code
                for n in range(12)]
    assert statuses == [202] * 8 + [429] * 4
    assert len(sms_sent()) == 8
    alerts = drain("ops")
    assert sum("SMS sign-up paused" in a or "verification SMS" in a for a in alerts) == 1


@pytest.mark.parametrize("body, field", [
    ({}, "body"), ({"email": "x@y.z", "phone": "+1"}, "body"), ({"email": "nope"}, "email"),
    ({"webhook": "http://10.0.0.1/x"}, "webhook"), ({"email": "a@b.example", "components": ["zz"]},
                                                    "components"),
    ({"email": "a@b.example", "colour": 1}, "colour"), ({"phone": 12}, "phone"),
])
def test_bad_subscribe_input_is_422(wired, body, field):
    c, client, *_ = wired
    from dataclasses import replace
    c.override(config=replace(c.config, checks=replace(c.config.checks, allow_private_targets=False)))
    resp, err = post(client, "/api/v1/subscribe", body)
    assert resp.status_code == 422 and err["field"] == field, err


def test_email_signup_is_enumeration_safe_and_operators_can_erase(wired):
    c, client, clock, key, *_ = wired
    first = post(client, "/api/v1/subscribe", {"email": "Ann@Example.com", "components": ["api"]})
    second = post(client, "/api/v1/subscribe", {"email": "ann@example.com"})
    assert first[0].status_code == second[0].status_code == 202
    assert first[1]["message"] == second[1]["message"]
    listing = json.loads(client.http.get("/api/v1/pages/acme/subscribers",
                                         headers={"Authorization": f"Bearer {key}"}).body)
    assert [s["address"] for s in listing] == ["Ann@Example.com"]
    gone = client.http.delete(f"/api/v1/pages/acme/subscribers/{listing[0]['id']}",
                              headers={"Authorization": f"Bearer {key}"})
    assert gone.status_code == 200
    assert boto3.client("sns", region_name="us-east-1").list_subscriptions_by_topic(
        TopicArn=c.notifier.updates_topic_arn)["Subscriptions"][2:] == []


def test_confirmed_outage_opens_an_incident_by_itself_and_recovery_moves_it_to_monitoring(
        wired, targets):
    from chalicelib.usecases.rounds import run_round
    c, client, clock, key, pump, drain, receiver, _ = wired
    targets = targets[0]                       # the same live targets the stack watches
    targets.behaviour = "fail"
    for _ in range(2):
        clock.tick(60)
        run_round(c)
    pump()                                     # component event -> auto-incident -> its update
    pump()
    unresolved = json.loads(client.http.get("/api/v2/incidents/unresolved.json").body)["incidents"]
    assert [i["name"] for i in unresolved] == ["API is experiencing issues"]
    (inc,) = unresolved
    assert inc["status"] == "investigating" and inc["impact"] == "major"
    assert "failing from 3 of 3 regions" in inc["incident_updates"][0]["body"]
    public = [json.loads(m) for m in drain("public")]
    assert [p["incident"]["name"] for p in public] == ["API is experiencing issues"]
    ops = drain("ops")
    assert any("Outpost opened an incident by itself" in m for m in ops)
    # replays change nothing
    pump()
    assert len(json.loads(client.http.get("/api/v2/incidents.json").body)["incidents"]) == 1
    targets.behaviour = "ok"
    for _ in range(2):
        clock.tick(60)
        run_round(c)
    pump()
    pump()
    clock.tick(6)
    (inc,) = json.loads(client.http.get("/api/v2/incidents.json").body)["incidents"]
    assert inc["status"] == "monitoring"       # a human resolves it


def test_quiet_incident_nudges_operators_once_per_interval(wired):
    from chalicelib.usecases.fanout import nudge_quiet_incidents
    c, client, clock, key, pump, drain, receiver, _ = wired
    post(client, "/api/v1/pages/acme/incidents", {"incident": {"name": "Slow"}}, key)
    clock.tick(29 * 60)
    assert nudge_quiet_incidents(c) == 0
    clock.tick(2 * 60)
    assert nudge_quiet_incidents(c) == 1
    assert nudge_quiet_incidents(c) == 0       # once per interval
    clock.tick(30 * 60)
    assert nudge_quiet_incidents(c) == 1
    nudges = [m for m in drain("ops") if "has had no public update" in m]
    assert len(nudges) == 2


def test_subscriptions_get_the_dead_letter_queue(wired):
    c, client, *_ = wired
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="updates-dlq")["QueueUrl"]
    dlq = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    notifier = c.notifier
    c.override(notifier=Notifier("us-east-1", notifier.updates_topic_arn,
                                 notifier.operator_topic_arn, dlq))
    assert post(client, "/api/v1/subscribe", {"email": "dl@example.com"})[0].status_code == 202
    sns = boto3.client("sns", region_name="us-east-1")
    (sub,) = [s for s in sns.list_subscriptions()["Subscriptions"] if s["Protocol"] == "email"]
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"]) == {"deadLetterTargetArn": dlq}


def test_the_pages_plain_html_form_subscribes(wired):
    c, client, *_ = wired
    page = client.http.get("/")
    assert b'<form method="post" action="' in page.body and b'name="email"' in page.body
    resp = client.http.post("/api/v1/subscribe", body="email=form%40example.com",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 202 and b"Check your inbox" in resp.body
    assert resp.headers["Content-Type"].startswith("text/html")
    bad = client.http.post("/api/v1/subscribe", body="email=%3Cscript%3E",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert bad.status_code == 422 and b"<script>" not in bad.body


def test_flapping_component_sends_one_webhook_or_none(wired, targets):
    from dataclasses import replace

    from chalicelib.usecases.fanout import flush_component_updates
    from chalicelib.usecases.rounds import run_round
    c, client, clock, key, pump, drain, receiver, hooks = wired
    c.override(config=replace(c.config, operations=replace(c.config.operations,
                                                           auto_incidents=False)))
    hooks.subscribe(post, receiver.url)
    target = targets[0]

    def rounds(behaviour, n):
        target.behaviour = behaviour
        for _ in range(n):
            clock.tick(60)
            run_round(c)
        pump()
    rounds("fail", 2)                  # down...
    rounds("ok", 2)                    # ...and back within the 300 s window
    clock.tick(400)
    assert flush_component_updates(c) == 0 and hooks.deliver() == 0
    rounds("fail", 2)                  # down for good
    assert flush_component_updates(c) == 0                   # still inside the window
    clock.tick(301)
    assert flush_component_updates(c) >= 1                   # queued, not posted ...
    assert receiver.deliveries == []
    assert hooks.deliver() == 1                              # ... the worker posts it
    (delivery,) = receiver.deliveries
    body = json.loads(delivery[1])
    assert body["component_update"]["old_status"] == "operational"
    assert body["component_update"]["new_status"] == "major_outage"
    assert flush_component_updates(c) == 0                  # sent once


def test_an_http_endpoint_subscribed_to_the_topic_gets_statuspage_json_once(wired):
    """Operators can also hang their own endpoints (or Lambda/SQS) straight off the topic."""
    c, client, clock, key, pump, drain, receiver, _ = wired
    sns = boto3.client("sns", region_name="us-east-1")
    sns.subscribe(TopicArn=c.notifier.updates_topic_arn, Protocol="http", Endpoint=receiver.url,
                  Attributes={"RawMessageDelivery": "true"})
    _, inc = post(client, "/api/v1/pages/acme/incidents", {"incident": {"name": "Via SNS"}}, key)
    pump()
    pump()
    (delivery,) = receiver.deliveries
    body = json.loads(delivery[1])
    if body.get("Type") == "Notification":       # moto wraps http deliveries even when raw
        body = json.loads(body["Message"])
    assert body["incident"]["id"] == inc["id"] and body["page"]["id"] == "acme"
    assert "X-Outpost-Signature" not in delivery[0]     # SNS's own delivery: not ours to sign
