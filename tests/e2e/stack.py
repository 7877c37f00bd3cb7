"""The real local stack (`make run`'s process) driven from a test: start it as a subprocess
on free ports, read its public JSON, wait for what it should do, and run the `outpost` CLI
against it as an operator would."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.conftest import ROOT


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
                        PYTHONUNBUFFERED="1", OUTPOST_LOCAL_DIR=self.local_dir)
        full_env.update(env)
        self.log = open(tmp_path / "stack.log", "w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "local.stack"], cwd=ROOT,
                                     env=full_env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: fetch(self.url + "/api/v2/summary.json"), 60, "the stack to serve")
        # self.url is the local edge (nginx, as CloudFront); the origin is the API behind it
        with open(os.path.join(self.local_dir, "edge.json")) as fh:
            self.edge = json.load(fh)
        assert self.edge["edge"] == self.url
        self.origin_url = self.edge["origin"]

    def as_cloudfront(self, viewer: str) -> dict:
        """Headers of a request CloudFront forwards for the viewer at `viewer` ("ip:port"):
        for a test that needs several visitors' addresses from one machine, sent to the origin."""
        return {"X-Outpost-Origin": self.edge["origin_secret"], "CloudFront-Viewer-Address": viewer}

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



def outpost(stack, *args, key=None, cwd=ROOT, local_dir=None):
    """Run the CLI; by default it finds the local stack's key in .local/operator.key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["OUTPOST_URL"] = stack.url
    env["OUTPOST_LOCAL_DIR"] = local_dir or stack.local_dir
    if key is not None:
        env["OUTPOST_KEY"] = key
    exe = os.path.join(os.path.dirname(sys.executable), "outpost")
    return subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)
