"""The embeds in a real headless Chromium: `/embed.js` on a host page served from another
origin (127.0.0.1 on another port) reads summary.json through CORS and shows its notice only
while something is wrong, with hostile text kept as text; `/embed` loads in an iframe only
on an origin the status file allows."""
from __future__ import annotations

import gzip
import http.server
import threading
from dataclasses import replace

import pytest
from moto import mock_aws

from chalicelib.core.model import Embed
from tests import factories as f
from tests.e2e.browser import Watched
from tests.e2e.stack import free_port

HOSTILE = '<img src=x onerror="window.__pwned=1">'
SCRIPT_BUDGET = 5 * 1024         # compressed bytes


class HostPages:
    """A site on its own port that embeds the status page: the script, or the iframe."""

    def __init__(self, status_url: str):
        pages = {
            "/script.html": f'<!doctype html><title>Host</title><link rel="icon" href="data:,"><h1>Shop</h1>'
                            f'<script src="{status_url}/embed.js" async></script>',
            "/frame.html": f'<!doctype html><title>Host</title><link rel="icon" href="data:,"><h1>Shop</h1>'
                           f'<iframe id="status" src="{status_url}/embed" width="400" '
                           f'height="120"></iframe>',
        }

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = pages.get(self.path, "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def embedded():
    """The real app (chalice local on moto) allowing one host origin to frame /embed, that
    host, and another one it does not allow."""
    from chalice.config import Config
    from chalice.local import create_local_server

    from chalicelib import wiring
    with mock_aws():
        port = free_port()
        status_url = f"http://127.0.0.1:{port}"
        allowed, other = HostPages(status_url), HostPages(status_url)
        c = wiring.container
        c.reset()
        c.env = {"AWS_DEFAULT_REGION": "us-east-1", "SNAPSHOT_CACHE_SECONDS": "5"}
        cfg = replace(f.CFG, page=replace(f.CFG.page, embed=Embed((allowed.url,))))
        c.override(config=cfg, clock=lambda: f.T0 + 30)
        c.store.create_tables()
        from app import app
        original_class = app.__class__        # chalice local swaps the class; put it back after
        server = create_local_server(app, Config.create(chalice_app=app, lambda_timeout=30),
                                     "127.0.0.1", port)
        threading.Thread(target=server.server.serve_forever, daemon=True).start()

        def publish(snapshot):
            _, version = c.store.load_snapshot(consistent=True)
            c.store.save_snapshot(snapshot, version, f.T0)
            c.public_cache.invalidate()
        try:
            yield status_url, allowed, other, publish
        finally:
            server.shutdown()
            server.server.server_close()
            app.__class__ = original_class
            allowed.close()
            other.close()
            c.reset()
            c.env = None


def load_host(browser, url):
    """Open the host page and wait until the script has read summary.json."""
    w = Watched(browser, {"width": 1000, "height": 700})
    with w.page.expect_response(lambda r: r.url.endswith("/api/v2/summary.json")) as got:
        w.page.goto(url)
    assert got.value.status == 200
    assert got.value.headers["access-control-allow-origin"] == "*"
    w.page.wait_for_load_state("networkidle")
    return w


def test_script_notice_during_an_incident_and_none_when_operational(embedded, browser):
    status_url, host, _, publish = embedded
    publish(f.snapshot())                                         # all operational
    w = load_host(browser, host.url + "/script.html")
    assert w.page.locator("[data-outpost-embed]").count() == 0
    assert w.problems == []
    w.close()

    publish(f.busy_snapshot(hostile=HOSTILE))                   # an incident, hostile text
    w = load_host(browser, host.url + "/script.html")
    notice = w.page.locator("[data-outpost-embed] .n")          # playwright pierces open shadows
    notice.wait_for(state="visible")
    text = notice.inner_text()
    assert "API errors" + HOSTILE in text                       # shown as text, not markup
    assert "2 components affected" in text
    assert w.page.evaluate("window.__pwned") is None
    assert w.page.locator("[data-outpost-embed] img").count() == 0
    link = notice.locator("a")
    assert link.get_attribute("href") == "https://status.acme.example/"
    assert link.get_attribute("rel") == "noopener noreferrer"
    notice.locator("button[aria-label=Dismiss]").click()
    assert w.page.locator("[data-outpost-embed]").count() == 0
    with w.page.expect_response(lambda r: r.url.endswith("/api/v2/summary.json")):
        w.page.reload()
    w.page.wait_for_load_state("networkidle")
    assert w.page.locator("[data-outpost-embed]").count() == 0  # dismissed for this problem
    assert w.problems == []
    w.close()


def test_a_hostile_page_url_never_becomes_a_script_link(embedded, browser):
    status_url, host, _, publish = embedded
    snap = f.busy_snapshot()
    snap["page"]["url"] = "javascript:window.__pwned=1"
    publish(snap)
    w = load_host(browser, host.url + "/script.html")
    link = w.page.locator("[data-outpost-embed] .n a")
    link.wait_for(state="visible")
    assert link.get_attribute("href") == status_url + "/"
    w.close()


def test_iframe_loads_only_from_an_allowed_ancestor(embedded, browser):
    status_url, allowed, other, publish = embedded
    publish(f.busy_snapshot())
    w = Watched(browser, {"width": 1000, "height": 700})
    w.page.goto(allowed.url + "/frame.html")
    w.page.wait_for_load_state("networkidle")
    frame = w.page.frame_locator("#status")
    heading = frame.locator("h1")
    heading.wait_for(state="visible")
    assert "Acme Status" in heading.inner_text()
    assert frame.locator("li.incident").first.inner_text().startswith("API errors")
    w.close()

    w = Watched(browser, {"width": 1000, "height": 700})
    refused = []
    w.page.on("console", lambda m: "frame-ancestors" in m.text and refused.append(m.text))
    w.page.goto(other.url + "/frame.html")
    w.page.wait_for_load_state("networkidle")
    child = w.page.frames[1]
    # Chromium replaces a refused frame with its own error page
    assert child.url == "chrome-error://chromewebdata/"
    assert child.locator(".e").count() == 0 and "Acme Status" not in child.content()
    assert refused, "Chromium did not report refusing the frame"
    assert f"frame-ancestors {allowed.url}" in refused[0]
    w.close()


def test_script_stays_within_its_budget_and_headers(embedded):
    import urllib.request
    status_url, *_ = embedded
    with urllib.request.urlopen(status_url + "/embed.js") as resp:
        body = resp.read()
        assert resp.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert "max-age" in resp.headers["Cache-Control"] and resp.headers["ETag"]
    assert len(gzip.compress(body, 9)) <= SCRIPT_BUDGET
    assert b"innerHTML" not in body and b"insertAdjacentHTML" not in body
    assert b"document.write" not in body and b"eval(" not in body
