"""The stream consumer: turn state-table changes into notifications, each sent exactly once.

Delivery from the stream is at least once (retries, bisected batches, replays), so every send
is fenced by a dedupe key `sent#<event id>#<channel>`: claimed with a short lease before the
send, marked done after. A replay finds "done" and skips; a send that died mid-way is retried
after its lease (at least once beats never). Records that can never be read are reported to the
operators and skipped, so one poisoned record can't hold back the rest of the shard.
Webhooks are never posted from here: they are queued for the delivery worker (chalicelib.usecases.deliver).
"""
from __future__ import annotations

import logging

from ..core import deliveries, incidents, outbox
from ..core.audience import wants
from ..core.errors import retry_on_conflict
from ..core.snapshot import incident_v2, iso_ms, public_id
from ..render import messages
from . import channels, manage, social
from .deliver import enqueue_event, fanout_spec
from .fences import once
from .subscriber_links import unsubscribe_url

log = logging.getLogger("outpost.fanout")


def _rows(c) -> dict:
    snap, _ = c.public_cache.snapshot()
    cfg = c.config
    by_id = {r["id"]: r for r in snap["components"]}
    return snap, {comp.id: by_id[public_id(cfg.page.id, "component", comp.id)]
                  for comp in cfg.components
                  if public_id(cfg.page.id, "component", comp.id) in by_id}


def deliver(c, event: outbox.Event) -> int:
    """Send one event on every channel; returns how many sends happened now."""
    if event.kind == "incident_update":
        return _deliver_incident(c, event)
    if c.config.operations.auto_incidents:
        # The first public word must not wait out the debounce window.
        _, rows = _rows(c)
        row = rows.get(event.component)
        if row is not None:
            snap, _ = c.public_cache.snapshot()
            scope = ((snap.get("outpost") or {}).get("components", {}).get(row["id"]) or {})
            _auto_incident(c, event, row["name"], scope.get("scope_text"))
    if c.config.subscribers.debounce <= 0:
        return _deliver_component(c, event)
    _update_pending(c, lambda pending: outbox.debounce(pending, event))
    return 0


PENDING = "pending_components"


def _update_pending(c, change) -> dict:
    def attempt() -> dict:
        pending, version = c.store.load_document(PENDING)
        new = change(pending or {})
        if new != (pending or {}):
            c.store.save_document(PENDING, new, version, c.clock())
        return new
    return retry_on_conflict(attempt, what="pending component changes")


def flush_component_updates(c) -> int:
    """Send the component changes that held for the debounce window (run every minute): a
    flapping component produces one message, or none if it came back, not ten."""
    pending, _ = c.store.load_document(PENDING)
    ready = outbox.due(pending or {}, c.clock(), c.config.subscribers.debounce)
    sent = 0
    for event in ready:
        sent += _deliver_component(c, event)
    if ready:
        sent_ids = {e.id for e in ready}
        _update_pending(c, lambda p: {k: v for k, v in p.items() if v["id"] not in sent_ids})
    return sent


def _deliver_incident(c, event: outbox.Event) -> int:
    cfg = c.config
    snap, rows = _rows(c)
    v2 = incident_v2(event.incident, cfg.page.id, cfg.page.url, rows, cfg.page.time_zone)
    update = next(u for u in v2["incident_updates"] if f"update:{u['id']}" == event.id)
    link = v2["shortlink"]
    docs = f"{cfg.page.url.rstrip('/')}/api/v1/openapi.json"
    sent = 0
    message = messages.sns_message(
        cfg.page.name, snap["page"], snap["status"], v2, update, link,
        f"{cfg.page.url.rstrip('/')}/#subscribe", docs, cfg.page.locale, cfg.page.time_zone)
    subject = messages.subject(cfg.page.name, v2, update, cfg.page.locale)
    sent += once(c, f"{event.id}#topic", lambda: c.notifier.publish_update(
        message, subject, list(event.components), event.sms_worthy, event.kind))
    payload = messages.webhook_payload(snap["page"], snap["status"], v2, None, docs)
    sent += _enqueue_webhooks(c, event.id, event.components, _incident_bodies(payload, update))
    if cfg.social.posting:                      # the official accounts: one post per platform
        sent += once(c, f"{event.id}#social",
                     lambda: social.enqueue_update(c, event, v2, update) and "queued")
    sent += channels.enqueue_update(c, event.id, v2, update, link)
    if event.first and (event.incident.get("metadata") or {}).get("auto"):
        sent += once(c, f"{event.id}#operator", lambda: c.notifier.publish_operator(
            f"[{cfg.page.name}] Auto-incident opened: {event.incident['name']}",
            f"Outpost opened an incident by itself.\n\n{update['body']}\n\n{link}"))
    return sent


