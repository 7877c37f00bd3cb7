"""The HTML page, incident pages, history, feeds and badges on the real Chalice app over moto."""
import json
import re

import feedparser

from chalicelib.usecases.rounds import run_round
from tests import factories as f
from tests.inert import HOSTILE, assert_inert_html, assert_inert_xml, visible_text


def get(client, path, **headers):
    return client.http.get(path, headers=headers)


def cache_seconds(cache_control: str) -> dict:
    return {k: int(v) for k, v in re.findall(r"([a-z-]+)=(\d+)", cache_control)}


def publish(c, clock, snap):
    """Store `snap` as the current snapshot and let the public cache's 5 s copy expire."""
    _, version = c.store.load_snapshot(consistent=True)
    c.store.save_snapshot(snap, version, clock())
    clock.tick(6)


def rounds(c, clock, n):
    for _ in range(n):
        clock.tick(60)
        run_round(c)


def _paths(snap):
    return {
        "/": "text/html; charset=utf-8",
        "/index.html": "text/html; charset=utf-8",
        "/history?page=1": "text/html; charset=utf-8",
        f"/incidents/{snap['incidents'][0]['id']}": "text/html; charset=utf-8",
        "/history.atom": "application/atom+xml",
        "/history.rss": "application/rss+xml",
        "/badge.svg": "image/svg+xml",
        "/badge/api.svg": "image/svg+xml",
        f"/badge/{f.cid('api')}.svg": "image/svg+xml",
        "/api/v2/shields.json": "application/json; charset=utf-8",
        "/api/v2/shields/web.json": "application/json; charset=utf-8",
    }


def test_every_route_has_its_type_a_strong_etag_304_cache_control_and_cors(stack):
    c, client, clock, *_ = stack
    snap = f.busy_snapshot(now=clock())
    publish(c, clock, snap)
    for path, content_type in _paths(snap).items():
        resp = get(client, path)
        assert resp.status_code == 200, path
        h = resp.headers
        assert h["Content-Type"] == content_type, path
        assert h["Access-Control-Allow-Origin"] == "*"
        cc = h["Cache-Control"]
        assert cc.startswith("public") and "max-age=" in cc and "stale-while-revalidate=" in cc \
            and "stale-if-error=" in cc
        # An old copy may stand in for a failing API for minutes, never for hours.
        assert 0 < cache_seconds(cc)["stale-if-error"] <= 300, path
        etag = h["ETag"]
        assert etag.startswith('"') and len(etag) == 34
        again = get(client, path, **{"If-None-Match": etag})
        assert again.status_code == 304 and again.body == b"" and again.headers["ETag"] == etag
        assert get(client, path, **{"If-None-Match": '"other"'}).status_code == 200


def test_page_shows_the_snapshot(stack):
    c, client, clock, *_ = stack
    publish(c, clock, f.busy_snapshot(now=clock()))
    text = visible_text(get(client, "/").body.decode())
    for words in ("Partial System Outage", "API errors", "A bad deploy; rolling back",
                  "Network maintenance", "Database upgrade", "Slow search",
                  "failing from 2 of 3 regions", "99.99% uptime", "About this page"):
        assert words in text, words


def test_the_live_page_carries_its_data_age_for_the_browser(stack):
    """A copy a CDN or browser keeps (stale-while-revalidate, stale-if-error) can't be
    re-rendered: the page says how old its data is and judges that in the browser."""
    c, client, clock, *_ = stack
    snap = f.busy_snapshot(now=clock())
    publish(c, clock, snap)
    body = get(client, "/").body.decode()
    as_of = snap["outpost"]["data_as_of_epoch"]
    assert f'data-as-of="{float(as_of)}"' in body and 'data-stale-after="' in body
    assert 'class="banner tone-partial live-only"' in body
    assert 'class="banner tone-unknown stale-only"' in body
    p = assert_inert_html(body, allowed_scripts=1)
    assert "Date.now()" in p.script_bodies[0]


def test_index_html_is_the_same_page(stack):
    c, client, clock, *_ = stack
    publish(c, clock, f.busy_snapshot(now=clock()))
    root, index = get(client, "/"), get(client, "/index.html")
    assert root.body == index.body and root.headers["ETag"] == index.headers["ETag"]


