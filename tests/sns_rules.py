"""Real SNS's rules, written from AWS's documentation, because moto accepts more than AWS does
(it takes a 100-character Subject with a line break, an attribute named `AWS.x`, an eleventh
attribute). Tests run every Publish and Subscribe Outpost makes through StrictSNS, so a call
that real SNS would refuse fails the test instead of passing on moto.

Sources (SNS API reference and developer guide):
- Publish.Subject: "UTF-8 text with no line breaks or control characters, and less than 100
  characters long"; older revisions: "ASCII text that begins with a letter, number, or
  punctuation mark". We hold Outpost to both.
- Publish.Message: UTF-8, at most 256 KB (262,144 bytes) "including message attributes" (every
  attribute's name, type and value count); never empty. MessageStructure=json: a JSON object
  with a string `default`; protocol keys have string values.
- SMS: 160 GSM-7 characters per segment (our contract: one segment, with the link).
- Message attributes: names A-Z a-z 0-9 _ - . , at most 256 characters, not starting with
  AWS./Amazon. in any case, no leading/trailing period, no "..". Types String, String.Array,
  Number, Binary (optionally ".label"), at most 256 bytes. Name, type and value never empty.
  String.Array: a JSON array of strings, numbers, true, false, null. At most 10 attributes
  reach a raw-delivery SQS subscription (more: the message is discarded).
- SQS, where SNS delivers: bodies only hold XML 1.0 characters (#x9 #xA #xD #x20-#xD7FF
  #xE000-#xFFFD #x10000-#x10FFFF).
- Filter policies: at most 5 keys, at most 150 value combinations (the product of the lengths
  of the value arrays), at most 256 KB; attribute scope compares String and String.Array only,
  exact strings case-sensitively, any array element matching any policy value.
"""
from __future__ import annotations

import json
import re
import unicodedata

GSM_BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
                "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXT = set("^{}\\[~]|€")
