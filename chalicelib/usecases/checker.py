"""The checker's shell: sub-minute cadence inside one scheduled invocation, and the history
that every snapshot carries (the maths is pure, in uptime.py, history.py and windows.py).

Cadence. EventBridge fires the checker once a minute (checks.interval). A monitor with a
shorter `interval` (which must divide the round, e.g. 20s) gets several rounds per invocation,
at fixed offsets from the invocation's start: 0, 20, 40 s. Each round ("slot") starts on time in
its own thread even if the previous one is still waiting on a slow target, and slots are
recorded strictly in order (a slot waits for its predecessor's write), so a monitor's damping
sees its observations in time order. A slot that could not finish before the Lambda's time
limit is skipped: it leaves no data (and the page says so) rather than a false failure.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, Iterable, Optional

from ..core.metrics import emit_results
from ..core.model import Monitor
from .rounds import probe_round, record_round, run_round

log = logging.getLogger("outpost.checker")
# Seconds a slot needs beyond its longest timeout: run_checks' grace plus the round's writes.
WRITE_RESERVE = 3.0


def plan(monitors: Iterable[Monitor], period: float) -> list[tuple[float, tuple[str, ...]]]:
    """Pure: [(offset in seconds, monitor ids due then)], in time order, covering one period."""
    slots: dict[float, list[str]] = {}
    for m in monitors:
        every = m.interval if m.interval and m.interval < period else period
        for k in range(max(1, round(period / every))):
            slots.setdefault(round(k * every, 3), []).append(m.id)
    return [(offset, tuple(ids)) for offset, ids in sorted(slots.items())]


def run_scheduled(c, regions: Optional[Iterable[str]] = None,
                  time_left: Optional[Callable[[], float]] = None) -> list:
    """One scheduled invocation: every slot of the plan, each a round (rounds.run_round).

    `time_left()` is the Lambda's remaining seconds (None: unlimited, as in the local stack)."""
    cfg = c.config
    regions = tuple(regions or c.settings.check_regions)
    monitors = {m.id: m for _, m in cfg.monitors()}
    slots = plan(monitors.values(), cfg.checks.interval)
    if len(slots) <= 1:
        return [run_round(c, regions)]
    start = c.clock()
    done = [threading.Event() for _ in slots]
    reports: list = [None] * len(slots)
    errors: list = []

    def slot(k: int, round_at: float, ids: tuple[str, ...]) -> None:
        try:
            results = probe_round(c, regions, ids)
            if k:
                done[k - 1].wait()
            reports[k] = record_round(c, regions, round_at, results)
        except Exception as exc:           # reported after every slot has finished
            log.exception("round at +%gs failed", round_at - start)
            errors.append(exc)
        finally:
            done[k].set()

    threads = []
    for k, (offset, ids) in enumerate(slots):
        wait = start + offset - c.clock()
        if wait > 0:
            c.sleep(wait)
        needed = max(monitors[i].timeout for i in ids) + WRITE_RESERVE
        if time_left is not None and time_left() < needed:
            log.warning("skipping the round at +%gs: %.1fs left, it needs %.1fs",
                        offset, time_left(), needed)
            if k:
                done[k - 1].wait()
            done[k].set()
            continue
        thread = threading.Thread(target=slot, args=(k, start + offset, ids),
                                  name=f"round+{offset:g}s", daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [r for r in reports if r is not None]


def run_invocation(c, lambda_context=None) -> dict:
    """The scheduled handler's body: every round of this invocation, summed up for the log."""
    remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
    reports = run_scheduled(c, time_left=(lambda: remaining() / 1000) if remaining else None)
    transitions: dict = {}
    for report in reports:
        transitions.update(report.transitions)
    emit_results(c.env, reports, c.clock())
    return {"round_at": reports[0].round_at if reports else None, "rounds": len(reports),
            "checks": sum(r.checks for r in reports),
            "failing": sum(r.failing_checks for r in reports), "transitions": transitions}
