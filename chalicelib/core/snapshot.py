"""Pure: build the one precomputed public document from config and derived state.

The snapshot already holds Statuspage v2 objects (page, components, status, incidents,
scheduled_maintenances) so the read side only picks keys. Our own extras live under `outpost`,
keyed by the public component id, so v2 objects stay exactly v2.
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Mapping, Optional
from urllib.parse import urlsplit

from .incidents import component_overrides, impact, sequence, sort_newest_first, worst_impact
from .model import ComponentState, ComponentStatus, Scope, StatusConfig
from .status import describe_scope, rollup, worst
from .timefmt import zone as _zone

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


def known_components(config) -> dict[str, str]:
    """Any accepted component id (public 12-char id or status-file key) -> status-file key."""
    out = {}
    for comp in config.components:
        out[comp.id] = comp.id
        out[public_id(config.page.id, "component", comp.id)] = comp.id
    return out


def iso_ms(epoch: Optional[float], tz_name: str = "Etc/UTC") -> Optional[str]:
    """Statuspage's timestamp: milliseconds and an offset (strict clients parse %f%z)."""
    if epoch is None:
        return None
    dt = datetime.fromtimestamp(epoch, _zone(tz_name))
    text = dt.isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def build_snapshot(config: StatusConfig, states: Mapping[str, ComponentState], now: float,
                   data_as_of: Optional[float] = None, incidents: tuple = (),
                   scheduled_maintenances: tuple = (), incident_docs: tuple = (),
                   manual_overrides: Optional[Mapping[str, dict]] = None) -> dict:
    """`incidents`/`scheduled_maintenances` are v2 objects; `incident_docs` are stored incidents
    (chalicelib.core.incidents), rendered here and allowed to override component statuses."""
    page = config.page
    tz = page.time_zone
    pid = page.id
    rows, groups, extras = [], {}, {}
    leaf_statuses = []
    overrides = component_overrides(list(incident_docs), manual_overrides or {})
    for comp in config.components:
        st = states.get(comp.id) or ComponentState(
            status=ComponentStatus.OPERATIONAL, since=now,
            scope=Scope(0, 0, 0, len(config.checks.regions)), created_at=now)
        automatic = st.status
        if comp.id in overrides:
            status, since = overrides[comp.id]
            st = replace(st, status=ComponentStatus(status), since=since)
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
            "automatic_status": automatic.value,
            "overridden": comp.id in overrides,
        }
        vendors = [urlsplit(m.url).hostname for m in comp.monitors if m.kind == "statuspage"]
        if vendors:          # a third-party component: the page names whose status it mirrors
            extras[cid]["third_party"] = vendors[0]
    for name, g in groups.items():
        children = g["children"]
        rows[g["row_index"]] = _group_row(g["id"], name, children, pid, tz)
    for position, row in enumerate(rows, start=1):
        row["position"] = position
    indicator, description = rollup(leaf_statuses, worst_impact(list(incident_docs)))
    by_key = {comp.id: row for comp, row in zip(config.components,
                                                [r for r in rows if not r["group"]])}
    docs = sort_newest_first([d for d in incident_docs if not d.get("deleted_at")])
    rendered_incidents = [incident_v2(d, pid, page.url, by_key, tz) for d in docs
                          if d["kind"] != "scheduled"]
    rendered_maintenance = [incident_v2(d, pid, page.url, by_key, tz) for d in docs
                            if d["kind"] == "scheduled"]
    incidents = tuple(rendered_incidents) + tuple(incidents)
    scheduled_maintenances = tuple(rendered_maintenance) + tuple(scheduled_maintenances)
    updated = max([st.since for st in states.values()]
                  + [d["updated_at"] for d in docs], default=now)
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
            "locale": page.locale,
            "components": extras,
            # maintenance id -> revision counter: the SEQUENCE of /maintenance.ics
            "maintenance_sequence": {d["id"]: sequence(d) for d in docs
                                     if d["kind"] == "scheduled"},
        },
    }


def incident_v2(doc: dict, page_id: str, page_url: str, rows_by_key: Mapping[str, dict],
                tz: str) -> dict:
    """A stored incident as Statuspage's v2 incident (or scheduled maintenance) object."""
    def ts(value):
        return iso_ms(value, tz)
    updates = []
    for upd in doc["updates"]:
        affected = None
        if upd.get("affected_components"):
            affected = [{"code": rows_by_key[a["key"]]["id"] if a["key"] in rows_by_key else a["key"],
                         "name": rows_by_key[a["key"]]["name"] if a["key"] in rows_by_key else a["key"],
                         "old_status": a["old_status"], "new_status": a["new_status"]}
                        for a in upd["affected_components"]]
        updates.append({
            "id": upd["id"], "status": upd["status"], "body": upd["body"],
            "incident_id": doc["id"], "created_at": ts(upd["created_at"]),
            "updated_at": ts(upd.get("updated_at", upd["created_at"])),
            "display_at": ts(upd["display_at"]), "affected_components": affected,
            "deliver_notifications": upd["deliver_notifications"], "custom_tweet": None,
            "tweet_id": None,
        })
    out = {
        "id": doc["id"], "name": doc["name"], "status": doc["status"],
        "created_at": ts(doc["created_at"]), "updated_at": ts(doc["updated_at"]),
        "monitoring_at": ts(doc["monitoring_at"]), "resolved_at": ts(doc["resolved_at"]),
        "impact": impact(doc), "shortlink": f"{page_url.rstrip('/')}/incidents/{doc['id']}",
        "started_at": ts(doc["started_at"]), "page_id": page_id,
        "incident_updates": updates,
        "components": [rows_by_key[k] for k in doc["component_ids"] if k in rows_by_key],
    }
    if doc["kind"] == "scheduled":
        out["scheduled_for"] = ts(doc["scheduled_for"])
        out["scheduled_until"] = ts(doc["scheduled_until"])
    return out


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
