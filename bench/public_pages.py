"""(a') Public pages: `/` (HTML) and summary.json on a page with 50 components and 20 incidents.

Same method as public_read: DynamoDB calls counted per request through the chalice test client;
handler time is the Lambda handler itself, `app(event, context)`, interleaved with the bare
constant route. The page carries what makes HTML heavy: 20 incidents (5 open) with their
updates, 90 days of uptime bars (a bad day every 17 and every 29 days) plus response times for
every component, and the report form. Its weight rows hold it to DESIGN.md's targets.
"""
from __future__ import annotations

import gzip
import os
import statistics
import time

from chalicelib.render import embed

from .public_read import (CONSTANT, HANDLER_TARGET, SIZE_TARGET, SUMMARY, _interleaved, _ops,
                          _percentile, make_config, make_states)
from .table import Row, ratio, us

PAGE = "/"
BIG, SMALL = 50, 5
INCIDENTS_BIG, INCIDENTS_SMALL, OPEN = 20, 2, 5
HANDLER_BATCHES, HANDLER_BATCH = 30, 100
WARM_REQUESTS = 1000
DAY = 86400
WEIGHT_TARGET, WEIGHT_GZIP_TARGET = 150 * 1024, 10 * 1024       # DESIGN.md, issue 12
EMBED_GZIP_TARGET = 5 * 1024                                     # issue 14


def make_incidents(cfg, n: int, now: float) -> list:
    """n incidents through the real lifecycle, newest first; the first OPEN still unresolved."""
    from chalicelib.core import incidents as lifecycle
    known = {comp.id: comp.id for comp in cfg.components}
    docs = []
    for i in range(n):
        key = cfg.components[i % len(cfg.components)].id
        start = now - (i + 1) * 7200

        def patch(doc, body, at):
            return lifecycle.update(doc, {"incident": body}, known, at)
        doc = lifecycle.create({"incident": {
            "name": f"Elevated errors on service {i}",
            "body": "We are **investigating** elevated error rates. See "
                    "[the runbook](https://runbooks.example/errors).",
            "components": {key: "partial_outage"}}}, known, start, f"bench{i:07d}")
        doc = patch(doc, {"status": "identified", "body": "A bad deploy; rolling back."},
                    start + 900)
        if i >= OPEN:
            doc = patch(doc, {"status": "resolved", "body": "Rolled back; errors are gone.",
                              "components": {key: "operational"}}, start + 3600)
        docs.append(doc)
    return docs


def _history(index: int, now: float) -> tuple[dict, list]:
    """90 days of uptime (a few bad days) and 90 daily response-time points."""
    from chalicelib.core.snapshot import iso_ms
    days, points = [], []
    for ago in range(89, -1, -1):
        t = now - ago * DAY
        major = 600 if (ago + index) % 29 == 0 else 0
        degraded = 1200 if (ago + index) % 17 == 0 else 0
        days.append({"date": iso_ms(t)[:10], "uptime": 100.0 * (1 - major / DAY),
                     "operational_seconds": DAY - major - degraded, "degraded_seconds": degraded,
                     "partial_seconds": 0, "major_seconds": major, "maintenance_seconds": 0,
                     "nodata_seconds": 0})
        points.append({"t": iso_ms(t), "p50": 120 + (ago % 7) * 9, "p95": 260 + (ago % 5) * 30})
    return {"days": days, "uptime_90d": 99.98}, points


def make_snapshot(n_components: int, n_incidents: int, now: float):
    from chalicelib.core.snapshot import build_snapshot
    cfg = make_config(n_components)
    snap = build_snapshot(cfg, make_states(cfg, now), now, now - 30,
                          incident_docs=tuple(make_incidents(cfg, n_incidents, now)))
    extra = snap["outpost"]
    extra["uptime"], extra["response_times"] = {}, {}
    for i, cid in enumerate(extra["components"]):
        extra["uptime"][cid], extra["response_times"][cid] = _history(i, now)
    # The bench measures warm reads, not staleness: keep the data "fresh" for its whole run.
    extra["stale_after_seconds"] = DAY
    # User reports are on by default (publish_snapshot adds this), so the page has its form.
    extra["reports_window_seconds"] = 1800
    return cfg, snap


