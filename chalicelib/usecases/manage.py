"""Operator use-cases: incidents, maintenance, component overrides, keys. Called by the API views.

Every write is conditional (versions), lands in one transaction with the public feed and the
audit log, and is followed by a snapshot rebuild so the page shows it on the next read.
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..core import audit, budget
from ..core import incidents as core
from ..core.auth import new_key, validate_scopes
from ..core.errors import (Conflict, FeedChanged, IdempotencyInFlight, IdempotencyMismatch,
                           IdempotencyTaken, IncidentChanged, NotFound, PreconditionFailed,
                           retry_on_conflict)
from ..core.snapshot import known_components
from .publish import republish

log = logging.getLogger("outpost.manage")
FEED_KEEP = 200           # most recent incidents kept in the public feed (open ones always kept)
FEED_MAX_BYTES = 300_000  # compressed; DynamoDB's item limit is 400 KB
MAX_RETRIES = 8


@dataclass(frozen=True)
class Actor:
    key_id: str
    request_id: str


def _feed_with(feed: list, doc: dict) -> list:
    """The public feed with this incident in it: every open one, then the newest closed ones,
    as many as fit both FEED_KEEP and the DynamoDB item size (older ones stay readable by id)."""
    others = [d for d in feed if d["id"] != doc["id"]]
    merged = core.sort_newest_first(others + [doc])
    keep = [d for d in merged if core.is_open(d) or d["status"] == "scheduled"]
    rest = [d for d in merged if d not in keep][:max(0, FEED_KEEP - len(keep))]
    # Open ones too have a budget: when they alone would not fit, the feed keeps their newest
    # updates (marked `abbreviated`; each incident's own item keeps every word).
    fitted = budget.abbreviate_docs(keep, FEED_MAX_BYTES, _stored_size)
    if len(fitted) < len(keep):
        log.error("the incident feed has room for the newest %d of %d open incidents; the "
                  "others stay readable by id", len(fitted), len(keep))
    keep = fitted
    while rest and _stored_size(keep + rest) > FEED_MAX_BYTES:
        rest = rest[:len(rest) * 3 // 4]
    return core.sort_newest_first(keep + rest)


def _stored_size(docs: list) -> int:
    return len(budget.encode({"incidents": docs}))


def _audit(actor: Actor, action: str, doc: dict, before: Optional[int], after: Optional[int],
           now: float, idempotency_key: Optional[str] = None) -> dict:
    return {"at": now, "key_id": actor.key_id, "request_id": actor.request_id, "action": action,
            "resource": f"incident/{doc['id']}", "before_version": before,
            "after_version": after, "idempotency_key": idempotency_key}


def _commit(c, doc: dict, version: Optional[int], action: str, actor: Actor,
            idempotency=None, idem_key: Optional[str] = None,
            response_of: Optional[Callable[[dict, int], dict]] = None) -> int:
    """Write the incident with the feed and audit, retrying only the feed race."""
    store = c.store

    def write() -> int:
        feed, feed_version = store.load_incident_feed()
        after = 1 if version is None else version + 1
        token = None
        if idempotency:
            pk, owner, request_hash = idempotency
            token = (pk, owner, request_hash, response_of(doc, after))
        return store.write_incident(
            doc, version, _feed_with(feed, doc), feed_version,
            _audit(actor, action, doc, version, after, c.clock(), idem_key), c.clock(), token)
    new_version = retry_on_conflict(write, what="the incident feed", tries=MAX_RETRIES,
                                    on=FeedChanged, backoff=True,
                                    busy="the incident feed is busy")
    try:
        republish(c)
    except Exception:                 # noqa: BLE001 - the write stands; the next round republishes
        log.exception("incident %s saved but the snapshot rebuild failed", doc["id"])
    return new_version


def create_incident(c, payload: Any, actor: Actor, idempotency_key: Optional[str] = None,
                    render: Callable[[dict], dict] = lambda d: d) -> tuple[dict, int, bool]:
    """(incident, version, replayed). A retry with the same Idempotency-Key returns the first."""
    now = c.clock()
    doc = core.create(payload, known_components(c.config), now, core.new_id())
    if not idempotency_key:
        version = _commit(c, doc, None, "incident.create", actor)
        return doc, version, False
    request_hash = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    pk = "idem#" + hashlib.sha256(f"{actor.key_id}\0{idempotency_key}".encode()).hexdigest()
    owner = secrets.token_hex(8)
    held = c.store.claim_idempotency(pk, owner, request_hash, now)
    if held is not None:
        if held.request_hash != request_hash:
            raise IdempotencyMismatch()
        if held.state != "done":
            raise IdempotencyInFlight()
        return held.response["incident"], held.response["version"], True
    try:
        version = _commit(c, doc, None, "incident.create", actor, (pk, owner, request_hash),
                          idempotency_key,
                          lambda d, v: {"incident": d, "version": v})
    except IdempotencyTaken as exc:            # our lease was taken over: the other one won
        raise IdempotencyInFlight() from exc
    except Exception:
        c.store.release_idempotency(pk, owner)
        raise
    return doc, version, False


def get_incident(c, incident_id: str) -> tuple[dict, int]:
    doc, version = c.store.load_incident(incident_id)
    if doc is None or doc.get("deleted_at"):
        raise NotFound(incident_id)
    return doc, version


def update_incident(c, incident_id: str, payload: Any, actor: Actor,
                    if_match: Optional[int] = None, action: str = "incident.update") -> tuple[dict, int]:
    """PATCH. With If-Match a stale version is refused; without it, a concurrent change is
    re-applied on top of the newer version (the PATCH only names the fields it changes)."""
    def apply() -> tuple[dict, int]:
        doc, version = get_incident(c, incident_id)
        new = core.update(doc, payload, known_components(c.config), c.clock(),  # 4xx first
                          system=action != "incident.update")
        if if_match is not None and if_match != version:
            raise PreconditionFailed(version)
        try:
            return new, _commit(c, new, version, action, actor)
        except IncidentChanged as exc:
            if if_match is not None:
                raise PreconditionFailed(c.store.load_incident(incident_id)[1]) from exc
            raise
    return retry_on_conflict(apply, what="the incident", tries=MAX_RETRIES, on=IncidentChanged,
                             backoff=True)


def delete_incident(c, incident_id: str, actor: Actor, if_match: Optional[int] = None) -> dict:
    """An operator mistake: hidden from every public view, kept (and audited) in storage."""
    doc, version = get_incident(c, incident_id)
    if if_match is not None and if_match != version:
        raise PreconditionFailed(version)
    gone = {**doc, "deleted_at": c.clock()}
    try:
        _commit(c, gone, version, "incident.delete", actor)
    except Conflict as exc:
        raise PreconditionFailed(c.store.load_incident(incident_id)[1]) from exc
    return doc


def list_incidents(c, kind: Optional[str] = None, unresolved: bool = False) -> list[dict]:
    feed, _ = c.store.load_incident_feed()
    docs = [d for d in feed if not d.get("deleted_at")]
    if kind == "scheduled":
        docs = [d for d in docs if d["kind"] == "scheduled"]
    elif kind == "incident":
        docs = [d for d in docs if d["kind"] != "scheduled"]
    if unresolved:
        docs = [d for d in docs if core.is_open(d) or d["status"] == "scheduled"]
    return docs


def advance_maintenance(c, actor: Actor) -> list[tuple[str, str]]:
    """Start and complete scheduled maintenance whose time has come (run by the scheduler)."""
    moved = []
    now = c.clock()
    for doc in list_incidents(c, kind="scheduled"):
        target = core.due_transition(doc, now)
        if not target:
            continue
        try:
            update_incident(c, doc["id"], {"incident": {"status": target}}, actor,
                            action="maintenance.auto")
            moved.append((doc["id"], target))
        except (core.ValidationError, NotFound, Conflict) as exc:
            log.warning("maintenance %s could not move to %s: %s", doc["id"], target, exc)
    return moved


# -- component overrides ---------------------------------------------------------------------

def set_component(c, component_id: str, status: Optional[str], actor: Actor) -> str:
    """Pin a component's status (None clears the pin and lets the checker speak again)."""
    key = known_components(c.config).get(component_id)
    if key is None:
        raise NotFound(component_id)
    if status is not None and status not in core.COMPONENT_STATUSES:
        raise core.ValidationError("component.status",
                                   f"must be one of {', '.join(core.COMPONENT_STATUSES)} or null")
    def pin() -> None:
        overrides, version = c.store.load_overrides()
        new = dict(overrides)
        if status is None:
            new.pop(key, None)
        else:
            new[key] = {"status": status, "set_at": c.clock(), "by": actor.key_id}
        previous = (overrides.get(key) or {}).get("status")
        record = audit.entry(actor, "component.pin" if status else "component.unpin",
                             f"component/{key}", c.clock(), version,
                             1 if version is None else version + 1,
                             {"status": status, "previous": previous})
        c.store.save_overrides(new, version, c.clock(), record)
    retry_on_conflict(pin, what="component overrides", tries=MAX_RETRIES,
                      busy="component overrides are changing fast")
    republish(c)
    return key


# -- operator keys -------------------------------------------------------------------------------

def mint_key(c, name: str, scopes, expires_at: Optional[float] = None, actor=None) -> str:
    """Create an operator key and return it; this is the only time the secret exists in clear.
    Audited with the key's id, name and scopes (never its secret); `actor` defaults to the
    IAM side, which is the only way keys are made."""
    scopes = validate_scopes(scopes)
    full, key_id, sha = new_key()
    record = audit.entry(actor or audit.iam_actor("unknown"), "key.mint", f"key/{key_id}",
                         c.clock(), details={"name": name[:200], "scopes": sorted(scopes),
                                             "expires_at": expires_at})
    c.store.put_key(key_id, sha, name, scopes, c.clock(), expires_at, record)
    return full


def revoke_key(c, key_id: str, actor=None) -> bool:
    """Revoke a key (it stops working within auth.KEY_CACHE_SECONDS), audited; False when
    there is no such key."""
    record = audit.entry(actor or audit.iam_actor("unknown"), "key.revoke", f"key/{key_id}",
                         c.clock())
    return c.store.revoke_key(key_id, c.clock(), record)
