"""Storage over moto DynamoDB: versioned documents, compact results, keys stored hashed."""
import pytest
from moto import mock_aws

from chalicelib.adapters.storage import Store
from chalicelib.core.errors import Conflict
from chalicelib.core.model import (CheckResult, ComponentState, ComponentStatus, ConditionResult,
                                   Level, MonitorRegionState, Scope)


@pytest.fixture
def store():
    with mock_aws():
        s = Store("t-results", "t-state", "t-keys", "us-east-1")
        s.create_tables()
        yield s


def test_versioned_document_rejects_a_stale_writer(store):
    states = {"api": ComponentState(ComponentStatus.MAJOR, 1.0, Scope(2, 0, 3, 3), created_at=0.5)}
    store.save_component_states(states, None, 1.0)
    loaded, version = store.load_component_states()
    assert loaded == states and version == 1
    store.save_component_states(states, version, 2.0)          # first writer wins
    with pytest.raises(Conflict):
        store.save_component_states(states, version, 2.0)      # second, same base: refused
    with pytest.raises(Conflict):
        store.save_component_states(states, None, 3.0)         # "create" over an existing doc


def test_region_views_round_trip_in_one_batch(store):
    v = MonitorRegionState(level=Level.FAIL, recent=[2, 2], since=5.0, last_checked_at=6.0,
                           last_reasons=["[STATUS] (503) == 200"], last_response_time_ms=12)
    store.save_region_views("eu-west-1", {"api.0": v}, None, 6.0)
    out = store.load_region_views(["eu-west-1", "us-west-2"])
    assert out["eu-west-1"] == ({"api.0": v}, 1)
    assert out["us-west-2"] == ({}, None)


def test_results_are_compact_and_expire(store):
    res = CheckResult("api.0", "eu-west-1", 100.0, Level.FAIL, response_time_ms=40, status_code=503,
                      conditions=(ConditionResult("[STATUS] == 200", "[STATUS] (503) == 200", False),))
    store.put_results("eu-west-1", 100.0, [res])
    (row,) = store.recent_results("eu-west-1")
    assert row == {"round_at": 100.0, "results": [
        {"m": "api.0", "t": 100.0, "l": 2, "rt": 40, "sc": 503, "why": ["[STATUS] (503) == 200"]}]}
    item = next(store.ResultRow.scan())
    assert item.expires_at.timestamp() == pytest.approx(100 + 8 * 86400)


def test_snapshot_round_trip_and_big_documents_fit(store):
    doc = {"components": [{"id": f"c{i}", "name": "x" * 200} for i in range(2000)]}  # ~450 KB raw
    assert store.save_snapshot(doc, None, 1.0) == 1
    assert store.load_snapshot() == (doc, 1)


def test_keys_are_stored_hashed_and_unique(store):
    from chalicelib.core.auth import new_key, secret_matches, split
    full, key_id, sha = new_key()
    store.put_key(key_id, sha, "ci", {"incidents:write"}, 1.0)
    key, stored = store.get_key(key_id)
    assert key.scopes == frozenset({"incidents:write"}) and stored == sha
    assert full.split("_")[-1] not in repr(store.KeyRow.get(key_id).attribute_values)
    assert secret_matches(split(full)[1], stored)
    with pytest.raises(Conflict):
        store.put_key(key_id, sha, "again", {"incidents:write"}, 2.0)
