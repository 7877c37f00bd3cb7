"""The delivery worker end to end on the real app over moto: the checker and the stream consumer
only queue; the worker posts under a deadline, retries with growing delays, pauses a destination
that keeps failing (and tells the operators once), parks what runs out of tries in the
dead-letter queue, and a sign-up proves it owns its URL before any event reaches it."""
import json
import re
import time

import pytest

from chalicelib.core import deliveries
from chalicelib.usecases.deliver import process
from tests.api.calls import incident, post
from tests.api.hooks import active_webhook, wait_until
from tests.conftest import ROOT
from tests.targets import Blackhole, Tarpit

BASE = "/api/v1/pages/acme/incidents"


def hits_t(hits):
    """When each try arrived, by the signature's timestamp (the worker's clock)."""
    return [int(re.match(r"t=(\d+),", h[0]["X-Outpost-Signature"]).group(1)) for h in hits]


# -- the critical path only queues -------------------------------------------------------------

def test_a_tarpit_and_20_blackholes_do_not_touch_the_check_round(wired, targets):
    """The scheduled handler with a due component change for 21 dead receivers: the checks
    run and are recorded, the handler returns at once, and not one connection is made."""
    from app import app
    from chalice.local import LambdaContext
    c, client, clock, key, pump, drain, receiver, hooks = wired
    dead = [Blackhole() for _ in range(20)] + [Tarpit()]
    try:
        for n, sink in enumerate(dead):
            active_webhook(c, sink.url, f"dead{n:02d}")
        targets[0].behaviour = "fail"
        event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                                detail={}, resources=[])

        def invoke():
            started = time.monotonic()
            out = app.handler_map["run_checks"](
                event, LambdaContext("run_checks", 512, max_runtime_ms=60_000))
            return out, time.monotonic() - started
        for _ in range(2):                                   # down, confirmed
            clock.tick(60)
            invoke()
        hooks.reader.poll(lambda ev: client.lambda_.invoke("on_state_change", ev).payload)
        clock.tick(301)                                      # the debounce window has passed
        out, took = invoke()
        assert out["checks"] == 6 and out["failing"] == 3
        for region in ("us-west-2", "eu-west-1", "ap-southeast-2"):
            (latest, *_) = c.store.recent_results(region)
            assert latest["round_at"] == clock()
        # housekeeping ran after the checks and queued one delivery per dead receiver
        queued = [d for d, _ in hooks.queued() if d.event.startswith("component:")]
        assert sorted(d.sub for d in queued) == sorted(f"dead{n:02d}" for n in range(21))
        assert sum(s.accepted for s in dead) == 0            # nobody was called
        assert took < c.settings.webhook_deadline           # generous: it only queued
    finally:
        for sink in dead:
            sink.close()


def test_the_worker_cuts_a_tarpit_and_blackholes_at_the_deadline_in_parallel(wired):
    from dataclasses import replace
    c, client, clock, key, pump, drain, receiver, hooks = wired
    c.override(settings=replace(c.settings, webhook_deadline=2.0))
    sinks = [Blackhole() for _ in range(9)] + [Tarpit(every=0.5)]
    try:
        for n, sink in enumerate(sinks):
            active_webhook(c, sink.url, f"sink{n}")
        incident(client, key)
        hooks.reader.poll(lambda ev: client.lambda_.invoke("on_state_change", ev).payload)
        assert len(hooks.queued()) == 10
        started = time.monotonic()
        assert hooks.deliver() == 10
        took = time.monotonic() - started
        # ten dead receivers in one batch cost one deadline, not ten
        assert 2.0 <= took < 2.0 + 3.0, took
        assert sinks[-1].accepted == 1 and sum(s.accepted for s in sinks[:-1]) == 9
        retries = hooks.queued()
        assert len(retries) == 10 and all(d.attempt == 1 for d, _ in retries)
    finally:
        for sink in sinks:
            sink.close()


# -- retries, breaker, dead letters ----------------------------------------------------------

