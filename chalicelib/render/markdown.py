"""Pure: the safe Markdown subset operators may use in incident and maintenance updates.

Escape first, then format: the text is HTML-escaped as a whole before any markup is added, so
nothing an operator types can become a tag or an attribute. Only these constructs are turned
into HTML afterwards, by patterns that match escaped text:

    blank line          new paragraph            `code`          <code>
    single newline      <br>                     **bold**        <strong>
    [text](url)         link (http, https, mailto only; anything else stays literal text)
    bare http(s) URL    link                     *em*            <em>

Links get rel="nofollow noopener" (operator text is not an endorsement, and no window.opener).
"""
from __future__ import annotations

import re

from markupsafe import Markup, escape

# XML 1.0 forbids most C0 controls, and they have no business in HTML either; tabs and newlines stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_PARAGRAPHS = re.compile(r"\n[ \t]*\n+")
_CODE = re.compile(r"`([^`\n]+)`")
# Matched on escaped text: a quote is already &#34; and '<' is &lt;, so the URL cannot leave the
# attribute, and the scheme test sees exactly what the browser will.
# An '&' in a URL is only ever the escaped '&amp;': any other entity (a quote, '<') ends the URL.
_URL_CHAR = r"(?:[^\s<&)]|&amp;)"
_LINK = re.compile(r"\[([^\]\n]+)\]\(((?:https?://|mailto:)" + _URL_CHAR + r"+)\)", re.IGNORECASE)
_BARE_URL = re.compile(r"(?<![\w/])https?://" + _URL_CHAR + r"*(?:[^\s<&.,;:!?)\]*]|&amp;)",
                       re.IGNORECASE)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_EM = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_SLOT = re.compile("\x00(\\d+)\x00")


def strip_controls(text: str) -> str:
    return _CONTROL.sub("", text)


def render(text) -> Markup:
    """Operator text -> sanitized HTML (a Markup, so templates don't escape it twice)."""
    if not text:
        return Markup("")
    text = strip_controls(str(text)).replace("\r\n", "\n").replace("\r", "\n").strip()
    paragraphs = [p.strip() for p in _PARAGRAPHS.split(text) if p.strip()]
    return Markup("".join(f"<p>{_inline(p)}</p>" for p in paragraphs))


def _inline(paragraph: str) -> str:
    html = str(escape(paragraph))
    # Finished fragments (code, links) are parked in slots so later patterns can't reach inside
    # them: `**not bold**` inside code stays literal, a URL's '*' is not emphasis. The slot marker
    # is NUL, which strip_controls has already removed from the operator's text.
    slots: list[str] = []

    def park(fragment: str) -> str:
        slots.append(fragment)
        return f"\x00{len(slots) - 1}\x00"

    html = _CODE.sub(lambda m: park(f"<code>{m.group(1)}</code>"), html)
    html = _LINK.sub(lambda m: park(_anchor(m.group(2), m.group(1))), html)
    html = _BARE_URL.sub(lambda m: park(_anchor(m.group(0), m.group(0))), html)
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    html = _EM.sub(r"<em>\1</em>", html)
    html = html.replace("\n", "<br>\n")
    # Slots may nest (a link whose text had a code span), so restore until none are left.
    while _SLOT.search(html):
        html = _SLOT.sub(lambda m: slots[int(m.group(1))], html)
    return html


def _anchor(url: str, text: str) -> str:
    return f'<a href="{url}" rel="nofollow noopener">{text}</a>'

