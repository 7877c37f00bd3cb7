"""(b) Check round: 500 local targets answering after 100 ms, plus 10 that never answer.

Targets are served by one tests/targets.FakeServer on 127.0.0.1, in a child process:
  /ok/<n>?ms=<delay>   sleeps `delay` ms (default 100), then answers 200 "ok"
  /hang/<n>            accepts, reads the request and never answers (until the child is terminated)
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import threading
import time
from urllib.parse import parse_qs, urlsplit

from tests.targets import FakeServer, Reply, Request

from .table import Row, ratio, secs

FAST, HANGING = 500, 10
DELAY_MS = 100
TIMEOUT = 2.0
ROUND_TARGET = 1.5                  # DESIGN: the round finishes in under 1.5x the timeout
STRESS_DELAY_MS = 1000              # extra scenario: every target healthy, but takes 1 s


def _answer(req: Request) -> Reply | None:
    url = urlsplit(req.path)
    if url.path.startswith("/hang/"):
        threading.Event().wait()        # forever: the process is terminated at the end
        return None
    time.sleep(int(parse_qs(url.query).get("ms", [DELAY_MS])[0]) / 1000)
    return Reply(200, b"ok", {"Content-Type": "text/plain"})


def _serve(conn) -> None:
    """Child process: serve on an ephemeral 127.0.0.1 port, report it, serve until terminated."""
    server = FakeServer(_answer, protocol="HTTP/1.0", record=False)   # 510 requests a round
    conn.send(server.port)
    conn.close()
    threading.Event().wait()


class TargetServer:
    """The targets live in their own process, as remote targets would: their threads must not
    compete with the prober's for this interpreter's GIL."""

    def __enter__(self):
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_serve, args=(child,), name="bench-targets", daemon=True)
        self.process.start()
        child.close()
        if not parent.poll(30):
            self.process.terminate()
            raise RuntimeError("target server did not start")
        self.port = parent.recv()
        parent.close()
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.join(5)


def _jobs(port: int, fast: int, hanging: int, hang_last: bool, delay_ms: int = DELAY_MS):
    from chalicelib.core.model import Monitor
    base = f"http://127.0.0.1:{port}"
    fast_jobs = [Monitor(id=f"ok.{i}", url=f"{base}/ok/{i}?ms={delay_ms}", timeout=TIMEOUT)
                 for i in range(fast)]
    hang_jobs = [Monitor(id=f"hang.{i}", url=f"{base}/hang/{i}", timeout=TIMEOUT)
                 for i in range(hanging)]
    if hang_last or not hang_jobs:
        monitors = fast_jobs + hang_jobs
    else:                                # spread evenly through the round
        monitors, step = list(fast_jobs), len(fast_jobs) // len(hang_jobs)
        for k in reversed(range(len(hang_jobs))):
            monitors.insert(k * step, hang_jobs[k])
    return [(m, "us-east-1") for m in monitors]


def _wait_for_probe_threads(limit: float = 4.0) -> None:
    """Abandoned checks keep running after a round; let them end before timing the next one."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if not any(t.name.startswith("probe") for t in threading.enumerate()):
            return
        time.sleep(0.02)


def _round(prober, jobs) -> dict:
    from chalicelib.adapters.prober import run_checks
    from chalicelib.core.model import Level
    _wait_for_probe_threads()
    # Diagnostic only: note when run_checks starts waiting (its deadline clock) and for how long.
    original_wait, seen = cf.wait, {}

    def noting_wait(fs, timeout=None, return_when=cf.ALL_COMPLETED):
        seen.setdefault("at", time.perf_counter())
        seen.setdefault("limit", timeout)
        return original_wait(fs, timeout=timeout, return_when=return_when)

    cf.wait = noting_wait
    try:
        t0 = time.perf_counter()
        results = run_checks(prober, jobs)
        wall = time.perf_counter() - t0
    finally:
        cf.wait = original_wait
    by_id = {r.monitor_id: r for r in results}
    fast = [by_id[m.id] for m, _ in jobs if m.id.startswith("ok.")]
    hang = [by_id[m.id] for m, _ in jobs if m.id.startswith("hang.")]
    timed_out = [r for r in results if r.error and "timeout" in r.error]
    return {
        "wall": wall, "submit": seen.get("at", t0) - t0, "limit": seen.get("limit"),
        "results": len(results), "jobs": len(jobs),
        "ok": sum(1 for r in fast if r.level == Level.OK),
        "fast": len(fast), "hang": len(hang),
        "timed_out": len(timed_out),
        "hang_timed_out": sum(1 for r in hang if r.error and "timeout" in r.error),
        "fast_timed_out": sum(1 for r in fast if r.error and "timeout" in r.error),
        "hung_marked": sum(1 for r in results if r.error and "(hung)" in r.error),
        "other_fail": sorted({r.error or "condition" for r in fast if r.level != Level.OK
                              and not (r.error and "timeout" in r.error)})[:3],
    }


