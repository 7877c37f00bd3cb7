"""Snapshots with incidents, maintenance, uptime and response times, built in code for tests.

Incidents and maintenances have Statuspage's v2 shape (shared/research/anchors.md section 2), as
the operator API writes them into the snapshot; uptime and response times have the shape the
checker publishes under `outpost`. Everything is derived from a fixed clock so tests can assert
exact texts.
"""
from __future__ import annotations

from typing import Iterable, Optional

from chalicelib.core.model import (CheckPolicy, Component, ComponentState, ComponentStatus, Page,
                                   Place, Scope, StatusConfig)
from chalicelib.core.snapshot import build_snapshot, iso_ms, public_id

T0 = 1_780_000_000.0          # 2026-05-28T20:26:40Z
DAY = 86400.0
PAGE_ID = "acme"

CFG = StatusConfig(
    page=Page(PAGE_ID, "Acme Status", "https://status.acme.example",
              hosted_on=Place("aws", "us-west-2"),
              service_hosted_on=Place("mediatemple", "el-segundo")),
    checks=CheckPolicy(regions=("us-west-2", "eu-west-1", "ap-southeast-2"), quorum=2),
    components=(Component("api", "API", group="Core", description="Public REST API"),
                Component("web", "Website", group="Core"),
                Component("search", "Search")),
)


def cid(key: str, page_id: str = PAGE_ID) -> str:
    return public_id(page_id, "component", key)


def state(status: str = "operational", failing: int = 0, degraded: int = 0, reasons=(),
          now: float = T0) -> ComponentState:
    return ComponentState(ComponentStatus(status), now - 3600, Scope(failing, degraded, 3, 3),
                          tuple(reasons), last_checked_at=now - 20, created_at=now - 100 * DAY)


def update(incident_id: str, n: int, status: str, body: str, at: float,
           affected: Optional[list] = None) -> dict:
    ts = iso_ms(at)
    return {"id": public_id(PAGE_ID, "update", f"{incident_id}:{n}"), "status": status,
            "body": body, "incident_id": incident_id, "created_at": ts, "updated_at": ts,
            "display_at": ts, "affected_components": affected, "deliver_notifications": True,
            "custom_tweet": None, "tweet_id": None}


def incident(key: str, name: str, updates: Iterable[tuple], impact: str = "minor",
             components: Iterable[dict] = (), maintenance: Optional[tuple] = None) -> dict:
    """`updates` oldest first as (status, body, epoch[, affected]); stored newest first.

    `maintenance` = (scheduled_for, scheduled_until) epochs makes it a scheduled maintenance.
    """
    iid = public_id(PAGE_ID, "incident", key)
    ups = [update(iid, n, *u) for n, u in enumerate(updates)]
    first, last = ups[0], ups[-1]
    status = last["status"]
    monitoring = next((u["created_at"] for u in ups if u["status"] in ("monitoring", "verifying")),
                      None)
    resolved = last["created_at"] if status in ("resolved", "postmortem", "completed") else None
    item = {"id": iid, "name": name, "status": status, "created_at": first["created_at"],
            "updated_at": last["created_at"], "monitoring_at": monitoring, "resolved_at": resolved,
            "impact": impact, "shortlink": f"https://status.acme.example/incidents/{iid}",
            "started_at": first["created_at"], "page_id": PAGE_ID,
            "incident_updates": list(reversed(ups)), "components": list(components)}
    if maintenance:
        item["scheduled_for"], item["scheduled_until"] = (iso_ms(t) for t in maintenance)
    return item


def uptime(days: int = 90, outages: Optional[dict] = None, nodata: Iterable[int] = ()) -> dict:
    """`outages` maps days-ago -> (major, partial, degraded) seconds; `nodata` days-ago have none."""
    outages, nodata = outages or {}, set(nodata)
    out = []
    from datetime import datetime, timezone
    for ago in range(days - 1, -1, -1):
        date = datetime.fromtimestamp(T0 - ago * DAY, timezone.utc).date().isoformat()
        major, partial, degraded = outages.get(ago, (0, 0, 0))
        up = None if ago in nodata else 100.0 * (1 - (major + partial) / DAY)
        out.append({"date": date, "uptime": up, "major_seconds": major,
                    "partial_seconds": partial, "degraded_seconds": degraded,
                    "nodata_seconds": int(DAY) if ago in nodata else 0})
    known = [d["uptime"] for d in out if d["uptime"] is not None]
    return {"days": out, "uptime_90d": sum(known) / len(known) if known else None}


