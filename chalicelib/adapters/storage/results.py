"""Round results, per-region monitor views, component states and closed history days: what
the checker round writes and reads back (chalicelib/usecases/rounds.py, chalicelib/core/history.py)."""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import Optional

from ...core.model import (CheckResult, ComponentState, ComponentStatus, Level, MonitorRegionState,
                           Scope)
from .models import _Tables

RESULTS_TTL_SECONDS = 8 * 24 * 3600     # a week of raw rounds, plus a day of slack


# -- codecs: domain <-> plain JSON ---------------------------------------------------------------


def result_to_json(r: CheckResult) -> dict:
    d = {"m": r.monitor_id, "t": round(r.checked_at, 3), "l": int(r.level)}
    if r.response_time_ms is not None:
        d["rt"] = r.response_time_ms
    if r.status_code is not None:
        d["sc"] = r.status_code
    if r.error:
        d["e"] = r.error
    failed = [c.resolved for c in r.conditions if not c.success]
    if failed:
        d["why"] = failed
    return d


def view_to_json(v: MonitorRegionState) -> dict:
    d = asdict(v)
    d["level"] = int(v.level)
    return d


def view_from_json(d: dict) -> MonitorRegionState:
    return MonitorRegionState(**{**d, "level": Level(d["level"])})


def component_state_to_json(s: ComponentState) -> dict:
    return {"status": s.status.value, "since": s.since, "scope": asdict(s.scope),
            "reasons": list(s.reasons), "last_checked_at": s.last_checked_at,
            "created_at": s.created_at, "unknown": s.unknown}


def component_state_from_json(d: dict) -> ComponentState:
    return ComponentState(status=ComponentStatus(d["status"]), since=d["since"],
                          scope=Scope(**d["scope"]), reasons=tuple(d.get("reasons", ())),
                          last_checked_at=d.get("last_checked_at"),
                          created_at=d.get("created_at"), unknown=d.get("unknown", False))


class ResultRepository(_Tables):
    """Raw results (results table), region views and component states (state table), days (history table)."""

    def put_results(self, region: str, round_at: float, results: list[CheckResult]) -> None:
        self.ResultRow(region, int(round_at * 1000), results=[result_to_json(r) for r in results],
                       expires_at=datetime.fromtimestamp(round_at + RESULTS_TTL_SECONDS, timezone.utc)).save()

    def recent_results(self, region: str, limit: int = 10) -> list[dict]:
        rows = self.ResultRow.query(region, scan_index_forward=False, limit=limit)
        return [{"round_at": row.round_at / 1000, "results": row.results} for row in rows]

    def load_region_views(self, regions: list[str]) -> dict[str, tuple[dict[str, MonitorRegionState], Optional[int]]]:
        out = {r: ({}, None) for r in regions}
        keys = [f"region#{r}" for r in regions]
        for row in self.StateRow.batch_get(keys):
            region = row.pk.split("#", 1)[1]
            out[region] = ({k: view_from_json(v) for k, v in row.doc.items()}, row.version)
        return out

    def save_region_views(self, region: str, views: dict[str, MonitorRegionState],
                          version: Optional[int], now: float) -> None:
        self._save(f"region#{region}", {k: view_to_json(v) for k, v in views.items()}, version, now)

    def load_component_states(self) -> tuple[dict[str, ComponentState], Optional[int]]:
        doc, version = self._load("components")
        return {k: component_state_from_json(v) for k, v in (doc or {}).items()}, version

    def save_component_states(self, states: dict[str, ComponentState], version: Optional[int],
                              now: float) -> None:
        self._save("components", {k: component_state_to_json(v) for k, v in states.items()},
                   version, now)

    def put_history_days(self, days: list[tuple[str, dict]], now: float) -> None:
        """Idempotent overwrite: a retried flush stores the same day again, never twice."""
        with self.HistoryRow.batch_write() as batch:
            for component, day in days:
                batch.save(self.HistoryRow(component, day["date"], day=day, updated_at=now))

    def load_history_days(self, component: str, since: str) -> list[dict]:
        """Stored days of one component from `since` (YYYY-MM-DD) on, oldest first."""
        return [row.day for row in self.HistoryRow.query(component, self.HistoryRow.date >= since)]
