"""Use-case: a check round. Probe every monitor from each region, record the results (one
item per region-round), fold them into the region's damped views, derive the components'
states, then hand them to the publish use-case (chalicelib.usecases.publish). chalicelib.usecases.checker runs
several rounds per scheduled invocation."""
from __future__ import annotations

import concurrent.futures as cf
import logging
from dataclasses import dataclass, replace
from typing import Collection, Iterable, Optional, Protocol

from ..adapters.prober import run_checks
from ..core.errors import Conflict, retry_on_conflict
from ..core.heartbeats import judge
from ..core.model import ComponentState, Level, MonitorRegionState
from ..core.status import damp, derive_component_states
from ..core.uptime import day_key, record_rt
from ..core.windows import silenced
from . import deps
from .expiry import send_heads_ups
from .publish import publish_round


class Deps(deps.Clock, deps.Env, deps.Settings, deps.Config, deps.Store, deps.HeartbeatStore,
           deps.Probes, deps.Notifier, deps.PublicCache, deps.StaticCopy, Protocol):
    """What this use-case is given (wiring.Container provides it all)."""


log = logging.getLogger("outpost")
MAX_CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class RoundReport:
    round_at: float
    regions: tuple[str, ...]
    checks: int
    failing_checks: int
    transitions: dict[str, tuple[str, str]]     # component id -> (old status, new status)
    snapshot_version: Optional[int]             # None: the snapshot could not be written


def run_round(c: Deps, regions: Optional[Iterable[str]] = None,
              monitor_ids: Optional[Collection[str]] = None) -> RoundReport:
    """Probe every monitor (or those in `monitor_ids`) from each region, damp per region, then
    re-derive the page. chalicelib.usecases.checker.run_scheduled runs several per invocation."""
    regions = tuple(regions or c.settings.check_regions)
    round_at = c.clock()
    # The views' read goes out while the checks run: in a checker stage it crosses to the home
    # region, and the probes (a target's answer at least) hide that round trip.
    io = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="round-read")
    views = io.submit(c.store.load_region_views, list(regions))
    io.shutdown(wait=False)
    results = probe_round(c, regions, monitor_ids)
    return record_round(c, regions, round_at, results, prefetched=views)


def probe_round(c: Deps, regions: tuple[str, ...], monitor_ids: Optional[Collection[str]] = None) -> list:

    cfg = c.config
    unknown = [r for r in regions if r not in cfg.checks.regions]
    if unknown:
        raise ValueError(f"regions {unknown} are not in checks.regions {list(cfg.checks.regions)}")
    monitors = [m for _, m in cfg.monitors() if monitor_ids is None or m.id in monitor_ids]
    probed = [m for m in monitors if m.kind != "heartbeat"]
    results = run_checks(c.prober, [(m, r) for r in regions for m in probed])
    pushed = [m for m in monitors if m.kind == "heartbeat"]
    if pushed and not c.settings.checker_only:
        # Not regional: the home region judges each heartbeat once, as its first region.
        results += judge_heartbeats(c, pushed, regions[0])
    return results


def judge_heartbeats(c: Deps, monitors: list, region: str) -> list:
    """The round's verdicts on heartbeat monitors, from their stored beats (two BatchGetItems).
    A failed read gives no verdicts, not failures: after three rounds the page says unknown."""
    try:
        beats = c.heartbeat_store.beats([m.id for m in monitors])
    except Exception:                             # noqa: BLE001 - no data is not an outage
        log.exception("could not read heartbeats; judging none this round")
        return []
    now = c.clock()
    out = [judge(m, beats.get(m.id), now, region) for m in monitors]
    return [r for r in out if r is not None]


def record_round(c: Deps, regions: tuple[str, ...], round_at: float, results: list,
                 prefetched: Optional[cf.Future] = None) -> RoundReport:
    """One results item per region, the regions' damped views, then the page.

    `prefetched`: the regions' views, read while the checks ran (run_round). Each region's
    results write and views write go out together: one round trip instead of two when the
    state table is in another region. A failed results write still fails the round."""
    by_region: dict[str, list] = {r: [] for r in regions}
    for res in results:
        by_region[res.region].append(res)
    early = _prefetched_views(prefetched)
    io = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="round-write")
    try:
        for region in regions:
            _record_region(c, io, region, round_at, by_region[region], early.get(region))
    finally:
        io.shutdown(wait=False)
    if results and not c.settings.checker_only:
        send_heads_ups(c, results)       # private, never raises; the fence makes it once
    if c.settings.checker_only:
        # A checker stage in another region: its views are saved; the home region's next round
        # derives the page from them. One writer for the page, and no snapshot per region-round.
        return RoundReport(round_at, regions, len(results),
                           sum(1 for r in results if r.level), {}, None)
    transitions, version = refresh_page(c)
    return RoundReport(round_at, regions, len(results), sum(1 for r in results if r.level),
                       transitions, version)


