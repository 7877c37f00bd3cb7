"""The real local stack (`make run`'s process) as a subprocess, watching real targets on 127.0.0.1."""
import json
import os
import time
import urllib.error
import urllib.request

import pytest

from tests.e2e.stack import Stack, fetch, wait_for
from tests.targets import Receiver as Hook
from tests.targets import Target


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory):
    """One demo stack for this module's demo tests (a start-up is ~5 CPU-s); each test mends
    what it broke."""
    stack = Stack(tmp_path_factory.mktemp("demo"))
    yield stack
    stack.stop()


def test_demo_component_goes_down_and_comes_back(demo_stack):
    s = demo_stack
    demo = f"http://127.0.0.1:{s.demo_port}"
    wait_for(lambda: s.status_of("API") == "operational", 30, "API operational")
    key = open(os.path.join(s.local_dir, "operator.key")).read().strip()
    assert key.startswith("op_")
    fetch(demo + "/_demo/fail?path=/health", method="POST")
    wait_for(lambda: s.status_of("API") == "major_outage", 30, "API major_outage")
    assert s.status_of("Website") == "operational"
    status = fetch(s.url + "/api/v2/status.json")["status"]
    assert status == {"indicator": "major", "description": "Partial System Outage"}
    fetch(demo + "/_demo/recover", method="POST")
    wait_for(lambda: s.status_of("API") == "operational", 30, "API back to operational")


def test_a_single_region_outage_is_scoped_not_shown(demo_stack):
    s = demo_stack
    demo = f"http://127.0.0.1:{s.demo_port}"
    fetch(demo + "/_demo/fail?path=/search&region=eu-west-1", method="POST")

    def scoped():
        body = fetch(s.url + "/api/v2/summary.json")
        search = next(c for c in body["components"] if c["name"] == "Search")
        return body["outpost"]["components"][search["id"]]["scope_text"] == \
            "failing from 1 of 3 regions" and search["status"] == "operational"
    try:
        wait_for(scoped, 30, "search failing from one region only")
    finally:
        fetch(demo + "/_demo/recover", method="POST")


def test_custom_status_file_against_a_real_target_and_clean_shutdown(tmp_path):
    target = Target()
    status_file = tmp_path / "status.yaml"
    status_file.write_text(f"""
page: {{id: e2e, name: E2E, url: "http://127.0.0.1"}}
checks: {{regions: [r1, r2], quorum: 2, failure_threshold: 2, success_threshold: 1,
          allow_private_targets: true, interval: 1s}}
components:
  - id: svc
    name: Service
    monitors: [{{url: "{target.url}/health", timeout: 1s}}]
""")
    stack = Stack(tmp_path, STATUS_FILE=str(status_file), CHECK_REGIONS="r1,r2")
    try:
        wait_for(lambda: target.requests, 20, "the first probe")
        assert {r["ua"].rsplit("region=", 1)[1].rstrip(")") for r in target.requests} <= {"r1", "r2"}
        target.behaviour = "fail"
        wait_for(lambda: stack.status_of("Service") == "major_outage", 30, "outage")
        target.behaviour = "ok"
        wait_for(lambda: stack.status_of("Service") == "operational", 30, "recovery")
    finally:
        stack.stop()
        target.close()
    assert stack.proc.returncode == 0
    assert "Outpost local stack stopped." in open(tmp_path / "stack.log").read()


