"""(f) User reports: what one stranger's POST costs in DynamoDB calls, and that neither the
scheduler's sweep nor a public read costs more after a flood of reports.

Everything runs in-process on moto through the real app (chalice's test client) and the real
use-cases; calls are counted at botocore's choke point (bench/dynamo.py).
"""
from __future__ import annotations

import json
import os
import statistics
import time
from collections import Counter

from .dynamo import DynamoCalls
from .table import Row, ratio, us

COMPONENTS = 20
FLOOD = 1000                 # counted reports, from as many addresses, over all components
HANDLER_RUNS = 200


class _Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def _ops(ops: list[str]) -> str:
    return ", ".join(f"{n}x {op}" if n > 1 else op for op, n in Counter(ops).items()) or "none"


def run(calls: DynamoCalls) -> tuple[list[Row], dict]:
    from dataclasses import replace

    import boto3
    from app import app
    from chalice.test import Client

    from chalicelib import wiring
    from chalicelib.adapters.notify import Notifier
    from chalicelib.usecases import reporting
    from chalicelib.usecases.publish import publish_snapshot

    from .env import ROOT
    from .public_read import CONSTANT, make_config

    rows: list[Row] = []
    if CONSTANT not in app.routes:
        @app.route(CONSTANT)
        def bench_constant():
            return {"ok": True}

    c = wiring.container
    c.env = dict(os.environ)
    c.reset()
    cfg = make_config(COMPONENTS)
    cfg = replace(cfg, reports=replace(cfg.reports, global_per_hour=10 * FLOOD))
    clock = _Clock(1_780_000_100.0)
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="bench-operator")["TopicArn"]
    queue = sqs.create_queue(QueueName="bench-operator")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    c.override(config=cfg, clock=clock, notifier=Notifier("us-east-1", None, topic))
    c.store.create_tables()
    publish_snapshot(c, {}, clock.t)
    http = Client(app, project_dir=ROOT).http

    def post(body, address, raw=None):
        headers = {"Content-Type": "application/json", "CloudFront-Viewer-Address": address,
                   "CloudFront-Viewer-Country": "DE"}
        with calls.counting() as ops:
            resp = http.post("/api/v1/reports", headers=headers,
                             body=raw if raw is not None else json.dumps(body))
        return resp.status_code, ops

    body = {"component": "svc1", "kind": "down", "note": "checkout hangs"}
    http.post("/api/v1/reports", body=json.dumps(body),      # warm-up: the salt, the clients
              headers={"Content-Type": "application/json",
                       "CloudFront-Viewer-Address": "192.0.2.250:1"})
    for metric, args, status, limit in (
            # through an edge: the viewer's and the source's caps both count
            ("counted report", (body, "198.51.100.1:1"), 202, 7),
            ("repeat, same client", (body, "198.51.100.1:1"), 202, 4),
            ("unknown component (422)", ({"component": "x", "kind": "down"}, "198.51.100.2:1"),
             422, 0),
            ("2 MB note (413)",
             (None, "198.51.100.3:1", json.dumps({**body, "note": "x" * 2_000_000})), 413, 0)):
        code, ops = post(*args)
        rows.append(Row(f"POST, {metric}: DynamoDB calls",
                        f"{len(ops)} ({_ops(ops)})", target=f"<= {limit}, HTTP {status}",
                        ok=code == status and len(ops) <= limit))
    for _ in range(cfg.reports.per_ip_per_hour):
        post(body, "198.51.100.4:1")
    code, ops = post(body, "198.51.100.4:1")
    rows.append(Row("POST, over the per-address cap (429): DynamoDB calls",
                    f"{len(ops)} ({_ops(ops)})", target="<= 2, HTTP 429",
                    ok=code == 429 and len(ops) <= 2))

    # The sweep: counter reads with nobody reporting, then after a flood.
    clock.t += 3 * 86400                      # a quiet window, far from the reports above
    # Counter reads are the reports table's; the republish reads the state table (snapshot and
    # heartbeat in one BatchGetItem), which is the page's cost, not the sweep's.
    table = c.settings.reports_table
    reads = ("Query", "BatchGetItem")
    mark = len(calls.ops)
    with calls.counting() as quiet:
        reporting.sweep(c)
    quiet_reads = [op for op in calls.on_table(table, mark) if op in reads]
    rows.append(Row("sweep, nobody reported: counter reads", f"{len(quiet_reads)} "
                    f"({_ops(quiet_reads)}); all: {_ops(quiet)}", target="= 1 Query",
                    ok=quiet_reads == ["Query"]))
    t0 = time.perf_counter()
    for i in range(FLOOD):
        reporting.submit(c, {"component": f"svc{i % COMPONENTS}", "kind": "down"},
                         reporting.Client(f"10.{i // 250}.{i % 250}.1", "US"))
    flood_s = time.perf_counter() - t0
    mark = len(calls.ops)
    with calls.counting() as hot:
        result = reporting.sweep(c)
    hot_reads = [op for op in calls.on_table(table, mark) if op in reads]
    spikes = len(result.get("spikes", ()))
    rows.append(Row(f"sweep, {FLOOD} reports on {COMPONENTS} components: counter reads",
                    f"{len(hot_reads)} ({_ops(hot_reads)})", target="<= 2",
                    ok=Counter(hot_reads) <= Counter({"Query": 1, "BatchGetItem": 1})
                    and spikes == COMPONENTS))
    rows.append(Row("  same sweep, all calls (20 alerts, republish)",
                    f"{len(hot)} ({_ops(hot)})"))
    clock.t += 60
    with calls.counting() as steady:
        reporting.sweep(c)
    rows.append(Row("next sweep, the spikes still on: all calls", f"{len(steady)} "
                    f"({_ops(steady)})", baseline=str(len(hot)), ratio=ratio(len(steady),
                                                                              len(hot))))
    got = 0
    while True:
        msgs = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            break
        got += sum("user reports about" in json.loads(m["Body"]).get("Subject", "") for m in msgs)
        for m in msgs:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    rows.append(Row("operator alerts after 2 sweeps", str(got), target=f"= {COMPONENTS} "
                    "(one per spike)", ok=got == COMPONENTS))
    rows.append(Row(f"{FLOOD} counted reports through the use-case (moto)",
                    f"{flood_s * 1000 / FLOOD:.2f} ms each"))

    # A public read after the flood: still the one snapshot item.
    c._built.pop("public_cache", None)
    with calls.counting() as ops:
        resp = http.get("/api/v2/summary.json")
    counts = (resp.json_body.get("outpost") or {}).get("reports") or {}
    rows.append(Row("GET summary.json after the flood, cold cache: DynamoDB calls",
                    f"{len(ops)} ({_ops(ops)})", target="= 1",
                    ok=len(ops) == 1 and len(counts) == COMPONENTS))

    # Handler time of a refused oversized POST (no I/O at all) vs the bare route: the size
    # check is the whole cost a 2 MB body adds.
    big = json.dumps({**body, "note": "x" * 2_000_000})
    headers = {"Content-Type": "application/json"}
    times = {"constant": [], "413": []}
    for _ in range(HANDLER_RUNS):
        t0 = time.perf_counter()
        http.get(CONSTANT)
        times["constant"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        http.post("/api/v1/reports", headers=headers, body=big)
        times["413"].append(time.perf_counter() - t0)
    m413, mconst = statistics.median(times["413"]), statistics.median(times["constant"])
    rows.append(Row("test client median, 2 MB POST -> 413 vs GET constant",
                    us(m413), us(mconst), ratio(m413, mconst)))
    c.reset()
    return rows, {}
