"""Pure: what subscribers receive, per protocol, for one event (an incident update).

SMS is GSM-7 only and at most 160 characters: one emoji would switch the whole text to UCS-2
(70 characters per part) and multiply the bill. Email carries everything. Webhooks and queues get
Statuspage's webhook payload, so receivers built for Statuspage work unchanged.
"""
from __future__ import annotations

import json
from typing import Optional

from .. import aws_limits
from ..aws_limits import gsm7, septets  # noqa: F401 - the SMS alphabet, for callers and tests

SMS_LIMIT = aws_limits.SMS_SEPTETS
SUBJECT_LIMIT = aws_limits.SUBJECT_MAX
_STATUS_WORDS = {
    "investigating": "Investigating", "identified": "Identified", "monitoring": "Monitoring",
    "resolved": "Resolved", "postmortem": "Postmortem", "scheduled": "Scheduled maintenance",
    "in_progress": "Maintenance in progress", "verifying": "Verifying maintenance",
    "completed": "Maintenance completed",
}


def sms(page_name: str, incident: dict, update: dict, link: str) -> str:
    """`[Acme] Investigating: API errors - We are looking into it. https://...` in <= 160."""
    head = gsm7(f"[{page_name[:30]}] {_STATUS_WORDS.get(update['status'], update['status'])}")
    text = f"{head}: {gsm7(incident['name'])}"
    body = gsm7(update.get("body") or "")
    if body:
        text = f"{text} - {body}"
    return aws_limits.sms(text, link)


def subject(page_name: str, incident: dict, update: dict) -> str:
    """The email Subject: printable ASCII on one line, under 100 characters (SNS's rule)."""
    return aws_limits.sns_subject(
        f"[{page_name}] {_STATUS_WORDS.get(update['status'], update['status'])}: "
        f"{incident['name']}", fallback=page_name)


def email(page_name: str, incident: dict, update: dict, link: str, unsubscribe: str) -> str:
    lines = [f"{incident['name']}",
             f"Status: {_STATUS_WORDS.get(update['status'], update['status'])}",
             f"Impact: {incident.get('impact', 'none')}", ""]
    lines.append(update.get("body") or "")
    affected = update.get("affected_components") or []
    if affected:
        lines += ["", "Components:"]
        lines += [f"  - {a['name']}: {a['old_status'].replace('_', ' ')} -> "
                  f"{a['new_status'].replace('_', ' ')}" for a in affected]
    elif incident.get("components"):
        lines += ["", "Components: " + ", ".join(c["name"] for c in incident["components"])]
    if incident.get("scheduled_for"):
        lines += ["", f"Scheduled: {incident['scheduled_for']} to {incident['scheduled_until']}"]
    lines += ["", f"Posted {update['created_at']}", f"Details and history: {link}", "",
              f"You are subscribed to {page_name} updates.",
              "To stop them, use the unsubscribe link at the end of this message.",
              f"Subscribe again or change components: {unsubscribe}"]
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
# (chalicelib.audience keeps `components` under 8 KB), so the message gets the rest.
SNS_LIMIT = aws_limits.MESSAGE_MAX_BYTES - 16 * 1024


def sns_message(page_name: str, page: dict, status: dict, incident: dict, update: dict,
                link: str, unsubscribe: str, documentation: str) -> str:
    """One MessageStructure=json document: each protocol gets the body it understands.

    The payload is repeated per protocol, so a long incident could pass SNS's size limit; then
    the queues get only the update being announced, then shortened bodies, and at last the
    bare incident (no component list, no metadata, `meta.truncated`). Always under SNS_LIMIT."""
    def build(inc: dict, body_limit: int, truncated: bool = False) -> str:
        body = webhook_payload(page, status, inc, None, documentation)
        if truncated:
            body["meta"]["truncated"] = True
        payload = json.dumps(body, separators=(",", ":"))
        mail = email(page_name, inc, update, link, unsubscribe)
        text = sms(page_name, inc, update, link)
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
