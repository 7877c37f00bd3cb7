"""A breaker per destination (a webhook, a chat channel): one small versioned document in the
state table, `breaker#<kind>:<id>`, changed by the pure rules in chalicelib.core.deliveries
(breaker_verdict, start_probe, after_failure, after_success). A destination that keeps failing
is paused: its deliveries are held, not dropped, and one of them now and then probes it."""
from __future__ import annotations

from typing import Callable, Optional

from ..core import deliveries
from ..core.errors import TooBusy, retry_on_conflict

PROBE_AGAIN = 60.0          # seconds a delivery waits when another one holds the probe


def gate(c, key: str, now: float, lease: float) -> tuple[str, float]:
    """("go", 0) or ("hold", until); a paused destination lets one delivery through to probe
    it, holding the probe for `lease` seconds."""
    def attempt() -> tuple[str, float]:
        doc, version = c.store.load_document(key)
        verdict, until = deliveries.breaker_verdict(doc, now)
        if verdict != "probe":
            return verdict, until
        c.store.save_document(key, deliveries.start_probe(doc, now, lease), version, now)
        return "go", 0.0
    try:
        return retry_on_conflict(attempt, what=key)
    except TooBusy:
        return "hold", now + PROBE_AGAIN            # others keep probing it; look again later


def change(c, key: str, rule: Callable[[Optional[dict]], tuple]) -> Optional[dict]:
    """Apply `rule(doc) -> (new doc or None, flipped)`; the new document when the breaker
    flipped (paused or resumed: the operators are told), else None."""
    def attempt() -> Optional[dict]:
        doc, version = c.store.load_document(key)
        new, flipped = rule(doc)
        if new is None:
            return None
        c.store.save_document(key, new, version, c.clock())
        return new if flipped else None
    return retry_on_conflict(attempt, what=key)
