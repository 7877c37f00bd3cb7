"""Pure: the words Outpost posts from its official accounts, fitted to each platform's limit.

Every post ends with the incident's link on the status page: the point of speaking where users
are is to send them to the one place that stays current. When a post is too long, the update's
text is shortened (with an ellipsis), never the link and never the headline's start.

Limits, as the platforms count them: Mastodon counts characters (code points; the instance's
`max_characters`, 500 by default; it counts a link as 23, we count it whole, which only errs
short), Bluesky counts graphemes (300) and also caps the text at 3000 bytes of UTF-8.
"""
from __future__ import annotations

import html
import re
from typing import Callable, Iterable

import regex

from .common import UPDATE_LABELS, label

BLUESKY_GRAPHEMES = 300
BLUESKY_BYTES = 3000
ELLIPSIS = "…"
MENTION_SCAN = 2000            # characters of a stranger's post we look at for keywords

Measure = Callable[[str], int]


def codepoints(text: str) -> int:
    return len(text)


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def bluesky_fits(text: str) -> bool:
    return graphemes(text) <= BLUESKY_GRAPHEMES and len(text.encode()) <= BLUESKY_BYTES


def limit_for(platform: str, max_characters: int = 500) -> tuple[Measure, int]:
    """(how the platform counts, its limit)."""
    if platform == "bluesky":
        # Graphemes, but never more bytes than Bluesky takes: a grapheme of emoji can be 25+.
        return (lambda t: max(graphemes(t), -(-len(t.encode()) * BLUESKY_GRAPHEMES
                                              // BLUESKY_BYTES))), BLUESKY_GRAPHEMES
    return codepoints, max_characters


def plain(markdown_text: str) -> str:
    """An update's markdown as one line of plain text (posts are not rendered as markdown)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown_text or "")    # links: their text
    text = re.sub(r"[*_`#>]+", "", text)
    return " ".join(text.split())


def _shorten(text: str, room: int, measure: Measure) -> str:
    """The longest start of `text` (cut on grapheme boundaries) that fits `room` with an
    ellipsis; whole when it fits."""
    if measure(text) <= room:
        return text
    clusters = regex.findall(r"\X", text)
    lo, hi = 0, len(clusters)
    while lo < hi:                              # binary search: O(n log n) measures at worst
        mid = (lo + hi + 1) // 2
        if measure("".join(clusters[:mid]).rstrip() + ELLIPSIS) <= room:
            lo = mid
        else:
            hi = mid - 1
    return ("".join(clusters[:lo]).rstrip() + ELLIPSIS) if lo else ""


def compose(head: str, body: str, link: str, measure: Measure, limit: int) -> str:
    """`head`, `body` and, last, `link`, within `limit` as `measure` counts: the body is
    shortened first, then the head; the link is never cut."""
    tail = f"\n{link}"
    room = limit - measure(tail)
    if room < 1:
        raise ValueError(f"the link alone ({measure(link)}) does not fit in {limit}")
    head, body = head.strip(), body.strip()
    text = f"{head}\n\n{body}" if body else head
    if measure(text) > room:
        if body:
            # The headline keeps at most half the room when the two do not fit together.
            head = _shorten(head, max(1, room // 2), measure)
            left = room - measure(f"{head}\n\n")
            body = _shorten(body, left, measure) if left > 1 else ""
            text = f"{head}\n\n{body}" if body else head
        else:
            text = _shorten(head, room, measure)
    return f"{text}{tail}" if text else link


def headline(incident: dict, update: dict) -> str:
    """"API errors: Identified", or "Maintenance: Database upgrade (In progress)"."""
    status = label(UPDATE_LABELS, update.get("status"))
    name = " ".join(str(incident.get("name") or "").split())
    if incident.get("scheduled_for"):
        return f"Maintenance: {name} ({status})"
    return f"{name}: {status}"


def update_post(incident: dict, update: dict, platform: str, max_characters: int = 500) -> str:
    """The post for one public update of an incident or maintenance (Statuspage v2 shapes)."""
    measure, limit = limit_for(platform, max_characters)
    return compose(headline(incident, update), plain(update.get("body") or ""),
                   incident["shortlink"], measure, limit)


def reply_post(incident: dict, platform: str, mention: str = "",
               max_characters: int = 500) -> str:
    """The one automatic answer to a person asking about the service during an incident: we
    know, what the latest update says, and where to follow it. `mention` (Mastodon: "@user@host")
    makes the reply reach them."""
    measure, limit = limit_for(platform, max_characters)
    updates = incident.get("incident_updates") or [{}]
    latest = updates[0]
    head = (f"{mention} " if mention else "") + \
        f"We know, and we are on it. {headline(incident, latest)}."
    body = "Latest update: " + plain(latest.get("body") or "") + \
        " Follow it on our status page:"
    return compose(head, body, incident["shortlink"], measure, limit)


def _visible_text(text: str) -> str:
    """A mention's text without markup (Mastodon sends HTML), lower-cased, bounded."""
    text = re.sub(r"<[^>]{0,500}>", " ", (text or "")[:MENTION_SCAN])
    return " ".join(html.unescape(text).lower().split())


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[^\W_]+", text)) + " "


def asks_about_service(text: str, keywords: Iterable[str]) -> bool:
    """Whether a mention asks about the service: one of the keywords, as whole words."""
    seen = _words(_visible_text(text))
    return any(_words(k.lower()) in seen for k in keywords if _words(k.lower()).strip())
