"""Per-visitor limits on the public POSTs behind CloudFront: every visitor reaches the API from
a few shared edge (Origin Shield) addresses, so a limit on that address is one limit for the
whole audience, and a caller that goes straight to execute-api can write any
CloudFront-Viewer-Address. With the origin secret set (production), only a request that
carries CloudFront's X-Outpost-Origin is counted by its viewer (chalicelib/web/httpkit.py)."""
import json
from dataclasses import replace

from tests.api.calls import from_ip, post, report
from tests.api.harness import cap

SECRET = "origin-secret-for-tests"


def with_origin_secret(c):
    c.override(settings=replace(c.settings, origin_secret=SECRET))


def test_sign_up_limits_count_each_visitor_behind_cloudfront(wired, monkeypatch):
    c, client, *_ = wired
    with_origin_secret(c)
    cap(c, email_per_ip_per_hour=3)
    from_ip(monkeypatch, "130.176.0.1")                  # an Origin Shield server
    codes = [post(client, "/api/v1/subscribe", {"email": f"person{n}@example.com"},
                  **{"CloudFront-Viewer-Address": f"198.51.100.{n + 1}:443",
                     "X-Outpost-Origin": SECRET})[0].status_code for n in range(8)]
    assert 429 not in codes, codes                      # eight visitors, one sign-up each
    codes = [post(client, "/api/v1/subscribe", {"email": f"again{n}@example.com"},
                  **{"CloudFront-Viewer-Address": "198.51.100.1:443",
                     "X-Outpost-Origin": SECRET})[0].status_code for n in range(3)]
    assert codes[-1] == 429                             # the first visitor's own cap holds
    # Straight to execute-api, a forged viewer address is ignored: the caller's own counts.
    from_ip(monkeypatch, "203.0.113.9")
    codes = [post(client, "/api/v1/subscribe", {"email": f"forged{n}@example.com"},
                  **{"CloudFront-Viewer-Address": f"192.0.2.{n + 1}:1"})[0].status_code
             for n in range(5)]
    assert codes[3:] == [429, 429], codes


def test_a_busy_outage_is_not_refused_at_the_shared_edge_address(ops):
    """Hundreds of visitors reporting through CloudFront are each counted once, not as one
    edge address relaying too many."""
    from chalicelib.usecases.reporting import SOURCE_FACTOR
    c, client, *_ = ops
    with_origin_secret(c)
    c.override(config=replace(c.config, reports=replace(c.config.reports, per_ip_per_hour=2)))
    visitors = 2 * SOURCE_FACTOR + 10
    codes = []
    for i in range(visitors):
        resp = client.http.post("/api/v1/reports", body=json.dumps(
            {"component": "api", "kind": "down"}), headers={
            "Content-Type": "application/json", "X-Outpost-Origin": SECRET,
            "CloudFront-Viewer-Address": f"198.51.{i // 250}.{i % 250 + 1}:1"})
        codes.append(resp.status_code)
    assert codes == [202] * visitors
    # Without CloudFront's header the forged addresses are one caller: its own per-IP cap.
    codes = [report(client, {"component": "web", "kind": "down"},
                    address=f"192.0.2.{i + 1}:1")[0].status_code for i in range(4)]
    assert codes == [202, 202, 429, 429]
