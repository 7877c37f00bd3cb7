"""Write on change, from one place: a quiet round writes its results, its region views and a
small heartbeat, never the snapshot or the static copy; a change writes both; a checker stage
in another region never writes the page. Real app, real rounds against 127.0.0.1, moto."""
import json
from dataclasses import replace

import boto3
import pytest

from bench.dynamo import DynamoCalls
from bench.writes import recording
from chalicelib.adapters.static_copy import HEARTBEAT_KEY
from chalicelib.usecases.rounds import run_round
from tests.api.calls import get, summary
from tests.api.harness import REGIONS, rounds

BUCKET = "outpost-static-quiet"
PAGE_ITEMS = ("snapshot", "components")


@pytest.fixture
def home(stack):
    c, client, clock, api_target, web_target = stack
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    c.override(settings=replace(c.settings, static_bucket=BUCKET))
    c._built.pop("static_publisher", None)
    return stack


def by_round(c, clock, n):
    """[(dynamodb writes, s3 writes)] of `n` rounds."""
    out = []
    for _ in range(n):
        with recording() as seen:
            rounds(c, clock, 1)
        out.append(([w for w in seen if w.service == "dynamodb"],
                    [w for w in seen if w.service == "s3"]))
    return out


def test_quiet_rounds_write_only_results_views_and_a_small_heartbeat(home):
    c, client, clock, *_ = home
    rounds(c, clock, 2)                                  # the first write, then quiet
    version = c.store.load_snapshot()[1]
    quiet = by_round(c, clock, 4)
    for dynamo, s3 in quiet:
        keys = sorted(w.key for w in dynamo)
        assert keys == sorted(["heartbeat"] + [f"region#{r}" for r in REGIONS]
                              + [f"results#{r}" for r in REGIONS])
        beat = next(w for w in dynamo if w.key == "heartbeat")
        assert beat.size < 1024 and beat.op == "PutItem"
        assert [w.key for w in s3] in ([], [HEARTBEAT_KEY])   # the copy itself: untouched
    # heartbeat.json: every other round at 60 s rounds (static_copy.beat_every)
    assert sum(len(s3) for _, s3 in quiet) == 2
    assert c.store.load_snapshot()[1] == version
    # ... yet the page knows the newest check: read with the snapshot in one call
    c._built.pop("public_cache", None)
    calls = DynamoCalls()
    try:
        with calls.counting() as cold:
            body = summary(client, clock)
        with calls.counting() as warm:
            get(client, "/api/v2/components.json")
            assert client.http.get("/").status_code == 200
    finally:
        calls.uninstall()
    assert cold == ["BatchGetItem"] and warm == []
    heartbeat, _ = c.store.load_heartbeat()
    snap_as_of = c.store.load_snapshot()[0]["outpost"]["data_as_of_epoch"]
    assert body["outpost"]["data_as_of_epoch"] == heartbeat["as_of"] >= snap_as_of + 4 * 60 - 5
    assert body["outpost"]["stale"] is False
    s3 = boto3.client("s3", region_name="us-east-1")
    served = json.loads(s3.get_object(Bucket=BUCKET, Key=HEARTBEAT_KEY)["Body"].read())
    assert served["data_as_of_epoch"] >= snap_as_of + 3 * 60 - 5
    index = s3.get_object(Bucket=BUCKET, Key="index.html")["Body"].read().decode()
    assert f'data-heartbeat="{HEARTBEAT_KEY}"' in index

    clock.tick(600)                                      # heartbeats stop: the page says so
    body = summary(client, clock)
    assert body["outpost"]["stale"] is True
    assert all(e["unknown"] for e in body["outpost"]["components"].values())


def test_a_status_change_writes_the_snapshot_and_the_copy_once(home):
    c, client, clock, api_target, _ = home
    rounds(c, clock, 2)
    api_target.behaviour = "fail"
    changed = by_round(c, clock, 4)
    snapshot_writes = [sum(1 for w in d if w.key == "snapshot") for d, _ in changed]
    assert sum(snapshot_writes) >= 1 and snapshot_writes[-1] == 0    # written, then quiet again
    k = snapshot_writes.index(1)
    assert any(w.key == "index.html" for w in changed[k][1])
    body = summary(client, clock)
    api = next(r for r in body["components"] if r["name"] == "API")
    assert api["status"] != "operational"
    html = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket=BUCKET, Key="api/v2/summary.json")["Body"].read()
    assert next(r for r in json.loads(html)["components"]
                if r["name"] == "API")["status"] == api["status"]


def test_a_checker_stage_never_writes_the_page(home):
    c, client, clock, api_target, _ = home
    rounds(c, clock, 1)
    home_c_settings = c.settings
    c.override(settings=replace(home_c_settings, checker_only=True))
    api_target.behaviour = "fail"
    with recording() as seen:
        for _ in range(3):
            clock.tick(60)
            report = run_round(c, ["eu-west-1", "ap-southeast-2"])    # a quorum of 2
            assert report.transitions == {} and report.snapshot_version is None
    keys = {w.key for w in seen}
    assert keys == {f"{kind}#{r}" for kind in ("results", "region")
                    for r in ("eu-west-1", "ap-southeast-2")}      # no page, no S3
    # the home region's next round picks the stage's views up
    c.override(settings=home_c_settings)
    with recording() as seen:
        rounds(c, clock, 1, ["us-west-2"])
    assert "snapshot" in {w.key for w in seen}
    api = next(r for r in summary(client, clock)["components"] if r["name"] == "API")
    assert api["status"] != "operational"


def test_a_failed_copy_is_written_again_and_heartbeat_json_never_vouches_for_it(home):
    """Regression: a static copy that failed at a status change stayed behind for good (quiet
    rounds write only the heartbeat), while heartbeat.json kept saying its data was fresh: the
    S3 copy CloudFront fails over to showed the old status as current."""
    c, client, clock, api_target, _ = home
    s3 = boto3.client("s3", region_name="us-east-1")
    rounds(c, clock, 2)
    publisher = c.static_publisher
    real = publisher.publish

    def s3_refuses(objects):
        raise RuntimeError("S3 is refusing writes")
    publisher.publish = s3_refuses
    api_target.behaviour = "fail"
    beats = []
    for _ in range(4):
        rounds(c, clock, 1)
        beats.append(json.loads(s3.get_object(Bucket=BUCKET, Key=HEARTBEAT_KEY)["Body"].read()))
    api = next(r for r in summary(client, clock)["components"] if r["name"] == "API")
    assert api["status"] != "operational"
    copy = json.loads(s3.get_object(Bucket=BUCKET, Key="api/v2/summary.json")["Body"].read())
    assert next(r for r in copy["components"] if r["name"] == "API")["status"] == "operational"
    # the copy is behind: heartbeat.json stays where it was, and the page it serves goes stale
    assert len({b["data_as_of_epoch"] for b in beats}) == 1
    publisher.publish = real                             # S3 is back: the next round catches up
    rounds(c, clock, 1)
    copy = json.loads(s3.get_object(Bucket=BUCKET, Key="api/v2/summary.json")["Body"].read())
    assert next(r for r in copy["components"] if r["name"] == "API")["status"] == api["status"]
