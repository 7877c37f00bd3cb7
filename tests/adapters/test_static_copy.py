"""The static copy in S3 (moto): every public representation, with types and cache headers."""
import json

import boto3
import feedparser
import pytest
from moto import mock_aws

from chalicelib import wiring
from chalicelib.adapters import static_copy
from chalicelib.core.caching import PUBLIC_CACHE_CONTROL
from chalicelib.render import v2
from tests import factories as f

BUCKET = "outpost-static-test"


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def container(bucket=BUCKET, now=f.T0):
    c = wiring.Container()
    c.env = {"AWS_DEFAULT_REGION": "us-east-1", **({"STATIC_BUCKET": bucket} if bucket else {})}
    c.override(clock=lambda: now, config=f.CFG)
    return c


def objects(s3) -> dict:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", ())]
    return {k: s3.get_object(Bucket=BUCKET, Key=k) for k in keys}


def test_no_bucket_is_a_no_op():
    c = container(bucket=None)
    assert static_copy.publish_static(c, f.busy_snapshot()) is None


def test_everything_public_is_copied_with_type_and_cache_control(s3):
    snap = f.busy_snapshot()
    result = static_copy.publish_static(container(), snap)
    got = objects(s3)
    ids = {k: f.cid(k) for k in ("api", "web", "search")}
    group = next(r["id"] for r in snap["components"] if r["group"])
    expected = {"index.html", "history.atom", "history.rss", "badge.svg", "api/v2/shields.json",
                "api/v2/uptime.json",
                *(f"api/v2/{n}.json" for n in v2.ENDPOINTS),
                *(f"badge/{n}.svg" for n in [*ids, *ids.values(), group]),
                *(f"api/v2/shields/{n}.json" for n in [*ids, *ids.values(), group]),
                *(f"incidents/{i['id']}" for i in snap["incidents"] + snap["scheduled_maintenances"])}
    assert set(got) == expected
    assert result == {"written": len(expected), "unchanged": 0, "deleted": 0}
    types = {k: o["ContentType"] for k, o in got.items()}
    assert types["index.html"] == "text/html; charset=utf-8"
    assert types[f"incidents/{snap['incidents'][0]['id']}"] == "text/html; charset=utf-8"
    assert types["api/v2/summary.json"] == "application/json; charset=utf-8"
    assert types["history.atom"] == "application/atom+xml"
    assert types["history.rss"] == "application/rss+xml"
    assert types["badge/api.svg"] == "image/svg+xml"
    assert all(o["CacheControl"] == PUBLIC_CACHE_CONTROL for o in got.values())
    # The bodies are what the API serves.
    assert json.loads(got["api/v2/summary.json"]["Body"].read()) == json.loads(v2.render(snap, "summary"))
    assert feedparser.parse(got["history.atom"]["Body"].read()).bozo is False
    page = got["index.html"]["Body"].read().decode()
    assert "Partial System Outage" in page and "data-as-of=" in page      # the static variant
    assert "major outage" in got["badge/api.svg"]["Body"].read().decode()



def test_the_social_link_from_the_status_file_is_in_the_copy(s3):
    import dataclasses

    from chalicelib.core.model import Operations
    c = container()
    c.override(config=dataclasses.replace(f.CFG, operations=Operations(
        social_url="https://social.example/@acme")))
    static_copy.publish_static(c, f.busy_snapshot())
    page = s3.get_object(Bucket=BUCKET, Key="index.html")["Body"].read().decode()
    assert '<a href="https://social.example/@acme" rel="me noopener">' in page


def test_only_changed_objects_are_written_and_removed_ones_are_pruned(s3):
    c = container()
    snap = f.busy_snapshot()
    static_copy.publish_static(c, snap)
    again = static_copy.publish_static(c, snap)
    assert again["written"] == 0 and again["deleted"] == 0
    deleted = snap["incidents"].pop(1)               # an operator deletes an incident
    snap["components"][1]["status"] = "operational"  # and API recovers
    result = static_copy.publish_static(c, snap)
    # index, both feeds, summary/components/incidents.json, API's badge and shield (x2 names)
    assert result["deleted"] == 1 and result["written"] == 10
    assert f"incidents/{deleted['id']}" not in objects(s3)
    assert "operational" in s3.get_object(Bucket=BUCKET, Key="badge/api.svg")["Body"].read().decode()


def test_a_new_process_prunes_what_an_earlier_one_wrote(s3):
    snap = f.busy_snapshot()
    static_copy.publish_static(container(), snap)
    gone = snap["scheduled_maintenances"].pop()
    result = static_copy.publish_static(container(), snap)     # a cold Lambda: no memory
    assert result["deleted"] == 1 and f"incidents/{gone['id']}" not in objects(s3)


def test_the_copy_judges_staleness_at_publish_time(s3):
    snap = f.busy_snapshot()
    static_copy.publish_static(container(now=f.T0 + 3600), snap)     # checks stopped an hour ago
    assert "unknown" in s3.get_object(Bucket=BUCKET, Key="badge/web.svg")["Body"].read().decode()
    page = s3.get_object(Bucket=BUCKET, Key="index.html")["Body"].read().decode()
    assert "checks have stopped reporting" in page


def test_publish_snapshot_writes_the_copy_and_survives_s3_failures(s3, caplog):
    from chalicelib.usecases.publish import publish_snapshot
    c = container()
    c.override(config=f.CFG)
    c.store.create_tables()
    publish_snapshot(c, {}, f.T0 - 5)
    assert "index.html" in objects(s3)

    class Broken:
        bucket = BUCKET

        def publish(self, objects):
            raise ConnectionError("s3 is down")
    c.override(static_publisher=Broken())
    version = publish_snapshot(c, {}, f.T0 - 1)           # the snapshot still saves
    assert version and "static copy to s3://outpost-static-test failed" in caplog.text
