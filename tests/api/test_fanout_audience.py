"""Who hears what, on moto SNS with real filter policies: a page-wide event reaches everyone, a
component event only that component's subscribers (and those subscribed to everything), by
email, SMS and webhook alike. Every Publish goes through StrictSNS: what real SNS would refuse
fails here, even where moto would take it."""
import json
from dataclasses import replace

import boto3
import pytest

from chalicelib.core.audience import filter_policy
from tests.sns_rules import policy_admits, subject_problems


def test_moto_applies_string_array_filter_policies_as_sns_documents_them(wire):
    """The ground truth for the rest: moto really filters String.Array attributes with our
    policies, and agrees with our own reading of AWS's matching rules."""
    policies = {"all": None, "api": filter_policy(["api"], False),
                "web": filter_policy(["web"], False), "api-sms": filter_policy(["api"], True),
                "sms-all": filter_policy(None, True)}
    for name, policy in policies.items():
        wire.queue(name, policy)
    events = {"api-down": (["api"], True), "page-wide": ([], False),
              "web-slow": (["web"], False), "both": (["api", "web"], True)}
    for label, (components, sms_worthy) in events.items():
        message = json.dumps({"default": label, "sqs": label})
        wire.c.notifier.publish_update(message, label, components, sms_worthy, "incident_update")
    got = {name: sorted(wire.drain(name)) for name in policies}
    assert got == {
        "all": ["api-down", "both", "page-wide", "web-slow"],
        "api": ["api-down", "both", "page-wide"],
        "web": ["both", "page-wide", "web-slow"],
        "api-sms": ["api-down", "both"],
        "sms-all": ["api-down", "both"],
    }
    # ... and our own evaluation of each policy against the attributes actually sent agrees
    sent = {p["Subject"]: p["MessageAttributes"] for p in wire.sns.published}
    mine = {name: sorted(label for label, attrs in sent.items() if policy_admits(policy, attrs))
            for name, policy in policies.items()}
    assert mine == got


def _subscribe(wire, body):
    resp = wire.client.http.post("/api/v1/subscribe", body=json.dumps(body),
                                 headers={"Content-Type": "application/json"})
    assert resp.status_code in (201, 202), resp.body
    if "webhook" in body:
        wire.deliver()                   # the worker's url_verification challenge: active now
    return json.loads(resp.body)


def _mirror(wire, protocol, endpoint, name):
    """moto records no email or SMS delivery for topic fan-out, so each real email/SMS
    subscription's own FilterPolicy, as the app set it, is put on an SQS endpoint."""
    sns = boto3.client("sns", region_name="us-east-1")
    (sub,) = [s for s in sns.list_subscriptions_by_topic(TopicArn=wire.updates)["Subscriptions"]
              if s["Protocol"] == protocol and s["Endpoint"] == endpoint]
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
    policy = json.loads(attrs["FilterPolicy"]) if attrs.get("FilterPolicy") else None
    wire.queue(name, policy)
    return policy


