"""The delivery worker's pure rules: message shape and SQS limits, signing, backoff, breaker."""
import os
import random

import pytest

from chalicelib.core import deliveries as dl
from chalicelib.core.deliveries import Delivery


def test_a_delivery_round_trips_through_its_message():
    d = Delivery("event", "update:abc", "sub1", 100.0, b'{"x": "\xc3\xa9"}', 3, 250.5)
    assert dl.decode(dl.encode(d)) == d
    v = Delivery("verify", "verify:1", "sub2", 5.0)
    assert dl.decode(dl.encode(v)) == v


@pytest.mark.parametrize("text", ["", "{", "[]", '{"v": 2}', '{"v": 1, "kind": "spam"}',
                                  '{"v": 1, "kind": "event", "event": "e", "sub": "s", '
                                  '"first_at": 0, "attempt": 0, "not_before": 0, "z": "!!"}'])
def test_anything_else_is_unreadable(text):
    with pytest.raises(ValueError, match="unreadable delivery"):
        dl.decode(text)


def test_sqs_message_limit_is_enforced_and_long_bodies_compress():
    long_text = b'{"incident": "' + b"all good " * 100_000 + b'"}'        # 900 KB, compressible
    assert len(dl.encode(Delivery("event", "e", "s", 0, long_text)).encode()) < 20_000
    noise = os.urandom(300_000)                                           # incompressible
    with pytest.raises(ValueError, match="SQS takes 262144"):
        dl.encode(Delivery("event", "e", "s", 0, noise))
    assert dl.first_fitting([noise, b"small"]) == b"small"
    assert dl.first_fitting([noise]) is None


def test_batches_keep_to_ten_entries_and_256_kib():
    rng = random.Random(3)
    messages = ["x" * rng.choice([10, 1000, 60_000, 200_000, 262_144]) for _ in range(200)]
    out = dl.batches(messages)
    assert [m for b in out for m in b] == messages                       # nothing lost, in order
    for b in out:
        assert 1 <= len(b) <= dl.MAX_BATCH
        assert sum(len(m.encode()) for m in b) <= dl.MAX_MESSAGE_BYTES
    assert [len(b) for b in dl.batches(["a"] * 25)] == [10, 10, 5]
    with pytest.raises(ValueError):
        dl.batches(["x" * (dl.MAX_MESSAGE_BYTES + 1)])


def test_sqs_delay_is_the_wait_in_whole_seconds_at_most_15_minutes():
    d = Delivery("event", "e", "s", 0)
    assert dl.delay_seconds(d, 10.0) == 0
    assert dl.delay_seconds(Delivery("event", "e", "s", 0, not_before=40.2), 10.0) == 31
    assert dl.delay_seconds(Delivery("event", "e", "s", 0, not_before=5000), 10.0) == 900


def test_signature_is_t_and_v1_over_t_dot_body():
    import hashlib
    import hmac
    sig = dl.signature("k", b"{}", 1700000000)
    assert sig == "t=1700000000,v1=" + hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert dl.verify_signature("k", b"{}", sig, 1700000000 + 300)
    assert not dl.verify_signature("k", b"{}", sig, 1700000000 + 301)
    assert not dl.verify_signature("k", b"{} ", sig, 1700000000)
    assert not dl.verify_signature("other", b"{}", sig, 1700000000)
    assert not dl.verify_signature("k", b"{}", "sha256=abc", 1700000000)
    assert not dl.verify_signature("k", b"{}", "t=x,v1=y", 1700000000)


def test_echoes_only_a_200_with_the_same_challenge():
    assert dl.echoes(200, b'{"challenge": "abc"}', "abc")
    assert not dl.echoes(201, b'{"challenge": "abc"}', "abc")
    assert not dl.echoes(200, b'{"challenge": "abd"}', "abc")
    assert not dl.echoes(200, b'"abc"', "abc")
    assert not dl.echoes(200, b"abc", "abc")
    assert not dl.echoes(200, b"\xff", "abc")
    assert not dl.echoes(200, b'{"challenge": 1}', "abc")


