"""Pure: the Statuspage v2 public JSON endpoints, each a view over the snapshot."""
from __future__ import annotations

import json

UNRESOLVED = {"investigating", "identified", "monitoring"}
ACTIVE_MAINTENANCE = {"in_progress", "verifying"}
LIST_LIMIT = 50


def _unresolved(snap):
    return [i for i in snap["incidents"] if i["status"] in UNRESOLVED]


def _upcoming(snap):
    return [m for m in snap["scheduled_maintenances"] if m["status"] == "scheduled"]


def _active(snap):
    return [m for m in snap["scheduled_maintenances"] if m["status"] in ACTIVE_MAINTENANCE]


# endpoint name -> function(snapshot) -> the JSON object (key order as Statuspage's)
ENDPOINTS = {
    "summary": lambda s: {
        "page": s["page"], "components": s["components"], "incidents": _unresolved(s),
        "scheduled_maintenances": _active(s) + _upcoming(s), "status": s["status"]},
    "status": lambda s: {"page": s["page"], "status": s["status"]},
    "components": lambda s: {"page": s["page"], "components": s["components"]},
    "incidents": lambda s: {"page": s["page"], "incidents": s["incidents"][:LIST_LIMIT]},
    "incidents/unresolved": lambda s: {"page": s["page"], "incidents": _unresolved(s)},
    "scheduled-maintenances": lambda s: {
        "page": s["page"], "scheduled_maintenances": s["scheduled_maintenances"][:LIST_LIMIT]},
    "scheduled-maintenances/upcoming": lambda s: {
        "page": s["page"], "scheduled_maintenances": _upcoming(s)},
    "scheduled-maintenances/active": lambda s: {
        "page": s["page"], "scheduled_maintenances": _active(s)},
}


def render(snapshot: dict, name: str) -> bytes:
    body = ENDPOINTS[name](snapshot)
    # The `outpost` extension rides along on summary only, where tools expect a rich object.
    if name == "summary":
        # Without the 90-day history: that has its own endpoint (/api/v2/uptime.json), and
        # summary.json is what tools poll every few seconds. The page's language is the HTML's
        # business: the JSON is the same whatever page.locale says.
        extra = {k: v for k, v in (snapshot.get("outpost") or {}).items()
                 if k not in ("uptime", "response_times", "locale",
                              "maintenance_sequence")}
        body = {**body, "outpost": extra}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def render_uptime(snapshot: dict, name: str = "uptime") -> bytes:
    """Pure: the uptime document; components keyed by their public id, in page order."""
    out = snapshot.get("outpost") or {}
    uptime, rts = out.get("uptime") or {}, out.get("response_times") or {}
    extras = out.get("components") or {}
    rows = [r for r in snapshot.get("components") or () if not r.get("group")]
    body = {
        "page": snapshot["page"],
        "stale": bool(out.get("stale")),
        "data_as_of": out.get("data_as_of"),
        "components": [{
            "id": r["id"], "name": r["name"], "key": (extras.get(r["id"]) or {}).get("key"),
            "uptime_90d": (uptime.get(r["id"]) or {}).get("uptime_90d"),
            "days": (uptime.get(r["id"]) or {}).get("days") or [],
            "response_times": rts.get(r["id"]) or [],
        } for r in rows],
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
