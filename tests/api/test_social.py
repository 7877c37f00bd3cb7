"""The official accounts end to end: the real app over moto, the real stream consumer and delivery
worker, and the real client libraries (Mastodon.py, atproto) talking to fake Mastodon and
Bluesky servers on 127.0.0.1 (tests/fakes/social.py)."""
import json
import time
from dataclasses import replace
from datetime import datetime, timezone
from html.parser import HTMLParser

import pytest

from chalicelib.core.model import (AutoReply, BlueskyAccount, MastodonAccount, SocialPolicy,
                                   XAccount)
from chalicelib.render.posts import graphemes
from chalicelib.usecases import mentions
from chalicelib.usecases.deliver import process
from tests.api.calls import post
from tests.fakes.social import FakeBluesky, FakeMastodon

BASE = "/api/v1/pages/acme/incidents"


@pytest.fixture
def social(wired):
    c, client, clock, key, pump, drain, receiver, hooks = wired
    masto, bsky = FakeMastodon(), FakeBluesky()
    c.env["OUTPOST_MASTODON_TOKEN"] = masto.TOKEN
    c.env["OUTPOST_BLUESKY_APP_PASSWORD"] = bsky.PASSWORD
    policy = SocialPolicy(mastodon=MastodonAccount(instance=masto.url, account="acme"),
                          bluesky=BlueskyAccount(handle=bsky.HANDLE, service=bsky.url),
                          x=XAccount(handle="acme"))
    c.override(config=replace(c.config, social=policy))
    yield c, client, clock, key, pump, hooks, masto, bsky
    masto.close()
    bsky.close()


def incident(client, key, name="API errors", body="We are looking into it."):
    resp, doc = post(client, BASE, {"incident": {"name": name, "status": "investigating",
                                                 "body": body}}, key)
    assert resp.status_code == 201, doc
    return doc


def update(client, key, inc_id, status, body, **extra):
    resp = client.http.patch(f"{BASE}/{inc_id}", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        body=json.dumps({"incident": {"status": status, "body": body, **extra}}))
    assert resp.status_code == 200, resp.body


def bsky_parent(p):
    return (p["record"].get("reply") or {}).get("parent", {}).get("uri")


def test_an_incident_with_three_updates_is_one_thread_of_three_posts(social):
    c, client, clock, key, pump, hooks, masto, bsky = social
    doc = incident(client, key)
    pump()
    clock.tick(60)
    update(client, key, doc["id"], "identified", "A bad deploy; rolling back.")
    pump()
    clock.tick(60)
    update(client, key, doc["id"], "resolved", "Rolled back; all good.")
    pump()
    link = f"https://status.acme.example/incidents/{doc['id']}"
    assert [p["in_reply_to_id"] for p in masto.posts] == [
        None, masto.posts[0]["id"], masto.posts[1]["id"]]
    assert [p["content"].splitlines()[0] for p in masto.posts] == [
        "API errors: Investigating", "API errors: Identified", "API errors: Resolved"]
    root = bsky.posts[0]
    assert [bsky_parent(p) for p in bsky.posts] == [None, root["uri"], bsky.posts[1]["uri"]]
    assert all(p["record"]["reply"]["root"]["uri"] == root["uri"] for p in bsky.posts[1:])
    for text in [p["content"] for p in masto.posts] + [p["record"]["text"] for p in bsky.posts]:
        assert text.endswith("\n" + link)                     # the link, always last
    # Bluesky gets the link as a link facet over exactly its bytes
    text = root["record"]["text"].encode()
    (facet,) = root["record"]["facets"]
    assert text[facet["index"]["byteStart"]:facet["index"]["byteEnd"]].decode() == link
    assert facet["features"][0]["uri"] == link


def test_a_replayed_stream_record_and_a_redelivered_message_post_nothing_twice(social):
    c, client, clock, key, pump, hooks, masto, bsky = social
    incident(client, key)
    seen = []

    def handle(ev):
        seen.append(ev)
        return client.lambda_.invoke("on_state_change", ev).payload
    hooks.reader.poll(handle)
    queued = [body for body in _bodies(hooks)]
    assert len(queued) == 2                                  # one per platform
    for ev in seen:                                          # the stream retries the batch
        client.lambda_.invoke("on_state_change", ev)
    assert len(_bodies(hooks)) == 2                          # nothing queued twice
    hooks.deliver()
    for body in queued:                                      # SQS delivers a message again
        assert process(c, body) == "duplicate"
    assert len(masto.posts) == 1 and len(bsky.posts) == 1


