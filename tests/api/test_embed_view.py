"""`/embed` on the real app: who may frame it comes from the status file, `'none'` unless
origins are listed, and X-Frame-Options never contradicts the CSP; `page.embed` is checked
when the file loads."""
from dataclasses import replace

import pytest

from chalicelib.core.config import ConfigError, load_status_text
from chalicelib.core.model import Embed


def test_default_refuses_every_frame(stack):
    _, client, *_ = stack
    resp = client.http.get("/embed")
    assert resp.status_code == 200
    assert resp.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert b"<header" not in resp.body and b"<footer" not in resp.body     # chrome-free
    again = client.http.get("/embed", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_listed_origins_and_no_contradicting_x_frame_options(stack):
    c, client, *_ = stack
    page = replace(c.config.page, embed=Embed(("self", "https://www.acme.example/",
                                               "https://*.partner.example")))
    c.override(config=replace(c.config, page=page))
    resp = client.http.get("/embed")
    assert resp.headers["Content-Security-Policy"] == (
        "frame-ancestors 'self' https://www.acme.example https://*.partner.example")
    assert "X-Frame-Options" not in resp.headers


@pytest.mark.parametrize("path", ["/", "/history", "/maintenance.ics", "/api/v2/summary.json"])
def test_no_other_page_can_be_framed_by_another_site(stack, path):
    """The page holds the subscribe and report forms: no clickjacking. Non-HTML answers carry
    no framing headers (they are not documents a frame shows)."""
    _, client, *_ = stack
    resp = client.http.get(path)
    html = resp.headers["Content-Type"].startswith("text/html")
    assert resp.headers.get("Content-Security-Policy") == ("frame-ancestors 'none'" if html else None)
    assert resp.headers.get("X-Frame-Options") == ("DENY" if html else None)
    if html:
        again = client.http.get(path, headers={"If-None-Match": resp.headers["ETag"]})
        assert again.status_code == 304 and again.headers["X-Frame-Options"] == "DENY"


BASE = "page: {id: x, name: X, url: 'https://x.example', embed: {frame_ancestors: %s}}\n" \
       "components: []\n"


@pytest.mark.parametrize("value", ["['https://a.example; script-src *']", "[javascript:x]",
                                   "[\"'none'\"]", "['https://a.example/path']", "['*']",
                                   "[https://u@a.example]", "[ftp://a.example]", "https://a",
                                   # urlsplit drops these, so only a check of the raw text
                                   # keeps them out of the header (CRLF injection)
                                   '["https://a\\r\\nSet-Cookie: x=1.example"]',
                                   '["https://a\\r\\nb.example"]', '["https://a.example\\v"]',
                                   '["https://a.example\\0"]'])
def test_bad_frame_ancestors_are_load_errors_naming_the_key(value):
    with pytest.raises(ConfigError) as err:
        load_status_text(BASE % value, "status.yaml")
    assert "page.embed.frame_ancestors" in str(err.value) and "status.yaml:1" in str(err.value)


def test_good_frame_ancestors_load():
    cfg = load_status_text(BASE % "[self, 'http://127.0.0.1:8080', 'https://*.b.example']",
                           "status.yaml")
    assert cfg.page.embed.frame_ancestors == ("self", "http://127.0.0.1:8080",
                                              "https://*.b.example")
