"""Use-case: a check round. Probe every monitor from each region, record the results (one
item per region-round), fold them into the region's damped views, derive the components'
states, then hand them to the publish use-case (chalicelib.usecases.publish). chalicelib.usecases.checker runs
several rounds per scheduled invocation."""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Collection, Iterable, Optional

from ..adapters.prober import run_checks
from ..core.errors import retry_on_conflict
from ..core.heartbeats import judge
from ..core.model import ComponentState, Level, MonitorRegionState
from ..core.status import damp, derive_component_states
from ..core.uptime import day_key, record_rt
from ..core.windows import silenced
from .expiry import send_heads_ups
from .publish import publish_round

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


def run_round(c, regions: Optional[Iterable[str]] = None,
              monitor_ids: Optional[Collection[str]] = None) -> RoundReport:
    """Probe every monitor (or those in `monitor_ids`) from each region, damp per region, then
    re-derive the page. chalicelib.usecases.checker.run_scheduled runs several per invocation."""
    regions = tuple(regions or c.settings.check_regions)
    round_at = c.clock()
    results = probe_round(c, regions, monitor_ids)
    return record_round(c, regions, round_at, results)


def probe_round(c, regions: tuple[str, ...], monitor_ids: Optional[Collection[str]] = None) -> list:

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


def judge_heartbeats(c, monitors: list, region: str) -> list:
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


def record_round(c, regions: tuple[str, ...], round_at: float, results: list) -> RoundReport:
    """One results item per region, the regions' damped views, then the page."""
    store = c.store
    by_region: dict[str, list] = {r: [] for r in regions}
    for res in results:
        by_region[res.region].append(res)
    for region in regions:
        store.put_results(region, round_at, by_region[region])
        _fold_region(c, region, by_region[region])
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


def _fold_region(c, region: str, results: list) -> None:
    """Apply this round to the region's damped views; a concurrent round means reload and redo."""
    policy, tz = c.config.checks, c.config.page.time_zone
    # A vendor page that could not be read says nothing about the vendor: no observation, so
    # the mirrored status holds and turns unknown after three rounds, never a made-up outage.
    mirrors = {m.id for _, m in c.config.monitors() if m.kind == "statuspage"}
    results = [r for r in results if r.monitor_id not in mirrors or r.vendor_status is not None]

    def fold() -> None:
        views, version = c.store.load_region_views([region])[region]
        new_views = dict(views)
        for res in results:
            view = damp(views.get(res.monitor_id) or MonitorRegionState(), res, policy)
            # Response times of working checks only: a fast 503 is not a fast service.
            if res.level != Level.FAIL and res.response_time_ms is not None:
                view = replace(view, rt_days=record_rt(view.rt_days, day_key(res.checked_at, tz),
                                                       res.response_time_ms))
            new_views[res.monitor_id] = view
        c.store.save_region_views(region, new_views, version, c.clock())
    retry_on_conflict(fold, what=f"region {region}'s views", tries=MAX_CONFLICT_RETRIES)


def refresh_page(c) -> tuple[dict[str, tuple[str, str]], int]:
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