def test_the_official_account_from_the_status_file_is_linked(stack):
    import dataclasses

    from chalicelib.core.model import Operations
    c, client, clock, *_ = stack
    c.override(config=dataclasses.replace(c.config, operations=Operations(
        social_url="https://social.example/@acme")))
    assert 'href="https://social.example/@acme" rel="me noopener"' in get(client, "/").body.decode()


def test_before_any_check_the_page_is_unknown_not_green(stack):
    c, client, clock, *_ = stack
    body = get(client, "/").body.decode()
    assert "Status unknown: no check results have arrived yet" in visible_text(body)
    assert "pill tone-ok" not in body and 'data-status="unknown"' in body
    badge = get(client, "/badge/api.svg").body.decode()
    assert "unknown</text>" in badge


def test_page_follows_real_check_rounds(stack):
    c, client, clock, api_target, _ = stack
    rounds(c, clock, 2)
    clock.tick(6)
    body = get(client, "/").body.decode()
    assert "All Systems Operational" in body and 'data-status="operational"' in body
    assert "Last checked" in visible_text(body)
    api_target.behaviour = "fail"
    rounds(c, clock, 2)
    clock.tick(6)
    body = get(client, "/").body.decode()
    text = visible_text(body)
    assert "Partial System Outage" in text and "failing from 3 of 3 regions" in text
    assert "[STATUS] (503) == 200" in text
    assert "major outage</text>" in get(client, "/badge/api.svg").body.decode()
    shield = json.loads(get(client, "/api/v2/shields/api.json").body)
    assert shield == {"schemaVersion": 1, "label": "API", "message": "major outage", "color": "red"}


def test_when_checks_stop_the_page_and_badges_say_unknown(stack):
    c, client, clock, *_ = stack
    rounds(c, clock, 2)
    clock.tick(6)
    live = get(client, "/")
    assert 'data-status="operational"' in live.body.decode()
    clock.tick(181)                           # three missed rounds of 60 s
    stale = get(client, "/", **{"If-None-Match": live.headers["ETag"]})
    assert stale.status_code == 200 and stale.headers["ETag"] != live.headers["ETag"]
    body = stale.body.decode()
    assert "checks have stopped reporting" in body and "pill tone-ok" not in body
    assert "unknown</text>" in get(client, "/badge.svg").body.decode()
    assert json.loads(get(client, "/api/v2/shields/web.json").body)["message"] == "unknown"
    rounds(c, clock, 1)                       # checks are back
    clock.tick(6)
    assert 'data-status="operational"' in get(client, "/").body.decode()


def test_a_hot_request_does_no_rendering(stack, monkeypatch):
    from chalicelib.render import feeds, html
    c, client, clock, *_ = stack
    calls = []
    for module, name in ((html, "render_index"), (feeds, "render_atom")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _real=real, _n=name, **k: (
            calls.append(_n), _real(*a, **k))[1])
    publish(c, clock, f.busy_snapshot(now=clock()))
    for _ in range(3):
        assert get(client, "/").status_code == 200
        assert get(client, "/history.atom").status_code == 200
    assert calls == ["render_index", "render_atom"]
    publish(c, clock, f.busy_snapshot(now=clock()))   # a new version renders once more
    get(client, "/")
    get(client, "/")
    assert calls == ["render_index", "render_atom", "render_index"]


UNKNOWN_PAGES = [
    "/incidents/nope", "/incidents/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/incidents/" + "x" * 500,
    "/incidents/%E2%98%83", "/history?page=0", "/history?page=abc", "/history?page=2",
    "/history?page=-1", "/history?page=99999999999999999999", "/history?page=%C2%B2",
    "/history?page=%D9%A1",
]


def test_unknown_pages_are_404_html_never_500(stack):
    c, client, clock, *_ = stack
    publish(c, clock, f.busy_snapshot(now=clock()))
    for path in UNKNOWN_PAGES:
        resp = get(client, path)
        assert resp.status_code == 404, path
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        assert resp.headers["Cache-Control"] == "public, max-age=15"
        body = resp.body.decode()
        assert "Not found" in body and "alert" not in body and "xxxx" not in body