def _verified_phone(wire, phone, components):
    from moto.sns.models import sns_backends
    c = wire.c
    c.override(config=replace(c.config, subscribers=replace(
        c.config.subscribers, sms_countries=("US",), sms_per_number_per_day=5,
        sms_per_ip_per_hour=10, sms_global_per_hour=50)))
    body = _subscribe(wire, {"phone": phone, "components": components, "all_updates": True})
    texts = [t for p, t in sns_backends["123456789012"]["us-east-1"].sms_messages.values()
             if p == phone.replace(" ", "")]
    code = texts[-1].split("code: ")[1][:6]
    resp = wire.client.http.post(
        "/api/v1/subscribe/verify", body=json.dumps({"id": body["subscriber"]["id"],
                                                     "code": code}),
        headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.body


def test_component_subscribers_get_their_components_and_page_wide_news_only(wire):
    hooks = {name: wire.receiver() for name in ("all", "api", "web")}
    for name, rec in hooks.items():
        _subscribe(wire, {"webhook": rec.url, **({"components": [name]} if name != "all" else {})})
    _subscribe(wire, {"email": "all@example.com"})
    _subscribe(wire, {"email": "api@example.com", "components": ["api"]})
    _verified_phone(wire, "+14155550123", ["api"])
    mail_all = _mirror(wire, "email", "all@example.com", "mail-all")
    mail_api = _mirror(wire, "email", "api@example.com", "mail-api")
    sms_api = _mirror(wire, "sms", "+14155550123", "sms-api")
    assert mail_all is None
    assert mail_api == {"components": ["api", "page"]} and sms_api == mail_api

    for name, body in (("API errors", {"component_ids": ["api"]}),
                       ("Everything is slow", {}),
                       ("Website down", {"components": {"web": "major_outage"}})):
        resp, _ = wire.call("POST", "/api/v1/pages/acme/incidents",
                            {"incident": {"name": name, **body}})
        assert resp.status_code == 201
    wire.pump()

    def names(queue):
        return sorted(json.loads(b)["incident"]["name"] for b in wire.drain(queue))
    every = ["API errors", "Everything is slow", "Website down"]
    assert names("mail-all") == every
    assert names("mail-api") == ["API errors", "Everything is slow"]
    assert names("sms-api") == ["API errors", "Everything is slow"]
    heard = {n: sorted(b["incident"]["name"] for b in r.bodies) for n, r in hooks.items()}
    assert heard == {"all": every, "api": ["API errors", "Everything is slow"],
                     "web": ["Everything is slow", "Website down"]}


def test_webhook_selection_is_the_sns_rule(wire):
    from chalicelib.usecases.fanout import _webhooks_for
    subs = {}
    for name, comps in (("all", None), ("api", ["api"]), ("both", ["api", "web"]),
                        ("web", ["web"])):
        rec = wire.receiver()
        body = _subscribe(wire, {"webhook": rec.url, **({"components": comps} if comps else {})})
        subs[body["subscriber"]["id"]] = name

    def selected(components):
        return sorted(subs[s["id"]] for s in _webhooks_for(wire.c, components))
    assert selected(()) == ["all", "api", "both", "web"]                # page-wide
    assert selected(("api",)) == ["all", "api", "both"]
    assert selected(("web",)) == ["all", "both", "web"]


@pytest.mark.parametrize("field, value", [
    ("name", "API\x07 down"), ("name", "two\nlines"), ("name", "esc\x1b[31m"),
    ("name", "nel\x85"), ("name", "sep\u2028arator"), ("body", "nul\x00byte"),
    ("body", "bell\x07"), ("body", "del\x7f")])
def test_control_characters_in_incident_text_are_a_422_naming_the_field(wire, field, value):
    payload = {"incident": {"name": "ok", field: value}}
    resp, err = wire.call("POST", "/api/v1/pages/acme/incidents", payload)
    assert resp.status_code == 422 and err["field"] == f"incident.{field}", err
    resp, inc = wire.call("POST", "/api/v1/pages/acme/incidents", {"incident": {"name": "ok"}})
    resp, err = wire.call("PATCH", f"/api/v1/pages/acme/incidents/{inc['id']}",
                          {"incident": {field: value}})
    assert resp.status_code == 422 and err["field"] == f"incident.{field}", err


def test_a_lone_surrogate_is_refused_before_it_is_stored(wire):
    resp, err = wire.call("POST", "/api/v1/pages/acme/incidents",
                          {"incident": {"name": "surrogate \ud800"}})
    assert resp.status_code in (400, 422), err
    assert wire.call("GET", "/api/v1/pages/acme/incidents")[1] == []


def test_bodies_keep_tabs_and_line_breaks(wire):
    resp, inc = wire.call("POST", "/api/v1/pages/acme/incidents",
                          {"incident": {"name": "Multi-line", "body": "one\r\ntwo\n\tthree"}})
    assert resp.status_code == 201
    assert inc["incident_updates"][0]["body"] == "one\r\ntwo\n\tthree"


def test_the_longest_name_and_page_name_go_out_in_a_form_sns_accepts(wire):
    c = wire.c
    c.override(config=replace(c.config, page=replace(c.config.page, name="Ácme " * 40)))
    wire.queue("all", None)
    name = "Ünïcode “quotes” — 🔥 " + "long " * 40
    resp, _ = wire.call("POST", "/api/v1/pages/acme/incidents",
                        {"incident": {"name": name[:200], "body": "é" * 5_000}})
    assert resp.status_code == 201
    wire.pump()                                          # StrictSNS refused nothing
    (published,) = [p for p in wire.sns.published if p["TopicArn"] == wire.updates]
    assert subject_problems(published["Subject"]) == [] and published["Subject"].endswith("...")
    (body,) = wire.drain("all")
    assert json.loads(body)["incident"]["name"] == name[:200].strip()


def test_operator_alerts_with_any_subject_go_out(wire):
    wire.c.notifier.publish_operator("\x00\n" * 50 + "[Acme] " + "z" * 300, "")
    wire.c.notifier.publish_operator("", "\x07" + "🔥" * 100_000)
    assert len(wire.drain("ops")) == 2
