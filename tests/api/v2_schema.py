"""A strict JSON Schema (draft 2020-12) of the eight Statuspage v2 endpoints.

Strict means: every object lists all its keys as required and allows no others, nullable
fields must be present (as null), ids are 12-character lowercase base36, timestamps have
milliseconds and an offset, and each endpoint's lists only hold the statuses it promises.
Source of the shape: shared/research/anchors.md section 2.
"""
from __future__ import annotations

TS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$"
ID = r"^[0-9a-z]{12}$"
COMPONENT_STATUS = ["operational", "degraded_performance", "partial_outage", "major_outage",
                    "under_maintenance"]
INCIDENT_STATUS = ["investigating", "identified", "monitoring", "resolved", "postmortem"]
UNRESOLVED = ["investigating", "identified", "monitoring"]
MAINTENANCE_STATUS = ["scheduled", "in_progress", "verifying", "completed"]
IMPACT = ["none", "minor", "major", "critical"]
INDICATOR = ["none", "minor", "major", "critical", "maintenance"]


def _obj(properties: dict) -> dict:
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


def _ref(name: str) -> dict:
    return {"$ref": f"#/$defs/{name}"}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


_ts = {"type": "string", "pattern": TS}
_id = {"type": "string", "pattern": ID}
_page_id = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]*$"}

_component_common = {
    "id": _id, "name": {"type": "string", "minLength": 1},
    "status": {"enum": COMPONENT_STATUS}, "created_at": _ts, "updated_at": _ts,
    "position": {"type": "integer", "minimum": 1},
    "description": _nullable({"type": "string"}),
    "showcase": {"type": "boolean"},
}

_update_properties = {
    "id": _id, "status": {"enum": INCIDENT_STATUS + MAINTENANCE_STATUS},
    "body": {"type": "string"}, "incident_id": _id,
    "created_at": _ts, "updated_at": _ts, "display_at": _ts,
    "affected_components": _nullable({"type": "array", "items": _obj({
        "code": _id, "name": {"type": "string"}, "old_status": {"enum": COMPONENT_STATUS},
        "new_status": {"enum": COMPONENT_STATUS}})}),
    "deliver_notifications": {"type": "boolean"},
    "custom_tweet": _nullable({"type": "string"}), "tweet_id": _nullable({"type": "string"}),
}


def _incident_properties(statuses: list, impacts: list) -> dict:
    return {
        "id": _id, "name": {"type": "string", "minLength": 1}, "status": {"enum": statuses},
        "created_at": _ts, "updated_at": _ts, "monitoring_at": _nullable(_ts),
        "resolved_at": _nullable(_ts), "impact": {"enum": impacts},
        "shortlink": {"type": "string", "pattern": r"^https?://"}, "started_at": _ts,
        "page_id": _page_id,
        "incident_updates": {"type": "array", "minItems": 1, "items": _ref("incident_update")},
        "components": {"type": "array", "items": _ref("leaf_component")},
    }


def _incident(statuses: list) -> dict:
    return _obj(_incident_properties(statuses, IMPACT))


def _maintenance(statuses: list) -> dict:
    return _obj({**_incident_properties(statuses, IMPACT + ["maintenance"]),
                 "scheduled_for": _ts, "scheduled_until": _ts})


DEFS = {
    "page": _obj({"id": _page_id, "name": {"type": "string", "minLength": 1},
                  "url": {"type": "string", "pattern": r"^https?://"},
                  "time_zone": {"type": "string", "minLength": 1}, "updated_at": _ts}),
    "status": _obj({"indicator": {"enum": INDICATOR}, "description": {"type": "string",
                                                                      "minLength": 1}}),
    "leaf_component": _obj({
        **_component_common,
        "start_date": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\d$"},
        "group_id": _nullable(_id), "page_id": _page_id, "group": {"const": False},
        "only_show_if_degraded": {"type": "boolean"}}),
    "group_component": _obj({
        **_component_common,
        "start_date": {"type": "null"}, "group_id": {"type": "null"}, "page_id": _page_id,
        "group": {"const": True}, "only_show_if_degraded": {"type": "boolean"},
        "components": {"type": "array", "minItems": 1, "items": _id, "uniqueItems": True}}),
    "component": {"oneOf": [_ref("leaf_component"), _ref("group_component")]},
    "incident_update": _obj(_update_properties),
    "incident": _incident(INCIDENT_STATUS),
    "unresolved_incident": _incident(UNRESOLVED),
    "maintenance": _maintenance(MAINTENANCE_STATUS),
    "upcoming_maintenance": _maintenance(["scheduled"]),
    "active_maintenance": _maintenance(["in_progress", "verifying"]),
    "current_maintenance": _maintenance(["scheduled", "in_progress", "verifying"]),
}


def _list(item: str, limit: int | None = None) -> dict:
    schema = {"type": "array", "items": _ref(item)}
    if limit:
        schema["maxItems"] = limit
    return schema


def endpoint_schema(top: dict) -> dict:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": DEFS, **_obj(top)}


ENDPOINTS = {
    "summary": endpoint_schema({
        "page": _ref("page"), "components": _list("component"),
        "incidents": _list("unresolved_incident"),
        "scheduled_maintenances": _list("current_maintenance"), "status": _ref("status"),
        # Our extension, documented in the README; Statuspage clients ignore unknown keys.
        "outpost": {"type": "object"}}),
    "status": endpoint_schema({"page": _ref("page"), "status": _ref("status")}),
    "components": endpoint_schema({"page": _ref("page"), "components": _list("component")}),
    "incidents": endpoint_schema({"page": _ref("page"), "incidents": _list("incident", 50)}),
    "incidents/unresolved": endpoint_schema({"page": _ref("page"),
                                             "incidents": _list("unresolved_incident")}),
    "scheduled-maintenances": endpoint_schema({
        "page": _ref("page"), "scheduled_maintenances": _list("maintenance", 50)}),
    "scheduled-maintenances/upcoming": endpoint_schema({
        "page": _ref("page"), "scheduled_maintenances": _list("upcoming_maintenance")}),
    "scheduled-maintenances/active": endpoint_schema({
        "page": _ref("page"), "scheduled_maintenances": _list("active_maintenance")}),
}
