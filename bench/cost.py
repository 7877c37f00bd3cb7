"""(g) What the reference workload costs a month: counts measured on a scaled, real run, times
the list prices in bench/cost_model.py.

The run: a moto server in this process (so every write can be billed against the item it
replaces, bench/aws_meter.py), 100 HTTPS monitors (50 components) served on 127.0.0.1 by a child
process, and the deployed topology on a simulated clock: every minute the home region's
checker (with the S3 static copy) and two checker stages each run the real scheduled handler's
body, the stream consumer gets the state table's new records in Lambda's batches, and the
edge fetches `/` from the API once per max-age (CloudFront with Origin Shield, worst case).
After warm-up minutes, the measured minutes give per-round and per-request counts.

A checker's CPU time, wall time and peak memory come from real invocations in a process of its
own (bench/lambda_child.py) against the same moto server: the memory the checker needs and the
GB-seconds it bills at the configured memory.

`python -m bench.cost` runs this alone; `make bench` runs it last. Either rewrites the README's
cost section and bench/cost_counts.json from the run.
"""
from __future__ import annotations

import json
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile

from . import cost_model
from .cost_setup import HOME, REGIONS, env_for, free_port, status_text
from .table import Row

CHILD_INVOCATIONS = 6
COUNTS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cost_counts.json")


def measure() -> dict:
    """The scaled real run; returns the counts bench/cost_model.py prices."""
    from moto.server import ThreadedMotoServer

    from .aws_meter import AwsMeter
    from .cost_run import ScaledRun
    from .mixed_round import _make_certs, _serve_all

    saved_env = dict(os.environ)
    moto_port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    server.start()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    tmp = tempfile.TemporaryDirectory()
    ca, cert, key = _make_certs(tmp.name)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    targets = ctx.Process(target=_serve_all, args=(child, cert, key), name="bench-cost-targets",
                          daemon=True)
    targets.start()
    child.close()
    meter = AwsMeter()
    try:
        if not parent.poll(30):
            raise RuntimeError("target server did not start")
        status_file = os.path.join(tmp.name, "status.yaml")
        with open(status_file, "w") as fh:
            fh.write(status_text(parent.recv()["https"]))
        # boto3 and PynamoDB clients (S3, streams, the tables) all find the moto server here
        os.environ.update(env_for(moto_port, status_file, HOME))
        os.environ.pop("AWS_LAMBDA_FUNCTION_NAME", None)
        run = ScaledRun(meter, moto_port, status_file, ca)
        run.play()
        counts = run.summary()
        counts["checker_lambda"] = _checker_lambdas(moto_port, status_file, ca)
        return counts
    finally:
        meter.uninstall()
        os.environ.clear()
        os.environ.update(saved_env)
        targets.terminate()
        targets.join(5)
        server.stop()
        tmp.cleanup()


def _checker_lambdas(moto_port: int, status_file: str, ca: str) -> dict:
    """A checker in a process of its own: CPU, wall, AWS round trips, peak memory. Three runs:
    home rounds that rewrite the snapshot (the other regions are silent, so every round's page
    changes), a checker stage, then quiet home rounds (that stage's views are fresh, so the
    page holds still and the round only beats the heartbeat, as nearly every round does)."""
    from chalicelib.core.history import FOLD_EVERY
    lam, waits, got = {}, [], {}
    for kind, region in (("publish", HOME), ("remote", REGIONS[1]), ("home", HOME)):
        got[kind] = _run_child(env_for(moto_port, status_file, region), ca)
    for kind in ("publish", "remote", "home"):
        warm = got[kind]["runs"][1:]
        if kind != "remote":
            wanted = [r for r in warm if r["published"] == (kind == "publish")]
            warm = wanted or warm
        latency = cost_model.call_latency("remote" if kind == "remote" else "home")

        def med(key, runs=warm):
            return statistics.median(r[key] for r in runs)
        lam[kind] = {"cpu_s": med("cpu_s"), "wall_s": med("wall_s"), "aws_s": med("aws_s"),
                     "aws_calls": med("aws_calls"),
                     "aws_round_trips": statistics.median(
                         cost_model.sequential_calls(r["aws_spans"], r["checks_span"], latency)
                         for r in warm),
                     "rss_mb": got[kind]["rss_mb"], "import_s": got[kind]["cold"]["import_s"],
                     "import_cpu_s": got[kind]["cold"]["import_cpu_s"],
                     "checks": warm[0]["checks"], "failing": max(r["failing"] for r in warm),
                     "rounds": len(warm)}
        # waiting on the checks: what is neither this process's CPU nor a call to AWS outside
        # the checks
        waits += [max(0.0, r["wall_s"] - r["cpu_s"] - _exposed_s(r)) for r in warm]
    for kind in lam:                            # the same checks from every region
        lam[kind]["probe_wait_s"] = statistics.median(waits)
    publish = lam.pop("publish")
    # a warm home Lambda runs both kinds of round: its memory is the larger peak
    lam["home"]["rss_mb"] = max(lam["home"]["rss_mb"], publish["rss_mb"])
    lam["home"]["publish"] = {k: publish[k] for k in (
        "cpu_s", "wall_s", "aws_s", "aws_calls", "aws_round_trips", "rounds")}
    lam["home"]["fold_every_s"] = FOLD_EVERY
    return lam


