"""Use-case: the delivery worker's `channel` kind: send one queued chat or on-call message
(chalicelib.usecases.channels queues them) exactly once, under the deadline, with retries and a breaker
per channel (chalicelib.core.deliveries' rules, as for webhooks), through chalicelib.adapters.channel_send.
"""
from __future__ import annotations

import json
import logging
from typing import Optional

from ..adapters import channel_send
from ..core.deliveries import Delivery
from ..render import messages
from . import sends
from .channels import alert_event_id, queue
from .fences import once

log = logging.getLogger("outpost.channels")


# -- the worker ----------------------------------------------------------------------------------

def fence(d: Delivery) -> str:
    return f"sent#{d.event}#channel:{d.sub}"


def deliver(c, d: Delivery, now: float) -> str:
    """Send one queued channel message (the delivery worker's `channel` kind); returns what
    happened, for the log and tests."""
    channel = next((ch for ch in c.config.channels if ch.name == d.sub), None)
    if channel is None:
        return "gone"                            # removed from the status file since
    url = (c.env.get(channel.env) or "").strip()
    if not url:
        return sends.dead(c, d, f"channel {channel.name}: environment variable {channel.env} is "
                           "not set in the delivery worker")
    try:
        plugin = channel_send.open_channel(url)
    except channel_send.Unusable as exc:
        return sends.dead(c, d, f"channel {channel.name} ({channel.env}): {exc}")

    def send() -> Optional[str]:
        outcome = _send(c, plugin, url, d)
        return None if outcome.ok else outcome.reason
    return sends.through_breaker(c, d, fence(d), _breaker_key(channel.name), now, send,
                                 lambda doc: _tell_operators(c, channel.name, plugin, doc))


def _send(c, plugin, url: str, d: Delivery) -> channel_send.Outcome:
    msg = json.loads(d.body)
    body_max, title_max = channel_send.limits(plugin)
    title, text = messages.channel_fit(msg["title"], msg["text"], msg.get("link") or "",
                                       body_max, title_max)
    checks = c.config.checks
    return channel_send.send(plugin, title, text, msg.get("type") or "info",
                             c.settings.webhook_deadline, checks.allow_private_targets,
                             checks.allowed_networks, resolver=c.channel_resolver,
                             secrets=channel_send.secrets_in(url))


def _breaker_key(name: str) -> str:
    return f"breaker#channel:{name}"


def _tell_operators(c, name: str, plugin, doc: dict) -> None:
    """On the operator topic and the other alert channels (this one is not listening)."""
    page = c.config.page.name
    where = f"{name} ({channel_send.service(plugin)})"
    if doc["state"] == "open":
        subject = f"[{page}] Channel paused: {name}"
        text = (f"Messages to the channel {where} failed {doc['failures']} times in a row; "
                f"the last error: {doc['last_error']}.\n\nOutpost holds its messages and tries "
                "again now and then; one success resumes it. Messages still failing after a "
                "day go to the delivery dead-letter queue. Check the channel's URL (its "
                "environment variable) and the service's status.")
        key = f"breaker:channel:{name}:{doc['opened_at']}#operator"
    else:
        subject = f"[{page}] Channel resumed: {name}"
        text = f"The channel {where} takes messages again; its held messages are on their way."
        key = f"breaker:channel:{name}:resumed:{int(c.clock())}#operator"
    others = [ch.name for ch in c.config.channels if ch.alerts and ch.name != name]

    def send() -> Optional[str]:
        if others:
            queue(c, alert_event_id(subject, text, c.clock()), others,
                   {"title": subject, "text": text, "link": "", "type": "warning"}, c.clock())
        return c.notifier.publish_operator(subject, text, channels=False)
    once(c, key, send)
