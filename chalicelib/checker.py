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

from .model import Monitor

log = logging.getLogger("outpost.checker")
# Seconds a slot needs beyond its longest timeout: run_checks' grace plus the round's writes.
WRITE_RESERVE = 3.0
# A round vouches for the page for this many rounds: a little slack for a late schedule.
CREDIT_ROUNDS = 1.5


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
    """One scheduled invocation: every slot of the plan, each a round (services.run_round).

    `time_left()` is the Lambda's remaining seconds (None: unlimited, as in the local stack)."""
    from .services import probe_round, record_round, run_round

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


def attach_history(c, previous: Optional[dict], doc: dict, states: dict,
                   views: Optional[dict], spans: Optional[list] = None) -> list:
    """Annotate a freshly built snapshot (unknown, maintenance, stale) and carry the uptime and
    response-time history into it. Returns the days this publish closed."""
    from .history import annotate, attach, component_histograms
    from .windows import active

    cfg, now = c.config, c.clock()
    annotate(doc, cfg, states, active(cfg.maintenance, now, cfg.page.time_zone), now)
    restored = None if previous and previous.get("_uptime") else _restore(c, doc)
    histograms = component_histograms(cfg, views) if views is not None else None
    return attach(previous, doc, now, CREDIT_ROUNDS * cfg.checks.interval, histograms, restored,
                  spans)


def store_closed_days(c, closed: list) -> None:
    """One history item per component per closed day; a failure is logged, not raised: the
    same days are in the snapshot, and the next day's flush does not depend on this one."""
    if not closed:
        return
    days = [(key, {**day, "response_time": point}) for key, day, point in closed if key]
    try:
        c.store.put_history_days(days, c.clock())
    except Exception:
        log.exception("could not store %d closed history days", len(days))


def _restore(c, doc: dict) -> Optional[dict]:
    """History from the history table for a snapshot that has none (first publish after the
    snapshot was lost or the format changed). One query per component, only then."""
    from .uptime import DAYS, day_key, uptime_over
    since = day_key(c.clock() - DAYS * 86400, doc["page"]["time_zone"])
    uptime, rts = {}, {}
    try:
        for cid, extra in doc["outpost"]["components"].items():
            days = c.store.load_history_days(extra["key"], since)
            if days:
                uptime[cid] = {"days": [{k: v for k, v in d.items() if k != "response_time"}
                                        for d in days], "uptime_90d": uptime_over(days)}
                rts[cid] = [d["response_time"] for d in days if d.get("response_time")]
    except Exception:
        log.exception("could not read history back; starting it afresh")
        return None
    return {"uptime": uptime, "response_times": rts}


def run_invocation(c, lambda_context=None) -> dict:
    """The scheduled handler's body: every round of this invocation, summed up for the log."""
    remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
    reports = run_scheduled(c, time_left=(lambda: remaining() / 1000) if remaining else None)
    transitions: dict = {}
    for report in reports:
        transitions.update(report.transitions)
    from .metrics import emit_results          # the one log line of the invocation
    emit_results(c.env, reports, c.clock())
    return {"round_at": reports[0].round_at if reports else None, "rounds": len(reports),
            "checks": sum(r.checks for r in reports),
            "failing": sum(r.failing_checks for r in reports), "transitions": transitions}
