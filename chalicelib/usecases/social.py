"""The official accounts (status file `social:`): queue each public update for them, and post it
from the delivery worker, one thread per incident.

Where it runs. The stream consumer queues one delivery per (update, platform) and returns; only
the delivery worker (chalicelib/usecases/deliver.py) talks to Mastodon and Bluesky, through their own
client libraries (Mastodon.py, atproto), each request under the webhook deadline, retried with
the worker's backoff and parked in the dead-letter queue after a day, like a webhook.

Exactly once, as far as we can see: the enqueue is fenced by `sent#<event>#social` (a replayed
stream record queues nothing twice) and the post by `sent#<event>#social:<platform>` (a
redelivered message posts nothing twice). Mastodon also gets an Idempotency-Key, so even a crash
between its answer and our record of it does not post twice there.

Threads. The first post of an incident is the thread's root; every later update replies to the
thread's latest post (Mastodon in_reply_to_id; Bluesky reply refs root + parent). The refs sit
in a small state document per incident, `social#thread:<incident id>`. An update queued while
its thread's first post is still on its way waits for it (a few minutes at most), so one
incident stays one thread even when two updates are queued together.
"""
from __future__ import annotations

import json
import logging
from dataclasses import replace

from ..core.deliveries import Delivery
from ..core.errors import PostFailed, TooBusy, retry_on_conflict
from ..render import posts
from . import mentions, sends

log = logging.getLogger("outpost.social")
THREAD_WAIT = 600.0            # how long a later update waits for its thread's first post
WAIT_STEP = 20.0


# -- enqueue (the stream consumer) --------------------------------------------------------------

def enqueue_update(c, event, incident_v2: dict, update_v2: dict) -> int:
    """Queue one post per official account for this public update (deliver_notifications
    false never gets here: the outbox has no event for it). Returns how many were queued."""
    social = c.config.social
    if not social.posting:
        return 0
    pending = [u for u in (event.incident.get("updates") or ())
               if u["id"] != event.update["id"] and u.get("deliver_notifications", True)
               and u["created_at"] <= event.update["created_at"]]
    items, now = [], c.clock()
    for platform in social.posting:
        limit = social.mastodon.max_characters if platform == "mastodon" else 500
        text = posts.update_post(incident_v2, update_v2, platform, limit)
        spec = {"op": "post", "thread": event.incident["id"], "text": text,
                "after": bool(pending)}
        items.append(Delivery("social", event.id, platform, now,
                              json.dumps(spec, separators=(",", ":")).encode()))
    refused = c.deliveries.send(items, now)
    if refused:
        raise RuntimeError(f"SQS refused {len(refused)} social posts of {event.id}")
    return len(items)


# -- the worker -----------------------------------------------------------------------------------

def process(c, d: Delivery) -> str:
    """One queued social delivery: a post, an automatic reply, or a poll of the mentions."""
    if getattr(c.config.social, d.sub, None) is None or d.sub not in c.config.social.posting:
        return "gone"                                # the account left the status file
    spec = json.loads(d.body)
    if spec.get("op") == "poll":
        return mentions.poll(c, d.sub, lambda: _client(c, d.sub), c.social_posters.failure)
    now = c.clock()
    pk = f"sent#{d.event}#social:{d.sub}"
    got = sends.claim(c, pk, d, now)
    if not isinstance(got, tuple):
        return got                                   # duplicate, or someone is on it
    (owner,) = got
    try:
        if spec["op"] == "post":
            outcome = _post_update(c, d, spec, now)
        else:
            _client(c, d.sub).post(spec["text"], spec["to"], key=f"outpost-{d.event}"[:64],
                        visibility="unlisted")
            outcome = "replied"
    except Exception as exc:                         # noqa: BLE001 - classified just below
        c.store.release_idempotency(pk, owner)
        failed = c.social_posters.failure(exc)
        if failed is None:
            raise                                    # ours, not the platform's: SQS redelivers
        c.social_posters.forget(d.sub)
        return _retry(c, d, failed)
    if outcome == "waiting":
        c.store.release_idempotency(pk, owner)
        sends.requeue(c, replace(d, not_before=now + WAIT_STEP), now)
        return outcome
    c.store.complete_token(pk, owner, {"result": outcome}, c.clock())
    return outcome


def _post_update(c, d: Delivery, spec: dict, now: float) -> str:
    thread_key = f"social#thread:{spec['thread']}"
    doc, _ = c.store.load_document(thread_key)
    mine = (doc or {}).get(d.sub) or {}
    if spec.get("after") and not mine and now - d.first_at < THREAD_WAIT:
        return "waiting"                             # the first post is on its way
    reply_to = {"root": mine["root"], "parent": mine["last"]} if mine else None
    ref = _client(c, d.sub).post(spec["text"], reply_to, key=f"outpost-{d.event}"[:64])

    def record() -> None:                            # both platforms write the same document
        doc, version = c.store.load_document(thread_key)
        doc = dict(doc or {})
        was = doc.get(d.sub) or {}
        doc[d.sub] = {"root": was.get("root") or ref, "last": ref,
                      "posts": int(was.get("posts") or 0) + 1}
        c.store.save_document(thread_key, doc, version, c.clock())
    try:
        retry_on_conflict(record, what=f"the thread of {spec['thread']}")
    except TooBusy:
        log.error("thread of %s on %s: too busy to record post %s", spec["thread"], d.sub, ref)
    return "posted" if reply_to is None else "posted in thread"


def _client(c, platform: str):
    return c.social_posters.get(platform, getattr(c.config.social, platform))


def _retry(c, d: Delivery, failed: PostFailed) -> str:
    reason = f"{d.sub}: {failed}"
    log.warning("social delivery %s failed: %s", d.event, reason)
    return sends.retry_or_dead(c, d, reason, permanent=failed.permanent)