def test_a_receiver_failing_3_times_gets_the_event_once_with_growing_delays(wired):
    c, client, clock, key, pump, drain, receiver, hooks = wired
    _, sub = hooks.subscribe(post, receiver.url)
    receiver.fail_next = 3
    incident(client, key)
    pump()                                                   # queued, first try fails
    sent_delays = []
    for _ in range(10):
        sent_delays += [(d.not_before - clock(), delay) for d, delay in hooks.queued()]
        if not hooks.advance_to_next():
            break
        hooks.deliver()
    assert [s for *_, s in receiver.hits] == [500, 500, 500, 200]
    assert len(receiver.deliveries) == 1                     # exactly once
    assert len({h["X-Outpost-Event"] for h, _, _ in receiver.hits}) == 1
    times = hits_t(receiver.hits)
    gaps = [b - a for a, b in zip(times, times[1:])]
    # each wait is drawn from [c/2, c], c = 30 s doubling: they grow, whatever the jitter
    assert 15 <= gaps[0] <= 31 and 30 <= gaps[1] <= 61 and 60 <= gaps[2] <= 121, gaps
    assert gaps[0] <= gaps[1] <= gaps[2]
    # what SQS was asked for: the wait, in whole seconds, never over 15 minutes
    for wait, delay in sent_delays:
        assert round(delay) == min(deliveries.MAX_DELAY, int(wait + 0.999))
    assert hooks.dead_letters() == []
    assert c.store.get_subscriber(sub["subscriber"]["id"])["state"] == "active"


def test_an_always_failing_receiver_is_paused_operators_told_once_and_a_success_resumes(wired):
    c, client, clock, key, pump, drain, receiver, hooks = wired
    hooks.subscribe(post, receiver.url)
    receiver.status = 503
    first = incident(client, key, "First")
    pump()
    for _ in range(4):                                       # tries 2..5
        hooks.advance_to_next()
        hooks.deliver()
    assert len(receiver.hits) == 5
    paused = [m for m in drain("ops") if m.startswith("Webhook paused")]
    assert len(paused) == 1 and "failed 5 times in a row" in paused[0]
    # a new event for the paused destination is held, not posted and not lost
    second = incident(client, key, "Second")
    pump()
    assert len(receiver.hits) == 5
    held = {json.loads(d.body)["incident"]["name"]: d for d, _ in hooks.queued()}
    assert set(held) == {"First", "Second"}
    breaker, _ = c.store.load_document(f"breaker#webhook:{held['First'].sub}")
    assert breaker["state"] == "open" and held["Second"].not_before >= breaker["probe_at"]
    # the probe fails: still paused, and the operators are not told again
    for _ in range(4):
        hooks.advance_to_next()
        hooks.deliver()
        if len(receiver.hits) == 6:
            break
    assert len(receiver.hits) == 6
    assert hooks.queued() and [m for m in drain("ops") if "Webhook paused" in m] == []
    # it comes back: the next probe succeeds, the breaker closes, the held events arrive once
    receiver.status = 200
    for _ in range(6):
        if not hooks.advance_to_next():
            break
        hooks.deliver()
    names = sorted(json.loads(b)["incident"]["name"] for _, b in receiver.deliveries)
    assert names == ["First", "Second"]
    assert {json.loads(b)["incident"]["id"] for _, b in receiver.deliveries} == \
        {first["id"], second["id"]}
    assert sum(m.startswith("Webhook resumed") for m in drain("ops")) == 1
    assert c.store.load_document(f"breaker#webhook:{held['First'].sub}")[0]["state"] == "closed"
    assert hooks.queued() == [] and hooks.dead_letters() == []


def test_after_a_day_of_failures_the_delivery_is_dead_lettered_with_the_reason(wired):
    c, client, clock, key, pump, drain, receiver, hooks = wired
    hooks.subscribe(post, receiver.url)
    receiver.status = 500
    incident(client, key)
    start = clock()
    pump()
    for _ in range(200):
        if not hooks.advance_to_next():
            break
        hooks.deliver()
    assert hooks.queued() == []
    (dead,) = hooks.dead_letters()
    assert "HTTP 500" in dead["reason"] or "paused" in dead["reason"]
    parked = deliveries.decode(dead["delivery"])
    assert json.loads(parked.body)["incident"]["name"] == "Outage"
    assert 18 * 3600 <= clock() - start <= 25 * 3600        # about a day, not for ever
    assert len(receiver.hits) < 40                          # backed off, breaker held the rest
    assert receiver.deliveries == []
    # fixed at last: the operators move the dead letter back (SQS redrive), and it arrives once
    receiver.status = 200
    hooks.sqs.send_message(QueueUrl=hooks.url, MessageBody=json.dumps(dead))
    for _ in range(5):
        hooks.deliver()
        if receiver.deliveries or not hooks.advance_to_next():
            break
    assert len(receiver.deliveries) == 1 and hooks.queued() == []