def _exposed_s(run: dict) -> float:
    """Seconds some AWS call was in flight while the checks were not running."""
    start, end = run["checks_span"] or (0.0, 0.0)
    merged: list[list[float]] = []
    for a, b in sorted(run["aws_spans"]):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    total = sum((b - a) - max(0.0, min(b, end) - max(a, start)) for a, b in merged)
    return total


def _run_child(env: dict, ca: str) -> dict:
    from . import lambda_child
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=lambda_child.run, args=(child, env, ca, CHILD_INVOCATIONS),
                       name="bench-checker-lambda", daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(300):
            raise RuntimeError("checker child did not report")
        return parent.recv()
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.terminate()


def rows_for(counts: dict) -> tuple[list[Row], dict]:
    lines, totals = cost_model.model(counts)
    rows = []
    for kind, title in (("fixed", "fixed"), ("views", "per 1M views")):
        for line in (x for x in lines if x.kind == kind):
            rows.append(Row(f"{title}: {line.service}", f"${line.usd:.2f}"))
        total = totals[kind]
        rows.append(Row(f"{title}: TOTAL", f"${total:.2f}", target=f"<= ${cost_model.TARGET_USD:.2f}",
                        ok=total <= cost_model.TARGET_USD))
    lam, cfg, chk = counts["checker_lambda"], counts["config"], counts["checker"]
    rss = max(lam["home"]["rss_mb"], lam["remote"]["rss_mb"])
    cpu = max(lam["home"]["cpu_s"], lam["remote"]["cpu_s"],
              lam["home"].get("publish", {}).get("cpu_s", 0.0))
    pick, mem = cost_model.choose_memory(rss, cpu), cfg["run_checks_mb"]
    gb_s = cost_model.PRICES["lambda_gb_second"][cfg["architecture"]]
    for mb in sorted({128, 192, 256, 384, pick, mem, 1024}):
        secs, gbs = cost_model.checker_compute(counts, mb)
        rows.append(Row(f"checker at {mb} MB: round (home / other), compute a month",
                        f"{secs['home']:.2f} / {secs['remote']:.2f} s, ${gbs * gb_s:.2f}",
                        target="fits" if cost_model.fits(rss, cpu, mb) else "too small"))
    rows += [
        Row("checker: peak RSS (home / other region)",
            f"{lam['home']['rss_mb']:.0f} / {lam['remote']['rss_mb']:.0f} MB"),
        Row("checker: CPU per round on a full core (home quiet / home publishing / other)",
            f"{lam['home']['cpu_s']:.2f} / {lam['home']['publish']['cpu_s']:.2f} / "
            f"{lam['remote']['cpu_s']:.2f} s"),
        Row("checker: AWS calls per round, in sequence / all (home quiet / other)",
            f"{lam['home']['aws_round_trips']:.0f} / {lam['home']['aws_calls']:.0f}, "
            f"{lam['remote']['aws_round_trips']:.0f} / {lam['remote']['aws_calls']:.0f}"),
        Row("checker: home rounds that rewrite the snapshot",
            f"{cost_model.publish_rate(counts):.1%}", target=">= 1 an hour (the fold)"),
        Row("checker: wall per round here (home / other)",
            f"{lam['home']['wall_s']:.2f} / {lam['remote']['wall_s']:.2f} s",
            f"{cost_model.WORKLOAD['target_ms'] / 1000:.2f} s", "-", "slowest check + writes"),
        # The pick moves a step with this machine's noise: the configured size must fit and
        # be at most two steps above it.
        Row("checker: memory configured vs smallest that fits", f"{mem} MB", f"{pick} MB",
            target="fits, <= +128 MB", ok=cost_model.fits(rss, cpu, mem) and mem <= pick + 128),
        Row("quiet round: DynamoDB written (home / other)",
            f"{chk['home']['write_bytes'] / 1024:.1f} / {chk['remote']['write_bytes'] / 1024:.1f} KB",
            target="<= 2 KB (write on change)"),
        Row("quiet round: S3 objects written (home)", f"{chk['home']['s3_objects']:.1f}",
            target="= 0 (write on change)"),
        Row("quiet round: results writes per region", f"{chk['remote']['results_puts']:.1f}",
            target="= 1", ok=chk["home"]["results_puts"] == chk["remote"]["results_puts"] == 1),
        Row("snapshot item", f"{counts['storage']['snapshot_bytes'] / 1024:.1f} KB"),
        Row("origin: RRU / DynamoDB calls per origin request",
            f"{counts['origin']['read_units']:.1f} / {counts['origin']['dynamodb_calls']:.1f}"),
    ]
    return rows, totals


def write_outputs(counts: dict) -> None:
    from .env import ROOT
    with open(COUNTS_PATH, "w") as fh:
        json.dump(counts, fh, indent=1, sort_keys=True)
        fh.write("\n")
    path = os.path.join(ROOT, "README.md")
    with open(path) as fh:
        readme = fh.read()
    with open(path, "w") as fh:
        fh.write(cost_model.replace_readme_section(readme, cost_model.render_markdown(counts)))


def run() -> tuple[list[Row], dict]:
    counts = measure()
    rows, totals = rows_for(counts)
    write_outputs(counts)
    return rows, {"totals": totals, "counts": counts}


def main() -> int:
    from .env import setup
    setup()
    from .table import render
    rows, facts = run()
    print(render("(g) Monthly cost of the reference workload, from measured counts", rows))
    for line in cost_model.contract_lines(facts["totals"]):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
