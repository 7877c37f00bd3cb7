"""Checks that hostile operator text came out as text: parse the output like a browser or feed
reader would, and look for anything active (script elements, event handlers, javascript: URLs)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser

PAYLOADS = ('<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', ']]>',
            '[x](javascript:alert(1))', "javascript:alert(1)")
HOSTILE = "".join(PAYLOADS)
ACTIVE_TAGS = {"script", "img", "iframe", "object", "embed", "svg:script"}
URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href"}


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list]] = []
        self.text: list[str] = []
        self.script_bodies: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        (self.script_bodies if self._in_script else self.text).append(data)


def parse_html(body: str) -> _Collector:
    p = _Collector()
    p.feed(body)
    p.close()
    return p


def assert_inert_html(body: str, allowed_scripts: int = 0) -> _Collector:
    """No active element or attribute in `body`; `allowed_scripts` of our own inline scripts."""
    p = parse_html(body)
    scripts = [t for t, _ in p.tags if t == "script"]
    assert len(scripts) <= allowed_scripts, "unexpected <script> element"
    for body_text in p.script_bodies:
        assert "alert(" not in body_text, "operator text inside a script"
    for tag, attrs in p.tags:
        assert tag not in ACTIVE_TAGS - {"script"}, f"active element <{tag}>"
        for name, value in attrs:
            assert not name.startswith("on"), f"event handler {name} on <{tag}>"
            if name in URL_ATTRS and value:
                assert not value.strip().lower().startswith(("javascript:", "data:text")), \
                    f"{name}={value!r} on <{tag}>"
    return p


def visible_text(body: str) -> str:
    return "".join(parse_html(body).text)


def assert_inert_xml(body: bytes, html_fields: tuple[str, ...] = ()) -> ET.Element:
    """Well-formed XML without active parts; elements named in `html_fields` (escaped HTML, as
    Atom's content and RSS's description carry) are unescaped and checked as HTML too."""
    root = ET.fromstring(body)             # raises on anything not well-formed
    for el in root.iter():
        local = el.tag.rsplit("}", 1)[-1]
        assert local not in ACTIVE_TAGS, f"active element <{local}>"
        for name, value in el.attrib.items():
            local_name = name.rsplit("}", 1)[-1]
            assert not local_name.startswith("on"), f"event handler {name}"
            if local_name in ("href", "src"):
                assert not value.strip().lower().startswith("javascript:")
        if local in html_fields and el.text:
            assert_inert_html(el.text)
    return root
