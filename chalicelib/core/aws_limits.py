"""Pure: what goes to an AWS API, cleaned and cut to the real service's documented limits.

moto accepts what AWS refuses (a 100-character or multi-line Subject, an eleventh message
attribute, an attribute named `AWS.x`), so a notification that passes every local test can be
refused in production, and one refused Publish fails the whole stream record: its retries
fail the same way and the record is dropped, webhooks and all. Everything Outpost hands to SNS
is built here, so each limit is written down once:

- Subject: printable ASCII on one line, starting with a letter, digit or punctuation mark,
  fewer than 100 characters (we cut with "..." and fall back to a word when nothing is left).
- Message: UTF-8, at most 256 KB *together with its attributes*. Bodies lose the characters
  SQS can't carry (SNS delivers to queues; XML 1.0's character set), never the newlines.
- Message attributes: at most 10 (more and raw-delivery SQS subscriptions drop the message),
  names of letters, digits, `_-.` up to 256 characters, no `AWS.`/`Amazon.` prefix, no leading,
  trailing or doubled period; values never empty; String.Array is a JSON array.
- SMS: GSM-7 only, one 160-septet segment including the link (a single non-GSM character would
  switch the whole text to UCS-2 at 70 characters a part). Pages in a script GSM-7 can't carry
  (Japanese) send UCS-2 instead, in at most SMS_UCS2_SEGMENTS concatenated parts of 67.
- Filter policies: at most 5 keys and 150 value combinations, 256 KB.
"""
from __future__ import annotations

import json
import re
import unicodedata
from typing import Iterable, Mapping, Optional, Union

from .errors import OutpostError

SUBJECT_MAX = 99                  # "less than 100 characters"
MESSAGE_MAX_BYTES = 262_144       # one Publish: the message and every attribute's name/type/value
MAX_ATTRIBUTES = 10
ATTRIBUTE_NAME_MAX = 256
SMS_SEPTETS = 160
SMS_LINK_MAX = 100                # a link that eats the message helps nobody: drop it instead
SMS_UCS2_SINGLE = 70              # UTF-16 code units in one unsplit UCS-2 message
SMS_UCS2_PART = 67                # ... and per part once split (the concatenation header)
# One UCS-2 part can't hold a link and a sentence; two can (twice the price of a GSM-7 message).
SMS_UCS2_SEGMENTS = 2
SMS_UCS2_UNITS = SMS_UCS2_PART * SMS_UCS2_SEGMENTS
FILTER_MAX_KEYS = 5
FILTER_MAX_COMBINATIONS = 150
FILTER_MAX_BYTES = 256 * 1024
ELLIPSIS = "..."
# The attributes SNS itself reads on a direct (PhoneNumber) SMS publish; reserved for us to set.
SMS_RESERVED_ATTRIBUTES = frozenset({
    "AWS.SNS.SMS.SMSType", "AWS.SNS.SMS.SenderID", "AWS.SNS.SMS.MaxPrice",
    "AWS.MM.SMS.OriginationNumber", "AWS.MM.SMS.EntityId", "AWS.MM.SMS.TemplateId"})

# Typographic characters people paste from editors, and their plain equivalents.
_PLAIN = {"‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-",
          "−": "-", "…": "...", "\u00a0": " ", "\t": " ", "«": '"', "»": '"', "•": "-"}

# GSM 03.38: the basic set (one septet each) and the extension table (escape + char: two).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXTENDED = frozenset("^{}\\[~]|€")

# XML 1.0 Char: what SQS accepts in a body, so what an SNS message bound for a queue may hold.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")


class LimitError(OutpostError, ValueError):
    """Something that would be refused by AWS and that we can't fix by cutting (a bad name)."""


# -- text ------------------------------------------------------------------------------------------

