"""Pure: what subscribers receive, per protocol, for one event (an incident update).

SMS is GSM-7 only and at most 160 characters: one emoji would switch the whole text to UCS-2
(70 characters per part) and multiply the bill. Pages in Japanese (i18n.UCS2_LOCALES) send
UCS-2 within aws_limits.SMS_UCS2_UNITS. Fixed words follow the page's locale (page.locale).
Email carries everything. Webhooks and queues get Statuspage's webhook payload, so receivers
built for Statuspage work unchanged.
"""
from __future__ import annotations

import json
from typing import Optional

from ..core import aws_limits
from ..core.aws_limits import gsm7, septets  # noqa: F401 - the SMS alphabet, for callers and tests
from . import common, i18n
from .i18n import N_

SMS_LIMIT = aws_limits.SMS_SEPTETS
SUBJECT_LIMIT = aws_limits.SUBJECT_MAX
_STATUS_WORDS = {
    "investigating": N_("Investigating"), "identified": N_("Identified"),
    "monitoring": N_("Monitoring"), "resolved": N_("Resolved"), "postmortem": N_("Postmortem"),
    "scheduled": N_("Scheduled maintenance"), "in_progress": N_("Maintenance in progress"),
    "verifying": N_("Verifying maintenance"), "completed": N_("Maintenance completed"),
}


def _status_word(update: dict, locale: str) -> str:
    word = _STATUS_WORDS.get(update["status"])
    return i18n.translations(locale).gettext(word) if word else update["status"]


def sms(page_name: str, incident: dict, update: dict, link: str,
        locale: str = i18n.DEFAULT) -> str:
    """`[Acme] Investigating: API errors - We are looking into it. https://...` in <= 160
    (GSM-7), or within aws_limits.SMS_UCS2_UNITS for a Japanese page."""
    if locale in i18n.UCS2_LOCALES:
        text = f"[{page_name[:30]}] {_status_word(update, locale)}: {incident['name']}"
        if update.get("body"):
            text = f"{text} - {update['body']}"
        return aws_limits.sms_ucs2(text, link)
    head = gsm7(f"[{page_name[:30]}] {_status_word(update, locale)}")
    text = f"{head}: {gsm7(incident['name'])}"
    body = gsm7(update.get("body") or "")
    if body:
        text = f"{text} - {body}"
    return aws_limits.sms(text, link)


def verification_sms(page_name: str, code: str, locale: str = i18n.DEFAULT) -> str:
    """The sign-up code. "STOP" is the carriers' opt-out keyword, the same in every language."""
    text = i18n.translations(locale).gettext(
        "%(name)s code: %(code)s. It expires in 10 minutes. Reply STOP to opt out.") % {
        "name": page_name[:40], "code": code}
    if locale in i18n.UCS2_LOCALES:
        return aws_limits.sms_ucs2(text)
    return aws_limits.sms(text)


def subject(page_name: str, incident: dict, update: dict, locale: str = i18n.DEFAULT) -> str:
    """The email Subject: printable ASCII on one line, under 100 characters (SNS's rule).
    A Japanese page's status word folds away to nothing; the Subject then keeps the English
    word, so it still says what happened."""
    word = _status_word(update, locale)
    if not aws_limits.ascii_fold(word).strip():
        word = _STATUS_WORDS.get(update["status"], update["status"])
    return aws_limits.sns_subject(f"[{page_name}] {word}: {incident['name']}", fallback=page_name)


def email(page_name: str, incident: dict, update: dict, link: str, unsubscribe: str,
          locale: str = i18n.DEFAULT, tz: str = "Etc/UTC") -> str:
    t = i18n.translations(locale)

    def when(iso) -> str:
        return common.human_time(iso, tz, locale) or str(iso or "")

    def status(value) -> str:
        return common.label(common.COMPONENT_LABELS, value, locale)
    lines = [f"{incident['name']}",
             t.gettext("Status: %(status)s") % {"status": _status_word(update, locale)},
             t.gettext("Impact: %(impact)s") % {
                 "impact": common.label(common.IMPACT_LABELS, incident.get("impact", "none"),
                                        locale)}, ""]
    lines.append(update.get("body") or "")
    affected = update.get("affected_components") or []
    if affected:
        lines += ["", t.gettext("Components:")]
        lines += [f"  - {a['name']}: {status(a['old_status'])} -> {status(a['new_status'])}"
                  for a in affected]
    elif incident.get("components"):
        lines += ["", t.gettext("Components:") + " "
                  + ", ".join(c["name"] for c in incident["components"])]
    if incident.get("scheduled_for"):
        lines += ["", t.gettext("Scheduled: %(start)s to %(end)s") % {
            "start": when(incident["scheduled_for"]), "end": when(incident["scheduled_until"])}]
    lines += ["", t.gettext("Posted %(when)s") % {"when": when(update["created_at"])},
              t.gettext("Details and history: %(link)s") % {"link": link}, "",
              t.gettext("You are subscribed to %(name)s updates.") % {"name": page_name},
              t.gettext("To stop them, use the unsubscribe link at the end of this message."),
              t.gettext("Subscribe again or change components: %(link)s") % {"link": unsubscribe}]
    return "\n".join(lines)


