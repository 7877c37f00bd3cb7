"""The incident and maintenance lifecycle (chalicelib.core.incidents), as pure functions: what an
operator's create and update do to the document, which transitions are refused, what the clock
moves by itself, and what an open incident does to the page."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from chalicelib.core import incidents as inc
from chalicelib.core.incidents import TooLarge, ValidationError

T0 = 1_800_000_000.0
KNOWN = {"api": "api", "cmp_api": "api", "db": "db", "cmp_db": "db"}


def _new(now=T0, **fields):
    return inc.create({"incident": {"name": "API errors", **fields}}, KNOWN, now, inc.new_id())


def _patch(doc, now, system=False, **fields):
    return inc.update(doc, {"incident": fields}, KNOWN, now, system=system)


def _maintenance(start=T0 + 3600, end=T0 + 7200, **fields):
    return _new(scheduled_for=_iso(start), scheduled_until=_iso(end), component_ids=["db"],
                **fields)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat().replace("+00:00", "Z")


# -- creating -------------------------------------------------------------------------------------

def test_a_new_incident_is_investigating_realtime_with_one_public_update():
    doc = _new(components={"cmp_api": "major_outage"}, body="Errors on checkout.")
    assert (doc["kind"], doc["status"]) == ("realtime", "investigating")
    assert doc["component_ids"] == ["api"] and doc["components"] == {"api": "major_outage"}
    [first] = doc["updates"]
    assert first["body"] == "Errors on checkout." and first["deliver_notifications"] is True
    assert first["affected_components"] == [
        {"key": "api", "old_status": "operational", "new_status": "major_outage"}]
    assert doc["created_at"] == doc["updated_at"] == T0 and doc["resolved_at"] is None
    assert inc.is_open(doc) and inc.impact(doc) == "critical"


def test_an_update_without_a_body_gets_the_status_default_text():
    doc = _new()
    assert doc["updates"][0]["body"] == "We are investigating this issue."


def test_a_backfilled_incident_is_history_and_tells_nobody():
    doc = _new(backfilled=True, created_at=_iso(T0 - 7200), resolved_at=_iso(T0 - 3600))
    assert (doc["kind"], doc["status"]) == ("historical", "resolved")
    assert doc["created_at"] == T0 - 7200 and doc["resolved_at"] == T0 - 3600
    assert doc["updates"][0]["deliver_notifications"] is False
    assert not inc.is_open(doc)


@pytest.mark.parametrize("fields, field", [
    ({"backfilled": True}, "incident.created_at"),
    ({"backfilled": True, "created_at": _iso(T0 + 60)}, "incident.resolved_at"),
    ({"created_at": _iso(T0 - 60)}, "incident.created_at"),
])
def test_backfilled_times_must_be_given_past_and_ordered(fields, field):
    with pytest.raises(ValidationError) as err:
        _new(**fields)
    assert err.value.field == field


def test_a_scheduled_maintenance_starts_and_ends_by_itself_unless_told_not_to():
    doc = _maintenance()
    assert (doc["kind"], doc["status"]) == ("scheduled", "scheduled")
    assert doc["scheduled_auto_in_progress"] and doc["scheduled_auto_completed"]
    assert inc.impact(doc) == "maintenance" and not inc.is_open(doc)
    manual = _maintenance(scheduled_auto_in_progress=False)
    assert inc.due_transition(manual, T0 + 3600) is None


@pytest.mark.parametrize("fields, field", [
    ({"scheduled_for": _iso(T0)}, "incident.scheduled_until"),
    ({"scheduled_until": _iso(T0)}, "incident.scheduled_for"),
    ({"scheduled_for": _iso(T0), "scheduled_until": _iso(T0)}, "incident.scheduled_until"),
])
def test_a_schedule_needs_both_ends_in_order(fields, field):
    with pytest.raises(ValidationError) as err:
        _new(**fields)
    assert err.value.field == field


def test_unknown_components_and_statuses_name_the_field():
    with pytest.raises(ValidationError) as err:
        _new(component_ids=["nope"])
    assert err.value.field == "incident.component_ids"
    with pytest.raises(ValidationError) as err:
        _new(components={"api": "on_fire"})
    assert err.value.field == "incident.components.api"


# -- updating -------------------------------------------------------------------------------------

def test_each_status_or_body_change_is_a_new_update_newest_first():
    doc = _new(components={"api": "major_outage"})
    doc = _patch(doc, T0 + 60, status="identified", body="Bad deploy.")
    doc = _patch(doc, T0 + 120, status="monitoring")
    doc = _patch(doc, T0 + 180, status="resolved", components={"api": "operational"})
    assert [u["status"] for u in doc["updates"]] == [
        "resolved", "monitoring", "identified", "investigating"]
    assert doc["monitoring_at"] == T0 + 120 and doc["resolved_at"] == T0 + 180
    assert doc["updates"][0]["affected_components"] == [
        {"key": "api", "old_status": "major_outage", "new_status": "operational"}]
    assert not inc.is_open(doc) and inc.quiet_since(doc) == T0 + 180


def test_a_patch_that_changes_nothing_public_adds_no_update():
    doc = _new()
    same = _patch(doc, T0 + 60, name="API errors on checkout")
    assert len(same["updates"]) == 1 and same["name"] == "API errors on checkout"
    assert same["updated_at"] == T0 + 60


def test_reopening_clears_resolved_at():
    doc = _patch(_new(), T0 + 60, status="resolved")
    again = _patch(doc, T0 + 120, status="investigating")
    assert again["resolved_at"] is None and inc.is_open(again)


@pytest.mark.parametrize("path, refused", [
    (["investigating", "postmortem"], "resolve the incident before the postmortem"),
    (["resolved", "postmortem", "investigating"], "postmortem can't change status"),
])
def test_refused_incident_transitions(path, refused):
    doc = _new()
    with pytest.raises(ValidationError) as err:
        for i, status in enumerate(path):
            doc = _patch(doc, T0 + 60 * (i + 1), status=status)
    assert refused in str(err.value)


def test_a_completed_maintenance_is_final_and_incident_statuses_do_not_apply():
    doc = _patch(_maintenance(), T0 + 60, status="completed")
    with pytest.raises(ValidationError, match="completed maintenance"):
        _patch(doc, T0 + 120, status="in_progress")
    with pytest.raises(ValidationError) as err:
        _patch(_maintenance(), T0 + 60, status="investigating")
    assert err.value.field == "incident.status"


def test_only_maintenance_has_a_schedule_and_it_stays_ordered():
    with pytest.raises(ValidationError, match="only scheduled maintenance"):
        _patch(_new(), T0 + 60, scheduled_for=_iso(T0))
    with pytest.raises(ValidationError) as err:
        _patch(_maintenance(), T0 + 60, scheduled_until=_iso(T0))
    assert err.value.field == "incident.scheduled_until"


def test_the_update_count_is_capped_but_closing_and_outpost_itself_always_get_through():
    doc = _new()
    for i in range(inc.MAX_UPDATES - 1):
        doc = _patch(doc, T0 + i + 1, body=f"update {i}")
    assert len(doc["updates"]) == inc.MAX_UPDATES
    with pytest.raises(TooLarge) as err:
        _patch(doc, T0 + 1000, body="one more")
    assert err.value.status == 413 and err.value.field == "incident.updates"
    assert len(_patch(doc, T0 + 1000, system=True, status="monitoring")["updates"]) == 101
    assert _patch(doc, T0 + 1000, status="resolved")["status"] == "resolved"


def test_update_never_mutates_the_stored_document():
    doc = _new(components={"api": "major_outage"})
    before = repr(doc)
    _patch(doc, T0 + 60, status="resolved", components={"api": "operational", "db": "partial_outage"})
    assert repr(doc) == before


# -- the clock ------------------------------------------------------------------------------------

def test_due_transitions_follow_the_schedule():
    doc = _maintenance()
    assert inc.due_transition(doc, T0 + 3599) is None
    assert inc.due_transition(doc, T0 + 3600) == "in_progress"
    assert inc.due_transition(doc, T0 + 7200) == "completed"      # missed the whole window
    started = _patch(doc, T0 + 3600, system=True, status="in_progress")
    assert started["started_at"] == T0 + 3600 and inc.is_open(started)
    assert inc.due_transition(started, T0 + 7199) is None
    assert inc.due_transition(started, T0 + 7200) == "completed"
    assert inc.due_transition({**started, "deleted_at": T0}, T0 + 7200) is None
    assert inc.due_transition(_new(), T0 + 10 ** 6) is None


def test_maintaining_covers_active_and_about_to_start_but_not_about_to_end():
    doc = _maintenance()
    assert inc.maintaining([doc], T0) == set()
    assert inc.maintaining([doc], T0 + 3600) == {"db"}              # the scheduler is due
    started = _patch(doc, T0 + 3600, system=True, status="in_progress")
    assert inc.maintaining([started], T0 + 3700) == {"db"}
    assert inc.maintaining([started], T0 + 7200) == set()
    assert inc.maintaining([_new(component_ids=["db"])], T0) == set()


# -- the page -------------------------------------------------------------------------------------

def test_overrides_newest_incident_wins_and_manual_pins_win_over_all():
    older = _new(now=T0, components={"api": "partial_outage"})
    newer = _new(now=T0 + 60, components={"api": "major_outage"})
    active = _patch(_maintenance(), T0 + 3600, system=True, status="in_progress")
    out = inc.component_overrides([newer, older, active], {})
    assert out["api"] == ("major_outage", T0 + 60)
    assert out["db"] == ("under_maintenance", T0 + 3600)
    pinned = inc.component_overrides([newer], {"api": {"status": "operational", "set_at": T0 + 5}})
    assert pinned["api"] == ("operational", T0 + 5)
    resolved = _patch(newer, T0 + 120, status="resolved")
    assert inc.component_overrides([resolved], {}) == {}


def test_impact_is_the_worst_component_unless_overridden():
    doc = _new(components={"api": "degraded_performance", "db": "partial_outage"})
    assert inc.impact(doc) == "major"
    assert inc.impact(_new(impact_override="critical")) == "critical"
    assert inc.worst_impact([doc, _new(components={"api": "major_outage"}),
                             _patch(doc, T0 + 1, status="resolved")]) == "critical"
    assert inc.worst_impact([_maintenance()]) == "none"


def test_newest_first_orders_maintenance_by_its_start():
    early = _new(now=T0)
    late = _new(now=T0 + 100)
    upcoming = _maintenance(start=T0 + 50, end=T0 + 60)
    assert [d["id"] for d in inc.sort_newest_first([early, upcoming, late])] == [
        late["id"], upcoming["id"], early["id"]]


# -- Outpost's own incidents ----------------------------------------------------------------------

TITLE, BODY = "{component}: {status}", "{component} is {status} ({scope})."


def test_an_outage_opens_one_auto_incident_and_a_recovery_moves_it_to_monitoring():
    action, payload = inc.auto_incident("api", "API\tgateway", "major_outage", "3 of 3 regions",
                                        [], TITLE, BODY)
    assert action == "open"
    body = payload["incident"]
    assert body["name"] == "API gateway: major outage"                # the tab cannot refuse it
    assert body["body"] == "API\tgateway is major outage (3 of 3 regions)."
    assert body["impact_override"] == "major" and body["metadata"] == {"auto": True}
    doc = inc.create(payload, KNOWN, T0, "auto1")
    assert inc.auto_incident("api", "API", "partial_outage", "", [doc], TITLE, BODY) is None
    action, incident_id, patch = inc.auto_incident("api", "API", "operational", "", [doc],
                                                   TITLE, BODY)
    assert (action, incident_id, patch["incident"]["status"]) == ("monitor", "auto1", "monitoring")


def test_a_recovery_leaves_a_human_incident_and_a_monitored_one_alone():
    human = _new(component_ids=["api"])
    assert inc.auto_incident("api", "API", "operational", "", [human], TITLE, BODY) is None
    auto = inc.create(inc.auto_incident("api", "API", "major_outage", "", [], TITLE, BODY)[1],
                      KNOWN, T0, "auto1")
    watching = _patch(auto, T0 + 60, status="monitoring")
    assert inc.auto_incident("api", "API", "operational", "", [watching], TITLE, BODY) is None