def test_unknown_badges_are_404_in_their_own_format(stack):
    c, client, clock, *_ = stack
    publish(c, clock, f.busy_snapshot(now=clock()))
    for path in ("/badge/nope.svg", "/badge/api.png", "/badge/%3Cb%3E.svg"):
        resp = get(client, path)
        assert resp.status_code == 404 and resp.headers["Content-Type"] == "image/svg+xml"
        assert "unknown component" in resp.body.decode()
    resp = get(client, "/api/v2/shields/nope.json")
    assert resp.status_code == 404 and json.loads(resp.body)["isError"] is True


def test_history_pages_over_http(stack):
    c, client, clock, *_ = stack
    many = [f.incident(f"i{k}", f"Incident {k}", [("resolved", "ok", clock() - k * 3600)])
            for k in range(15)]
    publish(c, clock, f.snapshot(incidents=many, now=clock()))
    first, second = get(client, "/history").body.decode(), get(client, "/history?page=2").body.decode()
    assert "Incident 0<" in first and "Incident 9<" in first and "Incident 10<" not in first
    assert "Incident 14<" in second and "Page 2 of 2" in second
    assert get(client, "/history?page=3").status_code == 404


def test_feeds_over_http_parse_and_carry_updates(stack):
    c, client, clock, *_ = stack
    publish(c, clock, f.busy_snapshot(now=clock()))
    for path in ("/history.atom", "/history.rss"):
        parsed = feedparser.parse(get(client, path).body)
        assert parsed.bozo is False, path
        assert len(parsed.entries) == 4
        assert any("A bad deploy; rolling back" in e.summary for e in parsed.entries)


def test_hostile_operator_text_is_inert_on_every_route(stack):
    c, client, clock, *_ = stack
    snap = f.busy_snapshot(HOSTILE, now=clock())
    publish(c, clock, snap)
    for path, content_type in _paths(snap).items():
        body = get(client, path).body
        if content_type.startswith("text/html"):
            own_scripts = 1 if path in ("/", "/index.html") else 0     # the page's age check
            p = assert_inert_html(body.decode(), allowed_scripts=own_scripts)
            assert "<script>alert(1)</script>" in "".join(p.text), path
        elif "json" in content_type:
            json.loads(body)
        else:
            html_fields = {"application/atom+xml": ("content",),
                           "application/rss+xml": ("description",)}.get(content_type, ())
            assert_inert_xml(body, html_fields)


def test_storage_down_with_nothing_cached_is_503_not_500(stack):
    c, client, clock, *_ = stack

    class Down:
        def load_snapshot(self, consistent=False):
            raise ConnectionError("dynamodb unreachable")
    c.override(store=Down())
    for path in ("/", "/history.atom", "/badge.svg", "/incidents/x"):
        resp = get(client, path)
        assert resp.status_code == 503, path
        assert resp.headers["Cache-Control"] == "no-store"


def test_when_checks_stop_and_storage_fails_the_cached_copy_still_says_unknown(stack, monkeypatch):
    """Regression: a failed snapshot read served the cached copy as it was stored, unmarked:
    data older than the limit went out green (badges, v2, the page) once per TTL, for CDNs to
    keep. The cached copy is judged at this moment like any other."""
    c, client, clock, *_ = stack
    rounds(c, clock, 2)
    clock.tick(6)
    assert 'data-status="operational"' in get(client, "/").body.decode()
    clock.tick(181)                           # three missed rounds of 60 s ...

    def storage_down(*a, **k):
        raise RuntimeError("DynamoDB is unreachable")
    monkeypatch.setattr(c.store, "load_public", storage_down)   # ... and the table is down
    assert "unknown</text>" in get(client, "/badge.svg").body.decode()
    assert json.loads(get(client, "/api/v2/shields/web.json").body)["message"] == "unknown"
    body = get(client, "/").body.decode()
    assert "checks have stopped reporting" in body and "pill tone-ok" not in body
