"""The snapshot holds exactly Statuspage's v2 objects; ids, timestamps and groups as they have them."""
import json
import re

import pytest

from chalicelib.core.model import (CheckPolicy, Component, ComponentState, ComponentStatus, Page,
                                   Scope, StatusConfig)
from chalicelib.core.snapshot import build_snapshot, iso_ms, public_id
from chalicelib.render import v2

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")
ID = re.compile(r"^[0-9a-z]{12}$")
COMPONENT_KEYS = ["id", "name", "status", "created_at", "updated_at", "position", "description",
                  "showcase", "start_date", "group_id", "page_id", "group", "only_show_if_degraded"]

CFG = StatusConfig(
    page=Page("acme", "Acme Status", "https://status.acme.example", "America/Los_Angeles"),
    checks=CheckPolicy(regions=("a", "b", "c"), quorum=2),
    components=(Component("api", "API", group="Core", description="Public REST API"),
                Component("web", "Website"),
                Component("db", "Database", group="Core")),
)
T0 = 1767225600.0   # 2026-01-01T00:00:00Z


def state(status, since=T0):
    return ComponentState(ComponentStatus(status), since, Scope(0, 0, 3, 3), created_at=T0 - 86400)


def test_ids_are_stable_base36_and_distinct():
    a, b = public_id("acme", "component", "api"), public_id("acme", "component", "web")
    assert ID.match(a) and ID.match(b) and a != b
    assert a == public_id("acme", "component", "api")
    assert public_id("acme", "group", "api") != a


@pytest.mark.parametrize("tz, text", [
    ("Etc/UTC", "2026-01-01T00:00:00.250Z"),
    ("America/Los_Angeles", "2025-12-31T16:00:00.250-08:00"),
])
def test_timestamps_have_milliseconds_and_offset(tz, text):
    assert iso_ms(T0 + 0.25, tz) == text


def test_components_with_a_group_row_first():
    snap = build_snapshot(CFG, {"api": state("major_outage"), "web": state("operational"),
                                "db": state("operational", T0 + 5)}, now=T0 + 10)
    rows = snap["components"]
    assert [r["name"] for r in rows] == ["Core", "API", "Website", "Database"]
    group, api, web, db = rows
    assert list(group) == COMPONENT_KEYS + ["components"]
    assert all(list(r) == COMPONENT_KEYS for r in (api, web, db))
    assert group["group"] is True and group["components"] == [api["id"], db["id"]]
    assert group["status"] == "major_outage"           # worst child
    assert api["group_id"] == db["group_id"] == group["id"] and web["group_id"] is None
    assert [r["position"] for r in rows] == [1, 2, 3, 4]
    assert web["description"] is None and api["description"] == "Public REST API"
    for row in rows:
        assert ID.match(row["id"]) and row["page_id"] == "acme"
        assert TS.match(row["created_at"]) and TS.match(row["updated_at"])
    assert snap["status"] == {"indicator": "major", "description": "Partial System Outage"}
    assert snap["page"] == {"id": "acme", "name": "Acme Status", "url": "https://status.acme.example",
                            "time_zone": "America/Los_Angeles",
                            "updated_at": "2025-12-31T16:00:05.000-08:00"}


def test_v2_endpoints_pick_the_right_keys():
    snap = build_snapshot(CFG, {}, now=T0)
    shapes = {name: list(json.loads(v2.render(snap, name))) for name in v2.ENDPOINTS}
    assert shapes == {
        "summary": ["page", "components", "incidents", "scheduled_maintenances", "status", "outpost"],
        "status": ["page", "status"],
        "components": ["page", "components"],
        "incidents": ["page", "incidents"],
        "incidents/unresolved": ["page", "incidents"],
        "scheduled-maintenances": ["page", "scheduled_maintenances"],
        "scheduled-maintenances/upcoming": ["page", "scheduled_maintenances"],
        "scheduled-maintenances/active": ["page", "scheduled_maintenances"],
    }


def test_unresolved_and_maintenance_filters():
    incidents = ({"id": "1", "status": "resolved"}, {"id": "2", "status": "monitoring"})
    mx = ({"id": "3", "status": "scheduled"}, {"id": "4", "status": "in_progress"},
          {"id": "5", "status": "completed"})
    snap = build_snapshot(CFG, {}, T0, incidents=incidents, scheduled_maintenances=mx)
    get = lambda name, key: [x["id"] for x in json.loads(v2.render(snap, name))[key]]  # noqa: E731
    assert get("incidents/unresolved", "incidents") == ["2"]
    assert get("incidents", "incidents") == ["1", "2"]
    assert get("scheduled-maintenances/upcoming", "scheduled_maintenances") == ["3"]
    assert get("scheduled-maintenances/active", "scheduled_maintenances") == ["4"]
    assert get("summary", "scheduled_maintenances") == ["4", "3"]
    assert get("summary", "incidents") == ["2"]