def weight_rows(big: bytes, small: bytes) -> list[Row]:
    """Page weight (DESIGN.md): the page a visitor downloads for 50 components and 20
    incidents, as is and gzip-compressed at zlib's default level 6 (what an edge that
    compresses sends; brotli does better). The 5-component page is the baseline."""
    rows = []
    for label, measure, target in (("uncompressed", len, WEIGHT_TARGET),
                                   ("gzip -6", lambda b: len(gzip.compress(b, 6)),
                                    WEIGHT_GZIP_TARGET)):
        value, base = measure(big), measure(small)
        rows.append(Row(f"/ page weight {label}, {BIG} comps + {INCIDENTS_BIG} incidents vs "
                        f"{SMALL} + {INCIDENTS_SMALL}", f"{value / 1024:.1f} KB",
                        f"{base / 1024:.1f} KB", ratio(value, base),
                        f"<= {target // 1024} KB", ok=value <= target))
    # /embed.js rides along on other sites' pages: held to its own budget (issue 14).
    script, base = len(gzip.compress(embed.script()[0], 6)), len(gzip.compress(small, 6))
    rows.append(Row(f"/embed.js gzip -6 vs / gzip -6 ({SMALL} comps)", f"{script / 1024:.1f} KB",
                    f"{base / 1024:.1f} KB", ratio(script, base),
                    f"<= {EMBED_GZIP_TARGET // 1024} KB", ok=script <= EMBED_GZIP_TARGET))
    return rows


def _publish(c, snap, now):
    _, version = c.store.load_snapshot(consistent=True)
    c.store.save_snapshot(snap, version, now)


