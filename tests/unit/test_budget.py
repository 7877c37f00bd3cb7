"""The size budget (chalicelib/core/budget.py): what the snapshot gives up, in which order, and that
what is stored always fits. Pure: documents built in code, small limits instead of 350 KB."""
import copy
import random

import pytest

from bench.bigpage import text, vocabulary
from chalicelib.core import budget
from chalicelib.core.budget import (SnapshotTooLarge, abbreviate_docs, encode, fit_snapshot,
                                    item_size, merge_history, split_history, stored_size)
from tests import factories as f

WORDS = vocabulary()
REGIONS = ("us-west-2", "eu-west-1", "ap-southeast-2")


def incident(rng, key, age_days, status="resolved", updates=2, chars=1500, maintenance=False):
    at = f.T0 - age_days * f.DAY
    steps = [("investigating", text(rng, WORDS, chars), at + n * 600) for n in range(updates - 1)]
    steps.append((status, text(rng, WORDS, chars), at + updates * 600))
    window = (at + 3600, at + 7200) if maintenance else None
    return f.incident(key, f"Incident {key}", steps, maintenance=window)


def history(n_components, days=90, seed=3):
    """Uptime and response times for `n_components` (arbitrary ids), regions on 14 days."""
    rng = random.Random(seed)
    uptime, rts = {}, {}
    for c in range(n_components):
        cid = f"c{c:011d}"
        uptime[cid] = f.uptime(days, outages={rng.randrange(days): (rng.randint(1, 999), 0, 0)
                                              for _ in range(5)})
        rts[cid] = [{"t": f"2026-01-{1 + i % 28:02d}T00:00:00.000Z", "date": f"d{i}",
                     "p50": rng.randint(50, 300), "p95": rng.randint(300, 900),
                     **({"regions": {r: {"p50": rng.randint(50, 300), "p95": rng.randint(300, 900),
                                         "n": 1440} for r in REGIONS}} if i >= days - 14 else {})}
                    for i in range(days)]
    return uptime, rts


def page(closed=30, open_=3, components=3, seed=1, chars=1500, open_updates=2):
    """A snapshot with `closed` resolved incidents (newest first by age), `open_` open ones,
    an upcoming and a completed maintenance, and the history of `components` components."""
    rng = random.Random(seed)
    incidents = [incident(rng, f"open{i}", i + 0.5, "identified", open_updates, chars)
                 for i in range(open_)]
    incidents += [incident(rng, f"closed{i}", 2 + i, chars=chars) for i in range(closed)]
    maint = [incident(rng, "upcoming", -3, "scheduled", 1, 300, maintenance=True),
             incident(rng, "done", 40, "completed", 2, 300, maintenance=True)]
    doc = f.snapshot(incidents=sorted(incidents, key=lambda i: i["created_at"], reverse=True),
                     maintenances=maint)
    doc["outpost"]["uptime"], doc["outpost"]["response_times"] = history(components, seed=seed)
    doc["_uptime"] = {"at": f.T0, "kinds": {}}
    return doc


def ids(doc, *lists):
    return [i["id"] for name in (lists or ("incidents", "scheduled_maintenances"))
            for i in doc[name]]


def closed_ids_newest_first(doc):
    items = [i for name in ("incidents", "scheduled_maintenances") for i in doc[name]
             if i["status"] in ("resolved", "postmortem", "completed")]
    return [i["id"] for i in sorted(items, key=budget._age, reverse=True)]


def open_ids(doc):
    return [i["id"] for name in ("incidents", "scheduled_maintenances") for i in doc[name]
            if i["status"] not in ("resolved", "postmortem", "completed")]


def test_a_page_that_fits_is_stored_as_built():
    doc = f.busy_snapshot()
    fitted = fit_snapshot(doc)
    assert fitted.doc == doc and fitted.parts == [] and fitted.report["level"] == "whole"
    assert "_archive" not in fitted.doc and "_history" not in fitted.doc
    assert fitted.encoded == encode(fitted.doc)      # measured in pieces, exactly as stored


