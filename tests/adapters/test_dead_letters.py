"""The one dead-letter queue, end to end on moto's SQS: letters from every producer the stack
points at it (the worker's own, DeliveryQueue's redrive, SNS, Lambda's failure records), read
by `outpost dead-letters list`, and `replay` moving the deliveries, and only them, back."""
import json
import time

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from chalicelib import wiring
from chalicelib.adapters.queues import DeliveryQueue
from chalicelib.core import deliveries
from chalicelib.core.dead_letters import classify
from chalicelib.tools.cli import main

REGION = "us-east-1"
TOPIC = "arn:aws:sns:us-east-1:123456789012:outpost-UpdatesTopic-1"
CONSUMER = "arn:aws:lambda:us-east-1:123456789012:function:outpost-OnStateChange"
CHECKER = "arn:aws:lambda:us-east-1:123456789012:function:outpost-RunChecks"

# The bodies SNS and Lambda put in a dead-letter queue / on-failure destination (shapes from
# AWS's documentation; moto does not produce them).
SNS_ENVELOPE = {"Type": "Notification", "MessageId": "m-1", "TopicArn": TOPIC,
                "Subject": "Checkout errors: investigating", "Message": "{}",
                "Timestamp": "2026-11-26T18:00:00.000Z", "SignatureVersion": "1"}
STREAM_FAILURE = {"requestContext": {"requestId": "r-1", "functionArn": CONSUMER,
                                     "condition": "RetryAttemptsExhausted",
                                     "approximateInvokeCount": 6},
                  "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                                      "functionError": "Unhandled"},
                  "version": "1.0", "timestamp": "2026-11-26T18:00:00.000Z",
                  "DDBStreamBatchInfo": {"shardId": "shardId-0001", "batchSize": 3,
                                         "startSequenceNumber": "100", "endSequenceNumber": "300",
                                         "streamArn": "arn:aws:dynamodb:...:stream/x"}}
ROUND_FAILURE = {"version": "1.0", "timestamp": "2026-11-26T18:01:00.000Z",
                 "requestContext": {"requestId": "r-2", "functionArn": CHECKER + ":$LATEST",
                                    "condition": "RetriesExhausted", "approximateInvokeCount": 1},
                 "requestPayload": {"source": "aws.events"},
                 "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                                     "functionError": "Unhandled"},
                 "responsePayload": {"errorType": "ConflictGaveUp",
                                     "errorMessage": "the component states: 8 conflicts"}}
DELIVERY = deliveries.Delivery("event", "update:abc", "sub1", 100.0, b'{"x": 1}', 7, 0.0)


@pytest.fixture
def queues():
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        work = sqs.create_queue(QueueName="deliveries", Attributes={"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})})["QueueUrl"]
        c = wiring.container
        c.reset()
        c.env = {"AWS_DEFAULT_REGION": REGION, "DELIVERY_QUEUE_URL": work,
                 "DELIVERY_DLQ_URL": dlq}
        yield sqs, dlq, work
        c.reset()
        c.env = None


def fill(sqs, dlq, work):
    """One letter from each producer, through the code or mechanism that makes it."""
    DeliveryQueue(REGION, work, dlq).dead_letter(deliveries.encode(DELIVERY), "HTTP 500 for a day")
    sqs.send_message(QueueUrl=work, MessageBody=deliveries.encode(DELIVERY))
    for _ in range(6):                              # the worker failing on it: SQS's redrive
        sqs.receive_message(QueueUrl=work, VisibilityTimeout=0)
    for doc in (SNS_ENVELOPE, STREAM_FAILURE, ROUND_FAILURE):
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(doc))


def bodies(sqs, url):
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                  VisibilityTimeout=60).get("Messages", [])
        if not got:
            return out
        out += [m["Body"] for m in got]


def test_list_names_every_letter_and_leaves_them_in_the_queue(queues):
    sqs, dlq, work = queues
    fill(sqs, dlq, work)
    out = CliRunner().invoke(main, ["dead-letters", "list"])
    assert out.exit_code == 0, out.output
    lines = sorted(out.stdout.splitlines())
    assert len(lines) == 5
    assert lines[0].startswith("delivery") and "the worker failed on it 5 times" in lines[0]
    assert lines[1].startswith("delivery") and "HTTP 500 for a day" in lines[1]
    assert lines[2].startswith("invocation") and CHECKER in lines[2] and \
        "RetriesExhausted: ConflictGaveUp: the component states: 8 conflicts" in lines[2]
    assert lines[3].startswith("stream") and CONSUMER in lines[3] and \
        "shard shardId-0001 sequence 100..300 (3 records)" in lines[3]
    assert lines[4].startswith("topic") and TOPIC in lines[4] and "Checkout errors" in lines[4]
    assert len(bodies(sqs, dlq)) == 5               # looked at, not taken: the alarm holds


def test_replay_moves_the_deliveries_back_and_leaves_the_rest(queues):
    sqs, dlq, work = queues
    fill(sqs, dlq, work)
    out = CliRunner().invoke(main, ["dead-letters", "replay"])
    assert out.exit_code == 0, out.output
    assert "moved 2 deliveries" in out.stdout and "3 other letter(s) left" in out.stdout
    moved = bodies(sqs, work)
    assert len(moved) == 2
    for body in moved:                              # what the worker takes up again
        try:
            d = deliveries.decode(body)
        except ValueError:
            d = deliveries.revive(body, 1000.0)
        assert (d.kind, d.event, d.sub, d.body) == ("event", "update:abc", "sub1", b'{"x": 1}')
    left = sorted(classify(b).kind for b in bodies(sqs, dlq))
    assert left == ["invocation", "stream", "topic"]


def test_without_the_queue_url_the_cli_says_which_variable(queues):
    wiring.container.reset()
    wiring.container.env = {"AWS_DEFAULT_REGION": REGION}
    out = CliRunner().invoke(main, ["dead-letters", "list"])
    assert out.exit_code == 1 and "DELIVERY_DLQ_URL is not set" in out.output
    out = CliRunner().invoke(main, ["dead-letters", "replay"])
    assert out.exit_code == 1 and "is not set" in out.output


def test_a_redriven_delivery_comes_back_with_a_fresh_day_of_retries(queues):
    # DeliveryQueue's redrive parks the delivery as it was queued: its first try days ago, its
    # attempts counted. The worker reads that back as is (decode, not revive), so one more
    # failure would park it again at once; `replay` promises a fresh day.
    sqs, dlq, work = queues
    sqs.send_message(QueueUrl=dlq, MessageBody=deliveries.encode(DELIVERY))
    before = time.time()
    out = CliRunner().invoke(main, ["dead-letters", "replay"])
    assert out.exit_code == 0 and "moved 1 deliveries" in out.stdout, out.output
    (body,) = bodies(sqs, work)
    now = time.time()
    try:                                            # as the worker reads it (deliver.process)
        d = deliveries.decode(body)
    except ValueError:
        d = deliveries.revive(body, now)
    assert (d.event, d.sub, d.body) == (DELIVERY.event, DELIVERY.sub, DELIVERY.body)
    assert d.attempt == 0 and d.first_at >= before and d.not_before <= now
    assert deliveries.retry(d, now, lambda a, b: b) is not None