def ascii_fold(text: str) -> str:
    """Latin text without its accents and typographic quotes; other scripts are dropped."""
    text = "".join(_PLAIN.get(ch, ch) for ch in text)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def one_line(text: str) -> str:
    """Control characters (line breaks included) become spaces; runs of spaces become one."""
    return " ".join("".join(ch if " " <= ch < "\x7f" else " " for ch in text).split())


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, ending in "..." when something was cut."""
    if len(text) <= limit:
        return text
    return text[:max(0, limit - len(ELLIPSIS))].rstrip() + ELLIPSIS


def sns_subject(text: str, fallback: str = "Outpost") -> str:
    """A Subject SNS accepts, whatever `text` holds (control characters, 300 characters, emoji)."""
    clean = _lead(one_line(ascii_fold(text)))
    if not clean:
        clean = _lead(one_line(ascii_fold(fallback))) or "Outpost"
    return cut(clean, SUBJECT_MAX)


def _lead(text: str) -> str:
    """SNS wants a Subject to begin with a letter, digit or punctuation mark; symbols such as
    `$`, `+` or `|` are none of those (Unicode S*), so they go from the front."""
    start = 0
    while start < len(text) and unicodedata.category(text[start])[0] not in "LNP":
        start += 1
    return text[start:]


def sns_text(text: str, max_bytes: int = MESSAGE_MAX_BYTES) -> str:
    """A message body SNS (and an SQS subscriber) accepts: characters outside XML's set are
    dropped (lone surrogates from JSON included), then the UTF-8 is cut at a character
    boundary to `max_bytes`, with "..." marking the cut."""
    clean = _NOT_XML.sub("", text)
    raw = clean.encode("utf-8")
    if len(raw) <= max_bytes:
        return clean
    room = max(0, max_bytes - len(ELLIPSIS))
    return raw[:room].decode("utf-8", "ignore").rstrip() + ELLIPSIS


# -- SMS -------------------------------------------------------------------------------------------

def gsm7(text: str) -> str:
    """Text reduced to the GSM-7 alphabet on one line: accents stripped, quotes straightened,
    everything else dropped."""
    out = []
    for ch in text:
        for c in _PLAIN.get(ch, ch):
            if c in _GSM_BASIC or c in _GSM_EXTENDED:
                out.append(c)
                continue
            base = unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode()
            out.append("".join(b for b in base if b in _GSM_BASIC))
    return " ".join("".join(out).split())


def septets(text: str) -> int:
    return sum(2 if c in _GSM_EXTENDED else 1 for c in text)


def fit_septets(text: str, budget: int) -> str:
    """GSM-7 `text` in at most `budget` septets, "..." marking a cut."""
    if septets(text) <= budget:
        return text
    kept, used = [], 0
    for ch in text:
        cost = 2 if ch in _GSM_EXTENDED else 1
        if used + cost > budget - len(ELLIPSIS):
            break
        kept.append(ch)
        used += cost
    return "".join(kept).rstrip() + ELLIPSIS


def sms(text: str, link: str = "") -> str:
    """One GSM-7 segment: `text` cut to leave room for the link, then the link (kept whole)."""
    link = gsm7(link)
    if septets(link) > SMS_LINK_MAX:
        link = ""
    body = gsm7(text)
    budget = SMS_SEPTETS - (septets(link) + 1 if link else 0)
    return f"{fit_septets(body, budget)} {link}".strip()


def ucs2_units(text: str) -> int:
    """What a UCS-2 SMS counts: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def ucs2(text: str) -> str:
    """Text for a UCS-2 SMS on one line: control characters become spaces, and characters
    outside the Basic Multilingual Plane (emoji) go, since UCS-2 has no surrogate pairs."""
    kept = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text
                   if ord(ch) <= 0xFFFF)
    return " ".join(kept.split())


def sms_ucs2(text: str, link: str = "") -> str:
    """At most SMS_UCS2_UNITS UTF-16 units: `text` cut ("…") to leave room for the link."""
    link = gsm7(link)
    if len(link) > SMS_LINK_MAX:
        link = ""
    body = ucs2(text)
    budget = SMS_UCS2_UNITS - (len(link) + 1 if link else 0)
    if ucs2_units(body) > budget:
        body = body[:max(0, budget - 1)].rstrip() + "…"
    return f"{body} {link}".strip()


# -- message attributes ------------------------------------------------------------------------

AttributeValue = Union[str, bool, int, float, Iterable[str]]