def test_older_closed_incidents_leave_first_and_every_open_one_stays():
    doc = page(closed=40)
    before = copy.deepcopy(doc)
    limit = stored_size(doc) * 6 // 10
    fitted = fit_snapshot(doc, limit)
    assert doc == before                                    # the input is not touched
    out = fitted.doc
    assert stored_size(out) <= limit and fitted.report["level"] == "closed incidents"
    kept_closed = [i for i in closed_ids_newest_first(doc) if i in ids(out)]
    newest = closed_ids_newest_first(doc)
    assert kept_closed == newest[:len(kept_closed)] and 20 <= len(kept_closed) < len(newest)
    assert set(open_ids(doc)) <= set(ids(out))
    assert out["_archive"]["ids"] == sorted(newest[len(kept_closed):])
    # what stays is exactly the v2 object that was built: same keys, same values
    originals = {i["id"]: i for i in doc["incidents"] + doc["scheduled_maintenances"]}
    assert all(item == originals[item["id"]] for item in out["incidents"])
    assert out["outpost"]["uptime"] == doc["outpost"]["uptime"]      # history untouched yet


def test_per_region_detail_leaves_before_the_history_does():
    doc = page(closed=30, components=60)
    # room for the 20 newest closed incidents and the history without its per-region detail
    target = copy.deepcopy(doc)
    keep = set(closed_ids_newest_first(doc)[:20]) | set(open_ids(doc))
    for name in ("incidents", "scheduled_maintenances"):
        target[name] = [i for i in target[name] if i["id"] in keep]
    target["outpost"]["response_times"] = budget._strip_regions(
        target["outpost"])["response_times"]
    # stored with the lists last (budget._Head); 600 bytes for the trimmed ids
    target = {**{k: v for k, v in target.items() if k not in ("incidents",
                                                               "scheduled_maintenances")},
              "incidents": target["incidents"],
              "scheduled_maintenances": target["scheduled_maintenances"]}
    limit = stored_size(target) + 600
    fitted = fit_snapshot(doc, limit)
    out = fitted.doc
    assert fitted.report["level"] == "per-region detail" and stored_size(out) <= limit
    assert fitted.parts == [] and out["outpost"]["uptime"] == doc["outpost"]["uptime"]
    points = [p for pts in out["outpost"]["response_times"].values() for p in pts]
    assert points and not any("regions" in p for p in points)
    assert sum(1 for i in ids(out) if i in closed_ids_newest_first(doc)) >= 20


def test_then_the_history_moves_to_parts_that_give_it_back_whole():
    doc = page(closed=30, components=120)
    limit = 60_000
    fitted = fit_snapshot(doc, limit, part_limit=40_000)
    out = fitted.doc
    assert fitted.report["level"] == "history" and stored_size(out) <= limit
    assert "uptime" not in out["outpost"] and "response_times" not in out["outpost"]
    assert out["_history"] == {"parts": len(fitted.parts)} and len(fitted.parts) > 1
    assert all(stored_size(p) <= 40_000 for p in fitted.parts)
    back = merge_history(out, fitted.parts)["outpost"]
    # moved with all its detail: the regions too
    assert back["uptime"] == doc["outpost"]["uptime"]
    assert back["response_times"] == doc["outpost"]["response_times"]
    assert out["_uptime"] == doc["_uptime"]              # the ledger always stays in the item


def test_open_incidents_keep_their_newest_updates_and_their_pages_read_the_item():
    doc = page(closed=0, open_=12, components=2, chars=3000, open_updates=6)
    limit = stored_size(doc) // 2
    fitted = fit_snapshot(doc, limit)
    out = fitted.doc
    assert fitted.report["level"] == "open incidents" and stored_size(out) <= limit
    assert set(open_ids(doc)) == set(open_ids(out))
    by_id = {i["id"]: i for i in doc["incidents"]}
    for item in out["incidents"]:
        full = by_id[item["id"]]["incident_updates"]
        assert item["incident_updates"] and item["incident_updates"][0]["id"] == full[0]["id"]
        assert len(item["incident_updates"]) < len(full)
        assert budget.archived(out, item["id"])
    assert not budget.archived(out, "zzzzzzzzzzzz")       # unknown ids cost no read


