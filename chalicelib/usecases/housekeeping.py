"""Use-case: the scheduler's chores after each check round, in the home region only."""
from __future__ import annotations

import logging
from typing import Callable, Optional, Protocol

from . import deps
from .deliver import wake_if_due
from .fanout import flush_component_updates, nudge_quiet_incidents
from .manage import Actor, advance_maintenance
from .mentions import schedule_polls
from .reporting import sweep as sweep_reports


class Deps(deps.Clock, deps.Jitter, deps.Env, deps.Settings, deps.Config, deps.Store,
           deps.Notifier, deps.Deliveries, deps.ChannelResolver, deps.PublicCache,
           deps.SocialPosters, deps.StaticCopy, Protocol):
    """What this use-case is given (wiring.Container provides it all)."""


log = logging.getLogger("outpost.housekeeping")


# Housekeeping stops starting tasks when the Lambda has less than this left: the round's own
# writes are done by then, and a task cut off by the timeout would be half done.
HOUSEKEEPING_RESERVE = 5.0
# The minute's kick of the delivery worker goes first and needs only this: it is one SQS request,
# and the only wake a retry whose delay ran out ever gets, so a round that runs long every
# minute (an outage's slow targets) must not skip it the way it skips the chores.
WAKE_RESERVE = 1.0


def housekeeping(c: Deps, run_id: str, time_left: Optional[Callable[[], float]] = None,
                 reserve: float = HOUSEKEEPING_RESERVE) -> int:
    """What the scheduler does after checking: maintenance that starts or ends by itself,
    reminders for quiet incidents, debounced component changes (queued, never posted here),
    user-report spikes (chalicelib/usecases/reporting.py), and a kick of the delivery worker when its
    queue holds due messages (retries whose delay ran out: the worker has no event source).
    Each task fails alone, and none starts with less than `reserve` seconds left of the
    invocation (`time_left()`; None: no limit). Returns how many tasks ran."""
    if c.settings.checker_only:
        return 0                               # the home region's scheduler does these, once
    with c.deliveries.held():                  # what the tasks queue: one kick, at the end
        woke = _wake_worker(c, time_left)
        return woke + _run_tasks(c, Actor("scheduler", run_id), time_left, reserve)


def _wake_worker(c: Deps, time_left: Optional[Callable[[], float]]) -> int:
    if time_left is not None and time_left() < WAKE_RESERVE:
        log.warning("housekeeping: no time to look for due deliveries: %.1fs left", time_left())
        return 0
    try:
        wake_if_due(c)
    except Exception:                          # noqa: BLE001 - logged; next minute retries
        log.exception("scheduled housekeeping task due deliveries failed")
    return 1


def _run_tasks(c: Deps, actor: Actor, time_left: Optional[Callable[[], float]],
               reserve: float) -> int:
    ran = 0
    for name, task in (("maintenance", lambda: advance_maintenance(c, actor)),
                       ("nudges", lambda: nudge_quiet_incidents(c)),
                       ("component updates", lambda: flush_component_updates(c)),
                       ("report spikes", lambda: sweep_reports(c)),
                       ("social mentions", lambda: schedule_polls(c))):
        if time_left is not None and time_left() < reserve:
            log.warning("housekeeping stopped before %s: %.1fs left", name, time_left())
            break
        try:
            task()
        except Exception:                      # noqa: BLE001 - logged; next minute retries
            log.exception("scheduled housekeeping task %s failed", name)
        ran += 1
    return ran