def attribute_name(name: str, reserved_ok: bool = False) -> str:
    if reserved_ok and name in SMS_RESERVED_ATTRIBUTES:
        return name
    if not _ATTRIBUTE_NAME.fullmatch(name):
        raise LimitError(f"message attribute name {name[:40]!r}: 1-{ATTRIBUTE_NAME_MAX} of "
                         "A-Z a-z 0-9 _ - .")
    if name.lower().startswith(("aws.", "amazon.")):
        raise LimitError(f"message attribute name {name[:40]!r}: AWS./Amazon. are reserved")
    if name.startswith(".") or name.endswith(".") or ".." in name:
        raise LimitError(f"message attribute name {name[:40]!r}: no leading, trailing or "
                         "doubled period")
    return name


def _attribute(value: AttributeValue) -> dict:
    if isinstance(value, bool):                       # before int: bool is an int
        return {"DataType": "String", "StringValue": "true" if value else "false"}
    if isinstance(value, (int, float)):
        return {"DataType": "Number", "StringValue": repr(value)}
    if isinstance(value, str):
        clean = _NOT_XML.sub("", value)
        if not clean:
            raise LimitError("message attribute values must not be empty")
        return {"DataType": "String", "StringValue": clean}
    items = [_NOT_XML.sub("", str(v)) for v in value]
    return {"DataType": "String.Array",
            "StringValue": json.dumps(items, ensure_ascii=False, separators=(",", ":"))}


def message_attributes(values: Mapping[str, AttributeValue],
                       reserved_ok: bool = False) -> dict:
    """boto3's MessageAttributes for `values`: bool/str -> String, number -> Number, any other
    iterable -> String.Array. Raises LimitError for what AWS would refuse."""
    if len(values) > MAX_ATTRIBUTES:
        raise LimitError(f"{len(values)} message attributes; SNS delivers at most "
                         f"{MAX_ATTRIBUTES} to raw-delivery queues")
    return {attribute_name(k, reserved_ok): _attribute(v) for k, v in values.items()}


def attributes_bytes(attributes: Mapping[str, dict]) -> int:
    """What the attributes count against the 256 KB: every name, type and value."""
    return sum(len(name.encode()) + len(a["DataType"].encode())
               + len((a.get("StringValue") or "").encode()) + len(a.get("BinaryValue") or b"")
               for name, a in attributes.items())


def message_budget(attributes: Mapping[str, dict]) -> int:
    """Bytes left for the message once `attributes` are counted."""
    return MESSAGE_MAX_BYTES - attributes_bytes(attributes)


def json_message(per_protocol: Mapping[str, str]) -> str:
    """A MessageStructure=json document: string values per protocol, `default` required.
    Values are cleaned as bodies (SNS unescapes them before delivery, so an escaped control
    character in the JSON would still reach the queue raw)."""
    if not isinstance(per_protocol.get("default"), str):
        raise LimitError("MessageStructure=json needs a string 'default'")
    return json.dumps({k: _NOT_XML.sub("", v) for k, v in per_protocol.items()})


def check_publish_size(message: str, attributes: Mapping[str, dict]) -> None:
    size = len(message.encode("utf-8")) + attributes_bytes(attributes)
    if size > MESSAGE_MAX_BYTES:
        raise LimitError(f"message and attributes are {size} bytes; SNS takes "
                         f"{MESSAGE_MAX_BYTES}")


# -- filter policies ---------------------------------------------------------------------------

def check_filter_policy(policy: Mapping[str, list]) -> None:
    if len(policy) > FILTER_MAX_KEYS:
        raise LimitError(f"a filter policy has at most {FILTER_MAX_KEYS} keys")
    combinations = 1
    for values in policy.values():
        combinations *= max(1, len(values))
    if combinations > FILTER_MAX_COMBINATIONS:
        raise LimitError(f"a filter policy has at most {FILTER_MAX_COMBINATIONS} value "
                         f"combinations, not {combinations}")
    if len(json.dumps(policy).encode()) > FILTER_MAX_BYTES:
        raise LimitError("a filter policy is at most 256 KB")


def operator_text(text: Optional[str]) -> str:
    """An operator alert's body: never empty (SNS refuses that), never over the limit."""
    return sns_text(text or "(no details)", MESSAGE_MAX_BYTES - 1024) or "(no details)"
