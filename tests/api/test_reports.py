"""User reports end to end on the real app over moto: the public POST (JSON and the page's HTML
form), the scheduler's sweep through the real scheduled handler, the operator topic (SNS with an
SQS subscriber), the snapshot, summary.json and the page."""
import json
from urllib.parse import urlencode

import boto3
import pytest

from chalicelib.core.snapshot import public_id
from chalicelib.usecases.manage import mint_key
from tests.api.calls import report
from tests.api.harness import spike_alerts, tick

API = public_id("acme", "component", "api")
WEB = public_id("acme", "component", "web")





def summary(client):
    return json.loads(client.http.get("/api/v2/summary.json").body)


def window_count(c, key):
    from chalicelib.core import reports as core
    now = c.clock()
    b = core.window_buckets(now, c.config.reports.window)
    return core.tally(c.store.report_window(b[0], b[-1]).values(), [key])[key].count


def test_thirty_clients_make_one_spike_one_alert_and_a_public_count(ops):
    c, client, clock, drain = ops
    for i in range(30):
        resp, body = report(client, {"component": "api", "kind": "down" if i % 3 else "slow"},
                            address=f"198.51.100.{i + 1}:{40000 + i}",
                            country="US" if i % 2 else "DE")
        assert resp.status_code == 202 and body["counted"] is True, body
    assert window_count(c, "api") == 30
    tick(client)
    alerts = spike_alerts(drain())
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["Subject"] == "[Acme Status] 30 user reports about API in 30 minutes"
    text = alert["Message"]
    assert "30 people reported problems with API in the last 30 minutes" in text
    assert "Top countries: DE 15, US 15." in text
    assert "down or not loading 20, slow 10" in text
    assert "Checks: operational from" in text                 # the checks' own view
    assert f"https://status.acme.example/#c-{API}" in text
    assert "/api/v1/pages/acme/reports?component=api" in text

    # The page and summary.json show the count; Statuspage's own fields are untouched.
    s = summary(client)
    assert s["outpost"]["reports"] == {API: 30}
    assert s["outpost"]["reports_window_seconds"] == 1800
    assert set(s) == {"page", "components", "incidents", "scheduled_maintenances", "status",
                      "outpost"}
    assert all(set(row) >= {"id", "status"} and "reports" not in row for row in s["components"])
    page = client.http.get("/").body.decode()
    assert "30 people reported problems with API in the last 30 minutes" in page
    assert "reported problems with Website" not in page

    # The spike goes on for a while and is still one spike: no second alert.
    for _ in range(5):
        clock.tick(60)
        report(client, {"component": "api", "kind": "down"}, address=f"203.0.113.{_ + 1}:1")
        tick(client)
    assert spike_alerts(drain()) == []
    assert summary(client)["outpost"]["reports"] == {API: 35}

    # Reports age out of the window: the count leaves the page by itself, with no new report.
    clock.tick(31 * 60)
    tick(client)
    assert summary(client)["outpost"]["reports"] == {}
    assert "people reported problems" not in client.http.get("/").body.decode()
    assert spike_alerts(drain()) == []


def test_one_client_counts_once_and_is_capped(ops):
    c, client, clock, drain = ops
    codes = []
    for _ in range(30):
        resp, body = report(client, {"component": "api", "kind": "down"},
                            address="198.51.100.9:5000")
        codes.append(resp.status_code)
        if resp.status_code == 429:
            assert int(resp.headers["Retry-After"]) > 0 and body["error"]
    cap = c.config.reports.per_ip_per_hour
    assert codes == [202] * cap + [429] * (30 - cap)
    assert window_count(c, "api") == 1
    tick(client)
    assert spike_alerts(drain()) == [] and summary(client)["outpost"]["reports"] == {}


def test_an_ipv6_client_is_one_client_across_its_64(ops):
    c, client, *_ = ops
    for host in ("2001:db8:7:1::1", "2001:db8:7:1:ffff::2", "[2001:db8:7:1::3]"):
        resp, body = report(client, {"component": "web", "kind": "slow"}, address=f"{host}:443")
        assert resp.status_code == 202
    report(client, {"component": "web", "kind": "slow"}, address="2001:db8:7:2::1:443")
    assert window_count(c, "web") == 2


def test_the_same_client_may_report_each_component_once(ops):
    c, client, *_ = ops
    for component in ("api", "web", API):        # the public id is the same component as "api"
        resp, body = report(client, {"component": component, "kind": "errors"})
        assert resp.status_code == 202
    assert body["counted"] is False
    assert (window_count(c, "api"), window_count(c, "web")) == (1, 1)


def test_without_cloudfront_the_source_address_is_the_client(ops):
    c, client, *_ = ops
    for _ in range(3):
        assert report(client, {"component": "api", "kind": "down"}, address=None,
                      country=None)[0].status_code == 202
    assert window_count(c, "api") == 1


