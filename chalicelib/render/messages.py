"""Pure: what subscribers receive, per protocol, for one event (an incident update).

SMS is GSM-7 only and at most 160 characters: one emoji would switch the whole text to UCS-2
(70 characters per part) and multiply the bill. Email carries everything. Webhooks and queues get
Statuspage's webhook payload, so receivers built for Statuspage work unchanged.
"""
from __future__ import annotations

import json
import unicodedata
from typing import Optional

SMS_LIMIT = 160
SUBJECT_LIMIT = 100

# The GSM 03.38 basic set, plus the extension table (each of those costs two septets).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXTENDED = set("^{}\\[~]|€")
_REPLACEMENTS = {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...",
                 "\t": " ", "\u00a0": " "}
_STATUS_WORDS = {
    "investigating": "Investigating", "identified": "Identified", "monitoring": "Monitoring",
    "resolved": "Resolved", "postmortem": "Postmortem", "scheduled": "Scheduled maintenance",
    "in_progress": "Maintenance in progress", "verifying": "Verifying maintenance",
    "completed": "Maintenance completed",
}


def gsm7(text: str) -> str:
    """Text reduced to the GSM-7 alphabet: accents stripped, quotes straightened, others dropped."""
    out = []
    for ch in text:
        ch = _REPLACEMENTS.get(ch, ch)
        for c in ch:
            if c in _GSM_BASIC or c in _GSM_EXTENDED:
                out.append(c)
                continue
            base = unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode()
            out.append("".join(b for b in base if b in _GSM_BASIC))
    return " ".join("".join(out).split())


def septets(text: str) -> int:
    return sum(2 if c in _GSM_EXTENDED else 1 for c in text)


def _fit(text: str, budget: int) -> str:
    if septets(text) <= budget:
        return text
    cut = []
    used = 0
    for ch in text:
        cost = 2 if ch in _GSM_EXTENDED else 1
        if used + cost > budget - 3:
            break
        cut.append(ch)
        used += cost
    return "".join(cut).rstrip() + "..."


def sms(page_name: str, incident: dict, update: dict, link: str) -> str:
    """`[Acme] Investigating: API errors - We are looking into it. https://...` in <= 160."""
    link = gsm7(link)
    if septets(link) > 100:           # a link that eats the message helps nobody
        link = ""
    head = gsm7(f"[{page_name[:30]}] {_STATUS_WORDS.get(update['status'], update['status'])}") + ": "
    budget = SMS_LIMIT - septets(link) - 1
    title = gsm7(incident["name"])
    body = gsm7(update.get("body") or "")
    text = head + title
    if body and septets(text) + 3 < budget:
        text = f"{text} - {body}"
    return f"{_fit(text, budget)} {link}".strip()


def subject(page_name: str, incident: dict, update: dict) -> str:
    """ASCII, one line, at most 100 characters."""
    raw = f"[{page_name}] {_STATUS_WORDS.get(update['status'], update['status'])}: {incident['name']}"
    raw = "".join(_REPLACEMENTS.get(ch, ch) for ch in raw)
    text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    text = " ".join(text.split())
    return text if len(text) <= SUBJECT_LIMIT else text[:SUBJECT_LIMIT - 3].rstrip() + "..."


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


SNS_LIMIT = 240_000          # SNS takes 256 KB per message; leave room for the envelope


def sns_message(page_name: str, page: dict, status: dict, incident: dict, update: dict,
                link: str, unsubscribe: str, documentation: str) -> str:
    """One MessageStructure=json document: each protocol gets the body it understands.

    The payload is repeated per protocol, so a long incident could pass SNS's size limit; then
    the queues get only the update being announced, and at worst shortened bodies."""
    def build(inc: dict, body_limit: int) -> str:
        payload = json.dumps(webhook_payload(page, status, inc, None, documentation),
                             separators=(",", ":"))
        mail = email(page_name, inc, update, link, unsubscribe)
        return json.dumps({
            "default": sms(page_name, inc, update, link),
            "sms": sms(page_name, inc, update, link),
            "email": mail[:body_limit],
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
    return build({**latest_only, "incident_updates": [short]}, 20_000)
