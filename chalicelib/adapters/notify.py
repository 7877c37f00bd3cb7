"""I/O: the only SNS module. Topics fan out to email, SMS, SQS and Lambda subscribers.

Publishes use MessageStructure=json (each protocol gets its own body) and carry message
attributes that subscription filter policies select on: `components` (which components an event
is about, or "page" for a page-wide one; chalicelib.core.audience has the rule) and `sms_worthy`
(Statuspage's SMS rule). Everything sent goes through chalicelib.core.aws_limits first: moto takes
what real SNS refuses.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Callable, Iterable, Optional

from ..core import aws_limits
from ..core.audience import event_components, filter_policy  # noqa: F401 - subscribers use it

log = logging.getLogger("outpost.notify")


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
                 operator_topic_arn: Optional[str], dead_letter_arn: Optional[str] = None,
                 operator_channels: Optional[Callable[[str, str], object]] = None):
        self.region = region
        # chalicelib.usecases.channels.enqueue_alert, bound by the composition root: every operator
        # alert also goes to the chat and on-call channels that carry alerts
        self.operator_channels = operator_channels
        self.dead_letter_arn = dead_letter_arn
        self.updates_topic_arn = updates_topic_arn
        self.operator_topic_arn = operator_topic_arn
        self._client = None

    @property
    def client(self):
        if self._client is None:
            import boto3  # cold start: boto3 loads on first use
            self._client = boto3.client("sns", region_name=self.region)
        return self._client

    def publish_update(self, message: str, subject: str, components: list[str],
                       sms_worthy: bool, kind: str) -> Optional[str]:
        if not self.updates_topic_arn:
            log.warning("UPDATES_TOPIC_ARN is not set; subscribers were not notified")
            return None
        attributes = aws_limits.message_attributes({
            "components": event_components(components),
            "sms_worthy": bool(sms_worthy),
            "event_kind": kind,
        })
        aws_limits.check_publish_size(message, attributes)
        resp = self.client.publish(
            TopicArn=self.updates_topic_arn, Message=message, MessageStructure="json",
            Subject=aws_limits.sns_subject(subject), MessageAttributes=attributes)
        return resp["MessageId"]

    def publish_operator(self, subject: str, text: str, channels: bool = True) -> Optional[str]:
        if channels and self.operator_channels is not None:
            # queued before the SNS publish: should the publish fail, the caller's fence runs
            # again and queues the same event id, which the channel's own fence absorbs
            self.operator_channels(subject, text)
        if not self.operator_topic_arn:
            log.warning("OPERATOR_TOPIC_ARN is not set; operator alert dropped: %s", subject)
            return None
        resp = self.client.publish(TopicArn=self.operator_topic_arn,
                                   Subject=aws_limits.sns_subject(subject, "Outpost alert"),
                                   Message=aws_limits.operator_text(text))
        return resp["MessageId"]

    def send_sms(self, phone: str, text: str, ucs2: bool = False) -> str:
        """`ucs2` for a page in a script GSM-7 can't carry (render.i18n.UCS2_LOCALES)."""
        resp = self.client.publish(
            PhoneNumber=phone, Message=aws_limits.sms_ucs2(text) if ucs2 else aws_limits.sms(text),
            MessageAttributes=aws_limits.message_attributes(
                {"AWS.SNS.SMS.SMSType": "Transactional"}, reserved_ok=True))
        return resp["MessageId"]

    def subscribe(self, protocol: str, endpoint: str, policy: Optional[dict]) -> str:
        attrs = {}
        if policy:
            aws_limits.check_filter_policy(policy)
            attrs["FilterPolicy"] = json.dumps(policy)
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
        from botocore.exceptions import ClientError  # loaded with boto3, on first use
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
