"""One checker Lambda, in a process of its own: what it costs in CPU time, wall time and memory.

bench/cost.py starts this in a fresh interpreter (spawn) with the environment a deployed
checker stage gets, pointed at the moto server the parent runs. Nothing of the bench (moto,
the meters) is imported here, so the process's peak RSS is the checker's, as Lambda's "Max
Memory Used" would be: the interpreter, the imports, the probes and the round's data.
"""
from __future__ import annotations

import os
import resource
import sys
import time


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the address space exec made;
    ru_maxrss would carry over the parent's peak from before the fork."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(conn, env: dict, ca_file: str, invocations: int) -> None:
    os.environ.update(env)
    sys.stdout = open(os.devnull, "w")     # the checker's log line: the parent counts its own
    t0, c0 = time.perf_counter(), _cpu()
    from app import app
    from chalice.local import LambdaContext
    from chalice.test import TestEventsClient

    from chalicelib import wiring
    from chalicelib.adapters.prober import Prober
    cold = {"import_s": time.perf_counter() - t0, "import_cpu_s": _cpu() - c0,
            "rss_mb": peak_rss_mb()}

    c = wiring.container
    cfg = c.config
    # bench.test names the local HTTPS targets; their certificate is the bench's own CA.
    c.override(prober=Prober(cfg.page.url, cfg.checks.allow_private_targets,
                             resolver=lambda name: ["127.0.0.1"], ca_file=ca_file))
    # Time spent waiting on AWS here is moto's, on this busy machine; the cost model replaces
    # it with a deployed call's latency, so measure it apart.
    from botocore.client import BaseClient
    original, aws = BaseClient._make_api_call, {"s": 0.0, "calls": 0}

    def timed(client, operation, params):
        t = time.perf_counter()
        try:
            return original(client, operation, params)
        finally:
            aws["s"] += time.perf_counter() - t
            aws["calls"] += 1
    BaseClient._make_api_call = timed
    handler = app.handler_map["run_checks"]
    event = TestEventsClient(app).generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[],
        region=env.get("AWS_REGION", "us-east-1"))
    runs = []
    for _ in range(invocations):
        t, cpu = time.perf_counter(), _cpu()
        aws.update(s=0.0, calls=0)
        out = handler(event, LambdaContext("run_checks", 512, max_runtime_ms=60_000))
        runs.append({"wall_s": time.perf_counter() - t, "cpu_s": _cpu() - cpu,
                     "aws_s": aws["s"], "aws_calls": aws["calls"],
                     "checks": out["checks"], "failing": out["failing"],
                     "rss_mb": peak_rss_mb()})
        time.sleep(0.2)                 # let the round's abandoned probe threads wind down
    conn.send({"cold": cold, "runs": runs,
               "rss_mb": peak_rss_mb()})
    conn.close()
