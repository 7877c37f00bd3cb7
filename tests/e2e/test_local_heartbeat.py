"""Heartbeat and third-party monitors on the real local stack (`make run`'s process): a job that
stops beating turns its component red, and a vendor's Statuspage served on 127.0.0.1 drives a
component. The operator mints the beat URL with the `outpost` CLI, as the README says."""
import re
import threading
import urllib.error
import urllib.request

import pytest

from tests.e2e.stack import Stack, fetch, outpost, wait_for
from tests.statusfiles import (check_policy, component, heartbeat_monitor, status_yaml,
                               statuspage_monitor)
from tests.vendorpage import VendorPage


def status_file(vendor_url):
    return status_yaml(
        [component("nightly", "Nightly export",
                   heartbeat_monitor("export", every="3s", grace="1s")),
         component("payments", "Payments",
                   statuspage_monitor(vendor_url, "Payments", timeout="2s"))],
        page={"id": "hb", "name": "Heartbeat Demo", "url": "http://127.0.0.1:${PORT}"},
        checks=check_policy(allow_private_targets=True, interval="10s"))


@pytest.fixture
def vendor():
    page = VendorPage()
    yield page
    page.close()


@pytest.fixture
def stack(tmp_path, vendor):
    path = tmp_path / "status.yaml"
    path.write_text(status_file(vendor.url))
    s = Stack(tmp_path, STATUS_FILE=str(path))
    yield s
    s.stop()


def beat(url):
    with urllib.request.urlopen(urllib.request.Request(url, method="POST", data=b""),
                                timeout=5) as resp:
        return resp.status


def test_a_job_that_stops_beating_turns_its_component_red(stack):
    out = outpost(stack, "heartbeat", "rotate", "export")
    assert out.returncode == 0, out.stderr
    url = re.search(r"(http://\S+/api/v1/heartbeat/hb_\S+)", out.stdout).group(1)
    stop = threading.Event()

    def job():                       # a cron job beating every second
        while not stop.is_set():
            beat(url)
            stop.wait(1)

    worker = threading.Thread(target=job, daemon=True)
    worker.start()
    try:
        wait_for(lambda: fetch(stack.url + "/api/v2/summary.json")["outpost"]["components"]
                 and stack.status_of("Nightly export") == "operational"
                 and "export" in outpost(stack, "heartbeat", "list").stdout, 30, "beats")
    finally:
        stop.set()
        worker.join()
    wait_for(lambda: stack.status_of("Nightly export") == "major_outage", 60,
             "the missed beat to turn the component red")
    listed = outpost(stack, "heartbeat", "list")
    assert "export" in listed.stdout and "ok" in listed.stdout
    # The job runs again (beating every second, the first with an explicit ok): one beat alone
    # would be missed again after `every + grace` while the recovery is damped and cached.
    beat(url + "?status=ok")
    stop.clear()
    worker = threading.Thread(target=job, daemon=True)
    worker.start()
    try:
        wait_for(lambda: stack.status_of("Nightly export") == "operational", 60, "the recovery")
    finally:
        stop.set()
        worker.join()
    bad = urllib.request.Request(stack.url + "/api/v1/heartbeat/hb_" + "x" * 43, method="POST",
                                 data=b"")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(bad, timeout=5)
    assert err.value.code == 404


def test_a_vendor_statuspage_on_127_0_0_1_drives_a_component(stack, vendor):
    wait_for(lambda: len(vendor.requests) >= 2, 30, "the checker to read the vendor page")
    assert stack.status_of("Payments") == "operational"
    vendor.statuses["payments"] = "partial_outage"
    wait_for(lambda: stack.status_of("Payments") == "partial_outage", 30, "the vendor's outage")
    page = urllib.request.urlopen(stack.url + "/", timeout=5).read().decode()
    assert "Third-party: mirrors 127.0.0.1" in page
    vendor.mode = "garbage"                      # no news: the status holds
    seen = len(vendor.requests)
    wait_for(lambda: len(vendor.requests) >= seen + 3, 30, "more rounds")
    assert stack.status_of("Payments") == "partial_outage"
    vendor.mode = "summary"
    vendor.statuses["payments"] = "operational"
    wait_for(lambda: stack.status_of("Payments") == "operational", 30, "the vendor's recovery")
