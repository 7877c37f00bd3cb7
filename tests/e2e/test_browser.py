"""The status page in a real headless Chromium (Debian's, driven by playwright).

Two setups: the real app served in-process by chalice local on a snapshot built in code (every
feature present: incidents, maintenance, 90-day bars, response times), and the real local stack
(`make run`'s process) with an outage caused on its demo service and an incident posted through
the operator API. Screenshots go to build/screenshots/.
"""
from __future__ import annotations

import json
import os
import threading
import urllib.request

import pytest
from moto import mock_aws

from tests import factories as f
from tests.conftest import ROOT
from tests.e2e.browser import Watched
from tests.e2e.stack import Stack, fetch, free_port, wait_for

SHOTS = os.path.join(ROOT, "build", "screenshots")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module", autouse=True)
def screenshots_dir():
    os.makedirs(SHOTS, exist_ok=True)


@pytest.fixture
def served_app():
    """The real app on moto, served by chalice local on a free port, with a busy snapshot."""
    from chalice.config import Config
    from chalice.local import create_local_server

    from chalicelib import wiring
    with mock_aws():
        c = wiring.container
        c.reset()
        c.env = {"AWS_DEFAULT_REGION": "us-east-1", "SNAPSHOT_CACHE_SECONDS": "5"}
        c.override(config=f.CFG, clock=lambda: f.T0 + 30)
        c.store.create_tables()
        snap = f.busy_snapshot()
        c.store.save_snapshot(snap, None, f.T0)
        from app import app
        original_class = app.__class__        # chalice local swaps the class; put it back after
        port = free_port()
        server = create_local_server(app, Config.create(chalice_app=app, lambda_timeout=30),
                                     "127.0.0.1", port)
        thread = threading.Thread(target=server.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{port}", snap
        finally:
            server.shutdown()
            server.server.server_close()
            app.__class__ = original_class
            c.reset()
            c.env = None


def background(page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def check_page(page, incident_name: str):
    """What a visitor must see on `/`, whatever the data."""
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("main").count() == 1 and page.locator("h1").count() == 1
    banner = page.locator("section.banner").first
    assert banner.is_visible() and banner.inner_text().strip()
    assert page.locator("li.component").count() >= 3
    bars = page.locator("svg.bars")
    assert bars.count() >= 1 and bars.first.is_visible()
    assert page.locator("svg.bars").first.locator("path.d-ok").count() == 1
    # Other incidents may be open too (the checker opens one by itself on an outage).
    active = page.locator("#active-title ~ article", has=page.locator("h3", has_text=incident_name))
    assert active.count() == 1 and active.locator("h3").inner_text() == incident_name
    assert active.locator("ol.timeline li").count() >= 1
    return active


RED = {"light": "rgb(209, 36, 47)", "dark": "rgb(248, 81, 73)"}
GREEN = {"light": "rgb(26, 127, 55)", "dark": "rgb(63, 185, 80)"}


def stroke_at_day(page, bars, day: int) -> str:
    """The colour of whatever the browser draws at the middle of day `day`'s bar (4 of the
    chart's 359 units per day, the bar being the first 3)."""
    bars.scroll_into_view_if_needed()          # elementFromPoint sees the viewport only
    box = bars.bounding_box()
    x = box["x"] + (day * 4 + 1.5) * box["width"] / 359
    y = box["y"] + box["height"] / 2
    return page.evaluate("([x, y]) => getComputedStyle(document.elementFromPoint(x, y)).stroke",
                         [x, y])


def test_page_in_chromium_desktop_phone_and_dark(browser, served_app):
    url, snap = served_app
    for name, viewport, scheme in (("desktop", DESKTOP, "light"), ("phone", PHONE, "light"),
                                   ("desktop-dark", DESKTOP, "dark"), ("phone-dark", PHONE, "dark")):
        w = Watched(browser, viewport, scheme, at=f.T0 + 30)      # the moment the data is from
        page = w.page
        resp = page.goto(url + "/")
        assert resp.status == 200 and resp.headers["content-type"] == "text/html; charset=utf-8"
        check_page(page, "API errors")
        assert page.locator("section.banner.live-only h2").inner_text() == "Partial System Outage"
        assert not page.locator("section.banner.stale-only").is_visible()
        names = page.locator("li.component .name").all_inner_texts()
        assert names == ["API", "Website", "Search"]
        statuses = [s.inner_text() for s in page.locator("li.component .pill").all()
                    if s.is_visible()]
        assert statuses == ["Major outage", "Operational", "Degraded performance"]
        # 90 bars per component: one dashed stroke, the bad days over it, and a tooltip
        # that also names the chart to a screen reader.
        first = page.locator("svg.bars").first
        assert first.get_attribute("role") == "img"
        assert first.locator("title").text_content().endswith(
            "2 days with downtime or degradation; latest: May 25, 2026: 99.30% uptime; "
            "major outage 10 min")
        # What is drawn where: day 86 (3 days ago) red over the stroke, day 85 green.
        assert stroke_at_day(page, first, 86) == RED[scheme]
        assert stroke_at_day(page, first, 85) == GREEN[scheme]
        assert page.locator("svg.rt").count() == 3
        timeline = page.locator("#active-title + article ol.timeline li")
        assert timeline.count() == 2 and "Identified" in timeline.first.inner_text()
        assert page.get_by_text("failing from 2 of 3 regions").is_visible()
        assert page.get_by_role("heading", name="About this page").is_visible()
        # Mobile-first: nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        colour = background(page)
        assert colour == ("rgb(13, 17, 23)" if scheme == "dark" else "rgb(255, 255, 255)")
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)
        assert w.problems == []
        w.close()


def test_incident_page_and_feeds_from_the_browser(browser, served_app):
    url, snap = served_app
    w = Watched(browser, DESKTOP)
    page = w.page
    page.goto(url + "/")
    page.locator("#active-title + article h3 a").click()
    page.wait_for_url(f"**/incidents/{snap['incidents'][0]['id']}")
    assert page.locator("h1").inner_text() == "API errors"
    assert page.locator("ol.timeline li").count() == 2
    page.get_by_role("link", name="Incident history").first.click()
    assert page.locator("h1").inner_text() == "Incident history"
    page.screenshot(path=os.path.join(SHOTS, "incident-history.png"), full_page=True)
    assert w.problems == []
    w.close()
    missing = urllib.request.Request(url + "/incidents/nope")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(missing, timeout=5)
    assert err.value.code == 404


def _shows_unknown(page):
    assert "stale" in page.locator("html").get_attribute("class")
    assert page.locator("section.banner.stale-only").is_visible()
    assert not page.locator("section.banner.live-only").is_visible()
    visible = [s for s in page.locator("li.component .pill").all() if s.is_visible()]
    assert [s.inner_text() for s in visible] == ["Unknown"] * 3
    assert "%2359636e" in page.locator("link[rel=icon]").get_attribute("href")   # grey icon


def test_static_copy_turns_itself_unknown_when_its_data_is_old(browser, tmp_path):
    from chalicelib.render import html
    snap = f.busy_snapshot()
    path = tmp_path / "index.html"
    path.write_bytes(html.render_index(snap, stale=False))
    w = Watched(browser, PHONE, at=f.T0 + 3600)     # an hour after its data
    page = w.page
    page.goto(path.as_uri())
    _shows_unknown(page)
    page.screenshot(path=os.path.join(SHOTS, "static-stale-phone.png"), full_page=True)
    assert w.problems == []
    w.close()


def test_live_page_kept_by_a_cache_turns_unknown_in_the_browser(browser, served_app):
    """The API's own HTML, as a CDN or browser cache would hand it out an hour later
    (stale-while-revalidate, stale-if-error): the server rendered it fresh and is not asked
    again, yet the visitor sees "unknown", not an old green."""
    url, snap = served_app
    w = Watched(browser, DESKTOP, at=f.T0 + 3600)
    page = w.page
    resp = page.goto(url + "/")
    assert resp.status == 200
    served = resp.text()
    assert 'class="banner tone-partial live-only"' in served       # rendered as fresh, server-side
    _shows_unknown(page)
    page.screenshot(path=os.path.join(SHOTS, "live-stale-desktop.png"), full_page=True)
    assert w.problems == []
    w.close()


def test_an_open_page_turns_unknown_once_its_data_ages(browser, served_app):
    url, snap = served_app
    w = Watched(browser, PHONE, at=f.T0 + 30)      # data 50 s old: live
    page = w.page
    page.goto(url + "/")
    assert page.locator("section.banner.live-only").is_visible()
    assert "stale" not in (page.locator("html").get_attribute("class") or "")
    page.clock.run_for("01:00")                     # 110 s old: still within the 180 s limit
    assert page.locator("section.banner.live-only").is_visible()
    page.clock.run_for("02:00")                     # 230 s old, nobody reloaded
    _shows_unknown(page)
    assert w.problems == []
    w.close()


def _post(url: str, key: str, body: dict) -> dict:
    req = urllib.request.Request(url, method="POST", data=json.dumps(body).encode(), headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_real_local_stack_with_an_outage_and_an_incident(browser, tmp_path):
    stack = Stack(tmp_path)
    try:
        demo = f"http://127.0.0.1:{stack.demo_port}"
        wait_for(lambda: stack.status_of("API") == "operational", 30, "API operational")
        fetch(demo + "/_demo/fail?path=/health", method="POST")
        wait_for(lambda: stack.status_of("API") == "major_outage", 30, "API major_outage")
        key = open(os.path.join(stack.local_dir, "operator.key")).read().strip()
        created = _post(stack.url + "/api/v1/pages/demo/incidents", key, {"incident": {
            "name": "API returning errors", "status": "identified",
            "body": "The API answers **503**; a fix is rolling out."}})
        wait_for(lambda: any(i["id"] == created["id"] for i in
                             fetch(stack.url + "/api/v2/incidents/unresolved.json")["incidents"]),
                 15, "the incident on the public API")
        for name, viewport in (("stack-desktop", DESKTOP), ("stack-phone", PHONE)):
            w = Watched(browser, viewport)
            page = w.page
            page.goto(stack.url + "/")
            ours = check_page(page, "API returning errors")
            assert page.locator("section.banner:visible h2").inner_text() != "All Systems Operational"
            api = page.locator("li.component", has=page.locator(".name", has_text="API"))
            assert api.locator(".pill:visible").inner_text() == "Major outage"
            assert "The API answers 503" in ours.inner_text()
            assert ours.locator("strong", has_text="503").count() == 1
            page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)
            assert w.problems == []
            w.close()
    finally:
        stack.stop()


def test_is_it_just_me_forms_without_javascript_make_a_spike_on_the_real_stack(browser, tmp_path):
    """Three people (three addresses, as CloudFront would pass them) use the page's "Having
    trouble with API?" form with JavaScript off; the demo's threshold is 3, so the page then
    says so, summary.json carries the count, and the operators get one alert."""
    stack = Stack(tmp_path)
    try:
        for i in (1, 2, 3):
            # From one machine every visitor is 127.0.0.1 at the edge, as at CloudFront; three
            # people are three requests CloudFront forwards, sent to the origin with its proof.
            context = browser.new_context(viewport=PHONE, java_script_enabled=False,
                                          extra_http_headers={
                                              **stack.as_cloudfront(f"198.51.100.{i}:4{i}000"),
                                              "CloudFront-Viewer-Country": "DE"})
            page = context.new_page()
            page.goto(stack.origin_url + "/")
            form = page.locator("details.report")               # one for every component
            assert form.count() == 1
            assert not form.locator("select").first.is_visible()     # folded until asked for
            form.locator("summary").click()
            assert form.locator("summary").inner_text() == "Having trouble with one of these?"
            form.locator("select[name=component]").select_option(label="API")
            form.locator("select[name=kind]").select_option("errors")
            form.locator("textarea[name=note]").fill(f"person {i}: checkout fails <b>500</b>")
            with page.expect_navigation() as nav:
                form.get_by_role("button", name="Report a problem").click()
            assert nav.value.status == 202
            assert page.locator("h1").inner_text() == "Thanks for telling us"
            assert "report about API" in page.locator("main").inner_text()
            if i == 3:
                page.screenshot(path=os.path.join(SHOTS, "report-thanks-phone.png"))
            context.close()

        def page_text():
            with urllib.request.urlopen(stack.url + "/", timeout=5) as resp:
                return resp.read().decode()
        sentence = "3 people reported problems with API in the last 30 minutes"
        wait_for(lambda: sentence in page_text(), 30, "the count on the page")
        # summary.json is cached at the edge like the page (max-age 15, as at CloudFront)
        body = wait_for(lambda: (lambda b: b if b["outpost"]["reports"] else None)(
            fetch(stack.url + "/api/v2/summary.json")), 30, "the count in summary.json")
        api_id = next(c["id"] for c in body["components"] if c["name"] == "API")
        assert body["outpost"]["reports"] == {api_id: 3}
        assert "checkout fails" not in page_text()                # notes stay private
        wait_for(lambda: "sent: [Outpost Demo] 3 user reports about API in 30 minutes"
                 in stack.output(), 30, "the operators' alert")
        w = Watched(browser, DESKTOP)
        w.page.goto(stack.url + "/")
        assert w.page.get_by_text(sentence).is_visible()
        w.page.screenshot(path=os.path.join(SHOTS, "report-spike-desktop.png"), full_page=True)
        assert w.problems == []
        w.close()
        assert stack.output().count("user reports about API") == 1
    finally:
        stack.stop()
