"""(j) A stampede on the public page: concurrent visitors through the local edge (nginx doing what
CloudFront does, local/edge_config.py) in front of the real local stack (`make run`'s process).

Each visitor loads the page (`/`, asking for gzip or Brotli) and summary.json, all released at
once by a barrier. Every wave gets a fresh edge with a cold cache in front of the same origin,
so 100 and 1,000 visitors meet the same empty cache. Origin requests are counted at the origin:
the lines the stack's HTTP server (chalice local) logs for each request it serves. The baseline
is 100 visitors sent straight to the origin, in the same run.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

from .env import ROOT
from .table import Row

WAVES = (100, 1000)
BASELINE_VISITORS = 100
PATHS = ("/", "/api/v2/summary.json")
ORIGIN_TARGET = 1.5            # origin requests for 1,000 visitors / for 100: "constant"
_LOGGED = re.compile(r'"(?:GET|HEAD) (/[^ ]*) HTTP/1\.[01]" (\d{3})')


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _visit(port: int, barrier: threading.Barrier, results: list, i: int) -> None:
    """One visitor: the page and summary.json on one keep-alive connection, as a browser."""
    try:
        barrier.wait(timeout=60)
    except threading.BrokenBarrierError:
        pass
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    try:
        for path in PATHS:
            conn.request("GET", path, headers={"Accept-Encoding": "br, gzip" if i % 2 else "gzip"})
            resp = conn.getresponse()
            body = resp.read()
            out.append((resp.status, len(body)))
    except OSError as exc:
        out.append((type(exc).__name__, 0))
    finally:
        conn.close()
    results[i] = out


def _wave(port: int, visitors: int) -> dict:
    barrier = threading.Barrier(visitors)
    results: list = [None] * visitors
    threads = [threading.Thread(target=_visit, args=(port, barrier, results, i))
               for i in range(visitors)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    answers = [a for r in results for a in (r or [("no answer", 0)])]
    errors = sum(1 for status, _ in answers if status != 200)
    sizes = [size for status, size in answers if status == 200]
    return {"requests": len(answers), "errors": errors, "wall": wall,
            "bytes": sum(sizes) / max(1, len(sizes))}


class _OriginLog:
    """Requests the origin served, read from the stack's log (chalice local logs each one)."""

    def __init__(self, path: str):
        self.path = path

    def count(self) -> int:
        with open(self.path, errors="replace") as fh:
            return sum(1 for m in map(_LOGGED.search, fh) if m and m.group(1) in PATHS)


def run() -> tuple[list[Row], dict]:
    from local.edge import Edge, settings as edge_settings
    port, local = _port(), tempfile.mkdtemp(prefix="outpost-bench-edge-")
    log_path = os.path.join(local, "stack.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PORT=str(port), DEMO_PORT=str(_port()), CHECK_INTERVAL="30",
               OUTPOST_LOCAL_DIR=local, PYTHONUNBUFFERED="1")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "local.stack"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    facts: dict = {}
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(os.path.join(local, "edge.json")):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"the local stack did not start; see {log_path}")
            time.sleep(0.2)
        time.sleep(0.5)
        stack = json.load(open(os.path.join(local, "edge.json")))
        aws = dict(line.strip().split("=", 1) for line in open(os.path.join(local, "aws.env")))
        origin_port = int(stack["origin"].rsplit(":", 1)[1])
        counter = _OriginLog(log_path)
        # baseline: visitors straight at the origin, no edge
        before = counter.count()
        facts["direct"] = _wave(origin_port, BASELINE_VISITORS)
        time.sleep(0.5)
        facts["direct"]["origin"] = counter.count() - before
        for visitors in WAVES:
            s = edge_settings(port=_port(), origin=stack["origin"].removeprefix("http://"),
                              static=aws["AWS_ENDPOINT_URL"].removeprefix("http://"),
                              bucket=stack["static_bucket"], origin_secret=stack["origin_secret"],
                              workdir=os.path.join(local, f"edge-{visitors}"))
            with Edge(s) as edge:                      # a cold cache for every wave
                before = counter.count()
                got = _wave(edge.s.port, visitors)
                time.sleep(0.5)
                got["origin"] = counter.count() - before
            facts[visitors] = got
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    small, big, direct = facts[WAVES[0]], facts[WAVES[1]], facts["direct"]
    ratio = big["origin"] / max(1, small["origin"])
    rows = [
        Row(f"{BASELINE_VISITORS} visitors straight at the origin: origin requests",
            str(direct["origin"]), "-", "-", "-"),
        Row(f"{BASELINE_VISITORS} visitors straight at the origin: errors",
            f"{direct['errors']}/{direct['requests']}", "-", "-", "-"),
        Row(f"{WAVES[0]} visitors through the edge: origin requests", str(small["origin"]),
            str(direct["origin"]), f"{small['origin'] / max(1, direct['origin']):.2f}x",
            f"<= {2 * len(PATHS)}", small["origin"] <= 2 * len(PATHS)),
        Row(f"{WAVES[1]:,} visitors through the edge: origin requests", str(big["origin"]),
            str(small["origin"]), f"{ratio:.2f}x", f"<= {ORIGIN_TARGET}x of {WAVES[0]}",
            ratio <= ORIGIN_TARGET and big["origin"] <= 2 * len(PATHS)),
        Row(f"{WAVES[1]:,} visitors through the edge: errors",
            f"{big['errors']}/{big['requests']}", f"{small['errors']}/{small['requests']}",
            "-", "0", big["errors"] == 0 and small["errors"] == 0),
        Row(f"{WAVES[1]:,} visitors through the edge: wall time", f"{big['wall']:.2f} s",
            f"{small['wall']:.2f} s", f"{big['wall'] / small['wall']:.1f}x", "-"),
        Row("mean compressed response (page, summary.json)", f"{big['bytes'] / 1024:.1f} KB",
            f"{direct['bytes'] / 1024:.1f} KB", f"{big['bytes'] / max(1, direct['bytes']):.2f}x",
            "-"),
    ]
    return rows, facts


if __name__ == "__main__":
    from . import env
    from .table import render
    env.setup()
    rows, _ = run()
    print(render(f"(j) Public read stampede: {WAVES[0]} and {WAVES[1]:,} concurrent visitors "
                 "through the local edge, real local stack", rows))