def _prefetched_views(future: Optional[cf.Future]) -> dict:
    """The early read's views per region; {} when there was none or it failed (the fold then
    reads them itself, as it would have anyway)."""
    if future is None:
        return {}
    try:
        return future.result()
    except Exception:                             # noqa: BLE001 - the fold reads again
        log.warning("the early read of the region views failed; reading them again",
                    exc_info=True)
        return {}


def _record_region(c: Deps, io: cf.Executor, region: str, round_at: float, results: list,
                   loaded: Optional[tuple]) -> None:
    """The region's results item and its folded views. With the views read early (`loaded`),
    the fold is worked out first and both writes go out at once; the views' write is
    conditional on the version read, so a round that wrote in between makes this one reload
    and redo (_fold_region). A failed results write fails the round, as it always has."""
    written = None
    try:
        if loaded is not None:
            views, version = loaded
            new_views = _folded(c, views, results)
            written = io.submit(c.store.put_results, region, round_at, results)
            try:
                c.store.save_region_views(region, new_views, version, c.clock())
                return
            except Conflict:
                log.info("region %s's views changed during the round; reloading", region)
        else:
            written = io.submit(c.store.put_results, region, round_at, results)
        _fold_region(c, region, results)
    finally:
        if written is not None:
            written.result()


def _observed(c: Deps, results: list) -> list:
    """The results that are observations: a vendor page that could not be read says nothing
    about the vendor (the mirrored status holds and turns unknown after three rounds), never a
    made-up outage."""
    mirrors = {m.id for _, m in c.config.monitors() if m.kind == "statuspage"}
    return [r for r in results if r.monitor_id not in mirrors or r.vendor_status is not None]


def _folded(c: Deps, views: dict, results: list) -> dict:
    """Pure but for the config: the region's views with this round applied."""
    policy, tz = c.config.checks, c.config.page.time_zone
    new_views = dict(views)
    for res in _observed(c, results):
        view = damp(views.get(res.monitor_id) or MonitorRegionState(), res, policy)
        # Response times of working checks only: a fast 503 is not a fast service.
        if res.level != Level.FAIL and res.response_time_ms is not None:
            view = replace(view, rt_days=record_rt(view.rt_days, day_key(res.checked_at, tz),
                                                   res.response_time_ms))
        new_views[res.monitor_id] = view
    return new_views


def _fold_region(c: Deps, region: str, results: list) -> None:
    """Apply this round to the region's damped views; a concurrent round means reload and redo."""
    def fold() -> None:
        views, version = c.store.load_region_views([region])[region]
        c.store.save_region_views(region, _folded(c, views, results), version, c.clock())
    retry_on_conflict(fold, what=f"region {region}'s views", tries=MAX_CONFLICT_RETRIES)


def refresh_page(c: Deps) -> tuple[dict[str, tuple[str, str]], int]:
    """Re-derive component states from every region and republish the snapshot.

    The component document is written only when a status or scope changes, conditionally on its
    version: two overlapping rounds can't both record the same transition.
    """
    cfg, store = c.config, c.store

    def derive() -> tuple[dict, dict, dict]:
        now = c.clock()
        views = {r: v for r, (v, _) in store.load_region_views(list(cfg.checks.regions)).items()}
        previous, version = store.load_component_states()
        in_maintenance = silenced(cfg.maintenance, store.load_incident_feed()[0], now,
                                  cfg.page.time_zone)
        states = derive_component_states(cfg.components, views, cfg.checks, previous, now,
                                         in_maintenance=in_maintenance)
        transitions = {k: (previous[k].status.value if k in previous else None, s.status.value)
                       for k, s in states.items()
                       if k not in previous or previous[k].status != s.status}
        if _differs(previous, states):
            store.save_component_states(states, version, now)
        return views, states, transitions
    views, states, transitions = retry_on_conflict(derive, what="the component states",
                                                   tries=MAX_CONFLICT_RETRIES)
    snap_version = publish_round(c, states, _data_as_of(views), views)
    for key, (old, new) in transitions.items():
        if old is not None:
            log.warning("component %s: %s -> %s", key, old, new)
    return ({k: v for k, v in transitions.items() if v[0] is not None}, snap_version)


def _differs(old: dict[str, ComponentState], new: dict[str, ComponentState]) -> bool:
    if old.keys() != new.keys():
        return True
    return any((old[k].status, old[k].scope, old[k].unknown) != (new[k].status, new[k].scope,
                                                                 new[k].unknown) for k in new)


def _data_as_of(views: dict[str, dict[str, MonitorRegionState]]) -> Optional[float]:
    seen = [v.last_checked_at for per in views.values() for v in per.values() if v.last_checked_at]
    return max(seen) if seen else None