def test_a_redelivered_sqs_message_and_a_replayed_stream_record_post_once(wired):
    import threading
    c, client, clock, key, pump, drain, receiver, hooks = wired
    hooks.subscribe(post, receiver.url)
    incident(client, key)
    hooks.reader.poll(lambda ev: client.lambda_.invoke("on_state_change", ev).payload)
    ((d, _),) = hooks.queued()
    copy = deliveries.encode(d)
    # SQS delivers at least once: a copy arrives while the first is still being posted ...
    receiver.hold = threading.Event()
    worker = threading.Thread(target=hooks.deliver)
    worker.start()
    assert wait_until(lambda: receiver.waiting == 1)
    assert process(c, copy) == "busy"                        # ... and is put back for later
    receiver.hold.set()
    worker.join()
    assert len(receiver.deliveries) == 1
    for _ in range(3):
        if not hooks.advance_to_next():
            break
        hooks.deliver()
    assert process(c, copy) == "duplicate"                   # ... or after it was posted
    assert len(receiver.deliveries) == 1 and hooks.queued() == []
    # the stream replays the record: nothing is queued again
    hooks.reader._iterators.clear()
    hooks.reader._pending.clear()
    pump()
    assert hooks.queued() == [] and len(receiver.deliveries) == 1


def test_an_unreadable_message_goes_to_the_dead_letter_queue_with_why(wired):
    c, client, clock, key, pump, drain, receiver, hooks = wired
    hooks.sqs.send_message(QueueUrl=hooks.url, MessageBody="{not json")
    hooks.deliver()
    (dead,) = hooks.dead_letters()
    assert dead["reason"].startswith("unreadable delivery") and dead["delivery"] == "{not json"


def test_deliveries_to_an_erased_or_unsubscribed_webhook_are_dropped(wired):
    c, client, clock, key, pump, drain, receiver, hooks = wired
    _, sub = hooks.subscribe(post, receiver.url)
    incident(client, key)
    hooks.reader.poll(lambda ev: client.lambda_.invoke("on_state_change", ev).payload)
    ((d, _),) = hooks.queued()
    from chalicelib.usecases.subscriber_links import unsubscribe_token
    from chalicelib.usecases.subscribers import unsubscribe
    unsubscribe(c, unsubscribe_token(c, sub["subscriber"]["id"]))
    assert process(c, deliveries.encode(d)) == "inactive"
    c.store.delete_subscriber(sub["subscriber"]["id"])
    assert process(c, deliveries.encode(d)) == "gone"
    assert receiver.deliveries == []


def test_queueing_respects_sqs_batch_and_size_limits(wired):
    """A long incident to 25 webhooks: batches of at most 10 entries and 256 KiB in all."""
    c, client, clock, key, pump, drain, receiver, hooks = wired
    for n in range(25):
        active_webhook(c, receiver.url, f"w{n:02d}")
    calls = []
    real = c.deliveries.client.send_message_batch

    def spy(**kw):
        calls.append(kw["Entries"])
        return real(**kw)
    c.deliveries.client.send_message_batch = spy
    import random
    rng = random.Random(7)
    noise = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(19_000))
    inc = incident(client, key, "Long", body=noise)
    for n in range(4):
        client.http.patch(f"{BASE}/{inc['id']}", body=json.dumps({"incident": {"body": noise[n:]}}),
                          headers={"Content-Type": "application/json",
                                   "Authorization": f"Bearer {key}"})
    hooks.reader.poll(lambda ev: client.lambda_.invoke("on_state_change", ev).payload)
    assert len(calls) >= 5 * 3                          # 25 per update, 10 per call at most
    for entries in calls:
        assert 1 <= len(entries) <= deliveries.MAX_BATCH
        assert sum(len(e["MessageBody"].encode()) for e in entries) <= deliveries.MAX_MESSAGE_BYTES
        assert all(0 <= e["DelaySeconds"] <= deliveries.MAX_DELAY for e in entries)
    assert len(hooks.queued()) == 5 * 25


# -- proving ownership ---------------------------------------------------------------------------

def test_a_webhook_is_pending_until_it_echoes_the_signed_challenge(wired):
    c, client, clock, key, pump, drain, receiver, hooks = wired
    resp, body = post(client, "/api/v1/subscribe", {"webhook": receiver.url})
    assert resp.status_code == 202 and body["subscriber"]["state"] == "pending"
    assert "url_verification" in body["message"]
    sub_id, secret = body["subscriber"]["id"], body["subscriber"]["secret"]
    incident(client, key, "Before")                          # not for a pending webhook
    hooks.reader.poll(lambda ev: client.lambda_.invoke("on_state_change", ev).payload)
    hooks.deliver()                                          # the challenge
    assert c.store.get_subscriber(sub_id)["state"] == "active"
    ((headers, raw),) = receiver.verifications
    doc = json.loads(raw)
    assert doc["type"] == "url_verification" and len(doc["challenge"]) >= 24
    assert deliveries.verify_signature(secret, raw, headers["X-Outpost-Signature"], clock())
    assert headers["X-Outpost-Event"].startswith("verify:")
    assert receiver.deliveries == []                         # "Before" was not sent to it
    incident(client, key, "After")
    pump()
    assert [json.loads(b)["incident"]["name"] for _, b in receiver.deliveries] == ["After"]