def _deliver_component(c, event: outbox.Event) -> int:
    cfg = c.config
    snap, rows = _rows(c)
    row = rows.get(event.component)
    if row is None:
        return 0
    component_update = {"created_at": messages_ts(c, event.at), "new_status": event.new_status,
                        "old_status": event.old_status, "id": event.id.replace(":", "-"),
                        "component_id": row["id"]}
    base = {"meta": {"documentation": f"{cfg.page.url.rstrip('/')}/api/v1/openapi.json"},
            "page": {"id": cfg.page.id, "status_indicator": snap["status"]["indicator"],
                     "status_description": snap["status"]["description"]},
            "component_update": component_update,
            "component": {"created_at": row["created_at"], "id": row["id"], "name": row["name"],
                          "status": event.new_status}}
    sent = _enqueue_webhooks(c, event.id, event.components, [base])
    sent += once(c, f"{event.id}#operator", lambda: c.notifier.publish_operator(
        f"[{cfg.page.name}] {row['name']}: {event.old_status} -> {event.new_status}",
        f"{row['name']} is now {event.new_status.replace('_', ' ')} "
        f"(was {event.old_status.replace('_', ' ')}).\n{cfg.page.url}"))
    return sent


def _auto_incident(c, event: outbox.Event, name: str, scope_text) -> None:
    """Open (or move to monitoring) Outpost's own incident; replays are fenced by the event id."""
    ops = c.config.operations
    action = incidents.auto_incident(event.component, name, event.new_status, scope_text,
                                     manage.list_incidents(c), ops.auto_incident_title,
                                     ops.auto_incident_body)
    if action is None:
        return
    actor = manage.Actor("outpost-auto", event.id)
    if action[0] == "open":
        manage.create_incident(c, action[1], actor, idempotency_key=event.id)
    else:
        once(c, f"{event.id}#auto-monitor", lambda: manage.update_incident(
            c, action[1], action[2], actor, action="incident.auto_monitor")[0]["id"])


def nudge_quiet_incidents(c) -> int:
    """Remind the operators of open incidents that have said nothing for `update_reminder`:
    users left in the dark lose trust. At most once per interval per incident."""
    every = c.config.operations.update_reminder
    now = c.clock()
    sent = 0
    for doc in manage.list_incidents(c, kind="incident", unresolved=True):
        quiet = now - incidents.quiet_since(doc)
        if quiet < every:
            continue
        bucket = int(quiet // every)
        minutes = int(quiet // 60)
        sent += once(c, f"nudge:{doc['id']}:{doc['updates'][0]['id']}:{bucket}",
                     lambda doc=doc, minutes=minutes: c.notifier.publish_operator(
                         f"[{c.config.page.name}] No update for {minutes} min: {doc['name']}",
                         f"The incident \"{doc['name']}\" ({doc['status']}) has had no public "
                         f"update for {minutes} minutes. Post what you know, even if it is "
                         f"'still investigating'.\n{c.config.page.url.rstrip('/')}/incidents/"
                         f"{doc['id']}"))
    return sent


def messages_ts(c, epoch: float) -> str:
    return iso_ms(epoch, c.config.page.time_zone)


def _webhooks_for(c, components) -> list[dict]:
    subs = c.store.subscribers(kind="webhook", state="active")
    return [s for s in subs if wants(s["components"], components)]


def _incident_bodies(body: dict, update: dict):
    """The incident webhook body, then smaller ones in case it is too big for one queued
    message: only the update being announced, then that update shortened."""
    yield body
    latest = {**body["incident"], "incident_updates": [update]}
    yield {**body, "incident": latest}
    short = {**update, "body": (update.get("body") or "")[:5000]}
    yield {**body, "incident": {**latest, "incident_updates": [short]}}


def _enqueue_webhooks(c, event_id: str, components, bodies) -> int:
    """Queue the event for the webhooks that want it (the delivery worker posts it; nothing
    here connects to a subscriber, and past the first page the worker does the fan-out).
    Returns how many were queued now; a replay queues none."""
    room = unsubscribe_url(c, "0" * 16) + "#" + "0" * 64      # any subscriber's link fits
    components = list(components)
    for body in bodies:
        probe = dict(body, meta={**(body.get("meta") or {}), "unsubscribe": room})
        if deliveries.fits(fanout_spec(components, probe)):
            return enqueue_event(c, event_id, components, body)
    log.error("event %s is too big to queue for webhooks even shortened; skipped", event_id)
    return 0


def handle_records(c, records: list[dict]) -> dict:
    """A stream batch; returns Lambda's partial-batch response so only failures retry."""
    decode = c.store.decode_stream_image
    c.public_cache.invalidate()         # render with the snapshot the change just produced
    for record in records:
        seq = record.get("dynamodb", {}).get("SequenceNumber")
        try:
            pk, new = decode(record["dynamodb"].get("NewImage"))
            _, old = decode(record["dynamodb"].get("OldImage"))
        except (ValueError, KeyError) as exc:
            log.error("skipping unreadable stream record %s: %s", seq, exc)
            _report_poison(c, seq, exc)
            continue
        if pk is None:
            continue
        try:
            for event in outbox.events(pk, old, new):
                deliver(c, event)
        except Exception:                               # noqa: BLE001 - retried by Lambda
            log.exception("stream record %s failed; it will be retried", seq)
            return {"batchItemFailures": [{"itemIdentifier": seq}]}
    return {"batchItemFailures": []}


def _report_poison(c, seq, exc) -> None:
    try:
        once(c, f"poison:{seq}#operator", lambda: c.notifier.publish_operator(
            f"[{c.config.page.name}] unreadable stream record skipped",
            f"Stream record {seq} could not be decoded and was skipped: {exc}"))
    except Exception:                                   # noqa: BLE001 - best effort
        log.exception("could not report the unreadable record")