def _bodies(hooks):
    from tests.api.hooks import _moto_queue
    return [m.body for m in _moto_queue(hooks.url)._messages]


def test_a_failed_post_is_retried_by_the_worker_and_lands_once(social):
    c, client, clock, key, pump, hooks, masto, bsky = social
    masto.fail_next, bsky.fail_next = 1, 1
    doc = incident(client, key)
    pump()                                                   # first tries: HTTP 500 from both
    assert masto.posts == [] and bsky.posts == []
    retries = hooks.queued()
    assert sorted(d.sub for d, _ in retries) == ["bluesky", "mastodon"]
    assert all(d.attempt == 1 and d.not_before >= clock() + 15 for d, _ in retries)
    while hooks.advance_to_next():                           # each retry, when it is due
        hooks.deliver()
    assert len(masto.posts) == 1 and len(bsky.posts) == 1
    assert hooks.queued() == [] and hooks.dead_letters() == []
    # the thread goes on from the post that landed
    clock.tick(60)
    update(client, key, doc["id"], "monitoring", "Fixed; watching.")
    pump()
    assert masto.posts[1]["in_reply_to_id"] == masto.posts[0]["id"]


def test_an_update_without_notifications_stays_off_social(social):
    c, client, clock, key, pump, hooks, masto, bsky = social
    doc = incident(client, key)
    pump()
    clock.tick(60)
    update(client, key, doc["id"], "identified", "Quiet note.", deliver_notifications=False)
    pump()
    assert len(masto.posts) == 1 and len(bsky.posts) == 1


def test_long_updates_fit_each_platform_and_keep_the_link_last(social):
    c, client, clock, key, pump, hooks, masto, bsky = social
    doc = incident(client, key, name="Very long name " * 10, body="Détails 👩‍👩‍👧 " * 200)
    pump()
    link = f"https://status.acme.example/incidents/{doc['id']}"
    (m,), (b,) = masto.posts, bsky.posts
    assert len(m["content"]) <= 500 and m["content"].endswith("\n" + link)
    text = b["record"]["text"]
    assert graphemes(text) <= 300 and len(text.encode()) <= 3000 and text.endswith("\n" + link)
    assert "…" in text and "…" in m["content"]


def test_a_missing_secret_is_retried_not_lost(social):
    c, client, clock, key, pump, hooks, masto, bsky = social
    del c.env["OUTPOST_MASTODON_TOKEN"]
    incident(client, key)
    pump()
    assert masto.posts == [] and len(bsky.posts) == 1
    (retry, _), = hooks.queued()
    assert retry.sub == "mastodon" and retry.attempt == 1


# -- auto-reply ---------------------------------------------------------------------------------

def _iso(t):
    return datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")


def test_auto_reply_answers_each_person_once_per_incident(social):
    c, client, clock, key, pump, hooks, masto, bsky = social
    c.override(config=replace(c.config, social=replace(
        c.config.social, auto_reply=AutoReply(enabled=True, keywords=("down", "not working")))))
    doc = incident(client, key)
    pump()
    clock.tick(30)
    masto.mention("bob@other.example", "@acme is the API down?", _iso(clock()))
    masto.mention("bob@other.example", "@acme still down??", _iso(clock()))
    masto.mention("carol@else.example", "@acme login not working for me", _iso(clock()))
    masto.mention("dave@else.example", "@acme nice shirt at the conference", _iso(clock()))
    bsky.mention("erin.example", "@acme.bsky.example is it down for everyone?", _iso(clock()))
    assert mentions.schedule_polls(c) == 2
    assert mentions.schedule_polls(c) == 0                   # once a minute
    hooks.deliver()                                          # the polls queue replies
    hooks.deliver()                                          # the replies
    replies = [p for p in masto.posts if p["visibility"] == "unlisted"]
    assert sorted(p["content"].split()[0] for p in replies) == [
        "@bob@other.example", "@carol@else.example"]
    link = f"https://status.acme.example/incidents/{doc['id']}"
    assert all(p["content"].endswith("\n" + link) and "We are looking into it." in p["content"]
               for p in replies)
    (b_reply,) = [p for p in bsky.posts if p["record"].get("reply")]
    assert bsky_parent(b_reply) == bsky.notifications[0]["uri"]
    # bob again, next minute: nothing more for him
    clock.tick(60)
    masto.mention("bob@other.example", "@acme down again?", _iso(clock()))
    mentions.schedule_polls(c)
    hooks.deliver()
    hooks.deliver()
    assert len([p for p in masto.posts if p["visibility"] == "unlisted"]) == 2
    # the second signal: every asking mention counted in the reports' 5-minute buckets
    now = clock()
    assert "in the same window: 5." in mentions.alert_line(c, now)


