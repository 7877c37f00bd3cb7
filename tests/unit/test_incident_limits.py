"""Every incident stays far below DynamoDB's 400 KB item: bounded updates, metadata and size,
refused with 413 naming the field (422 for a field's own length), and a full incident can
always still be resolved."""
import json

import pytest

from chalicelib.core import incidents as core
from chalicelib.core.budget import DYNAMODB_ITEM_LIMIT, stored_size

T0 = 1_780_000_000.0


def new(**fields):
    return core.create({"incident": {"name": "API errors", **fields}}, {}, T0, core.new_id())


def patch(doc, at=1.0, system=False, **fields):
    return core.update(doc, {"incident": fields}, {}, T0 + at, system=system)


def full_incident():
    doc = new()
    for n in range(core.MAX_UPDATES - 1):
        doc = patch(doc, n + 1, body=f"update {n}")
    assert len(doc["updates"]) == core.MAX_UPDATES
    return doc


def test_metadata_over_its_budget_is_413_naming_the_field():
    big = {"k": "x" * core.MAX_METADATA_BYTES}
    with pytest.raises(core.TooLarge) as err:
        new(metadata=big)
    assert err.value.status == 413 and err.value.field == "incident.metadata"
    doc = new(metadata={"ticket": "OPS-1"})
    with pytest.raises(core.TooLarge):
        patch(doc, metadata=big)
    # escaped as storage writes it: 700 snowmen are 4200 bytes of JSON, not 700
    with pytest.raises(core.TooLarge):
        new(metadata={"k": "\u2603" * 700})
    with pytest.raises(core.ValidationError) as err:
        new(metadata=["not", "an", "object"])
    assert err.value.status == 422


def test_field_lengths_stay_422():
    with pytest.raises(core.ValidationError) as err:
        new(name="n" * (core.MAX_NAME + 1))
    assert (err.value.status, err.value.field) == (422, "incident.name")
    with pytest.raises(core.ValidationError) as err:
        new(body="b" * (core.MAX_BODY + 1))
    assert (err.value.status, err.value.field) == (422, "incident.body")


def test_the_update_count_is_bounded_but_resolving_is_always_allowed():
    doc = full_incident()
    with pytest.raises(core.TooLarge) as err:
        patch(doc, 500, body="one more")
    assert (err.value.status, err.value.field) == (413, "incident.updates")
    with pytest.raises(core.TooLarge):
        patch(doc, 500, status="identified")
    resolved = patch(doc, 500, status="resolved", body="Fixed.")
    done = patch(resolved, 600, status="postmortem", body="What happened.")
    assert len(done["updates"]) == core.MAX_UPDATES + 2
    with pytest.raises(core.TooLarge):                      # reopening is an ordinary update
        patch(resolved, 700, status="investigating")
    # Outpost's own transition (an auto-incident recovering) is not refused for the count
    moved = patch(doc, 500, system=True, status="monitoring", body="API has recovered.")
    assert moved["status"] == "monitoring"


def test_the_incident_as_stored_is_bounded_with_room_to_resolve():
    doc = new(body="a" * core.MAX_BODY)
    n = 0
    with pytest.raises(core.TooLarge) as err:
        while True:                     # non-ASCII text: each character escaped to 6 bytes
            doc = patch(doc, n + 1, body="\u00e9" * 5000)
            n += 1
    assert (err.value.status, err.value.field) == (413, "incident.body")
    assert len(json.dumps(doc, separators=(",", ":"))) <= core.MAX_INCIDENT_BYTES
    resolved = patch(doc, 999, status="resolved")            # the default text fits the headroom
    assert len(json.dumps(resolved, separators=(",", ":"))) <= core.MAX_INCIDENT_BYTES_CLOSING
    with pytest.raises(core.TooLarge):
        patch(doc, 999, status="resolved", body="\u00e9" * core.MAX_BODY)
    # whatever the text, the stored item is far below DynamoDB's limit
    assert stored_size(resolved) < DYNAMODB_ITEM_LIMIT // 2
