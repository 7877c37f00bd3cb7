"""A page after years of growth, built directly in storage: many components with a long uptime
history, and many incidents with long bodies. Used by bench/snapshot_budget.py and by the size
budget's regression tests, which then drive the real code (rounds, the operator API, public
reads) on top of it. Building it through the API would cost one snapshot rebuild per incident.

Texts are words drawn from a fixed vocabulary: they compress about as well as prose (random
letters would compress worse, repeated text far better). Everything is seeded: the same
arguments give the same page.
"""
from __future__ import annotations

import random
import zlib
from datetime import datetime, timezone

DAY = 86400.0
RT_REGION_DAYS = 14


def vocabulary(seed: int = 7, size: int = 3000) -> list[str]:
    rng = random.Random(seed)
    letters = "etaoinshrdlucmfwypvbgkqjxz"
    weights = [12, 9, 8, 8, 7, 7, 6, 6, 6, 4, 4, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1]
    return ["".join(rng.choices(letters, weights, k=rng.randint(2, 10))) for _ in range(size)]


def text(rng: random.Random, words: list[str], chars: int) -> str:
    out, length = [], 0
    while length < chars:
        word = rng.choice(words)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)[:chars]


def incident_docs(cfg, count: int, body_chars: int, now: float, open_count: int,
                  seed: int = 11) -> list[dict]:
    """`count` stored incidents spread over the past year, newest first; the newest
    `open_count` are still open, the rest resolved (two updates each, both long)."""
    from chalicelib.core import incidents as core
    from chalicelib.usecases.manage import known_components
    rng, words = random.Random(seed), vocabulary()
    known = known_components(cfg)
    keys = [comp.id for comp in cfg.components]
    docs = []
    for i in range(count):
        at = now - 3600 - i * (365 * DAY / max(1, count))
        payload = {"incident": {
            "name": f"Incident {i}: " + text(rng, words, 60), "status": "investigating",
            "body": text(rng, words, body_chars),
            "components": {rng.choice(keys): "partial_outage"}}}
        doc = core.create(payload, known, at, core.new_id())
        if i >= open_count:
            doc = core.update(doc, {"incident": {"status": "resolved",
                                                 "body": text(rng, words, body_chars)}},
                              known, at + 1800)
        docs.append(doc)
    return docs


def history(cfg, days: int, now: float, seed: int = 5) -> tuple[dict, dict]:
    """(uptime, response_times) under `outpost` for `days` days ending today, as the checker
    carries them (the snapshot keeps the newest 90). Most days fully up; a few with outages."""
    from chalicelib.core.snapshot import iso_ms, public_id
    from chalicelib.core.uptime import DAYS, day_key, day_uptime, empty_day, uptime_over
    rng = random.Random(seed)
    regions = list(cfg.checks.regions)
    uptime, rts = {}, {}
    for comp in cfg.components:
        cid = public_id(cfg.page.id, "component", comp.id)
        base = rng.randint(60, 400)
        ds, points = [], []
        for ago in range(days - 1, -1, -1):
            day = empty_day(day_key(now - ago * DAY))
            if ago == 0:
                day["operational_seconds"] = now % DAY
            elif rng.random() < 0.04:
                down = rng.randint(60, 5400)
                day["major_seconds" if rng.random() < 0.5 else "partial_seconds"] = down
                day["operational_seconds"] = DAY - down
            else:
                day["operational_seconds"] = DAY
            day["uptime"] = day_uptime(day)
            ds.append(day)
            start = datetime.strptime(day["date"], "%Y-%m-%d").replace(tzinfo=timezone.utc)
            point = {"t": iso_ms(start.timestamp()), "date": day["date"],
                     "p50": base + rng.randint(-20, 20), "p95": base * 2 + rng.randint(-40, 60)}
            if ago < RT_REGION_DAYS:
                point["regions"] = {r: {"p50": base + rng.randint(-30, 30),
                                        "p95": base * 2 + rng.randint(-60, 80), "n": 1440}
                                    for r in regions}
            points.append(point)
        kept = ds[-DAYS:]
        uptime[cid] = {"days": kept, "uptime_90d": uptime_over(kept)}
        rts[cid] = points[-DAYS:]
    return uptime, rts


def seed(c, cfg, docs: list[dict], now: float, history_days: int, states: dict) -> dict:
    """Write the incidents (own items and the public feed, as manage writes them) and the
    snapshot a year-old page would have (published through the size budget). Returns facts."""
    from chalicelib.adapters.storage import check_item_size
    from chalicelib.core import budget
    from chalicelib.core.history import annotate
    from chalicelib.core.snapshot import build_snapshot
    from chalicelib.usecases import manage
    store = c.store
    # One BatchWriteItem per 25 incidents, each at version 1 as its first save would leave it.
    with store.StateRow.batch_write() as batch:
        for doc in docs:
            row = store.StateRow(f"incident#{doc['id']}", doc=doc, updated_at=now, version=1)
            check_item_size(row)
            batch.save(row)
    newest, rest = docs[0], docs[1:]
    feed = manage._feed_with(rest, newest)
    store.save_document("incident_feed", {"incidents": feed}, None, now)
    snap = build_snapshot(cfg, states, now - 60, now - 60, incident_docs=tuple(feed))
    annotate(snap, cfg, states, {}, now - 60)
    uptime, rts = history(cfg, history_days, now - 60)
    snap["outpost"]["uptime"], snap["outpost"]["response_times"] = uptime, rts
    snap["_uptime"] = {"at": now - 60, "kinds": {cid: "operational" for cid in uptime}}
    fitted = budget.fit_snapshot(snap, partial=[d["id"] for d in feed if d.get("abbreviated")])
    store.save_snapshot(fitted.doc, None, now - 60, fitted.parts)
    return {"feed": feed, "unbudgeted_bytes": budget.stored_size(snap), "seed": fitted.report}


def results(cfg, at: float, failing: frozenset = frozenset()):
    """One round's check results, every monitor from every region; `failing` component ids
    fail everywhere. Probing itself is benchmarked elsewhere (check_round)."""
    from chalicelib.core.model import CheckResult, ConditionResult, Level
    out = []
    for comp in cfg.components:
        for mon in comp.monitors:
            for region in cfg.checks.regions:
                if comp.id in failing:
                    out.append(CheckResult(mon.id, region, at, Level.FAIL, 12, 503, None, (
                        ConditionResult("[STATUS] == 200", "[STATUS] (503) == 200", False),)))
                else:
                    out.append(CheckResult(mon.id, region, at, Level.OK, 80 + zlib.crc32(mon.id.encode()) % 50,
                                           200))
    return out
