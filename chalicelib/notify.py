"""I/O: the only SNS module. Topics fan out to email, SMS, SQS and Lambda subscribers.

Publishes use MessageStructure=json (each protocol gets its own body) and carry message
attributes that subscription filter policies select on: `components` (which components an event
is about, plus "page" for everything) and `sms_worthy` (Statuspage's SMS rule).
"""
from __future__ import annotations

import json
import logging
import re
from typing import Iterable, Optional

log = logging.getLogger("outpost.notify")
PAGE_WIDE = "page"            # every event carries it, so component filters still get page news


def filter_policy(components: Optional[list[str]], sms_only_important: bool) -> Optional[dict]:
    """The SNS filter policy for one subscriber (None: receive everything)."""
    policy: dict = {}
    if components:
        policy["components"] = sorted(set(components)) + [PAGE_WIDE]
    if sms_only_important:
        policy["sms_worthy"] = ["true"]
    return policy or None


def same_endpoint(protocol: str, a: str, b: str) -> bool:
    """Whether two SNS endpoints reach the same place: mail is case-blind (SNS is not, so
    Ann@x and ann@x can be two subscriptions), a phone number is its digits (+1 415-555...)."""
    if protocol == "email":
        return a.strip().lower() == b.strip().lower()
    if protocol == "sms":
        return re.sub(r"\D", "", a) == re.sub(r"\D", "", b) != ""
    return a == b


class Notifier:
    def __init__(self, region: str, updates_topic_arn: Optional[str],
                 operator_topic_arn: Optional[str], dead_letter_arn: Optional[str] = None):
        self.region = region
        self.dead_letter_arn = dead_letter_arn
        self.updates_topic_arn = updates_topic_arn
        self.operator_topic_arn = operator_topic_arn
        self._client = None

    @property
    def client(self):
        if self._client is None:
            import boto3
            self._client = boto3.client("sns", region_name=self.region)
        return self._client

    def publish_update(self, message: str, subject: str, components: list[str],
                       sms_worthy: bool, kind: str) -> Optional[str]:
        if not self.updates_topic_arn:
            log.warning("UPDATES_TOPIC_ARN is not set; subscribers were not notified")
            return None
        resp = self.client.publish(
            TopicArn=self.updates_topic_arn, Message=message, MessageStructure="json",
            Subject=subject,
            MessageAttributes={
                "components": {"DataType": "String.Array",
                               "StringValue": json.dumps(sorted(set(components)) + [PAGE_WIDE])},
                "sms_worthy": {"DataType": "String", "StringValue": str(sms_worthy).lower()},
                "event_kind": {"DataType": "String", "StringValue": kind},
            })
        return resp["MessageId"]

    def publish_operator(self, subject: str, text: str) -> Optional[str]:
        if not self.operator_topic_arn:
            log.warning("OPERATOR_TOPIC_ARN is not set; operator alert dropped: %s", subject)
            return None
        # SNS subjects: printable ASCII on one line, under 100 characters.
        clean = " ".join("".join(ch if 32 <= ord(ch) < 127 else " " for ch in subject).split())
        resp = self.client.publish(TopicArn=self.operator_topic_arn, Subject=clean[:99] or "Outpost",
                                   Message=text[:200_000])
        return resp["MessageId"]

    def send_sms(self, phone: str, text: str) -> str:
        resp = self.client.publish(
            PhoneNumber=phone, Message=text,
            MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String",
                                                       "StringValue": "Transactional"}})
        return resp["MessageId"]

    def subscribe(self, protocol: str, endpoint: str, policy: Optional[dict]) -> str:
        attrs = {"FilterPolicy": json.dumps(policy)} if policy else {}
        if self.dead_letter_arn:
            # what SNS can't deliver after its retries lands in a queue (alarmed), not nowhere
            attrs["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": self.dead_letter_arn})
        resp = self.client.subscribe(TopicArn=self.updates_topic_arn, Protocol=protocol,
                                     Endpoint=endpoint, Attributes=attrs,
                                     ReturnSubscriptionArn=True)
        return resp["SubscriptionArn"]

    def unsubscribe(self, arn: str) -> None:
        if arn and arn.startswith("arn:"):
            self.client.unsubscribe(SubscriptionArn=arn)

    def subscriptions_of(self, protocol: str, endpoint: str) -> list[str]:
        """ARNs of every subscription of this address on the updates topic, across all pages.
        Unconfirmed ones show as "PendingConfirmation" here, with no ARN to act on."""
        if not self.updates_topic_arn:
            return []
        found = []
        pages = self.client.get_paginator("list_subscriptions_by_topic").paginate(
            TopicArn=self.updates_topic_arn)
        for page in pages:
            for sub in page.get("Subscriptions", []):
                arn = sub.get("SubscriptionArn") or ""
                if sub.get("Protocol") == protocol and arn.startswith("arn:") \
                        and same_endpoint(protocol, sub.get("Endpoint") or "", endpoint):
                    found.append(arn)
        return found

    def remove_subscriptions(self, arns: Iterable[Optional[str]]) -> int:
        """Unsubscribe each ARN once; one that is already gone is not an error."""
        from botocore.exceptions import ClientError
        done = 0
        for arn in dict.fromkeys(a for a in arns if a and a.startswith("arn:")):
            try:
                self.client.unsubscribe(SubscriptionArn=arn)
                done += 1
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "NotFound":
                    raise
        return done

    def unsubscribe_address(self, protocol: str, endpoint: str,
                            known: Iterable[Optional[str]] = ()) -> int:
        """Remove every subscription of this address from the updates topic: the ARNs we
        stored (`known`, which also covers ones SNS lists as pending) and whatever else the
        topic holds for it."""
        return self.remove_subscriptions([*known, *self.subscriptions_of(protocol, endpoint)])
