"""(a) Public read: DynamoDB calls per request (cold, warm, conditional) and handler time.

Handler time is the Lambda handler itself, `app(event, context)`, with an API Gateway event made
once by chalice's own converter; the chalice test client's round trip (event building, per-request
environment copy, response parsing) is reported too, as information.
"""
from __future__ import annotations

import gc
import os
import statistics
import time
from typing import Callable

from .dynamo import DynamoCalls
from .table import Row, ratio, us

SUMMARY = "/api/v2/summary.json"
CONSTANT = "/bench/constant"
BIG, SMALL = 50, 5
HANDLER_BATCHES, HANDLER_BATCH = 30, 100        # 3000 timed calls per variant, interleaved
CLIENT_BATCHES, CLIENT_BATCH = 10, 50           # 500 test-client round trips per variant
WARM_REQUESTS = 2000
SIZE_TARGET = 1.25                              # "independent of size": 50 vs 5 components
HANDLER_TARGET = 1.5                            # DESIGN: within 1.5x of a bare constant route


def make_config(n: int):
    from chalicelib.core.model import CheckPolicy, Component, Monitor, Page, Place, StatusConfig
    comps = []
    for i in range(n):
        comps.append(Component(
            id=f"svc{i}", name=f"Service {i}",
            group=None if i % 5 == 0 else f"Group {i // 10}",
            description=f"Service number {i}, watched from three regions",
            monitors=(Monitor(id=f"svc{i}.0", url=f"https://svc{i}.bench.example/health"),),
            position=i))
    return StatusConfig(
        page=Page(id="bench", name="Bench Status", url="https://status.bench.example",
                  hosted_on=Place("aws", "us-east-1")),
        checks=CheckPolicy(regions=("us-east-1", "eu-west-1", "ap-southeast-2"), quorum=2),
        components=tuple(comps), source="<bench>")


def make_states(cfg, now: float) -> dict:
    """A realistic mix: mostly operational, some degraded or partially down, with reasons."""
    from chalicelib.core.model import ComponentState, ComponentStatus, Scope
    states = {}
    for i, comp in enumerate(cfg.components):
        if i % 13 == 3:
            status, scope, why = ComponentStatus.PARTIAL, Scope(2, 0, 3, 3), (
                "[STATUS] (503) == 200",)
        elif i % 7 == 2:
            status, scope, why = ComponentStatus.DEGRADED, Scope(0, 2, 3, 3), (
                "[RESPONSE_TIME] (1210) > 800",)
        else:
            status, scope, why = ComponentStatus.OPERATIONAL, Scope(0, 0, 3, 3), ()
        states[comp.id] = ComponentState(status=status, since=now - 3600 - i, scope=scope,
                                         reasons=why, last_checked_at=now - 30,
                                         created_at=now - 86400)
    return states


