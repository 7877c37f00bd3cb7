"""Pure status maths: per-region damping, quorum across regions, component status, page roll-up.

The rule of thumb: one region alone never changes the page (it may be the checker's network, not
the service), and one round alone never changes a region's view (it may be a blip).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Collection, Iterable, Mapping, Optional

from .model import (CheckPolicy, CheckResult, Component, ComponentState, ComponentStatus, Level,
                    Monitor, MonitorRegionState, Scope)

_WORST_FIRST = (ComponentStatus.MAJOR, ComponentStatus.PARTIAL, ComponentStatus.DEGRADED,
                ComponentStatus.MAINTENANCE, ComponentStatus.OPERATIONAL)


def damp(state: MonitorRegionState, result: CheckResult, policy: CheckPolicy) -> MonitorRegionState:
    """Fold one observation into a region's damped view of a monitor.

    Getting worse needs `failure_threshold` consecutive observations at least that bad; getting
    better needs `success_threshold` consecutive observations at least that good. Both can't hold
    at once, because the newest observation is in both windows.
    """
    keep = max(policy.failure_threshold, policy.success_threshold)
    recent = (list(state.recent) + [int(result.level)])[-keep:]
    level = state.level
    worse_window = recent[-policy.failure_threshold:]
    better_window = recent[-policy.success_threshold:]
    if len(worse_window) == policy.failure_threshold and min(worse_window) > level:
        level = Level(min(worse_window))
    elif len(better_window) == policy.success_threshold and max(better_window) < level:
        level = Level(max(better_window))
    changed = level != state.level or state.since is None
    return replace(
        state,
        level=level,
        recent=recent,
        since=result.checked_at if changed else state.since,
        last_checked_at=result.checked_at,
        last_reasons=result.reasons,
        last_response_time_ms=result.response_time_ms,
        # A mirrored vendor status moves with the damped level: a vendor's blip is damped too.
        vendor_status=(result.vendor_status if Level(result.level) == level
                       else state.vendor_status),
    )


def is_reporting(state: Optional[MonitorRegionState], now: float, stale_after: float) -> bool:
    return bool(state and state.last_checked_at is not None and now - state.last_checked_at <= stale_after)


def monitor_scope(views: Iterable[Optional[MonitorRegionState]], total: int, now: float,
                  stale_after: float) -> Scope:
    live = [v for v in views if is_reporting(v, now, stale_after)]
    return Scope(
        failing=sum(1 for v in live if v.level == Level.FAIL),
        degraded=sum(1 for v in live if v.level == Level.DEGRADED),
        reporting=len(live),
        total=total,
    )


def monitor_level(scope: Scope, quorum: int) -> Level:
    """The worst level that at least `quorum` regions confirm."""
    if scope.failing >= quorum:
        return Level.FAIL
    if scope.failing + scope.degraded >= quorum:
        return Level.DEGRADED
    return Level.OK


def component_status(levels: list[Level]) -> ComponentStatus:
    if not levels:
        return ComponentStatus.OPERATIONAL
    failing = sum(1 for lv in levels if lv == Level.FAIL)
    if failing == len(levels):
        return ComponentStatus.MAJOR
    if failing:
        return ComponentStatus.PARTIAL
    if any(lv == Level.DEGRADED for lv in levels):
        return ComponentStatus.DEGRADED
    return ComponentStatus.OPERATIONAL


def stale_after(monitor: Monitor, policy: CheckPolicy) -> float:
    """A region's view of a monitor counts as unknown after 3 missed intervals (a monitor runs at
    least once per round, whatever longer interval it asks for)."""
    return 3 * min(monitor.interval or policy.interval, policy.interval)


def derive_component_states(
    components: Iterable[Component],
    views: Mapping[str, Mapping[str, MonitorRegionState]],   # region -> monitor id -> view
    policy: CheckPolicy,
    previous: Mapping[str, ComponentState],
    now: float,
    in_maintenance: Collection[str] = (),                    # component ids in a window now
) -> dict[str, ComponentState]:
    """Component states from every region's damped views, keeping `since` when nothing changed.

    Honesty rules: a region silent for 3 intervals is not counted; when fewer than `quorum`
    regions report on some monitor the component is `unknown` and may get worse but never
    better (silence is not a recovery). During maintenance the component shows
    under_maintenance whatever the checks say; its damped views keep updating underneath, so
    the status is current again the moment the window ends.
    """
    out: dict[str, ComponentState] = {}
    for comp in components:
        levels, scopes, reasons, checked, mirrored = [], [], [], [], []
        short = False                    # fewer regions than needed report on some monitor
        for mon in comp.monitors:
            per_region = [views.get(region, {}).get(mon.id) for region in policy.regions]
            total, quorum = len(policy.regions), policy.quorum
            if mon.kind == "heartbeat":
                # Not regional: the home region's one judgement, whichever region it filed under.
                per_region, total, quorum = [_freshest(per_region)], 1, 1
            fresh = stale_after(mon, policy)
            scope = monitor_scope(per_region, total, now, fresh)
            scopes.append(scope)
            short = short or scope.reporting < quorum
            levels.append(monitor_level(scope, quorum))
            if mon.kind == "statuspage":
                mirrored.append(_mirrored(per_region, levels[-1], now, fresh))
            for view in per_region:
                if view and view.last_checked_at is not None:
                    checked.append(view.last_checked_at)
                if is_reporting(view, now, fresh) and view.level != Level.OK:
                    reasons.extend(r for r in view.last_reasons if r not in reasons)
        status = component_status(levels)
        if mirrored:
            # Third-party: the vendor's own words, not our count of failing monitors; any
            # monitor of our own on the component can only make it look worse.
            own = [lv for mon, lv in zip(comp.monitors, levels) if mon.kind != "statuspage"]
            status = worst(mirrored + ([component_status(own)] if own else []))
        unknown = short
        prev = previous.get(comp.id)
        if (prev and unknown and prev.status != ComponentStatus.MAINTENANCE
                and _SEVERITY[status] < _SEVERITY[prev.status]):
            # Too few regions are reporting to vouch for a recovery: never turn green on silence.
            status = prev.status
        if comp.id in in_maintenance:
            status, unknown = ComponentStatus.MAINTENANCE, False
        since = prev.since if prev and prev.status == status else now
        out[comp.id] = ComponentState(
            status=status,
            since=since,
            scope=_component_scope(scopes, len(policy.regions)),
            reasons=tuple(reasons[:5]) if status != ComponentStatus.MAINTENANCE else (),
            last_checked_at=max(checked) if checked else None,
            created_at=prev.created_at if prev and prev.created_at else now,
            unknown=unknown,
        )
    return out


_LEVEL_STATUS = {Level.OK: ComponentStatus.OPERATIONAL, Level.DEGRADED: ComponentStatus.DEGRADED,
                 Level.FAIL: ComponentStatus.MAJOR}


def _freshest(views: list) -> Optional[MonitorRegionState]:
    live = [v for v in views if v and v.last_checked_at is not None]
    return max(live, key=lambda v: v.last_checked_at) if live else None


def _mirrored(views: list, level: Level, now: float, fresh: float) -> ComponentStatus:
    """A third-party monitor's status: the vendor's latest, from a reporting region whose
    damped level agrees with the quorum's (so damping and quorum still apply to it)."""
    agreeing = [v for v in views if is_reporting(v, now, fresh) and v.level == level
                and v.vendor_status]
    if not agreeing:
        return _LEVEL_STATUS[level]
    return ComponentStatus(max(agreeing, key=lambda v: v.last_checked_at).vendor_status)


