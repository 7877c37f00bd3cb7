"""Use-case: chat and on-call channels (the status file's `channels:`), queued, then sent by the
delivery worker. The sending itself (Apprise, deadline, SSRF guard) is chalicelib.adapters.channel_send.

The worker's half (the send, the breaker) is chalicelib.usecases.channel_worker, so that Apprise is
imported by the delivery worker only, not by the checker or the API that queue alerts.

What goes where:
- every operator alert (anything that calls Notifier.publish_operator: report spikes,
  auto-incidents, nudges about quiet incidents, paused and resumed webhooks...) goes to the
  channels with `alerts`; the notifier calls `enqueue_alert` before it publishes to SNS;
- every public incident and maintenance update goes to the channels with `incidents`
  (`public: true`), from the stream consumer; `deliver_notifications: false` keeps an update
  off them, as off every other channel (chalicelib.core.outbox never makes the event).

Exactly once per (event, channel): the queueing is fenced per event (the caller's fence for
alerts, `sent#<event>#channels` for updates), the send by `sent#<event>#channel:<name>`. An
alert sent inside a fence takes the fence's key as its event id, so a fence that runs again
after a crash queues the same deliveries and the send's fence absorbs them. The URL is read
from the environment at send time: it never sits in a queue, a table or the status file.
"""
from __future__ import annotations

import hashlib
import json
import logging

from ..core.deliveries import Delivery
from ..core.errors import QueueFailed
from ..render import messages
from .fences import current_fence, once

log = logging.getLogger("outpost.channels")
TEXT_QUEUED = 20_000          # characters of an alert queued; channels take CHANNEL_MAX of it
KIND = "channel"


# -- enqueue -----------------------------------------------------------------------------------

def alert_event_id(subject: str, text: str, now: float) -> str:
    """The fence's key when the alert is sent inside one (fences.once); otherwise the text's
    hash and the hour, so the same alert repeated by a retry within the hour is one event."""
    key = current_fence.get()
    if key:
        return f"alert:{key}"[:400]
    digest = hashlib.sha256(f"{subject}\0{text}".encode()).hexdigest()[:24]
    return f"alert:{digest}:{int(now // 3600)}"


def enqueue_alert(c, subject: str, text: str) -> int:
    """Queue an operator alert for every channel that carries alerts; how many were queued."""
    targets = [ch.name for ch in c.config.channels if ch.alerts]
    if not targets:
        return 0
    now = c.clock()
    body, link = messages.split_link(text[:TEXT_QUEUED])
    return queue(c, alert_event_id(subject, text, now), targets,
                  {"title": subject, "text": body, "link": link, "type": "warning"}, now)


def enqueue_update(c, event_id: str, incident_v2: dict, update: dict, link: str) -> int:
    """Queue a public incident or maintenance update for the channels with `incidents`, once
    per event (a replayed stream record queues nothing)."""
    targets = [ch.name for ch in c.config.channels if ch.public]
    if not targets:
        return 0
    title, text = messages.channel_update(c.config.page.name, incident_v2, update)
    kind = "success" if update["status"] in ("resolved", "completed") else "info"
    message = {"title": title, "text": text[:TEXT_QUEUED], "link": link, "type": kind}
    queued: list[int] = []
    once(c, f"{event_id}#channels",
         lambda: queued.append(queue(c, event_id, targets, message, c.clock())) or "queued")
    return queued[0] if queued else 0


def queue(c, event_id: str, targets: list[str], message: dict, now: float) -> int:
    if not c.settings.delivery_queue_url:
        log.warning("DELIVERY_QUEUE_URL is not set; %s was not queued for channels %s",
                    event_id, ", ".join(targets))
        return 0
    body = json.dumps(message, separators=(",", ":")).encode()
    items = [Delivery(KIND, event_id, name, now, body) for name in targets]
    refused = c.deliveries.send(items, now)
    if refused:
        raise QueueFailed(f"SQS refused {len(refused)} of {len(items)} channel deliveries "
                          f"of {event_id}")
    return len(items)
