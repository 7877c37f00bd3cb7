"""A component mirroring a vendor's Statuspage served on 127.0.0.1, and the private certificate
heads-ups, on the real app over moto (SNS and SQS for the operators' topic)."""
from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import wiring
from chalicelib.adapters.notify import Notifier
from chalicelib.adapters.prober import Prober
from chalicelib.core.config import load_status_text
from chalicelib.usecases import expiry
from chalicelib.usecases.rounds import run_round
from tests.api.conftest import Clock
from tests.netfixtures import CA, Web, server_context
from tests.statusfiles import (check_policy, component, http_monitor, status_yaml,
                               statuspage_monitor)
from tests.vendorpage import VendorPage

STATUS = status_yaml(
    [component("payments", "Payments", statuspage_monitor("${VENDOR}", "Payments")),
     component("web", "Website", http_monitor(
         "${WEB}", timeout="2s", conditions=["[STATUS] == 200", "[CERTIFICATE_EXPIRATION] > 48h"]))],
    checks=check_policy(allow_private_targets=True))


@pytest.fixture
def world(tmp_path):
    vendor = VendorPage()
    ca = CA(str(tmp_path))
    cert, key, _ = ca.leaf(["good.test"], valid_for=dt.timedelta(days=5))
    web = Web(tls=server_context(cert, key))
    expiry._sent.clear()
    with mock_aws():
        c = wiring.container
        c.reset()
        c.env = {"AWS_DEFAULT_REGION": "us-east-1", "SNAPSHOT_CACHE_SECONDS": "0",
                 "CHECK_REGIONS": "us-west-2,eu-west-1,ap-southeast-2"}
        clock = Clock(dt.datetime.now(dt.timezone.utc).timestamp())
        cfg = load_status_text(STATUS, "tp.yaml", {"VENDOR": vendor.url,
                                                   "WEB": web.url("/ok", host="good.test")})
        sns, sqs = boto3.client("sns", "us-east-1"), boto3.client("sqs", "us-east-1")
        topic = sns.create_topic(Name="operator")["TopicArn"]
        queue = sqs.create_queue(QueueName="ops")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "true"})
        prober = Prober(cfg.page.url, True, clock=clock, ca_file=ca.file,
                        resolver=lambda name: ["127.0.0.1"])
        c.override(config=cfg, clock=clock, prober=prober,
                   notifier=Notifier("us-east-1", None, topic))
        c.store.create_tables()

        def alerts():
            got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
            return [m["Body"] for m in got.get("Messages", [])]

        from app import app
        with Client(app) as client:
            yield c, client, clock, vendor, alerts
        c.reset()
        c.env = None
    vendor.close()
    web.close()


def summary(client):
    return json.loads(client.http.get("/api/v2/summary.json").body)


def status(client, name):
    return next(r["status"] for r in summary(client)["components"] if r["name"] == name)


def rounds(c, clock, n=2):
    for _ in range(n):
        clock.tick(60)
        run_round(c)


def test_a_vendor_page_on_127_0_0_1_drives_a_component(world):
    c, client, clock, vendor, _ = world
    rounds(c, clock)
    assert status(client, "Payments") == "operational"
    vendor.statuses["payments"] = "partial_outage"
    rounds(c, clock, 1)
    assert status(client, "Payments") == "operational"          # damped like any check
    rounds(c, clock, 1)
    assert status(client, "Payments") == "partial_outage"       # the vendor's words, not ours
    vendor.statuses["payments"] = "under_maintenance"
    rounds(c, clock)
    assert status(client, "Payments") == "under_maintenance"
    vendor.statuses.update(payments="operational", api="major_outage")
    rounds(c, clock)
    assert status(client, "Payments") == "operational"          # only the named component
    page = client.http.get("/").body.decode()
    assert "Third-party: mirrors 127.0.0.1&#39;s own status page" in page or \
        "Third-party: mirrors 127.0.0.1's own status page" in page


@pytest.mark.parametrize("mode", ["down", "garbage", "huge"])
def test_an_unreadable_vendor_page_is_no_news_then_unknown(world, mode):
    c, client, clock, vendor, _ = world
    vendor.statuses["payments"] = "degraded_performance"
    rounds(c, clock)
    assert status(client, "Payments") == "degraded_performance"
    vendor.mode = mode
    rounds(c, clock, 4)                                           # past 3 intervals of silence
    body = summary(client)
    row = next(r for r in body["components"] if r["name"] == "Payments")
    assert row["status"] == "degraded_performance"               # never a made-up outage
    recent = c.store.recent_results("us-west-2", limit=1)[0]["results"]
    assert any("vendor status page" in r.get("e", "") for r in recent)


def test_certificate_heads_ups_go_to_operators_once_and_never_to_the_page(world):
    c, client, clock, _, alerts = world
    rounds(c, clock, 3)
    sent = [a for a in alerts() if "heads-up" in a]
    assert len(sent) == 1 and "7-day heads-up" in sent[0]
    expiry._sent.clear()                                          # a cold process: the fence holds
    rounds(c, clock, 1)
    assert [a for a in alerts() if "heads-up" in a] == []
    assert status(client, "Website") == "operational"            # 5 days > the public 48h
    assert "certificate" not in json.dumps(summary(client)).lower()
    assert "expires" not in client.http.get("/").body.decode().lower()
    clock.tick(2.5 * 86400)                                       # now inside 3 days
    rounds(c, clock, 1)
    sent = [a for a in alerts() if "heads-up" in a]
    assert len(sent) == 1 and "3-day heads-up" in sent[0]


def test_a_heads_up_names_the_host_never_the_monitor_url_and_its_secrets(world):
    """A monitor URL may carry a secret (`?key=${HEALTH_KEY}`, substituted at load); the
    heads-up goes to the operators' topic and to every chat channel with alerts, so it names
    the certificate's host only."""
    from dataclasses import replace
    c, client, clock, _, alerts = world
    comps = tuple(replace(comp, monitors=tuple(
        replace(m, url=m.url + "?key=hc-secret-0123456789") if comp.id == "web" else m
        for m in comp.monitors)) for comp in c.config.components)
    c.override(config=replace(c.config, components=comps))
    rounds(c, clock, 3)
    (sent,) = [a for a in alerts() if "heads-up" in a]
    assert "good.test" in sent
    assert "hc-secret-0123456789" not in sent and "/ok" not in sent
