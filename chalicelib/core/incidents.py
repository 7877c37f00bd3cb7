"""Pure incident and maintenance lifecycle: validation, transitions, overrides, v2 rendering.

An incident is a plain dict (what storage keeps, what the stream carries), times in epoch
seconds. Statuspage's manage API v1 shapes the input; its public v2 shapes the output.
"""
from __future__ import annotations

import json
import secrets
import unicodedata
from datetime import datetime
from typing import Any, Iterable, Mapping, Optional

from .errors import TooLarge, ValidationError
from .model import ComponentStatus

INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved", "postmortem")
MAINTENANCE_STATUSES = ("scheduled", "in_progress", "verifying", "completed")
OPEN_INCIDENT = {"investigating", "identified", "monitoring"}
ACTIVE_MAINTENANCE = {"in_progress", "verifying"}
IMPACTS = ("none", "minor", "major", "critical")
COMPONENT_STATUSES = tuple(s.value for s in ComponentStatus)
MAX_NAME = 200
MAX_BODY = 20_000
# Every stored document has a size budget (DynamoDB refuses items over 400 KB). An incident is
# bounded by its updates' count and by its stored JSON; closing it (and Outpost's own short
# status updates) may use the headroom above the operators' limit, so a full incident can
# always be resolved.
MAX_UPDATES = 100
MAX_METADATA_BYTES = 4096
MAX_INCIDENT_BYTES = 250_000
MAX_INCIDENT_BYTES_CLOSING = 300_000
CLOSING = {"resolved", "postmortem", "completed"}

# Statuspage derives impact from the worst component status an incident sets.
_IMPACT_OF_STATUS = {"major_outage": "critical", "partial_outage": "major",
                     "degraded_performance": "minor", "under_maintenance": "maintenance",
                     "operational": "none"}
_FIELDS_CREATE = {"name", "status", "body", "impact_override", "component_ids", "components",
                  "deliver_notifications", "scheduled_for", "scheduled_until",
                  "scheduled_auto_in_progress", "scheduled_auto_completed", "backfilled",
                  "created_at", "resolved_at", "metadata"}
