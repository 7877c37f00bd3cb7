"""Pure: build the one precomputed public document from config and derived state.

The snapshot already holds Statuspage v2 objects (page, components, status, incidents,
scheduled_maintenances) so the read side only picks keys. Our own extras live under `outpost`,
keyed by the public component id, so v2 objects stay exactly v2.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from functools import lru_cache
from typing import Mapping, Optional
from zoneinfo import ZoneInfo

from .model import ComponentState, ComponentStatus, Scope, StatusConfig
from .status import describe_scope, rollup, worst

SNAPSHOT_FORMAT = 1
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def public_id(page_id: str, kind: str, key: str) -> str:
    """Stable 12-character lowercase base36 id, like Statuspage's, derived from the operator's id."""
    n = int.from_bytes(hashlib.sha256(f"{page_id}:{kind}:{key}".encode()).digest()[:10], "big")
    out = []
    for _ in range(12):
        n, r = divmod(n, 36)
        out.append(_B36[r])
    return "".join(out)


@lru_cache(maxsize=64)
def _zone(name: str):
    return timezone.utc if name in ("UTC", "Etc/UTC") else ZoneInfo(name)


def iso_ms(epoch: Optional[float], tz_name: str = "Etc/UTC") -> Optional[str]:
    """Statuspage's timestamp: milliseconds and an offset (strict clients parse %f%z)."""
    if epoch is None:
        return None
    dt = datetime.fromtimestamp(epoch, _zone(tz_name))
    text = dt.isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def build_snapshot(config: StatusConfig, states: Mapping[str, ComponentState], now: float,
                   data_as_of: Optional[float] = None, incidents: tuple = (),
                   scheduled_maintenances: tuple = ()) -> dict:
    page = config.page
    tz = page.time_zone
    pid = page.id
    rows, groups, extras = [], {}, {}
    leaf_statuses = []
    for comp in config.components:
        st = states.get(comp.id) or ComponentState(
            status=ComponentStatus.OPERATIONAL, since=now,
            scope=Scope(0, 0, 0, len(config.checks.regions)), created_at=now)
        cid = public_id(pid, "component", comp.id)
        group_id = None
        if comp.group:
            group_id = public_id(pid, "group", comp.group)
            if comp.group not in groups:
                groups[comp.group] = {"id": group_id, "children": [], "row_index": len(rows)}
                rows.append(None)          # placeholder keeps the group where it first appears
            groups[comp.group]["children"].append((cid, st))
        leaf_statuses.append(st.status)
        rows.append(_component_row(cid, comp.name, st, comp.description, group_id, pid, tz))
        extras[cid] = {
            "key": comp.id,
            "scope": {"failing": st.scope.failing, "degraded": st.scope.degraded,
                      "reporting": st.scope.reporting, "total": st.scope.total},
            "scope_text": describe_scope(st.scope),
            "reasons": list(st.reasons),
            "last_checked_at": iso_ms(st.last_checked_at, tz),
        }
    for name, g in groups.items():
        children = g["children"]
        rows[g["row_index"]] = _group_row(g["id"], name, children, pid, tz)
    for position, row in enumerate(rows, start=1):
        row["position"] = position
    indicator, description = rollup(leaf_statuses)
    updated = max((st.since for st in states.values()), default=now)
    return {
        "format": SNAPSHOT_FORMAT,
        "page": {"id": pid, "name": page.name, "url": page.url, "time_zone": tz,
                 "updated_at": iso_ms(updated, tz)},
        "components": rows,
        "incidents": list(incidents),
        "scheduled_maintenances": list(scheduled_maintenances),
        "status": {"indicator": indicator, "description": description},
        "outpost": {
            "generated_at": iso_ms(now, tz),
            "data_as_of": iso_ms(data_as_of, tz),
            "data_as_of_epoch": data_as_of,
            "stale_after_seconds": 3 * config.checks.interval,
            "regions": list(config.checks.regions),
            "quorum": config.checks.quorum,
            "hosted_on": _place(page.hosted_on),
            "service_hosted_on": _place(page.service_hosted_on),
            "components": extras,
        },
    }


def _place(place) -> Optional[dict]:
    return {"provider": place.provider, "region": place.region} if place else None


def _component_row(cid: str, name: str, st: ComponentState, description: Optional[str],
                   group_id: Optional[str], page_id: str, tz: str) -> dict:
    created = st.created_at or st.since
    return {
        "id": cid, "name": name, "status": st.status.value,
        "created_at": iso_ms(created, tz), "updated_at": iso_ms(st.since, tz),
        "position": 0, "description": description, "showcase": True,
        "start_date": iso_ms(created, tz)[:10], "group_id": group_id, "page_id": page_id,
        "group": False, "only_show_if_degraded": False,
    }


def _group_row(gid: str, name: str, children: list, page_id: str, tz: str) -> dict:
    states = [st for _, st in children]
    return {
        "id": gid, "name": name, "status": worst(st.status for st in states).value,
        "created_at": iso_ms(min(st.created_at or st.since for st in states), tz),
        "updated_at": iso_ms(max(st.since for st in states), tz),
        "position": 0, "description": None, "showcase": False, "start_date": None,
        "group_id": None, "page_id": page_id, "group": True, "only_show_if_degraded": False,
        "components": [cid for cid, _ in children],
    }