def subscribe(stack, url):
    req = urllib.request.Request(stack.url + "/api/v1/subscribe", method="POST",
                                 data=json.dumps({"webhook": url}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 202
        return json.loads(resp.read())["subscriber"]


def test_webhooks_get_signed_events_and_dark_ones_do_not_slow_the_rounds(tmp_path):
    """One good webhook, one tarpit and 20 blackholes (all proved their URL, then went dark):
    the good one gets signed events, and check rounds keep their 1 s cadence throughout."""
    from chalicelib.core.deliveries import verify_signature
    target = Target()
    status_file = tmp_path / "status.yaml"
    status_file.write_text(f"""
page: {{id: e2e, name: E2E, url: "http://127.0.0.1"}}
checks: {{regions: [r1, r2], quorum: 2, failure_threshold: 2, success_threshold: 1,
          allow_private_targets: true, interval: 1s}}
subscribers: {{debounce: 1s, webhook_per_ip_per_hour: 50}}
components:
  - id: svc
    name: Service
    monitors: [{{url: "{target.url}/health", timeout: 1s}}]
""")
    good, dark = Hook(), [Hook() for _ in range(21)]
    stack = Stack(tmp_path, STATUS_FILE=str(status_file), CHECK_REGIONS="r1,r2")
    try:
        secret = subscribe(stack, good.url)["secret"]
        for hook in dark:
            subscribe(stack, hook.url)
        wait_for(lambda: good.challenges and all(h.challenges for h in dark), 30,
                 "every webhook to answer its challenge")
        time.sleep(1.5)                       # the worker records the activations
        for n, hook in enumerate(dark):
            hook.mode = "tarpit" if n == 0 else "blackhole"
        started = time.monotonic()
        target.behaviour = "fail"             # an outage: auto-incident + component change
        wait_for(lambda: len(good.events) >= 2, 40, "the incident and component webhooks")
        wait_for(lambda: sum(h.dark_hits for h in dark) >= 21, 20, "the dark webhooks' tries")
        time.sleep(8)                          # rounds go on while 21 deliveries hang
        ended = time.monotonic()
        rounds = sorted(r["at"] for r in target.requests if "region=r1" in r["ua"]
                        and started <= r["at"] <= ended)
        gaps = [b - a for a, b in zip(rounds, rounds[1:])]
        assert len(rounds) >= (ended - started) * 0.6, (len(rounds), ended - started)
        # A round that posted inline would wait out the 10 s delivery deadline; a loaded machine
        # may stretch a gap by a few seconds, never to that.
        assert max(gaps) < 7.0, gaps
        kinds = set()
        for headers, body, arrived in good.events:
            assert verify_signature(secret, body, headers["X-Outpost-Signature"], arrived)
            assert headers["X-Outpost-Event"]
            kinds |= set(json.loads(body)) & {"incident", "component_update"}
        assert kinds == {"incident", "component_update"}
        assert dark[0].dark_hits >= 1                          # the tarpit was really tried
    finally:
        stack.stop()
        target.close()
        for hook in [good] + dark:
            hook.close()


def test_the_page_is_served_through_the_local_edge_as_cloudfront_serves_it(demo_stack):
    """`make run`'s page URL is the edge: a cached, compressed copy, one origin request for many
    visitors (counted in the origin's own request log), and the S3 static copy behind it."""
    import gzip

    import boto3
    s = demo_stack

    def origin_gets(path):
        return s.output().count(f'"GET {path} HTTP/1.1"')
    answers = []
    for _ in range(5):
        req = urllib.request.Request(s.url + "/", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            answers.append((resp.headers["Content-Encoding"], resp.headers["X-Cache"],
                            gzip.decompress(resp.read())))
    assert {a[0] for a in answers} == {"gzip"}
    assert answers[-1][1] == "HIT" and b"<html" in answers[-1][2]
    assert origin_gets("/") == 1
    # the static copy the edge fails over to: written by the app into the moto S3 bucket
    aws = dict(line.strip().split("=", 1) for line in open(os.path.join(s.local_dir, "aws.env")))
    s3 = boto3.client("s3", endpoint_url=aws["AWS_ENDPOINT_URL"], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    assert aws["STATIC_BUCKET"] == s.edge["static_bucket"]
    wait_for(lambda: s3.list_objects_v2(Bucket=aws["STATIC_BUCKET"], Prefix="index.html")
             .get("KeyCount"), 20, "the static copy")
    beat = wait_for(lambda: fetch(s.url + "/heartbeat.json"), 20, "heartbeat.json from S3")
    assert set(beat) == {"data_as_of", "data_as_of_epoch"}
    # operator API through the edge: uncached, every request reaches the origin
    key = open(os.path.join(s.local_dir, "operator.key")).read().strip()
    for _ in range(2):
        req = urllib.request.Request(s.url + "/api/v1/pages/demo/incidents",
                                     headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200 and "X-Cache" not in resp.headers
    assert origin_gets("/api/v1/pages/demo/incidents") == 2
