"""Auto-reply (status file `social.auto_reply`, off by default): during an open incident, a
person who mentions the official account asking about the service (a keyword, as a whole word)
gets one automatic reply with the latest update and the status page's link.

Where it runs. The scheduler's housekeeping only queues a poll, once a minute per platform
(fenced by the minute); the delivery worker does the polling, so the checker never waits on a
social network. One poll is one request for at most `page_size` notifications, newer than the
cursor kept in `social#mentions:<platform>`; what a stranger posts costs a bounded scan of its
first characters.

Limits. At most one reply per person per incident (a fence per (incident, platform, person)),
and at most `per_hour` replies per platform per hour in all; over it, nobody is answered until
the hour turns (a reply is a courtesy, never a flood). Only mentions posted after the incident
began are answered. Replies are queued as social deliveries, so they are retried like posts.

Second signal. Every mention asking about the service (incident or not) adds one to the
`m#mentions` counter of the reports table's 5-minute bucket; the operators' report-spike alert
shows that count for the same window next to the reports (chalicelib/usecases/reporting.py).
"""
from __future__ import annotations

import json
import logging
import secrets
from datetime import timezone
from typing import Callable, Optional

from ..core import reports as report_rules
from ..core.deliveries import Delivery
from ..core.errors import Conflict
from ..core.timefmt import parse_iso
from ..render import posts
from ..render.common import UNRESOLVED

log = logging.getLogger("outpost.mentions")
COUNTER = "m#mentions"
FRESH = 900.0                  # seconds: older mentions (a first poll's backlog) are not counted
RECORD_TTL = 8 * 86400         # as the report counters


def schedule_polls(c) -> int:
    """Housekeeping: queue this minute's poll per platform (none when auto-reply is off)."""
    social = c.config.social
    if not social.auto_reply.enabled or not social.posting:
        return 0
    now = c.clock()
    pk, owner = f"sent#mentions:{int(now // 60)}#social", secrets.token_hex(8)
    if c.store.claim_idempotency(pk, owner, "", now, lease=60.0) is not None:
        return 0                                     # this minute's polls are queued
    items = [Delivery("social", f"mentions:{int(now // 60)}", p, now, b'{"op":"poll"}')
             for p in social.posting]
    try:
        if c.deliveries.send(items, now):
            raise RuntimeError("SQS refused the mention polls")
    except Exception:
        c.store.release_idempotency(pk, owner)
        raise
    c.store.complete_token(pk, owner, {"result": len(items)}, now)
    return len(items)


def _epoch(iso: str) -> Optional[float]:
    t = parse_iso(str(iso))
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


def open_incident(c) -> Optional[dict]:
    """The newest unresolved incident as the page shows it (Statuspage v2 shape), or None."""
    snap, _ = c.public_cache.snapshot()
    active = [i for i in snap.get("incidents") or () if i.get("status") in UNRESOLVED]
    return max(active, key=lambda i: i.get("created_at") or "", default=None)


def poll(c, platform: str, client: Callable, failure: Callable) -> str:
    """The worker's side: read new mentions, count the ones asking about the service, and
    queue one reply per person per open incident, under the hourly cap. A failed poll is not
    retried: the next minute's poll reads from the same cursor."""
    policy = c.config.social.auto_reply
    key = f"social#mentions:{platform}"
    state, version = c.store.load_document(key)
    since = (state or {}).get("since")
    try:
        api = client()
        found = api.mentions(since, policy.page_size)
    except Exception as exc:                         # noqa: BLE001 - classified by failure()
        failed = failure(exc)
        if failed is None:
            raise
        return f"poll failed: {failed}"
    now = c.clock()
    asking = [m for m in found
              if (_epoch(m.at) or 0) >= now - FRESH and posts.asks_about_service(m.text,
                                                                                policy.keywords)]
    if asking:
        bucket = report_rules.bucket_of(now)
        c.store.add_to_counter(bucket, COUNTER, len(asking),
                               bucket + report_rules.BUCKET + RECORD_TTL)
    queued = _reply(c, platform, asking, now) if asking else 0
    newest = api.newest(found, since)
    if newest != since:
        try:
            c.store.save_document(key, {"since": newest}, version, now)
        except Conflict:
            pass                  # another poll moved it; the per-person fences hold replies
    return f"polled {len(found)}: {len(asking)} asking, {queued} replies queued"


def _reply(c, platform: str, asking: list, now: float) -> int:
    incident = open_incident(c)
    if incident is None:
        return 0
    social = c.config.social
    began = _epoch(incident.get("created_at")) or now
    limit = social.mastodon.max_characters if platform == "mastodon" else 500
    queued = 0
    for m in asking:
        if (_epoch(m.at) or 0) < began:
            continue
        event = f"autoreply:{incident['id']}:{platform}:{m.person}"[:200]
        pk, owner = f"sent#{event}#queued", secrets.token_hex(8)
        if c.store.claim_idempotency(pk, owner, "", now, lease=60.0) is not None:
            continue                                 # this person was answered already
        if c.store.hit(f"autoreply:{platform}", now, 3600.0) > social.auto_reply.per_hour:
            c.store.release_idempotency(pk, owner)   # not answered: a later mention may be
            log.info("auto-reply cap reached on %s; not answering %s", platform, m.handle)
            break
        text = posts.reply_post(incident, platform,
                                m.handle if platform == "mastodon" else "", limit)
        spec = {"op": "reply", "to": m.ref, "text": text}
        d = Delivery("social", event, platform, now,
                     json.dumps(spec, separators=(",", ":")).encode())
        if c.deliveries.send([d], now):
            c.store.release_idempotency(pk, owner)
            raise RuntimeError(f"SQS refused the auto-reply {event}")
        c.store.complete_token(pk, owner, {"result": "queued"}, now)
        queued += 1
    return queued


def alert_line(c, now: float) -> str:
    """For the operators' report-spike alert: the second signal over the same window."""
    if not c.config.social.auto_reply.enabled:
        return ""
    window = report_rules.window_buckets(now, c.config.reports.window)
    items = c.store.report_window(window[0], window[-1]).values()
    n = sum(int(item.get(COUNTER, 0)) for item in items)
    return (f"\nMentions of the official accounts asking about the service in the same "
            f"window: {n}.")
