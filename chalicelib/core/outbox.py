"""Pure: what a change to the state table means for subscribers (the stream is the outbox).

A stream record carries the old and new image of one document. The events are the differences:
each new public update of an incident, each component status change. Event ids are derived from
what changed (the update id, the component and its `since`), so a replayed record yields the
same ids and the dedupe in front of every send makes it a no-op.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

# Statuspage's rule: SMS only when it matters most; everything else is email/webhook material.
_SMS_WORTHY = {"investigating", "resolved", "in_progress"}


@dataclass(frozen=True)
class Event:
    id: str
    kind: str                        # incident_update | component_update
    incident: Optional[dict] = None  # stored incident doc (chalicelib.core.incidents)
    update: Optional[dict] = None    # the new update within it
    first: bool = False              # the incident's first update (it was just created)
    component: Optional[str] = None  # component key, for component_update
    old_status: Optional[str] = None
    new_status: Optional[str] = None
    at: float = 0.0
    components: tuple = field(default_factory=tuple)   # keys this event is about

    @property
    def sms_worthy(self) -> bool:
        if self.kind != "incident_update":
            return False
        return self.first or self.update["status"] in _SMS_WORTHY


def events(pk: str, old: Optional[dict], new: Optional[dict]) -> list[Event]:
    if pk.startswith("incident#") and new is not None:
        return _incident_events(old, new)
    if pk == "components" and new is not None:
        return _component_events(old or {}, new)
    return []


def _incident_events(old: Optional[dict], new: dict) -> list[Event]:
    if new.get("deleted_at"):
        return []
    seen = {u["id"] for u in (old or {}).get("updates", [])}
    fresh = [u for u in reversed(new["updates"]) if u["id"] not in seen]   # oldest first
    first_id = new["updates"][-1]["id"] if new["updates"] else None
    out = []
    for upd in fresh:
        if not upd.get("deliver_notifications", True):
            continue
        out.append(Event(id=f"update:{upd['id']}", kind="incident_update", incident=new,
                         update=upd, first=upd["id"] == first_id, at=upd["created_at"],
                         components=tuple(new.get("component_ids") or ())))
    return out


def _component_events(old: dict, new: dict) -> list[Event]:
    out = []
    for key, state in new.items():
        before = old.get(key)
        if before is None or before["status"] == state["status"]:
            continue
        out.append(Event(id=f"component:{key}:{state['since']}", kind="component_update",
                         component=key, old_status=before["status"],
                         new_status=state["status"], at=state["since"], components=(key,)))
    return out


def debounce(pending: dict, event: Event) -> dict:
    """Fold a component change into the changes waiting out the debounce window.

    Down-then-up inside the window cancels out; down-then-partial becomes one change from the
    first old status to the latest new one. A replayed (older) event changes nothing.
    """
    out = {k: dict(v) for k, v in pending.items()}
    entry = out.get(event.component)
    if entry is None:
        out[event.component] = {"id": event.id, "old": event.old_status,
                                "new": event.new_status, "at": event.at}
        return out
    if event.at <= entry["at"]:
        return out
    entry.update(id=event.id, new=event.new_status, at=event.at)
    if entry["new"] == entry["old"]:
        del out[event.component]
    return out


def due(pending: dict, now: float, wait: float) -> list[Event]:
    """The waiting changes that have held for `wait` seconds, as events to send."""
    return [Event(id=e["id"], kind="component_update", component=key, old_status=e["old"],
                  new_status=e["new"], at=e["at"], components=(key,))
            for key, e in sorted(pending.items()) if now - e["at"] >= wait]
