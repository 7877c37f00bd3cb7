import json

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import wiring
from chalicelib.adapters.notify import Notifier
from chalicelib.core.config import load_status_text
from chalicelib.usecases.manage import mint_key
from local.streams import StreamReader
from tests.api.hooks import Deliveries
from tests.api.kicks import Queue
from tests.api.notifywire import Wire
from tests.statusfiles import ACME, check_policy, component, http_monitor, status_yaml
from tests.targets import Receiver, Target


def acme_status(page=ACME, **sections):
    """The stack's status file: API and Website watched on the two targets (${TARGET}, ${OTHER}),
    with the page and other top-level sections (maintenance=..., channels=...) the test's."""
    return status_yaml(
        [component("api", "API", http_monitor("${TARGET}/health",
                                              conditions=["[STATUS] == 200", "[BODY].status == ok"]),
                   group="Core"),
         component("web", "Website", http_monitor("${OTHER}/"))],
        page=page, checks=check_policy(allow_private_targets=True), **sections)


STATUS_FILE = acme_status()


class Clock:
    def __init__(self, t=1_780_000_000.0):
        self.t = t

    def __call__(self):
        return self.t

    def tick(self, seconds=60.0):
        self.t += seconds


@pytest.fixture
def targets():
    a, b = Target(), Target()
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def stack(targets):
    """The real app on moto DynamoDB, with a controllable clock and two live targets."""
    api_target, web_target = targets
    with mock_aws():
        c = wiring.container
        c.reset()
        c.env = {"AWS_DEFAULT_REGION": "us-east-1", "SNAPSHOT_CACHE_SECONDS": "5",
                 "CHECK_REGIONS": "us-west-2,eu-west-1,ap-southeast-2"}
        clock = Clock()
        cfg = load_status_text(STATUS_FILE, "test.yaml",
                               {"TARGET": api_target.url, "OTHER": web_target.url})
        c.override(config=cfg, clock=clock)
        c.store.create_tables()
        from app import app
        with Client(app) as client:
            yield c, client, clock, api_target, web_target
        c.reset()
        c.env = None


# -- notifications wired to moto: SNS topics, SQS queues, the stream and the delivery worker --

@pytest.fixture
def wired(stack):
    c, client, clock, *_ = stack
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    updates = sns.create_topic(Name="updates")["TopicArn"]
    operator = sns.create_topic(Name="operator")["TopicArn"]
    c.override(notifier=Notifier("us-east-1", updates, operator))
    queues = {}
    for name, topic in (("public", updates), ("ops", operator)):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "true"})
        queues[name] = url
    reader = StreamReader(boto3.client("dynamodb", region_name="us-east-1"),
                          boto3.client("dynamodbstreams", region_name="us-east-1"),
                          c.store.StateRow.Meta.table_name)
    receiver = Receiver()
    key = mint_key(c, "t", ["incidents:write", "subscribers:read", "subscribers:write"])
    hooks = Deliveries(c, client, clock)
    hooks.reader = reader

    def pump():
        """Deliver the stream to the real handler, as Lambda's event source would, then the
        delivery queue to the real worker; returns how many stream records were handled."""
        handled = reader.poll(lambda ev: client.lambda_.invoke("on_state_change", ev).payload)
        hooks.deliver()
        return handled

    def drain(queue):
        out = []
        while True:
            got = sqs.receive_message(QueueUrl=queues[queue], MaxNumberOfMessages=10)
            msgs = got.get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                out.append(m["Body"])
                sqs.delete_message(QueueUrl=queues[queue], ReceiptHandle=m["ReceiptHandle"])
    yield c, client, clock, key, pump, drain, receiver, hooks
    receiver.close()


@pytest.fixture
def ops(stack):
    """The stack, with an operator topic whose messages land in an SQS queue."""
    c, client, clock, *_ = stack
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="operator")["TopicArn"]
    c.override(notifier=Notifier("us-east-1", None, topic))
    url = sqs.create_queue(QueueName="ops")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)

    def drain():
        out = []
        while True:
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                out.append(json.loads(m["Body"]))          # the SNS envelope: Subject, Message
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return c, client, clock, drain


@pytest.fixture
def wire(stack):
    c, client, clock, *_ = stack
    w = Wire(c, client, clock)
    yield w
    w.close()


@pytest.fixture
def kicked(wired):
    """The delivery queue as deployed, the worker kicked instead of an event source."""
    c, client, clock, key, pump, _, receiver, hooks = wired
    q = Queue(c)                                    # tests/api/kicks.py
    q.clock = clock
    yield c, client, receiver, q
