"""Every producer's dead letter is told apart by its body alone (chalicelib.core.dead_letters)."""
import json
import random

from chalicelib.core import deliveries
from chalicelib.core.dead_letters import SUMMARY_CHARS, classify

DELIVERY = deliveries.Delivery("event", "update:abc", "sub1", 100.0, b"{}", 7, 0.0)


def test_deliveries_are_replayable_and_nothing_else_is():
    worker = classify(deliveries.dead_letter(deliveries.encode(DELIVERY), "HTTP 410"))
    assert (worker.kind, worker.summary, worker.replayable) == ("delivery", "HTTP 410", True)
    redriven = classify(deliveries.encode(DELIVERY))
    assert (redriven.kind, redriven.source, redriven.replayable) == \
        ("delivery", "DeliveryQueue", True)
    sns = classify(json.dumps({"Type": "Notification", "TopicArn": "arn:t", "Message": "hi"}))
    assert (sns.kind, sns.source, sns.summary, sns.replayable) == ("topic", "arn:t", "hi", False)


def test_lambda_records_name_the_function_and_what_to_replay():
    stream = classify(json.dumps({
        "requestContext": {"functionArn": "arn:f", "condition": "RecordAgeExceeded"},
        "DDBStreamBatchInfo": {"shardId": "s1", "startSequenceNumber": "1",
                               "endSequenceNumber": "9", "batchSize": 2}}))
    assert (stream.kind, stream.source) == ("stream", "arn:f")
    assert stream.summary == "RecordAgeExceeded: shard s1 sequence 1..9 (2 records)"
    # a round throttled past its minute never ran: no response, only the condition
    late = classify(json.dumps({"requestContext": {"functionArn": "arn:c",
                                                   "condition": "EventAgeExceeded"}}))
    assert (late.kind, late.summary, late.replayable) == ("invocation", "EventAgeExceeded", False)


def test_anything_else_is_shown_as_is_in_one_bounded_line():
    for body in ("not json\nat all", json.dumps([1, 2]), json.dumps({"reason": 3}), "x" * 10_000):
        letter = classify(body)
        assert letter.kind == "unknown" and not letter.replayable
        assert "\n" not in letter.summary and len(letter.summary) <= SUMMARY_CHARS


def test_a_deeply_nested_body_is_unknown_not_a_crash():
    # json.loads raises RecursionError (not ValueError) past ~1000 levels; one such letter
    # must not stop `outpost dead-letters list` from showing the others
    for body in ("[" * 100_000, '{"a":' * 100_000, "[" * 100_000 + "]" * 100_000):
        letter = classify(body)
        assert letter.kind == "unknown" and not letter.replayable


def test_a_worker_letter_whose_delivery_cannot_be_read_is_not_replayable():
    # The worker parks what it could not read ({"reason": "unreadable delivery: ...", ...}) and
    # a delivery too big to wrap whole ("truncated"). Sent back, the worker can't read them
    # either and parks them again, one wrapping deeper each time: replay would never converge.
    unreadable = classify(deliveries.dead_letter("not a delivery", "unreadable delivery: x"))
    assert unreadable.kind == "delivery" and not unreadable.replayable
    nested = classify(deliveries.dead_letter(
        deliveries.dead_letter(deliveries.encode(DELIVERY), "HTTP 500"), "unreadable delivery"))
    assert not nested.replayable
    big = deliveries.encode(deliveries.Delivery("event", "update:abc", "sub1", 100.0,
                                                random.Random(1).randbytes(196_000), 7, 0.0))
    truncated = deliveries.dead_letter(big, "x" * 1000)
    assert json.loads(truncated).get("truncated") is True
    letter = classify(truncated)
    assert letter.kind == "delivery" and not letter.replayable
    assert "not replayable" in letter.summary