def _component_scope(scopes: list[Scope], total: int) -> Scope:
    """The component's regional scope is its worst monitor's (by failing, then degraded)."""
    if not scopes:
        return Scope(failing=0, degraded=0, reporting=0, total=total)
    return max(scopes, key=lambda s: (s.failing, s.degraded, -s.reporting))


_SEVERITY = {s: len(_WORST_FIRST) - i for i, s in enumerate(_WORST_FIRST)}


def worst(statuses: Iterable[ComponentStatus]) -> ComponentStatus:
    present = set(statuses)
    for status in _WORST_FIRST:
        if status in present:
            return status
    return ComponentStatus.OPERATIONAL


# Statuspage's indicator and its usual descriptions.
_ROLLUP = {
    "critical": "Major Service Outage",
    "major": "Partial System Outage",
    "minor_outage": "Minor Service Outage",
    "minor_degraded": "Partially Degraded Service",
    "maintenance": "Service Under Maintenance",
    "none": "All Systems Operational",
}


_INCIDENT_ROLLUP = {"critical": ("critical", _ROLLUP["critical"]),
                    "major": ("major", _ROLLUP["major"]),
                    "minor": ("minor", _ROLLUP["minor_outage"])}
_INDICATOR_RANK = {"none": 0, "maintenance": 1, "minor": 2, "major": 3, "critical": 4}


def rollup(statuses: list[ComponentStatus], incident_impact: str = "none") -> tuple[str, str]:
    """Page indicator and description: the worse of the components and open incidents' impact."""
    by_components = _rollup_components(statuses)
    by_incidents = _INCIDENT_ROLLUP.get(incident_impact)
    if by_incidents and _INDICATOR_RANK[by_incidents[0]] > _INDICATOR_RANK[by_components[0]]:
        return by_incidents
    return by_components


def _rollup_components(statuses: list[ComponentStatus]) -> tuple[str, str]:
    if statuses and all(s == ComponentStatus.MAJOR for s in statuses):
        return "critical", _ROLLUP["critical"]
    if ComponentStatus.MAJOR in statuses:
        return "major", _ROLLUP["major"]
    if ComponentStatus.PARTIAL in statuses:
        return "minor", _ROLLUP["minor_outage"]
    if ComponentStatus.DEGRADED in statuses:
        return "minor", _ROLLUP["minor_degraded"]
    if ComponentStatus.MAINTENANCE in statuses:
        return "maintenance", _ROLLUP["maintenance"]
    return "none", _ROLLUP["none"]


def describe_scope(scope: Scope) -> Optional[str]:
    """Human words for the page: "failing from 1 of 3 regions"."""
    if scope.failing:
        return f"failing from {scope.failing} of {scope.total} regions"
    if scope.degraded:
        return f"degraded from {scope.degraded} of {scope.total} regions"
    if scope.reporting < scope.total:
        return f"{scope.reporting} of {scope.total} regions reporting"
    return None