@pytest.mark.parametrize("echo", ["wrong", "none"])
def test_a_wrong_echo_leaves_it_pending_retried_a_few_times_then_given_up(wired, echo):
    c, client, clock, key, pump, drain, receiver, hooks = wired
    receiver.echo = echo
    resp, body = post(client, "/api/v1/subscribe", {"webhook": receiver.url})
    sub_id = body["subscriber"]["id"]
    hooks.deliver()
    for _ in range(10):
        if not hooks.advance_to_next():
            break
        hooks.deliver()
    assert len(receiver.verifications) == deliveries.VERIFY_ATTEMPTS
    times = hits_t(receiver.verifications)
    assert all(b > a for a, b in zip(times, times[1:]))
    assert c.store.get_subscriber(sub_id)["state"] == "pending"
    assert hooks.queued() == [] and hooks.dead_letters() == []   # strangers don't page anyone
    assert drain("ops") == []
    incident(client, key)
    pump()
    assert receiver.deliveries == []


def test_a_blackholed_sign_up_never_activates_and_costs_the_api_nothing(wired):
    from dataclasses import replace
    c, client, clock, key, pump, drain, receiver, hooks = wired
    c.override(settings=replace(c.settings, webhook_deadline=1.0))
    sink = Blackhole()
    try:
        started = time.monotonic()
        resp, body = post(client, "/api/v1/subscribe", {"webhook": sink.url})
        assert resp.status_code == 202 and time.monotonic() - started < 1.0
        assert sink.accepted == 0                            # the API did not connect
        hooks.deliver()
        assert wait_until(lambda: sink.accepted == 1)
        assert c.store.get_subscriber(body["subscriber"]["id"])["state"] == "pending"
    finally:
        sink.close()


def test_activation_is_only_from_pending(wired):
    """An unsubscribe that lands while the challenge is in flight stands."""
    c, client, clock, key, pump, drain, receiver, hooks = wired
    resp, body = post(client, "/api/v1/subscribe", {"webhook": receiver.url})
    sub_id = body["subscriber"]["id"]
    from chalicelib.usecases.deliver import activate
    from chalicelib.usecases.subscriber_links import unsubscribe_token
    from chalicelib.usecases.subscribers import unsubscribe
    unsubscribe(c, unsubscribe_token(c, sub_id))
    assert not activate(c, sub_id)
    hooks.deliver()
    assert c.store.get_subscriber(sub_id)["state"] == "unsubscribed"


def test_the_readme_snippet_verifies_real_deliveries(wired):
    """The receiver code the README shows, run against what the worker really sends."""
    c, client, clock, key, pump, drain, receiver, hooks = wired
    with open(f"{ROOT}/README.md") as fh:
        readme = fh.read()
    section = readme[readme.index("## Webhooks"):]
    section = section[:section.index("\n## ", 4)]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    scope: dict = {}
    exec(code, scope)                                        # noqa: S102 - our own README
    verify = scope["verify"]
    _, sub = hooks.subscribe(post, receiver.url)
    secret = sub["subscriber"]["secret"]
    incident(client, key)
    pump()
    ((headers, raw),) = receiver.deliveries
    sig = headers["X-Outpost-Signature"]
    assert verify(secret, raw, sig, now=clock())
    assert verify(secret, raw, sig, now=clock() + 299)
    assert not verify(secret, raw, sig, now=clock() + 301)        # replayed too late
    assert not verify(secret, raw + b" ", sig, now=clock())       # body changed
    assert not verify("0" * 64, raw, sig, now=clock())            # someone else's secret
    t = sig.split(",")[0][2:]
    forged = f"t={int(t) + 100},{sig.split(',')[1]}"                # fresh time, old MAC
    assert not verify(secret, raw, forged, now=clock() + 100)
    ((vh, vraw),) = receiver.verifications
    assert verify(secret, vraw, vh["X-Outpost-Signature"], now=clock())


def test_the_openapi_document_describes_what_receivers_get(stack):
    c, client, *_ = stack
    doc = json.loads(client.http.get("/api/v1/openapi.json").body)
    params = doc["components"]["parameters"]
    assert params["webhook_event"]["name"] == "X-Outpost-Event"
    sig = params["webhook_signature"]
    assert sig["name"] == "X-Outpost-Signature"
    assert re.fullmatch(sig["schema"]["pattern"], deliveries.signature("k", b"{}", 1700000000))
    challenge = doc["webhooks"]["urlVerification"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert set(challenge["required"]) == set(json.loads(deliveries.challenge_body("x")))