def test_auto_reply_keeps_under_its_hourly_cap_and_waits_for_an_incident(social):
    c, client, clock, key, pump, hooks, masto, bsky = social
    c.override(config=replace(c.config, social=replace(
        c.config.social, bluesky=None, auto_reply=AutoReply(enabled=True, per_hour=1))))
    masto.mention("zoe@x.example", "@acme is it down?", _iso(clock()))
    mentions.schedule_polls(c)
    hooks.deliver()
    hooks.deliver()
    assert masto.posts == []                                 # no open incident: no reply
    incident(client, key)
    pump()
    clock.tick(60)
    for who in ("a@x.example", "b@x.example", "c@x.example"):
        masto.mention(who, "@acme down?", _iso(clock()))
    mentions.schedule_polls(c)
    hooks.deliver()
    hooks.deliver()
    assert len([p for p in masto.posts if p["visibility"] == "unlisted"]) == 1


# -- the page -----------------------------------------------------------------------------------

class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.me = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and "me" in (a.get("rel") or "").split():
            self.me.append(a["href"])


def test_the_page_lists_the_official_accounts_with_rel_me_and_says_where_updates_go(social):
    c, client, clock, key, pump, hooks, masto, bsky = social
    incident(client, key)
    pump()
    page = client.http.get("/").body.decode()
    links = _Links()
    links.feed(page)
    assert links.me == [f"{masto.url}/@acme", f"https://bsky.app/profile/{bsky.HANDLE}",
                        "https://x.com/acme"]
    assert "on our official accounts on Mastodon and Bluesky" not in page
    assert "by our official accounts on Mastodon and Bluesky" in page
    assert 'href="#report"' in page


def test_updates_queued_together_still_make_one_thread(social):
    c, client, clock, key, pump, hooks, masto, bsky = social
    doc = incident(client, key)
    clock.tick(5)
    update(client, key, doc["id"], "identified", "Found it.")
    pump()                                   # both updates in one batch of the worker
    while hooks.advance_to_next():           # the later one waits for the thread's first post
        hooks.deliver()
    assert [p["in_reply_to_id"] for p in masto.posts] == [None, masto.posts[0]["id"]]
    assert [bsky_parent(p) for p in bsky.posts] == [None, bsky.posts[0]["uri"]]


class _TricklingMastodon(FakeMastodon):
    """Answers a post with its headers at once, then one byte of body every 0.3 s: each read
    is quick, so a per-read timeout never fires."""

    def __init__(self):
        super().__init__()
        self.server.RequestHandlerClass._reply = self._trickle

    @staticmethod
    def _trickle(handler, status, doc):
        body = json.dumps(doc).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            for i in range(0, min(len(body), 40)):
                handler.wfile.write(body[i:i + 1])
                handler.wfile.flush()
                time.sleep(0.3)
            handler.wfile.write(body[40:])
        except OSError:
            pass


def test_a_trickling_instance_is_cut_at_the_deadline_and_retried(social):
    """The post is held to ONE deadline over the whole exchange, as webhooks and channels are:
    a trickling platform must not hold the worker past the deadline (nor its 60 s lease)."""
    c, client, clock, key, pump, hooks, masto, bsky = social
    slow = _TricklingMastodon()
    try:
        c.override(settings=replace(c.settings, webhook_deadline=1.0),
                   config=replace(c.config, social=replace(
                       c.config.social, bluesky=None,
                       mastodon=replace(c.config.social.mastodon, instance=slow.url))))
        incident(client, key)
        started = time.monotonic()
        pump()
        took = time.monotonic() - started
        assert took < 1.0 + 4.0                          # one deadline, not 40 x 0.3 s
        (retry, _), = hooks.queued()
        assert retry.sub == "mastodon" and retry.attempt == 1
    finally:
        slow.close()