def test_as_a_last_resort_the_oldest_open_incidents_leave():
    doc = page(closed=5, open_=40, components=2, chars=3000)
    limit = 15_000
    fitted = fit_snapshot(doc, limit)
    out = fitted.doc
    assert fitted.report["level"] == "oldest open incidents" and stored_size(out) <= limit
    kept = [i for i in open_ids(doc) if i in ids(out)]
    newest_first = sorted(open_ids(doc), key=lambda i: -budget._age(
        next(x for x in doc["incidents"] + doc["scheduled_maintenances"] if x["id"] == i)))
    assert kept and set(kept) == set(newest_first[:len(kept)])
    assert all(budget.archived(out, i) for i in newest_first[len(kept):])


def test_a_document_that_cannot_fit_is_refused_by_name():
    with pytest.raises(SnapshotTooLarge):
        fit_snapshot(page(closed=2, open_=2), 500)


@pytest.mark.parametrize("seed", range(6))
def test_whatever_the_mix_the_stored_snapshot_fits_and_loses_no_incident(seed):
    rng = random.Random(seed)
    doc = page(closed=rng.randint(0, 60), open_=rng.randint(0, 20),
               components=rng.randint(1, 150), seed=seed, chars=rng.choice((200, 1500, 3000)),
               open_updates=rng.randint(1, 5))
    limit = rng.randint(20_000, 120_000)
    fitted = fit_snapshot(doc, limit, part_limit=50_000)
    assert stored_size(fitted.doc) <= limit
    assert all(stored_size(p) <= 50_000 for p in fitted.parts)
    shown = set(ids(fitted.doc))
    archived = set((fitted.doc.get("_archive") or {}).get("ids") or ())
    assert shown | archived == set(ids(doc)) and not shown & archived
    assert fitted.encoded == encode(fitted.doc)
    assert fit_snapshot(doc, limit, part_limit=50_000).encoded == fitted.encoded


def test_history_parts_hold_whole_components_under_their_limit():
    uptime, rts = history(80)
    parts = split_history({"uptime": uptime, "response_times": rts}, 30_000)
    assert len(parts) > 1 and all(stored_size(p) <= 30_000 for p in parts)
    seen = [cid for p in parts for cid in p["uptime"]]
    assert sorted(seen) == sorted(uptime) and all(set(p["uptime"]) == set(p["response_times"])
                                                  for p in parts)
    assert split_history({"uptime": {}, "response_times": {}}) == []


def test_item_size_counts_names_and_values_as_dynamodb_does():
    assert item_size({"pk": {"S": "snapshot"}}) == 2 + 8
    assert item_size({"pk": {"S": "é"}}) == 2 + 2                           # UTF-8 bytes
    assert item_size({"doc": {"B": b"\x00" * 1000}}) == 3 + 1000            # raw, not base64
    assert item_size({"doc": {"B": "AAAA"}}) == 3 + 3                       # base64 text
    assert item_size({"v": {"N": "100"}}) == 1 + 2                           # 1 digit after trim
    assert item_size({"v": {"N": "1780000000.123"}}) == 1 + 8               # 13 digits
    assert item_size({"m": {"M": {"ab": {"S": "xy"}}}}) == 1 + 3 + 1 + 2 + 2
    assert item_size({"l": {"L": [{"BOOL": True}, {"NULL": True}]}}) == 1 + 3 + 2 + 2


def test_the_feed_abbreviates_open_incidents_before_dropping_the_oldest():
    from chalicelib.core import incidents as core
    rng = random.Random(4)
    docs = []
    for i in range(10):
        doc = core.create({"incident": {"name": f"n{i}", "body": text(rng, WORDS, 3000)}},
                          {}, f.T0 - i * 3600, core.new_id())
        for n in range(4):
            doc = core.update(doc, {"incident": {"body": text(rng, WORDS, 3000)}}, {},
                              f.T0 - i * 3600 + n + 1)
        docs.append(doc)

    def measure(d):
        return len(encode({"incidents": d}))
    assert abbreviate_docs(docs, measure(docs), measure) is docs
    short = abbreviate_docs(docs, measure(docs) // 3, measure)
    assert len(short) == 10 and all(s["abbreviated"] for s in short)
    assert all(s["updates"][0] == d["updates"][0] for s, d in zip(short, docs))
    last = abbreviate_docs(docs, 3000, measure)
    assert 0 < len(last) < 10 and [d["id"] for d in last] == [d["id"] for d in docs[:len(last)]]