def run() -> tuple[list[Row], list[Row], dict]:
    from chalicelib.adapters.prober import MAX_WORKERS, HttpProber
    rows: list[Row] = []
    stress: list[Row] = []
    with TargetServer() as srv:
        prober = HttpProber("https://status.bench.example", allow_private=True)
        _round(prober, _jobs(srv.port, 20, 0, False))                   # warm-up: imports, pools
        base = _round(prober, _jobs(srv.port, FAST, 0, False))
        mixed = _round(prober, _jobs(srv.port, FAST, HANGING, False))
        last = _round(prober, _jobs(srv.port, FAST, HANGING, True))
        slow = _round(prober, _jobs(srv.port, FAST, 0, False, STRESS_DELAY_MS))
        _wait_for_probe_threads()

    for label, r in ((f"round, {FAST} ok + {HANGING} hang (spread)", mixed),
                     (f"round, {FAST} ok + {HANGING} hang (hang last)", last)):
        rows.append(Row(f"{label} vs timeout", secs(r["wall"]), secs(TIMEOUT),
                        ratio(r["wall"], TIMEOUT), f"< {ROUND_TARGET}x",
                        ok=r["wall"] < ROUND_TARGET * TIMEOUT and r["results"] == r["jobs"]))
        rows.append(Row("  targets OK", f"{r['ok']}/{r['fast']}", target=f"= {FAST}",
                        ok=r["ok"] == FAST))
        rows.append(Row("  checks timed out (hung ones)",
                        f"{r['timed_out']} ({r['hang_timed_out']} hang, {r['hung_marked']} cut at deadline)",
                        target=f"= {HANGING}",
                        ok=r["timed_out"] == HANGING and r["hang_timed_out"] == HANGING))
        rows.append(Row("  submitting jobs, before the deadline clock starts",
                        secs(r["submit"]), secs(r["limit"] or 0), ratio(r["submit"], r["limit"] or 0)))
        rows.append(Row("  round with hangs vs without", secs(r["wall"]), secs(base["wall"]),
                        ratio(r["wall"], base["wall"])))
    rows.append(Row(f"baseline round, {FAST} ok only vs timeout", secs(base["wall"]), secs(TIMEOUT),
                    ratio(base["wall"], TIMEOUT), f"< {ROUND_TARGET}x",
                    ok=base["wall"] < ROUND_TARGET * TIMEOUT and base["ok"] == FAST
                    and base["timed_out"] == 0))
    rows.append(Row(f"  vs one target's latency ({MAX_WORKERS} workers)", secs(base["wall"]),
                    secs(DELAY_MS / 1000), ratio(base["wall"], DELAY_MS / 1000)))
    rows.append(Row("  targets OK / timed out", f"{base['ok']}/{base['fast']} / {base['timed_out']}",
                    target=f"{FAST} / 0", ok=base["ok"] == FAST and base["timed_out"] == 0))

    stress.append(Row(f"round, {FAST} healthy targets at {STRESS_DELAY_MS} ms vs timeout",
                      secs(slow["wall"]), secs(TIMEOUT), ratio(slow["wall"], TIMEOUT)))
    stress.append(Row("  targets OK", f"{slow['ok']}/{slow['fast']}", target=f"= {FAST}",
                      ok=None))
    stress.append(Row("  healthy targets reported as timed out", str(slow["fast_timed_out"]),
                      target="= 0", ok=None))
    facts = {"base": base, "mixed": mixed, "last": last, "slow": slow,
             "max_workers": MAX_WORKERS}
    return rows, stress, facts