def run(calls) -> tuple[list[Row], dict]:
    from app import app
    from chalice.local import LambdaContext, LambdaEventConverter, RouteMatcher
    from chalice.test import Client

    from chalicelib import wiring
    from chalicelib.render import html
    from chalicelib.usecases.public_cache import PublicCache

    from .env import ROOT

    rows: list[Row] = []
    facts: dict = {}
    if CONSTANT not in app.routes:
        @app.route(CONSTANT)
        def bench_constant():
            return {"ok": True}

    c = wiring.container
    c.env = dict(os.environ)
    now = time.time()
    cfg_big, snap_big = make_snapshot(BIG, INCIDENTS_BIG, now)
    cfg_small, snap_small = make_snapshot(SMALL, INCIDENTS_SMALL, now)
    c.reset()
    c.override(config=cfg_big)
    c.store.create_tables()
    _publish(c, snap_big, now)
    http = Client(app, project_dir=ROOT).http

    def get(path, headers=None):
        with calls.counting() as ops:
            resp = http.get(path, headers=headers or {})
        return resp, ops

    # -- DynamoDB calls per request for the HTML page --------------------------------------------
    c._built.pop("public_cache", None)
    resp, ops = get(PAGE)
    good = resp.status_code == 200 and b"Elevated errors on service 0" in resp.body
    rows.append(Row("/ DynamoDB calls, cold cache", f"{len(ops)} ({_ops(ops)})", target="= 1",
                    ok=good and len(ops) == 1))
    etag = resp.headers.get("ETag") or resp.headers.get("etag")
    facts["page_bytes_big"] = len(resp.body)
    statuses = set()
    with calls.counting() as ops:
        for _ in range(WARM_REQUESTS):
            statuses.add(http.get(PAGE).status_code)
    rows.append(Row(f"/ DynamoDB calls, warm (total over {WARM_REQUESTS})", str(len(ops)),
                    target="= 0", ok=statuses == {200} and not ops))
    resp, ops = get(PAGE, {"If-None-Match": etag})
    rows.append(Row("/ DynamoDB calls, If-None-Match", f"{len(ops)} (HTTP {resp.status_code})",
                    target="= 0, 304", ok=resp.status_code == 304 and not ops))

    # -- rendering, once per snapshot version (informational) ------------------------------------
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        html.render_index(snap_big, False)
        times.append(time.perf_counter() - t0)
    rows.append(Row(f"render / once per version ({BIG} comps, {INCIDENTS_BIG} incidents)",
                    f"{statistics.median(times) * 1e3:.1f} ms"))

    # -- handler time -----------------------------------------------------------------------------
    converter = LambdaEventConverter(RouteMatcher(list(app.routes)), app.api.binary_types)
    context = LambdaContext(function_name="api_handler", memory_size=512, max_runtime_ms=10000)
    ev_page = converter.create_lambda_event("GET", PAGE, {"accept": "text/html"})
    ev_summary = converter.create_lambda_event("GET", SUMMARY, {"accept": "application/json"})
    ev_const = converter.create_lambda_event("GET", CONSTANT, {"accept": "application/json"})

    caches = {}
    for name, cfg, snap in (("big", cfg_big, snap_big), ("small", cfg_small, snap_small)):
        c.override(config=cfg)
        _publish(c, snap, now)
        caches[name] = PublicCache(c, ttl=DAY)
        c.override(public_cache=caches[name])
        for event in (ev_page, ev_summary):          # render once, as the first request would
            out = app(event, context)
            assert out["statusCode"] == 200, (name, out["statusCode"])
        facts[f"page_body_{name}"] = app(ev_page, context)["body"].encode()
        facts[f"page_bytes_{name}"] = len(facts[f"page_body_{name}"])
    c.override(config=cfg_big)
    _publish(c, snap_big, now)                       # leave the big page published

    variant_cache = {"page50": "big", "page5": "small", "summary50": "big", "constant": "big"}
    with calls.counting() as ops:
        h = _interleaved({"page50": lambda: app(ev_page, context),
                          "page5": lambda: app(ev_page, context),
                          "summary50": lambda: app(ev_summary, context),
                          "constant": lambda: app(ev_const, context)},
                         HANDLER_BATCHES, HANDLER_BATCH,
                         lambda name: c.override(public_cache=caches[variant_cache[name]]))
    med = {k: statistics.median(v) for k, v in h.items()}
    p95 = {k: _percentile(v, 95) for k, v in h.items()}
    n = HANDLER_BATCHES * HANDLER_BATCH
    for key, label in (("page50", "/"), ("summary50", "summary.json")):
        r = med[key] / med["constant"]
        rows.append(Row(f"handler median, {label} vs constant (n={n})", us(med[key]),
                        us(med["constant"]), ratio(med[key], med["constant"]),
                        f"<= {HANDLER_TARGET}x", ok=r <= HANDLER_TARGET and not ops))
        rows.append(Row(f"handler p95, {label} vs constant", us(p95[key]), us(p95["constant"]),
                        ratio(p95[key], p95["constant"])))
    rs = med["page50"] / med["page5"]
    rows.append(Row(f"handler median, / {BIG}+{INCIDENTS_BIG} vs {SMALL}+{INCIDENTS_SMALL}",
                    us(med["page50"]), us(med["page5"]), ratio(med["page50"], med["page5"]),
                    f"<= {SIZE_TARGET}x", ok=rs <= SIZE_TARGET))
    rows.append(Row(f"/ body size, {BIG} vs {SMALL} components", f"{facts['page_bytes_big']} B",
                    f"{facts['page_bytes_small']} B",
                    ratio(facts["page_bytes_big"], facts["page_bytes_small"])))
    rows.extend(weight_rows(facts["page_body_big"], facts["page_body_small"]))
    c._built.pop("public_cache", None)
    return rows, facts
