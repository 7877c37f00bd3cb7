"""The app over moto with its notifications observable: SNS topics whose client refuses what
real SNS refuses (tests/sns_rules.StrictSNS), SQS queues subscribed with filter policies, real
webhook receivers on 127.0.0.1, the real state-table stream fed to the real handler, and the
delivery queue fed to the real delivery worker (tests/api/hooks.py)."""
import json

import boto3

from chalicelib.adapters.notify import Notifier
from chalicelib.usecases.manage import mint_key
from local.streams import StreamReader
from tests.api.hooks import Deliveries
from tests.sns_rules import StrictSNS
from tests.targets import Receiver


class Wire:
    def __init__(self, c, client, clock):
        self.c, self.client, self.clock = c, client, clock
        self.sns = StrictSNS(boto3.client("sns", region_name="us-east-1"))
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.updates = self.sns.create_topic(Name="updates")["TopicArn"]
        self.operator = self.sns.create_topic(Name="operator")["TopicArn"]
        notifier = Notifier("us-east-1", self.updates, self.operator)
        notifier._client = self.sns
        c.override(notifier=notifier)
        self.queues = {}
        self.receivers = []
        self.key = mint_key(c, "t", ["incidents:write", "maintenance:write", "subscribers:read",
                                     "subscribers:write", "components:write"])
        self.reader = StreamReader(boto3.client("dynamodb", region_name="us-east-1"),
                                   boto3.client("dynamodbstreams", region_name="us-east-1"),
                                   c.store.StateRow.Meta.table_name)
        self.queue("ops", None, topic=self.operator)
        self.hooks = Deliveries(c, client, clock)

    def queue(self, name, policy, topic=None):
        """An SQS queue on a topic (updates by default), filtered by `policy` as SNS does."""
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        attrs = {"RawMessageDelivery": "true"}
        if policy:
            attrs["FilterPolicy"] = json.dumps(policy)
        self.sns.subscribe(TopicArn=topic or self.updates, Protocol="sqs", Endpoint=arn,
                           Attributes=attrs)
        self.queues[name] = url
        return url

    def receiver(self):
        rec = Receiver()
        self.receivers.append(rec)
        return rec

    def drain(self, name):
        out = []
        while True:
            msgs = self.sqs.receive_message(QueueUrl=self.queues[name],
                                            MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                out.append(m["Body"])
                self.sqs.delete_message(QueueUrl=self.queues[name],
                                        ReceiptHandle=m["ReceiptHandle"])

    def deliver(self):
        """The delivery worker takes what is queued now (webhook challenges and events)."""
        return self.hooks.deliver()

    def pump(self):
        """Deliver the stream to the real handler, as Lambda's event source would, then the
        delivery queue to the real worker; a record the stream handler reports as failed (a
        Publish SNS refused) fails the test."""
        failures = []

        def handle(ev):
            out = self.client.lambda_.invoke("on_state_change", ev).payload
            failures.extend(out.get("batchItemFailures", []))
            return out
        handled = self.reader.poll(handle)
        assert failures == [], f"stream records failed: {failures}"
        self.deliver()
        return handled

    def call(self, method, path, body=None):
        hdrs = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
        resp = getattr(self.client.http, method.lower())(
            path, headers=hdrs, **({"body": json.dumps(body)} if body is not None else {}))
        return resp, (json.loads(resp.body) if resp.body else None)

    def close(self):
        for rec in self.receivers:
            rec.close()