def _percentile(sorted_values: list[float], p: float) -> float:
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def _interleaved(variants: dict[str, Callable[[], None]], batches: int, batch: int,
                 before: Callable[[str], None]) -> dict[str, list[float]]:
    """Time each variant in alternating batches (rotating order) so drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    gc.collect()
    gc.freeze()             # setup's objects (moto, botocore) out of the way: cheap collects below
    perf = time.perf_counter
    for b in range(batches):
        order = names[b % len(names):] + names[:b % len(names)]
        for name in order:
            before(name)
            fn, out = variants[name], times[name]
            gc.collect()
            for _ in range(batch):
                t0 = perf()
                fn()
                out.append(perf() - t0)
    gc.unfreeze()
    return {k: sorted(v) for k, v in times.items()}


def run(calls: DynamoCalls) -> tuple[list[Row], dict]:
    from app import app
    from chalice.local import LambdaContext, LambdaEventConverter, RouteMatcher
    from chalice.test import Client

    from chalicelib import wiring
    from chalicelib.render import v2
    from chalicelib.usecases.public_cache import PublicCache
    from chalicelib.usecases.publish import publish_snapshot

    from .env import ROOT

    rows: list[Row] = []
    facts: dict = {}

    # The baseline: a bare constant route, added to the app object at run time only.
    if CONSTANT not in app.routes:
        @app.route(CONSTANT)
        def bench_constant():
            return {"ok": True}

    c = wiring.container
    # Pin the bench's own table names: chalice.test.Client would otherwise apply the dev stage's.
    c.env = dict(os.environ)
    cfg_big, cfg_small = make_config(BIG), make_config(SMALL)
    now = time.time()
    c.reset()
    c.override(config=cfg_big)
    c.store.create_tables()
    publish_snapshot(c, make_states(cfg_big, now), now - 30)

    client = Client(app, project_dir=ROOT)
    http = client.http

    def get(path: str, headers=None):
        with calls.counting() as ops:
            resp = http.get(path, headers=headers or {})
        return resp, ops

    # -- DynamoDB calls per request ------------------------------------------------------------
    c._built.pop("public_cache", None)           # a warm Lambda whose snapshot cache is cold
    resp, ops = get(SUMMARY)
    body = resp.json_body if resp.status_code == 200 else {}
    good = resp.status_code == 200 and len(body.get("components", [])) > BIG  # leaves + groups
    rows.append(Row("DynamoDB calls, cold cache", f"{len(ops)} ({_ops(ops)})",
                    target="= 1", ok=good and len(ops) == 1))
    facts["cold_cache_ops"] = ops
    etag = resp.headers.get("ETag") or resp.headers.get("etag")
    facts["summary_bytes_big"] = len(resp.body)

    c.reset()                                     # a brand-new Lambda: nothing built yet
    c.override(config=cfg_big)
    t0 = time.perf_counter()
    resp, ops = get(SUMMARY)
    cold_time = time.perf_counter() - t0
    same = resp.status_code == 200 and (resp.headers.get("ETag") or resp.headers.get("etag")) == etag
    rows.append(Row("DynamoDB calls, cold container", f"{len(ops)} ({_ops(ops)})",
                    target="= 1", ok=same and len(ops) == 1))
    facts["cold_container_ops"] = ops
    facts["cold_container_ms"] = cold_time * 1000

    statuses = set()
    with calls.counting() as ops:
        for _ in range(WARM_REQUESTS):
            statuses.add(http.get(SUMMARY).status_code)
    rows.append(Row(f"DynamoDB calls, warm (total over {WARM_REQUESTS})", str(len(ops)),
                    target="= 0", ok=statuses == {200} and not ops))

    with calls.counting() as ops:
        for path in v2.ENDPOINTS:
            statuses.add(http.get(f"/api/v2/{path}.json").status_code)
    rows.append(Row(f"DynamoDB calls, warm, all {len(v2.ENDPOINTS)} v2 endpoints",
                    str(len(ops)), target="= 0", ok=statuses == {200} and not ops))

    resp, ops = get(SUMMARY, {"If-None-Match": etag})
    rows.append(Row("DynamoDB calls, If-None-Match", f"{len(ops)} (HTTP {resp.status_code})",
                    target="= 0, 304", ok=resp.status_code == 304 and not ops))

    real_clock = c.clock
    # past the snapshot cache TTL (60 s) but not past stale_after (3 x 60 s): same data, fresh read
    c.override(clock=lambda: real_clock() + 61)
    resp, ops = get(SUMMARY)
    c.override(clock=real_clock)
    same = (resp.headers.get("ETag") or resp.headers.get("etag")) == etag
    rows.append(Row("DynamoDB calls, after TTL expiry", f"{len(ops)} ({_ops(ops)})",
                    target="= 1", ok=resp.status_code == 200 and same and len(ops) == 1))

    # -- handler time -------------------------------------------------------------------------
    # Two long-lived caches, one per page size, swapped in per batch (no DynamoDB in the loop).
    big = PublicCache(c, ttl=24 * 3600)
    big.rendered("summary", v2.render)
    c.override(config=cfg_small)
    publish_snapshot(c, make_states(cfg_small, now), now - 30)
    small = PublicCache(c, ttl=24 * 3600)
    facts["summary_bytes_small"] = len(small.rendered("summary", v2.render)[0].encode())
    c.override(config=cfg_big)
    publish_snapshot(c, make_states(cfg_big, now), now - 30)   # leave the big page published

    converter = LambdaEventConverter(RouteMatcher(list(app.routes)), app.api.binary_types)
    context = LambdaContext(function_name="api_handler", memory_size=512, max_runtime_ms=10000)
    ev_summary = converter.create_lambda_event("GET", SUMMARY, {"accept": "application/json"})
    ev_const = converter.create_lambda_event("GET", CONSTANT, {"accept": "application/json"})
    big_etag = big.rendered("summary", v2.render)[1]
    ev_304 = converter.create_lambda_event("GET", SUMMARY, {"if-none-match": big_etag})

    caches = {"summary50": big, "summary5": small, "constant": big, "summary304": big}
    for name, event, code in (("summary50", ev_summary, 200), ("summary5", ev_summary, 200),
                              ("constant", ev_const, 200), ("summary304", ev_304, 304)):
        c.override(public_cache=caches[name])
        got = app(event, context)["statusCode"]
        assert got == code, f"{name}: HTTP {got}, expected {code}"

    def invoke(event):
        return lambda: app(event, context)

    with calls.counting() as ops:
        h = _interleaved({"summary50": invoke(ev_summary), "summary5": invoke(ev_summary),
                          "constant": invoke(ev_const), "summary304": invoke(ev_304)},
                         HANDLER_BATCHES, HANDLER_BATCH,
                         lambda name: c.override(public_cache=caches[name]))
    facts["timed_ops"] = list(ops)
    med = {k: statistics.median(v) for k, v in h.items()}
    p95 = {k: _percentile(v, 95) for k, v in h.items()}
    n = HANDLER_BATCHES * HANDLER_BATCH
    r = med["summary50"] / med["constant"]
    rows.append(Row(f"handler median, summary.json vs constant (n={n})", us(med["summary50"]),
                    us(med["constant"]), ratio(med["summary50"], med["constant"]),
                    f"<= {HANDLER_TARGET}x", ok=r <= HANDLER_TARGET and not ops))
    rows.append(Row("handler p95, summary.json vs constant", us(p95["summary50"]),
                    us(p95["constant"]), ratio(p95["summary50"], p95["constant"])))
    rows.append(Row("handler median, 304 vs constant", us(med["summary304"]),
                    us(med["constant"]), ratio(med["summary304"], med["constant"])))
    rs = med["summary50"] / med["summary5"]
    rows.append(Row(f"handler median, {BIG} vs {SMALL} components", us(med["summary50"]),
                    us(med["summary5"]), ratio(med["summary50"], med["summary5"]),
                    f"<= {SIZE_TARGET}x", ok=rs <= SIZE_TARGET))
    rows.append(Row(f"handler p95, {BIG} vs {SMALL} components", us(p95["summary50"]),
                    us(p95["summary5"]), ratio(p95["summary50"], p95["summary5"])))

    # The same comparison through chalice's test client, which adds its own fixed cost.
    with calls.counting() as ops:
        t = _interleaved({"summary50": lambda: http.get(SUMMARY), "summary5": lambda: http.get(SUMMARY),
                          "constant": lambda: http.get(CONSTANT)},
                         CLIENT_BATCHES, CLIENT_BATCH,
                         lambda name: c.override(public_cache=caches[name]))
    tm = {k: statistics.median(v) for k, v in t.items()}
    rows.append(Row(f"test client median, summary.json vs constant (n={CLIENT_BATCHES * CLIENT_BATCH})",
                    us(tm["summary50"]), us(tm["constant"]), ratio(tm["summary50"], tm["constant"])))
    rows.append(Row(f"test client median, {BIG} vs {SMALL} components", us(tm["summary50"]),
                    us(tm["summary5"]), ratio(tm["summary50"], tm["summary5"])))
    rows.append(Row("summary.json body size, 50 vs 5 components",
                    f"{facts['summary_bytes_big']} B", f"{facts['summary_bytes_small']} B",
                    ratio(facts["summary_bytes_big"], facts["summary_bytes_small"])))
    rows.append(Row("cold-container request, wall time", f"{facts['cold_container_ms']:.1f} ms"))
    c._built.pop("public_cache", None)
    return rows, facts


def _ops(ops: list[str]) -> str:
    return ", ".join(ops) if ops else "none"