def response_times(n: int = 24, base: int = 120) -> list:
    return [{"t": iso_ms(T0 - (n - i) * 3600), "p50": base + (i % 5) * 10,
             "p95": base * 2 + (i % 7) * 15} for i in range(n)]


def snapshot(states: Optional[dict] = None, incidents: Iterable[dict] = (),
             maintenances: Iterable[dict] = (), now: float = T0,
             data_as_of: Optional[float] = T0 - 20, extras: bool = True,
             cfg: StatusConfig = CFG) -> dict:
    """A snapshot as the write side publishes it; `extras` adds the checker's uptime data."""
    if states is None:
        states = {c.id: state(now=now) for c in cfg.components}
    snap = build_snapshot(cfg, states, now, data_as_of)
    # Set directly rather than through build_snapshot's arguments: the renderers' contract is
    # the document, whichever way the write side assembles it.
    snap["incidents"] = list(incidents)
    snap["scheduled_maintenances"] = list(maintenances)
    if extras:
        ids = [cid(c.id, cfg.page.id) for c in cfg.components]
        snap["outpost"]["uptime"] = {i: uptime(outages={3: (600, 0, 0), 10: (0, 0, 1200)})
                                     for i in ids}
        snap["outpost"]["response_times"] = {i: response_times() for i in ids}
    return snap


def rows(snap: dict, *keys: str) -> list:
    """Full component rows for `keys`, as an incident's `components` carries them."""
    wanted = {cid(k) for k in keys}
    return [r for r in snap["components"] if r["id"] in wanted]


def affected(key: str, name: str, old: str, new: str) -> list:
    return [{"code": cid(key), "name": name, "old_status": old, "new_status": new}]


def busy_snapshot(hostile: str = "", now: float = T0) -> dict:
    """Active + resolved incidents, upcoming and active maintenance; `hostile` is appended to
    every operator-typed text (component names are hostile through `hostile_config`)."""
    cfg = hostile_config(hostile) if hostile else CFG
    states = {"api": state("major_outage", failing=2, reasons=["[STATUS] (503) == 200"], now=now),
              "web": state(now=now), "search": state("degraded_performance", degraded=2, now=now)}
    base = snapshot(states, now=now, cfg=cfg)
    api_rows = [r for r in base["components"] if r["id"] == cid("api")]
    h = hostile
    active = incident("outage", "API errors" + h, [
        ("investigating", "We are **investigating** errors on the API." + h, now - 1800,
         affected("api", "API" + h, "operational", "major_outage")),
        ("identified", "A bad deploy; rolling back. See [the runbook](https://runbooks.example/api)." + h,
         now - 900, None),
    ], impact="major", components=api_rows)
    resolved = incident("old", "Slow search" + h, [
        ("investigating", "Search is slow." + h, now - 5 * DAY),
        ("resolved", "Fixed: index rebuilt." + h, now - 5 * DAY + 3600),
    ], impact="minor")
    upcoming = incident("db-upgrade", "Database upgrade" + h, [
        ("scheduled", "We will upgrade the database." + h, now - DAY),
    ], impact="maintenance", maintenance=(now + DAY, now + DAY + 7200))
    ongoing = incident("net", "Network maintenance" + h, [
        ("scheduled", "Planned network work." + h, now - 2 * DAY),
        ("in_progress", "Work has started." + h, now - 600),
    ], impact="maintenance", maintenance=(now - 600, now + 3000))
    return snapshot(states, incidents=[active, resolved], maintenances=[upcoming, ongoing],
                    now=now, cfg=cfg)


def hostile_config(payload: str) -> StatusConfig:
    """CFG with the payload in every name and description an operator types in the status file.

    Component ids are validated by the loader ([a-z0-9_-]), so payloads can't reach them.
    """
    return StatusConfig(
        page=Page(PAGE_ID, "Acme Status" + payload, "https://status.acme.example",
                  hosted_on=Place("aws" + payload, "us-west-2"),
                  service_hosted_on=Place("mediatemple" + payload, "el-segundo")),
        checks=CFG.checks,
        components=tuple(Component(c.id, c.name + payload, group=(c.group + payload) if c.group
                                   else None, description=(c.description or "") + payload)
                         for c in CFG.components))