def webhook_payload(page: dict, status: dict, incident: dict, unsubscribe: Optional[str],
                    documentation: str) -> dict:
    """Statuspage's incident webhook body (meta, page, incident)."""
    return {
        "meta": {"unsubscribe": unsubscribe, "documentation": documentation,
                 "generated_at": incident.get("updated_at")},
        "page": {"id": page["id"], "status_indicator": status["indicator"],
                 "status_description": status["description"]},
        "incident": incident,
    }


# SNS takes 256 KB for the message and its attributes together; the attributes are bounded
# (chalicelib.core.audience keeps `components` under 8 KB), so the message gets the rest.
SNS_LIMIT = aws_limits.MESSAGE_MAX_BYTES - 16 * 1024


def sns_message(page_name: str, page: dict, status: dict, incident: dict, update: dict,
                link: str, unsubscribe: str, documentation: str, locale: str = i18n.DEFAULT,
                tz: str = "Etc/UTC") -> str:
    """One MessageStructure=json document: each protocol gets the body it understands.

    The payload is repeated per protocol, so a long incident could pass SNS's size limit; then
    the queues get only the update being announced, then shortened bodies, and at last the
    bare incident (no component list, no metadata, `meta.truncated`). Always under SNS_LIMIT."""
    def build(inc: dict, body_limit: int, truncated: bool = False) -> str:
        body = webhook_payload(page, status, inc, None, documentation)
        if truncated:
            body["meta"]["truncated"] = True
        payload = json.dumps(body, separators=(",", ":"))
        mail = email(page_name, inc, update, link, unsubscribe, locale, tz)
        text = sms(page_name, inc, update, link, locale)
        return aws_limits.json_message({
            "default": text, "sms": text,
            "email": aws_limits.sns_text(mail, body_limit),
            "sqs": payload, "lambda": payload, "https": payload, "http": payload,
        })
    message = build(incident, 200_000)
    if len(message.encode()) <= SNS_LIMIT:
        return message
    latest_only = {**incident, "incident_updates": [update]}
    message = build(latest_only, 100_000)
    if len(message.encode()) <= SNS_LIMIT:
        return message
    short = {**update, "body": (update.get("body") or "")[:5000]}
    message = build({**latest_only, "incident_updates": [short]}, 20_000)
    if len(message.encode()) <= SNS_LIMIT:
        return message
    # Hundreds of components or a large metadata object, times four protocols: the queues get
    # what identifies the incident and the update; the page has the rest.
    bare = {**latest_only, "components": [], "metadata": {},
            "incident_updates": [{**update, "body": (update.get("body") or "")[:1000],
                                  "affected_components": None}]}
    return build(bare, 20_000, truncated=True)


# -- chat and on-call channels (chalicelib.usecases.channels) ---------------------------------------------

CHANNEL_MAX = 3000        # a chat message is a notice: whatever the service takes, the page has more
ELLIPSIS = "…"


def channel_update(page_name: str, incident: dict, update: dict) -> tuple[str, str]:
    """(title, text) of a public incident or maintenance update for a chat channel; the link
    goes on last (channel_fit keeps it whole)."""
    title = (f"[{page_name}] {_STATUS_WORDS.get(update['status'], update['status'])}: "
             f"{incident['name']}")
    lines = [update.get("body") or ""]
    affected = update.get("affected_components") or []
    if affected:
        lines.append("Components: " + ", ".join(
            f"{a['name']} ({a['new_status'].replace('_', ' ')})" for a in affected))
    if incident.get("scheduled_for"):
        lines.append(f"Scheduled: {incident['scheduled_for']} to {incident['scheduled_until']}")
    return title, "\n".join(line for line in lines if line)


def split_link(text: str) -> tuple[str, str]:
    """An operator alert's text and its last line when that line carries a link (alerts end
    with the page or incident URL): the link survives any cut."""
    lines = text.rstrip().split("\n")
    if len(lines) > 1 and "://" in lines[-1] and len(lines[-1]) <= 300:
        return "\n".join(lines[:-1]).rstrip(), lines[-1].strip()
    return text.rstrip(), ""


def units(text: str) -> int:
    """Length as Discord, Telegram and Slack count it: UTF-16 code units (an emoji is 2)."""
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, budget: int) -> str:
    """`text` in at most `budget` units, cut at a word where one is near, with an ellipsis."""
    if units(text) <= budget:
        return text
    if budget <= 1:
        return ELLIPSIS[:budget]
    head = text[:budget - 1]
    while units(head) > budget - 1:
        head = head[:-1]
    space = max(head.rfind(" "), head.rfind("\n"))
    if space >= len(head) * 0.8:
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def channel_fit(title: str, text: str, link: str, body_max: int,
                title_max: int) -> tuple[str, str]:
    """(title, body) within a service's limits: the title cut to its own limit, the body cut
    at a word with an ellipsis, and the link always whole on the last line.

    The title is counted against the body too, as if the service put it on the body's first
    line: Apprise does that for services without titles (Telegram, Google Chat, PagerDuty) and
    Discord does for plain messages. CHANNEL_MAX caps even the generous ones (Slack, Matrix)."""
    limit = min(body_max if body_max > 0 else CHANNEL_MAX, CHANNEL_MAX)
    title = _cut(" ".join(title.split()), min(title_max if title_max > 0 else 200, 200,
                                              limit // 4))
    tail = f"\n{link}" if link else ""
    budget = limit - units(title) - 2 - units(tail)
    if budget < 0:                               # a link longer than the service's limit
        return title, _cut(link, limit - units(title) - 2)
    body = _cut(text.strip(), budget).rstrip()
    return title, (body + tail).strip()
