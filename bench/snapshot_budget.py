"""(h) The snapshot's size budget after years of growth (issue 10, case 3).

1,000 incidents of 3,000 characters and 200 components with 365 days of history are written
into moto directly (bench/bigpage.py); then the real code runs on top: check rounds (without
probing), an incident posted through the operator API, and public reads through the Chalice
app. Measured: the snapshot item's bytes as DynamoDB counts them (moto would store anything;
DynamoDB refuses items over 400 KB), DynamoDB calls per public read, and that the page still
changes. The baseline for time is the same round on a small page, in the same run.
"""
from __future__ import annotations

import json
import os
import time

from .dynamo import DynamoCalls
from .table import Row, ratio

INCIDENTS, BODY_CHARS, OPEN = 1000, 3000, 20
COMPONENTS, HISTORY_DAYS = 200, 365
SMALL = 5
T0 = 1_780_000_000.0


class _Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def _kb(n: int) -> str:
    return f"{n:,} B"


def _page(c, n: int, clock, tables: str = "bench"):
    """A fresh page of `n` components in its own tables (`tables`-state, ...)."""
    from .public_read import make_config
    cfg = make_config(n)
    c.reset()
    c.env = {**os.environ, **{f"{t.upper()}_TABLE": f"{tables}-{t}" for t in (
        "results", "state", "keys", "audit", "history", "subscribers")}}
    c.override(config=cfg, clock=clock)
    c.store.create_tables()
    return cfg


def _round(c, cfg, clock, failing=frozenset()):
    from chalicelib.usecases.rounds import record_round

    from .bigpage import results
    clock.t += 60
    t0 = time.perf_counter()
    report = record_round(c, cfg.checks.regions, clock.t, results(cfg, clock.t, failing))
    return report, time.perf_counter() - t0


def _stored_bytes(c, pk: str = "snapshot") -> int:
    from chalicelib.core.budget import item_size
    return item_size(c.store.StateRow.get(pk).serialize())