def test_retries_back_off_with_a_floor_and_stop_after_about_a_day():
    for uniform in (lambda a, b: a, lambda a, b: b, random.Random(1).uniform):
        d, now, waits = Delivery("event", "e", "s", 0.0), 0.0, []
        while True:
            nxt = dl.retry(d, now, uniform)
            if nxt is None:
                break
            waits.append(nxt.not_before - now)
            assert nxt.attempt == d.attempt + 1
            d, now = nxt, nxt.not_before
        for n, w in enumerate(waits):
            ceiling = min(dl.BACKOFF_CAP, dl.BACKOFF_BASE * 2 ** n)
            assert ceiling / 2 <= w <= ceiling
        # until the cap, never shorter than the one before; then between 3 and 6 hours
        uncapped = sum(dl.BACKOFF_BASE * 2 ** n <= dl.BACKOFF_CAP for n in range(len(waits)))
        assert waits[:uncapped] == sorted(waits[:uncapped])
        assert 18 * 3600 <= now <= dl.HORIZON and 8 <= len(waits) <= 20


def test_a_challenge_is_tried_a_few_times_only():
    d, tries = Delivery("verify", "v", "s", 0.0), 1
    while (d := dl.retry(d, d.not_before, lambda a, b: b)) is not None:
        tries += 1
    assert tries == dl.VERIFY_ATTEMPTS


def test_held_deliveries_spread_over_a_minute_and_stop_at_the_horizon():
    d = Delivery("event", "e", "s", 0.0)
    held = dl.hold(d, 1000.0, lambda a, b: b)
    assert held.not_before == 1060.0 and held.attempt == 0
    assert dl.hold(d, dl.HORIZON, lambda a, b: b) is None


def test_the_breaker_opens_on_the_fifth_failure_in_a_row_once():
    doc, flips = None, []
    for n in range(1, 8):
        doc, opened = dl.after_failure(doc, 100.0 * n, f"HTTP 500 #{n}")
        flips.append(opened)
    assert flips == [False, False, False, False, True, False, False]
    assert doc["state"] == "open" and doc["opened_at"] == 500.0 and doc["failures"] == 7
    assert doc["last_error"] == "HTTP 500 #7"


def test_a_paused_destination_holds_then_lets_one_probe_through():
    doc = None
    for n in range(5):
        doc, _ = dl.after_failure(doc, 1000.0, "x")
    assert dl.breaker_verdict(doc, 1000.0) == ("hold", 1000.0 + dl.COOL_DOWN)
    probe_time = 1000.0 + dl.COOL_DOWN
    assert dl.breaker_verdict(doc, probe_time) == ("probe", 0.0)
    probing = dl.start_probe(doc, probe_time, 40)
    assert dl.breaker_verdict(probing, probe_time + 1) == ("hold", probe_time + 40)
    # each failed probe doubles the cool-down, up to the cap
    cools = []
    for n in range(8):
        t = probing["probe_at"] if n else probe_time
        probing, opened = dl.after_failure(probing, t, "x")
        assert not opened
        cools.append(probing["probe_at"] - t)
    assert cools[:3] == [2 * dl.COOL_DOWN, 4 * dl.COOL_DOWN, 8 * dl.COOL_DOWN]
    assert max(cools) == dl.COOL_DOWN_CAP
    closed, flipped = dl.after_success(probing)
    assert closed == {"state": "closed", "failures": 0} and flipped
    assert dl.breaker_verdict(closed, 0) == ("go", 0.0)


def test_success_writes_nothing_when_nothing_failed():
    assert dl.after_success(None) == (None, False)
    assert dl.after_success({"state": "closed", "failures": 0}) == (None, False)
    doc, _ = dl.after_failure(None, 1.0, "x")
    assert dl.after_success(doc) == ({"state": "closed", "failures": 0}, False)


def test_a_dead_letter_says_why_and_can_be_revived_with_a_fresh_horizon():
    d = Delivery("event", "update:1", "s", 10.0, b"{}", 7, 99.0)
    letter = dl.dead_letter(dl.encode(d), "gave up after 8 tries: HTTP 500")
    assert '"reason":"gave up after 8 tries: HTTP 500"' in letter
    assert dl.revive(letter, 5000.0) == Delivery("event", "update:1", "s", 5000.0, b"{}", 0, 0.0)
    for junk in ("{nope", '{"reason": "x", "delivery": "{nope"}', '{"reason": "x"}', "[]"):
        with pytest.raises(ValueError):
            dl.revive(junk, 0.0)
    huge = dl.dead_letter("x" * 300_000, "r" * 5000)
    assert len(huge.encode()) <= dl.MAX_MESSAGE_BYTES and '"truncated":true' in huge