_FIELDS_UPDATE = {"name", "status", "body", "impact_override", "component_ids", "components",
                  "deliver_notifications", "scheduled_for", "scheduled_until",
                  "scheduled_auto_in_progress", "scheduled_auto_completed", "metadata"}
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _metadata(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValidationError("incident.metadata", "must be an object")
    size = _json_bytes(value)
    if size > MAX_METADATA_BYTES:
        raise TooLarge("incident.metadata",
                       f"is {size} bytes as JSON; the limit is {MAX_METADATA_BYTES}")
    return value


def _json_bytes(value: Any) -> int:
    """Bytes as storage writes it (compact JSON, non-ASCII escaped), before compression: a
    bound on the stored size that does not depend on how well the text compresses."""
    return len(json.dumps(value, separators=(",", ":")))


def _check_size(doc: dict, field: str, closing: bool) -> None:
    limit = MAX_INCIDENT_BYTES_CLOSING if closing else MAX_INCIDENT_BYTES
    size = _json_bytes(doc)
    if size > limit:
        raise TooLarge(field, f"the incident would be {size} bytes, over its {limit}-byte "
                              "limit; post a shorter update, or resolve this incident and open "
                              "a new one")


def new_id() -> str:
    return "".join(secrets.choice(_B36) for _ in range(12))


# -- validation ----------------------------------------------------------------------------------

def _unwrap(payload: Any, fields: set) -> dict:
    if not isinstance(payload, dict) or not isinstance(payload.get("incident"), dict):
        raise ValidationError("incident", 'body must be a JSON object {"incident": {...}}')
    extra = set(payload) - {"incident"}
    if extra:
        raise ValidationError(sorted(extra)[0], "unknown top-level field; wrap fields in \"incident\"")
    inc = payload["incident"]
    unknown = sorted(set(inc) - fields)
    if unknown:
        raise ValidationError(f"incident.{unknown[0]}",
                              f"unknown field; allowed: {', '.join(sorted(fields))}")
    return inc


# Names are one line: no control character at all, no Unicode line or paragraph separator
# (they end up in email Subjects and SMS). Bodies may hold tabs and line breaks. Neither may
# hold a lone surrogate: valid JSON, but not encodable as UTF-8, so every page render, email and
# SMS carrying it would fail.
_LINE_BREAKS = {"\u2028", "\u2029"}
_BODY_CONTROLS = {"\t", "\n", "\r"}


def _bad_character(value: str, multiline: bool) -> Optional[str]:
    for index, ch in enumerate(value):
        category = unicodedata.category(ch)
        if category == "Cs":
            return f"has an invalid character (a lone surrogate) at position {index}"
        if multiline and ch in _BODY_CONTROLS:
            continue
        if category == "Cc" or (not multiline and ch in _LINE_BREAKS):
            allowed = " other than tab and line breaks" if multiline else ""
            return (f"must not contain control characters{allowed} "
                    f"(U+{ord(ch):04X} at position {index})")
    return None


def _clean(text: str, multiline: bool) -> str:
    """What _text would accept, made from text Outpost writes itself (the status file's
    component names and templates may carry a tab or an escape): it must never be refused
    opening its own incident."""
    if not multiline:
        text = " ".join(text.split())
    return "".join(ch for ch in text if _bad_character(ch, multiline) is None)


def _text(inc: dict, key: str, limit: int, required: bool = False,
          multiline: bool = False) -> Optional[str]:
    value = inc.get(key)
    if value is None:
        if required:
            raise ValidationError(f"incident.{key}", "is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"incident.{key}", "must be a string")
    if len(value) > 2 * limit:            # bound the scan below before anything else
        raise ValidationError(f"incident.{key}", f"is longer than {limit} characters")
    bad = _bad_character(value, multiline)
    if bad:
        raise ValidationError(f"incident.{key}", bad)
    value = value.strip()
    if required and not value:
        raise ValidationError(f"incident.{key}", "must not be empty")
    if len(value) > limit:
        raise ValidationError(f"incident.{key}", f"is longer than {limit} characters")
    return value


def _bool(inc: dict, key: str, default: bool) -> bool:
    value = inc.get(key, default)
    if not isinstance(value, bool):
        raise ValidationError(f"incident.{key}", "must be true or false")
    return value


def _enum(inc: dict, key: str, allowed, default=None, nullable: bool = False):
    value = inc.get(key, default)
    if value is None and key in inc and not nullable:
        raise ValidationError(f"incident.{key}", f"must be one of {', '.join(allowed)}, not null")
    if value is not None and value not in allowed:
        raise ValidationError(f"incident.{key}", f"must be one of {', '.join(allowed)}")
    return value


def timestamp_field(value: Any, field: str) -> Optional[float]:
    """An operator's timestamp field, validated: an error names the field and the problem."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field, "must be an ISO-8601 timestamp string")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(field, f"is not an ISO-8601 timestamp: {value[:40]!r}") from None
    if dt.tzinfo is None:
        raise ValidationError(field, "needs a UTC offset, e.g. 2026-01-01T10:00:00Z")
    if not 1971 <= dt.year <= 9998:
        # beyond these, local times in the page's zone fall outside what can be rendered
        raise ValidationError(field, "must be between the years 1971 and 9998")
    return dt.timestamp()


def _component_keys(inc: dict, known: Mapping[str, str]) -> tuple[list, dict]:
    """component_ids and components {id: status}, ids resolved to status-file keys."""
    ids = inc.get("component_ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise ValidationError("incident.component_ids", "must be a list of component ids")
    statuses = inc.get("components")
    if statuses is not None and not isinstance(statuses, dict):
        raise ValidationError("incident.components", "must be an object {component_id: status}")
    keys = []
    for cid in ids or []:
        if cid not in known:
            raise ValidationError("incident.component_ids", f"unknown component {cid[:40]!r}")
        keys.append(known[cid])
    resolved = {}
    for cid, status in (statuses or {}).items():
        if cid not in known:
            raise ValidationError(f"incident.components.{cid[:40]}", "unknown component")
        if status not in COMPONENT_STATUSES:
            raise ValidationError(f"incident.components.{cid[:40]}",
                                  f"must be one of {', '.join(COMPONENT_STATUSES)}")
        resolved[known[cid]] = status
        if known[cid] not in keys:
            keys.append(known[cid])
    return keys, resolved


def create(payload: Any, known: Mapping[str, str], now: float, incident_id: str) -> dict:
    """A new incident or maintenance from a manage-API body. `known` maps any id to its key."""
    inc = _unwrap(payload, _FIELDS_CREATE)
    name = _text(inc, "name", MAX_NAME, required=True)
    body = _text(inc, "body", MAX_BODY, multiline=True)
    for key in ("scheduled_for", "scheduled_until"):
        if key in inc and inc[key] is None:            # as on PATCH: null is no schedule at all
            raise ValidationError(f"incident.{key}", "must be a timestamp, not null")
    scheduled_for = timestamp_field(inc.get("scheduled_for"), "incident.scheduled_for")
    scheduled_until = timestamp_field(inc.get("scheduled_until"), "incident.scheduled_until")
    backfilled = _bool(inc, "backfilled", False)
    if scheduled_for is not None or scheduled_until is not None:
        kind = "scheduled"
        if backfilled:
            raise ValidationError("incident.backfilled", "scheduled maintenance can't be backfilled")
        if scheduled_for is None or scheduled_until is None:
            raise ValidationError("incident.scheduled_until" if scheduled_until is None
                                  else "incident.scheduled_for",
                                  "scheduled maintenance needs both scheduled_for and scheduled_until")
        if scheduled_until <= scheduled_for:
            raise ValidationError("incident.scheduled_until", "must be after scheduled_for")
        status = _enum(inc, "status", MAINTENANCE_STATUSES, "scheduled")
    else:
        kind = "historical" if backfilled else "realtime"
        status = _enum(inc, "status", INCIDENT_STATUSES, "resolved" if backfilled else "investigating")
    impact_override = _enum(inc, "impact_override",
                            IMPACTS + (("maintenance",) if kind == "scheduled" else ()),
                            nullable=True)
    keys, statuses = _component_keys(inc, known)
    created_at = now
    resolved_at = None
    if backfilled:
        created_at = timestamp_field(inc.get("created_at"), "incident.created_at")
        if created_at is None:
            raise ValidationError("incident.created_at", "is required for a backfilled incident")
        resolved_at = timestamp_field(inc.get("resolved_at"), "incident.resolved_at") or created_at
        if created_at > now or resolved_at < created_at:
            raise ValidationError("incident.resolved_at",
                                  "backfilled times must be in the past, resolved after created")
    elif "created_at" in inc or "resolved_at" in inc:
        raise ValidationError("incident.created_at", "explicit times need \"backfilled\": true")
    metadata = _metadata(inc.get("metadata", {}))     # null, [] or 0 is a 422, as on PATCH
    doc = {
        "id": incident_id, "name": name, "status": status, "kind": kind,
        "impact_override": impact_override, "component_ids": keys, "components": statuses,
        "created_at": created_at, "updated_at": created_at, "started_at": created_at,
        "monitoring_at": None, "resolved_at": None,
        "scheduled_for": scheduled_for, "scheduled_until": scheduled_until,
        "scheduled_auto_in_progress": _bool(inc, "scheduled_auto_in_progress", kind == "scheduled"),
        "scheduled_auto_completed": _bool(inc, "scheduled_auto_completed", kind == "scheduled"),
        "metadata": metadata, "updates": [],
    }
    _stamp(doc, status, resolved_at or created_at)
    # A backfilled incident is history being written down: nobody is told unless asked.
    doc["updates"].append(_update(doc, status, body, {}, statuses,
                                  _bool(inc, "deliver_notifications", kind != "historical"),
                                  created_at))
    _check_size(doc, "incident.body", status in CLOSING)
    return doc


def update(doc: dict, payload: Any, known: Mapping[str, str], now: float,
           system: bool = False) -> dict:
    """The incident after a PATCH; every status or body change is a new public update.

    `system`: Outpost's own transition (maintenance starting, an auto-incident recovering),
    which like a closing update is not refused for the update count: it must not get stuck."""
    inc = _unwrap(payload, _FIELDS_UPDATE)
    new = {**doc, "updates": list(doc["updates"]), "components": dict(doc["components"]),
           "component_ids": list(doc["component_ids"])}
    if "name" in inc:
        new["name"] = _text(inc, "name", MAX_NAME, required=True)
    allowed = MAINTENANCE_STATUSES if doc["kind"] == "scheduled" else INCIDENT_STATUSES
    status = _enum(inc, "status", allowed, doc["status"])
    check_transition(doc["kind"], doc["status"], status)
    body = _text(inc, "body", MAX_BODY, multiline=True)
    if "impact_override" in inc:
        new["impact_override"] = _enum(inc, "impact_override", IMPACTS + (
            ("maintenance",) if doc["kind"] == "scheduled" else ()), nullable=True)
    old_statuses = dict(doc["components"])
    if "component_ids" in inc or "components" in inc:
        keys, statuses = _component_keys(inc, known)
        if "component_ids" in inc:
            new["component_ids"] = keys
        for key in statuses:
            if key not in new["component_ids"]:
                new["component_ids"].append(key)
        new["components"].update(statuses)
    for key in ("scheduled_for", "scheduled_until"):
        if key in inc:
            if doc["kind"] != "scheduled":
                raise ValidationError(f"incident.{key}", "only scheduled maintenance has a schedule")
            if inc[key] is None:
                raise ValidationError(f"incident.{key}", "must be a timestamp, not null")
            new[key] = timestamp_field(inc[key], f"incident.{key}")
    if new["kind"] == "scheduled" and new["scheduled_until"] <= new["scheduled_for"]:
        raise ValidationError("incident.scheduled_until", "must be after scheduled_for")
    for key in ("scheduled_auto_in_progress", "scheduled_auto_completed"):
        if key in inc:
            new[key] = _bool(inc, key, new[key])
    if "metadata" in inc:
        new["metadata"] = _metadata(inc["metadata"])
    changed_components = {k: v for k, v in new["components"].items() if old_statuses.get(k) != v}
    closing = status in CLOSING and status != doc["status"]
    if status != doc["status"] or body or changed_components:
        if len(doc["updates"]) >= MAX_UPDATES and not (closing or system):
            raise TooLarge("incident.updates",
                           f"the incident has {len(doc['updates'])} updates, the most it keeps "
                           f"is {MAX_UPDATES}; resolve it and open a new incident")
        _stamp(new, status, now)
        new["updates"].insert(0, _update(new, status, body, old_statuses, changed_components,
                                         _bool(inc, "deliver_notifications", True), now))
    new["status"] = status
    new["updated_at"] = now
    new["sequence"] = sequence(doc) + 1      # every PATCH is a revision (maintenance.ics)
    _check_size(new, "incident.body" if body else ("incident.metadata" if "metadata" in inc
                                                    else "incident"), closing or system)
    return new


def sequence(doc: dict) -> int:
    """The incident's revision counter: 0 when created, one more on every update. Documents
    stored before the counter existed count their updates, which never exceed the revisions,
    so the counter never goes back (calendar apps ignore an event whose SEQUENCE does)."""
    return max(int(doc.get("sequence") or 0), len(doc.get("updates") or ()) - 1)


def check_transition(kind: str, old: str, new: str) -> None:
    if old == new:
        return
    if kind == "scheduled":
        if old == "completed":
            raise ValidationError("incident.status", "a completed maintenance can't change status")
        return
    if old == "postmortem":
        raise ValidationError("incident.status", "an incident with a postmortem can't change status")
    if new == "postmortem" and old != "resolved":
        raise ValidationError("incident.status", "resolve the incident before the postmortem")


def _stamp(doc: dict, status: str, at: float) -> None:
    if status == "monitoring" and doc["monitoring_at"] is None:
        doc["monitoring_at"] = at
    if status in ("resolved", "completed") and doc["resolved_at"] is None:
        doc["resolved_at"] = at
    if status in OPEN_INCIDENT | {"scheduled"}:
        doc["resolved_at"] = None
    if status == "in_progress":
        doc["started_at"] = at


def _update(doc: dict, status: str, body: Optional[str], old: Mapping[str, str],
            changed: Mapping[str, str], deliver: bool, at: float) -> dict:
    return {
        "id": new_id(), "status": status, "body": body or _default_body(doc["kind"], status),
        "created_at": at, "display_at": at, "deliver_notifications": deliver,
        "affected_components": [{"key": k, "old_status": old.get(k, "operational"),
                                 "new_status": v} for k, v in changed.items()] or None,
    }


_DEFAULT_BODIES = {
    "investigating": "We are investigating this issue.",
    "identified": "The issue has been identified and a fix is being implemented.",
    "monitoring": "A fix has been implemented and we are monitoring the results.",
    "resolved": "This incident has been resolved.",
    "postmortem": "A postmortem has been published.",
    "scheduled": "This maintenance has been scheduled.",
    "in_progress": "Scheduled maintenance is currently in progress.",
    "verifying": "Maintenance is complete and we are verifying the results.",
    "completed": "The scheduled maintenance has been completed.",
}


def _default_body(kind: str, status: str) -> str:
    return _DEFAULT_BODIES[status]


# -- the clock's part: maintenance that starts and ends by itself ---------------------------------

def due_transition(doc: dict, now: float) -> Optional[str]:
    """The status a scheduled maintenance should move to by itself now, if any."""
    if doc["kind"] != "scheduled" or doc.get("deleted_at"):
        return None
    if doc["status"] == "scheduled" and doc["scheduled_auto_in_progress"] \
            and now >= doc["scheduled_for"]:
        return "completed" if now >= doc["scheduled_until"] and doc["scheduled_auto_completed"] \
            else "in_progress"
    if doc["status"] in ACTIVE_MAINTENANCE and doc["scheduled_auto_completed"] \
            and now >= doc["scheduled_until"]:
        return "completed"
    return None


def maintaining(docs: Iterable[dict], now: float) -> set[str]:
    """Component keys an API-scheduled maintenance covers at `now`: those in progress or
    verifying (the page shows them under maintenance), and those the scheduler is about to
    start (due_transition says in_progress): a check round that runs before this minute's
    housekeeping must not page anyone for work that was announced. One about to be completed
    by the clock no longer covers anything."""
    out: set[str] = set()
    for doc in docs:
        if doc.get("kind") != "scheduled" or doc.get("deleted_at"):
            continue
        due = due_transition(doc, now)
        if due == "completed":
            continue
        if doc["status"] in ACTIVE_MAINTENANCE or due == "in_progress":
            out.update(doc["component_ids"])
    return out


# -- effect on the page ----------------------------------------------------------------------------

def is_open(doc: dict) -> bool:
    return not doc.get("deleted_at") and (doc["status"] in OPEN_INCIDENT
                                          or doc["status"] in ACTIVE_MAINTENANCE)


def impact(doc: dict) -> str:
    if doc.get("impact_override"):
        return doc["impact_override"]
    if doc["kind"] == "scheduled":
        return "maintenance"
    worst = "none"
    for status in doc["components"].values():
        cand = _IMPACT_OF_STATUS[status]
        if cand != "maintenance" and IMPACTS.index(cand) > IMPACTS.index(worst):
            worst = cand
    return worst


def component_overrides(incidents: list[dict], manual: Mapping[str, dict]) -> dict[str, tuple]:
    """{component key: (status, since)} that replace the automatic status right now.

    Precedence: an operator's manual override, then the newest open incident that set a status,
    then an active maintenance (under_maintenance for its components).
    """
    out: dict[str, tuple] = {}
    for doc in sorted(incidents, key=lambda d: d["created_at"]):   # newest wins: applied last
        if not is_open(doc):
            continue
        if doc["kind"] == "scheduled":
            for key in doc["component_ids"]:
                out[key] = (doc["components"].get(key, "under_maintenance"), doc["started_at"])
        else:
            for key, status in doc["components"].items():
                out[key] = (status, doc["updated_at"])
    for key, entry in manual.items():
        out[key] = (entry["status"], entry["set_at"])
    return out


def worst_impact(incidents: list[dict]) -> str:
    worst = "none"
    for doc in incidents:
        if is_open(doc) and doc["kind"] != "scheduled":
            cand = impact(doc)
            if IMPACTS.index(cand) > IMPACTS.index(worst):
                worst = cand
    return worst


def sort_newest_first(incidents: list[dict]) -> list[dict]:
    return sorted(incidents, key=lambda d: (d.get("scheduled_for") or d["created_at"]),
                  reverse=True)


# -- what Outpost does by itself ----------------------------------------------------------------

_AUTO_IMPACT = {"major_outage": "major", "partial_outage": "minor"}


def _fill(template: str, **values: str) -> str:
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", value)
    return out


def auto_incident(component_key: str, component_name: str, new_status: str, scope_text: str,
                  incidents: list[dict], title: str, body: str) -> Optional[tuple[str, Any]]:
    """("open", create payload), ("monitor", incident id, patch payload), or None.

    An outage confirmed by quorum opens an "investigating" incident unless an open one already
    covers the component; a recovery moves Outpost's own incident to "monitoring" (a human
    resolves it). The incident names the component but doesn't pin its status, so the checker
    keeps driving the component while the incident is open.
    """
    covering = [d for d in incidents if d["kind"] != "scheduled" and is_open(d)
                and component_key in d["component_ids"]]
    words = {"component": component_name, "status": new_status.replace("_", " "),
             "scope": scope_text or "confirmed by several regions"}
    if new_status in _AUTO_IMPACT:
        if covering:
            return None
        return "open", {"incident": {
            "name": _clean(_fill(title, **words), False)[:MAX_NAME],
            "body": _clean(_fill(body, **words), True)[:MAX_BODY],
            "status": "investigating", "component_ids": [component_key],
            "impact_override": _AUTO_IMPACT[new_status], "metadata": {"auto": True}}}
    if new_status == "operational":
        mine = [d for d in covering if (d.get("metadata") or {}).get("auto")
                and d["status"] in ("investigating", "identified")]
        if mine:
            return "monitor", mine[0]["id"], {"incident": {
                "status": "monitoring",
                "body": f"{component_name} has recovered; we are monitoring it."}}
    return None


def quiet_since(doc: dict) -> float:
    """When the incident last said anything publicly."""
    return max(u["created_at"] for u in doc["updates"]) if doc["updates"] else doc["created_at"]