@pytest.mark.parametrize("body, status, field", [
    ({"component": "nope", "kind": "down"}, 422, "component"),
    ({"component": "api", "kind": "furious"}, 422, "kind"),
    ({"component": "api", "kind": "down", "note": "x" * 281}, 422, "note"),
    ({"component": "api", "kind": "down", "note": "x" * 2_000_000}, 413, "body"),
])
def test_bad_reports_are_refused_naming_the_field(ops, body, status, field):
    c, client, *_ = ops
    resp, err = report(client, body)
    assert resp.status_code == status and err["field"] == field and err["error"]
    assert window_count(c, "api") == 0


def test_unparseable_and_oversized_bodies(ops):
    c, client, *_ = ops
    assert report(client, None, raw="{not json")[0].status_code == 400
    resp = client.http.post("/api/v1/reports", body=b"x" * 5000,
                            headers={"Content-Type": "application/json"})
    assert resp.status_code == 413
    resp = client.http.post("/api/v1/reports", body="component=api",
                            headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415


def test_the_html_form_posts_without_javascript(ops):
    c, client, *_ = ops
    tick(client)                                     # publish: the page now carries the forms
    page = client.http.get("/").body.decode()
    # One form for the page, every component a choice in it, by its status-file key.
    assert page.count('action="api/v1/reports"') == 1
    assert "Having trouble with one of these?" in page
    assert '<option value="api">API</option>' in page and '<option value="web">Website</option>' in page
    form = {"component": "api", "kind": "login", "note": "can't sign in <b>since 9</b>"}
    resp = client.http.post("/api/v1/reports", body=urlencode(form),
                            headers={"Content-Type": "application/x-www-form-urlencoded",
                                     "CloudFront-Viewer-Address": "192.0.2.5:1234"})
    assert resp.status_code == 202
    assert resp.headers["Content-Type"].startswith("text/html")
    html = resp.body.decode()
    assert "Thanks" in html and "report about API" in html
    assert window_count(c, "api") == 1
    bad = client.http.post("/api/v1/reports", body=urlencode({"component": "x", "kind": "down"}),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert bad.status_code == 422 and "unknown component" in bad.body.decode()
    assert bad.headers["Content-Type"].startswith("text/html")
    big = client.http.post("/api/v1/reports", body=urlencode({**form, "note": "n" * 5000}),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413


def test_notes_are_for_operators_only_and_no_raw_address_is_stored(ops):
    c, client, *_ = ops
    note = "checkout hangs at step 3 (secret-marker)"
    report(client, {"component": "api", "kind": "errors", "note": note},
           address="198.51.100.77:1000", country="FR")
    for i in range(10):                              # enough for a public count too
        report(client, {"component": "api", "kind": "down"}, address=f"192.0.2.{i + 1}:1")
    tick(client)
    assert summary(client)["outpost"]["reports"] == {API: 11}
    for path in ("/", "/api/v2/summary.json", "/history.atom", "/history.rss",
                 "/api/v2/components.json", "/api/v2/incidents.json"):
        assert "secret-marker" not in client.http.get(path).body.decode(), path

    reader = mint_key(c, "reader", ["subscribers:read"])
    writer = mint_key(c, "writer", ["incidents:write"])
    url = "/api/v1/pages/acme/reports"
    assert client.http.get(url).status_code == 401
    assert client.http.get(url, headers={"Authorization": f"Bearer {writer}"}).status_code == 403
    resp = client.http.get(url + "?component=api&limit=100",
                           headers={"Authorization": f"Bearer {reader}"})
    assert resp.status_code == 200 and resp.headers["X-Total-Count"] == "11"
    items = json.loads(resp.body)
    noted = [i for i in items if i["note"]]
    assert [i["note"] for i in noted] == [note]
    assert noted[0]["country"] == "FR" and noted[0]["kind"] == "errors"
    assert noted[0]["component_id"] == API and noted[0]["component_key"] == "api"
    assert items == sorted(items, key=lambda i: i["created_at"], reverse=True)
    for query, status in (("?component=nope", 422), ("?limit=0", 400), ("?limit=x", 400)):
        got = client.http.get(url + query, headers={"Authorization": f"Bearer {reader}"})
        assert got.status_code == status, query

    # Neither the reports table nor the state table holds an address; everything expires.
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    reports_table = c.store.ReportRow.Meta.table_name
    items = ddb.scan(TableName=reports_table)["Items"]
    assert items and all("expires_at" in item for item in items)
    for table in (reports_table, c.store.StateRow.Meta.table_name):
        dump = json.dumps(ddb.scan(TableName=table)["Items"], default=str)
        assert "198.51.100" not in dump and "192.0.2." not in dump


def test_a_broken_report_store_never_touches_the_public_pages(ops, monkeypatch):
    c, client, *_ = ops
    tick(client)
    before = summary(client)

    def broken(*a, **k):
        raise RuntimeError("DynamoDB is having a bad day")
    for name in ("report_count", "report_window", "report_buckets"):
        monkeypatch.setattr(c.store, name, broken)
    resp, body = report(client, {"component": "api", "kind": "down"})
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "30"
    assert "status page itself is unaffected" in body["error"]
    tick(client)                                     # the sweep fails alone; checks still run
    for path in ("/", "/api/v2/summary.json", "/api/v2/status.json"):
        assert client.http.get(path).status_code == 200
    assert summary(client)["page"] == before["page"]


def test_reports_switched_off(stack):
    from dataclasses import replace
    c, client, clock, *_ = stack
    c.override(config=replace(c.config, reports=replace(c.config.reports, public=False)))
    tick(client)
    clock.tick(10)                                   # past the public cache's 5 s
    s = summary(client)
    assert "reports" not in s["outpost"] and s["outpost"]["reports_window_seconds"] == 1800
    assert '<option value="api">API</option>' in client.http.get("/").body.decode()
    c.override(config=replace(c.config, reports=replace(c.config.reports, enabled=False)))
    tick(client)
    clock.tick(10)
    assert "reports_window_seconds" not in summary(client)["outpost"]
    assert "Having trouble" not in client.http.get("/").body.decode()
    resp, err = report(client, {"component": "api", "kind": "down"})
    assert resp.status_code == 404 and "does not take" in err["error"]


def test_global_cap(ops):
    from dataclasses import replace
    c, client, *_ = ops
    c.override(config=replace(c.config, reports=replace(c.config.reports, global_per_hour=5)))
    codes = [report(client, {"component": "api", "kind": "down"},
                    address=f"198.51.100.{i + 1}:1")[0].status_code for i in range(8)]
    assert codes == [202] * 5 + [429] * 3
    assert window_count(c, "api") == 5


def test_failures_below_the_quorum_plus_a_spike_are_flagged_likely_real(ops, targets):
    from chalicelib.usecases.housekeeping import housekeeping
    from chalicelib.usecases.rounds import run_round
    c, client, clock, drain = ops
    api_target, _ = targets
    tick(client)                                     # every region sees the API healthy
    api_target.behaviour = "fail"
    for _ in range(2):                               # failure_threshold 2, from one region only
        clock.tick(60)
        run_round(c, regions=["us-west-2"])
    clock.tick(10)
    extra = summary(client)["outpost"]["components"][API]
    assert extra["scope"]["failing"] == 1 and extra["automatic_status"] == "operational"
    for i in range(12):
        report(client, {"component": "api", "kind": "errors"}, address=f"198.51.100.{i + 1}:9")
    housekeeping(c, "test")                          # the scheduler's sweep, without a round
    (alert,) = spike_alerts(drain())
    assert alert["Subject"] == "[Acme Status] Likely real: 12 user reports about API in 30 minutes"
    assert "failing from 1 of 3 regions, fewer than the quorum of 2" in alert["Message"]
    # Reports never change a component's status.
    clock.tick(10)
    assert next(r for r in summary(client)["components"] if r["id"] == API)["status"] == \
        "operational"


def test_as_many_reports_as_usual_at_this_time_of_day_is_no_spike(ops):
    from chalicelib.core import reports as core
    c, client, clock, drain = ops
    now = c.clock()
    for day in core.baseline_buckets(now, 1800):    # 12 reports in each of the last 7 days
        for n in range(12):
            c.store.count_report(day[n % len(day)], core.counter_attributes("api", "US", "down"),
                                 now + 86400)
    for i in range(30):                              # 30 < 3 x 12: busy, but as usual
        report(client, {"component": "api", "kind": "down"}, address=f"198.51.100.{i + 1}:2")
    tick(client)
    assert spike_alerts(drain()) == []
    assert summary(client)["outpost"]["reports"] == {API: 30}   # still over the threshold
    for i in range(6):                               # 36 = 3 x the usual 12: now it is a spike
        report(client, {"component": "api", "kind": "down"}, address=f"203.0.113.{i + 1}:2")
    clock.tick(30)
    tick(client)
    (alert,) = spike_alerts(drain())
    assert "usual for this time of day: 12" in alert["Message"]


def test_one_source_relaying_many_viewer_addresses_is_capped(ops):
    """A caller that reaches the API directly can write any CloudFront-Viewer-Address: the
    address API Gateway saw may relay many viewers (a CloudFront edge does), but not without
    bound."""
    from dataclasses import replace

    from chalicelib.usecases.reporting import SOURCE_FACTOR
    c, client, *_ = ops
    c.override(config=replace(c.config, reports=replace(c.config.reports, per_ip_per_hour=2)))
    relayed = 2 * SOURCE_FACTOR
    codes = [report(client, {"component": "api", "kind": "down"},
                    address=f"198.51.{i // 250}.{i % 250 + 1}:1")[0].status_code
             for i in range(relayed + 3)]
    assert codes == [202] * relayed + [429] * 3
    assert window_count(c, "api") == relayed