_XML_CHAR = re.compile("^[\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
_TYPE = re.compile(r"^(String|String\.Array|Number|Binary)(\.[^\s]+)?$")
SMS_RESERVED = {"AWS.SNS.SMS.SMSType", "AWS.SNS.SMS.SenderID", "AWS.SNS.SMS.MaxPrice",
                "AWS.MM.SMS.OriginationNumber", "AWS.MM.SMS.EntityId", "AWS.MM.SMS.TemplateId"}
PROTOCOLS = {"default", "email", "email-json", "sms", "sqs", "lambda", "http", "https",
             "application", "firehose", "APNS", "GCM"}


def subject_problems(subject: str) -> list[str]:
    out = []
    if not subject:
        out.append("Subject is empty")
        return out
    if len(subject) >= 100:
        out.append(f"Subject is {len(subject)} characters (must be < 100)")
    if not all(" " <= ch <= "~" for ch in subject):
        out.append(f"Subject has a non-printable or non-ASCII character: {subject!r}")
    if unicodedata.category(subject[0])[0] not in "LNP":
        out.append(f"Subject begins with {subject[0]!r}, not a letter, number or punctuation")
    return out


def sms_problems(text: str) -> list[str]:
    out = []
    bad = sorted({c for c in text if c not in GSM_BASIC and c not in GSM_EXT})
    if bad:
        out.append(f"SMS has non-GSM-7 characters {bad[:5]} (UCS-2: 70 per segment)")
    septets = sum(2 if c in GSM_EXT else 1 for c in text)
    if septets > 160:
        out.append(f"SMS is {septets} septets (one segment is 160)")
    return out


def attribute_problems(attributes: dict, phone_publish: bool = False) -> tuple[list[str], int]:
    out, size = [], 0
    if len(attributes) > 10:
        out.append(f"{len(attributes)} attributes: raw-delivery SQS subscriptions drop the message")
    for name, attr in attributes.items():
        reserved = phone_publish and name in SMS_RESERVED
        if not _NAME.match(name):
            out.append(f"attribute name {name!r} has characters outside A-Za-z0-9_-. or is too long")
        if not reserved and name.lower().startswith(("aws.", "amazon.")):
            out.append(f"attribute name {name!r} uses a reserved prefix")
        if name.startswith(".") or name.endswith(".") or ".." in name:
            out.append(f"attribute name {name!r} has a leading, trailing or doubled period")
        dtype = attr.get("DataType") or ""
        if not _TYPE.match(dtype) or len(dtype.encode()) > 256:
            out.append(f"attribute {name!r} has DataType {dtype!r}")
        value = attr.get("StringValue")
        binary = attr.get("BinaryValue")
        if not value and not binary:
            out.append(f"attribute {name!r} has an empty value")
        if value is not None:
            if not _XML_CHAR.match(value):
                out.append(f"attribute {name!r} has characters SQS refuses")
            if dtype.startswith("String.Array"):
                try:
                    items = json.loads(value)
                except ValueError:
                    items = None
                if not isinstance(items, list) or not all(
                        i is None or isinstance(i, (str, int, float, bool)) for i in items):
                    out.append(f"attribute {name!r} is not a JSON array of scalars: {value[:60]!r}")
            if dtype.startswith("Number"):
                try:
                    float(value)
                except ValueError:
                    out.append(f"attribute {name!r} is not a number: {value!r}")
        size += len(name.encode()) + len(dtype.encode()) + len((value or "").encode()) \
            + len(binary or b"")
    return out, size


def publish_problems(kwargs: dict) -> list[str]:
    out = []
    message = kwargs.get("Message")
    if not isinstance(message, str) or not message:
        return ["Message is missing or empty"]
    try:
        size = len(message.encode("utf-8"))
    except UnicodeEncodeError:
        return ["Message is not valid UTF-8 (lone surrogate)"]
    phone = "PhoneNumber" in kwargs
    problems, attr_size = attribute_problems(kwargs.get("MessageAttributes") or {}, phone)
    out += problems
    if size + attr_size > 262_144:
        out.append(f"message + attributes are {size + attr_size} bytes (> 262,144)")
    if "Subject" in kwargs:
        out += subject_problems(kwargs["Subject"])
    if phone:
        out += sms_problems(message)
    if kwargs.get("MessageStructure") == "json":
        try:
            doc = json.loads(message)
        except ValueError:
            return out + ["MessageStructure=json but Message is not JSON"]
        if not isinstance(doc, dict) or not isinstance(doc.get("default"), str):
            return out + ["MessageStructure=json needs a string 'default'"]
        for key, value in doc.items():
            if key in PROTOCOLS and not isinstance(value, str):
                out.append(f"protocol {key!r} has a non-string value")
            elif isinstance(value, str) and not _XML_CHAR.match(value):
                out.append(f"protocol {key!r} carries characters SQS refuses")
        for key in ("sms", "default"):
            if key in doc:
                out += [f"{key}: {p}" for p in sms_problems(doc[key])]
    elif not _XML_CHAR.match(message):
        out.append("Message carries characters SQS refuses")
    return out


def filter_policy_problems(policy: dict) -> list[str]:
    out = []
    if len(policy) > 5:
        out.append(f"filter policy has {len(policy)} keys (max 5)")
    combinations = 1
    for key, values in policy.items():
        if not isinstance(values, list):
            out.append(f"filter policy key {key!r} is not a list")
            continue
        combinations *= len(values)
    if combinations > 150:
        out.append(f"filter policy has {combinations} combinations (max 150)")
    if len(json.dumps(policy).encode()) > 256 * 1024:
        out.append("filter policy is over 256 KB")
    return out


def policy_admits(policy, attributes: dict) -> bool:
    """Attribute-scope matching for exact-string policies, as the filtering guide describes
    it: every key in the policy must name an attribute, and some value of that attribute (the
    String, or any element of the String.Array) must equal one of the key's values."""
    for key, allowed in (policy or {}).items():
        attr = attributes.get(key)
        if attr is None:
            return False
        if attr["DataType"] == "String.Array":
            values = json.loads(attr["StringValue"])
        elif attr["DataType"] == "String":
            values = [attr["StringValue"]]
        else:
            return False
        if not any(isinstance(v, str) and v in allowed for v in values):
            return False
    return True


class Refused(AssertionError):
    """Real SNS would have answered InvalidParameter."""


class StrictSNS:
    """A boto3 SNS client that refuses, as real SNS would, what moto lets through."""

    def __init__(self, client):
        self._client = client
        self.published: list[dict] = []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def publish(self, **kwargs):
        problems = publish_problems(kwargs)
        if problems:
            raise Refused("; ".join(problems))
        self.published.append(kwargs)
        return self._client.publish(**kwargs)

    def subscribe(self, **kwargs):
        policy = (kwargs.get("Attributes") or {}).get("FilterPolicy")
        if policy:
            problems = filter_policy_problems(json.loads(policy))
            if problems:
                raise Refused("; ".join(problems))
        return self._client.subscribe(**kwargs)
