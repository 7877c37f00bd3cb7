"""The real local stack (`make run`'s process) as a subprocess, watching real targets on 127.0.0.1."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT
from tests.targets import Target


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url, method="GET"):
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last saw {last!r}")


class Stack:
    def __init__(self, tmp_path, **env):
        self.port = free_port()
        self.demo_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.local_dir = str(tmp_path / "local")
        full_env.update(PORT=str(self.port), DEMO_PORT=str(self.demo_port), CHECK_INTERVAL="1",
                        PYTHONUNBUFFERED="1", OUTPOST_LOCAL_DIR=self.local_dir, **env)
        self.log = open(tmp_path / "stack.log", "w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "local.stack"], cwd=ROOT,
                                     env=full_env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: fetch(self.url + "/api/v2/summary.json"), 60, "the stack to serve")

    def status_of(self, name):
        body = fetch(self.url + "/api/v2/summary.json")
        return next(c["status"] for c in body["components"] if c["name"] == name)

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


@pytest.fixture
def demo_stack(tmp_path):
    stack = Stack(tmp_path)
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
    wait_for(scoped, 30, "search failing from one region only")


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