def run(calls: DynamoCalls) -> tuple[list[Row], dict]:
    from app import app
    from chalice.test import Client

    from chalicelib import wiring
    from chalicelib.core import budget
    from chalicelib.core.incidents import is_open
    from chalicelib.usecases.manage import mint_key

    from .bigpage import incident_docs, seed
    from .env import ROOT
    from .public_read import make_states

    rows: list[Row] = []
    facts: dict = {}
    c = wiring.container
    clock = _Clock(T0)

    # The baseline: the same round on a small page with no incidents.
    small = _page(c, SMALL, clock, "bench-small")
    _round(c, small, clock)
    small_times = [_round(c, small, clock)[1] for _ in range(3)]

    cfg = _page(c, COMPONENTS, clock)
    clock.t = T0
    t0 = time.perf_counter()
    docs = incident_docs(cfg, INCIDENTS, BODY_CHARS, T0, OPEN)
    grown = seed(c, cfg, docs, T0, HISTORY_DAYS, make_states(cfg, T0))
    facts["seed_seconds"] = time.perf_counter() - t0
    limit = budget.DYNAMODB_ITEM_LIMIT
    rows.append(Row("snapshot as one item, unbudgeted (the old way)",
                    _kb(grown["unbudgeted_bytes"]), _kb(limit),
                    ratio(grown["unbudgeted_bytes"], limit), "info: > 1x is case 3"))

    reports = [_round(c, cfg, clock) for _ in range(3)]
    big_times = [t for _, t in reports]
    stored = _stored_bytes(c)
    snap, _ = c.store.load_snapshot()
    parts = budget.history_parts(snap)
    rows.append(Row("snapshot item, stored (names + values)", _kb(stored), _kb(limit),
                    ratio(stored, limit), f"<= {budget.SNAPSHOT_BUDGET:,} B",
                    ok=stored <= budget.SNAPSHOT_BUDGET
                    and all(r.snapshot_version is not None for r, _ in reports)))
    if parts:
        biggest = max(_stored_bytes(c, f"snapshot#history#{i}") for i in range(parts))
        rows.append(Row(f"largest of {parts} history items", _kb(biggest), _kb(limit),
                        ratio(biggest, limit), "< 400 KB", ok=biggest < limit))
    else:
        rows.append(Row("history items of its own", "0 (inline)", target="info"))
    feed, _ = c.store.load_incident_feed()
    open_ids = {d["id"] for d in docs if is_open(d)}
    shown = {i["id"] for i in snap["incidents"]} | {i["id"] for i in snap["scheduled_maintenances"]}
    rows.append(Row("open incidents shown", f"{len(open_ids & shown)}/{len(open_ids)}",
                    target="all", ok=open_ids <= shown))
    rows.append(Row("closed incidents: snapshot / feed / stored",
                    f"{len(shown - open_ids)} / {len(feed) - len(open_ids)} / "
                    f"{INCIDENTS - len(open_ids)}", target="info"))
    facts["trimmed"] = (snap.get("_archive") or {}).get("ids") or []
    rows.append(Row("round (3 regions, publish), median", f"{_median(big_times):.2f} s",
                    f"{_median(small_times):.2f} s",
                    ratio(_median(big_times), _median(small_times)),
                    f"{COMPONENTS} vs {SMALL} components: info"))

    # The page still changes: an incident posted through the operator API shows at once.
    key = mint_key(c, "bench", ["incidents:write"])
    client = Client(app, project_dir=ROOT)
    t0 = time.perf_counter()
    resp = client.http.post(f"/api/v1/pages/{cfg.page.id}/incidents", body=json.dumps(
        {"incident": {"name": "Checkout errors", "body": "We are investigating. " * 130}}),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    post_time = time.perf_counter() - t0
    new_id = json.loads(resp.body).get("id") if resp.status_code == 201 else None
    c._built.pop("public_cache", None)
    summary = json.loads(client.http.get("/api/v2/summary.json").body)
    appeared = new_id is not None and new_id in {i["id"] for i in summary["incidents"]}
    rows.append(Row("new incident via operator API on summary.json", "yes" if appeared else "no",
                    target="yes", ok=appeared))
    rows.append(Row("operator POST (write + republish), wall time", f"{post_time:.2f} s",
                    target="info"))
    stored = _stored_bytes(c)
    rows.append(Row("snapshot item after the POST", _kb(stored), _kb(limit), ratio(stored, limit),
                    f"<= {budget.SNAPSHOT_BUDGET:,} B", ok=stored <= budget.SNAPSHOT_BUDGET))

    # DynamoDB calls per public read, cold (a new warm Lambda) and warm.
    def cold(path: str) -> tuple[list, int]:
        c._built.pop("public_cache", None)
        with calls.counting() as ops:
            status = client.http.get(path).status_code
        return ops, status

    v2_cold, status = cold("/api/v2/summary.json")
    rows.append(Row("DynamoDB calls, summary.json cold", f"{len(v2_cold)} ({_ops(v2_cold)})",
                    target="= 1", ok=status == 200 and len(v2_cold) == 1))
    with calls.counting() as warm:
        statuses = {client.http.get(f"/api/v2/{p}.json").status_code
                    for _ in range(20) for p in ("summary", "status", "components", "incidents",
                                                 "incidents/unresolved")}
    rows.append(Row("DynamoDB calls, warm (100 v2 requests)", str(len(warm)), target="= 0",
                    ok=statuses == {200} and not warm))
    for label, path in (("uptime.json", "/api/v2/uptime.json"), ("/ (HTML)", "/")):
        ops, status = cold(path)
        rows.append(Row(f"DynamoDB calls, {label} cold", f"{len(ops)} ({_ops(ops)})",
                        target="<= 2", ok=status == 200 and len(ops) <= 2))
    if facts["trimmed"]:
        ops, status = cold(f"/incidents/{facts['trimmed'][0]}")
        rows.append(Row("DynamoDB calls, trimmed incident page cold", f"{len(ops)} ({_ops(ops)})",
                        target="<= 2", ok=status == 200 and len(ops) <= 2))
    c._built.pop("public_cache", None)
    c.reset()
    c.env = dict(os.environ)
    return rows, facts


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _ops(ops: list[str]) -> str:
    return ", ".join(ops) if ops else "none"


if __name__ == "__main__":          # just this table: python -m bench.snapshot_budget
    from . import env
    env.setup()
    from moto import mock_aws

    from .table import render
    counter = DynamoCalls()
    counter.install()
    try:
        with mock_aws():
            table, _ = run(counter)
    finally:
        counter.uninstall()
    print(render(f"(h) Snapshot budget: {INCIDENTS} incidents of {BODY_CHARS} characters, "
                 f"{COMPONENTS} components with {HISTORY_DAYS} days of history, moto DynamoDB",
                 table))
