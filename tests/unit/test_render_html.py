"""The HTML page, incident pages, history and 404, rendered from snapshots built in code."""
import re

import pytest

from chalicelib.core.model import CheckPolicy, Component, Page, StatusConfig
from chalicelib.render import html, view
from tests import factories as f
from tests.inert import HOSTILE, assert_inert_html, parse_html, visible_text


def page(snap, stale=False) -> str:
    return html.render_index(snap, stale).decode()


def components(body):
    """[(name, status)] in page order, from the markup a reader sees."""
    return re.findall(r'<li class="component" id="c-\w+" data-status="(\w+)">\s*<div class="row">'
                      r'<h[34] class="name">([^<]*)</h[34]>', body)


def test_busy_page_shows_banner_components_incidents_and_maintenance():
    body = page(f.busy_snapshot())
    text = visible_text(body)
    assert '<html lang="en" ' in body
    assert "Partial System Outage" in text
    assert components(body) == [("major_outage", "API"), ("operational", "Website"),
                                ("degraded_performance", "Search")]
    # Status in words and with an icon, never colour alone.
    assert "Major outage" in text and "Degraded performance" in text and "Operational" in text
    assert body.count('<use href="#i-major"/>') >= 2      # group Core and API
    assert "failing from 2 of 3 regions" in text and "degraded from 2 of 3 regions" in text
    assert "[STATUS] (503) == 200" in text
    # Active incident with its timeline, newest update first, Markdown applied.
    active = body.index('id="active-title"')
    assert body.index("A bad deploy; rolling back", active) < body.index("We are <strong>investigating",
                                                                         active)
    assert '<a href="https://runbooks.example/api" rel="nofollow noopener">the runbook</a>' in body
    assert "Affected: API (Operational → Major outage)" in text
    maintenance = body[body.index('id="maint-title"'):body.index('id="components-title"')]
    assert "Network maintenance" in maintenance and "Database upgrade" in maintenance
    assert "In progress" in maintenance and "May 29, 2026 20:26 UTC" in maintenance
    past = body[body.index('id="past-title"'):body.index('id="subscribe-title"')]
    assert "Slow search" in past and "Fixed: index rebuilt." in past
    assert 'href="history?page=1"' in past


def test_landmarks_headings_and_links():
    body = page(f.busy_snapshot())
    tags = [t for t, _ in parse_html(body).tags]
    assert tags.count("h1") == 1 and {"header", "main", "footer"} <= set(tags)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body
    assert "prefers-color-scheme:dark" in body
    for href in ("history.atom", "history.rss", "api/v2/summary.json", "badge.svg"):
        assert f'href="{href}"' in body
    assert "api/v1/subscribe" in body
    # One script: the page's own age check. Everything else works without JS.
    assert [t for t, _ in parse_html(body).tags].count("script") == 1


def test_about_section_says_where_it_runs_and_how_it_is_backed_up():
    text = visible_text(page(f.busy_snapshot()))
    about = text[text.index("About this page"):]
    assert "AWS us-west-2" in about and "mediatemple el-segundo" in about
    assert "separately from the service" in about
    assert "through Amazon CloudFront" in about and "copy kept in Amazon S3" in about
    assert "point-in-time recovery" in about and "35 days" in about
    assert "3 regions (us-west-2, eu-west-1, ap-southeast-2)" in about and "2 of them agree" in about


def test_about_section_without_hosting_details():
    cfg = StatusConfig(page=Page("p", "P", "https://p.example"),
                       checks=CheckPolicy(regions=("a",), quorum=1), components=(Component("x", "X"),))
    text = visible_text(page(f.snapshot(cfg=cfg, extras=False)))
    assert "run by Outpost, separately from the service it reports on, so it" in text


def test_uptime_bars_are_one_dashed_stroke_plus_the_bad_days_and_one_tooltip():
    body = page(f.busy_snapshot())
    api = body[body.index('data-status="major_outage">'):body.index("Website</h4>")]
    svg = re.search(r'<svg class="bars" viewBox="0 0 359 28" preserveAspectRatio="none" '
                    r'role="img">(.*?)</svg>', api).group(1)
    # 90 days: the good ones are the dashes of one stroke across all of them, the others are
    # drawn over it, one path per tone, at their day's place (day i at x = 4 i).
    assert '<path class="d-ok" d="M0 14h360"/>' in svg
    assert '<path class="d-major" d="M344 14h3"/>' in svg            # 3 days ago: day 86
    assert '<path class="d-degraded" d="M316 14h3"/>' in svg         # 10 days ago: day 79
    assert "<rect" not in svg and svg.count("<path") == 3
    title = re.search(r"<title>([^<]+)</title>", svg).group(1)
    assert title == ("API: 99.99% uptime over the last 90 days, 2 days with downtime or "
                     "degradation; latest: May 25, 2026: 99.30% uptime; major outage 10 min")
    assert "99.99% uptime" in api


def test_response_time_chart_is_inline_svg():
    body = page(f.busy_snapshot())
    assert body.count('<svg class="rt" viewBox="0 0 23 48"') == 3    # 24 points, 1 unit apart
    assert "median 150 ms, p95 270 ms" in body
    d = re.search(r'<path class="p50" d="M0 (\d+)l([^"]+)"', body)
    steps = [int(n) for n in re.findall(r"-?\d+", d.group(2))]
    assert len(steps) == 2 * 23 and steps[0::2] == [1] * 23
    ys = [int(d.group(1))]
    for dy in steps[1::2]:
        ys.append(ys[-1] + dy)
    assert all(0 <= y <= 48 for y in ys)


def test_without_uptime_or_response_data_the_page_still_renders():
    body = page(f.snapshot(extras=False))
    assert 'class="bars"' not in body and 'class="rt"' not in body
    assert components(body) == [("operational", "API"), ("operational", "Website"),
                                ("operational", "Search")]


def test_stale_data_shows_unknown_never_operational():
    snap = f.busy_snapshot()
    body = page(snap, stale=True)
    text = visible_text(body)
    assert "Status unknown: checks have stopped reporting" in text
    assert "The newest check result is from May 28, 2026 20:26 UTC" in text
    assert {s for s, _ in components(body)} == {"unknown"}
    assert "pill tone-ok" not in body and "Partial System Outage" not in text
    assert "failing from 2 of 3 regions" not in text       # a live-check detail, now unknown
    assert "API errors" in text                            # incidents are still current


def test_stale_keeps_a_status_an_operator_set():
    snap = f.busy_snapshot()
    api = f.cid("api")
    snap["outpost"]["components"][api]["overridden"] = True
    body = page(snap, stale=True)
    assert dict((n, s) for s, n in components(body)) == {
        "API": "major_outage", "Website": "unknown", "Search": "unknown"}


def test_no_results_yet_is_stale_and_says_so():
    from chalicelib.core.snapview import is_stale
    snap = f.snapshot(data_as_of=None)
    assert is_stale(snap, f.T0)
    assert "no check results have arrived yet" in visible_text(page(snap, stale=True))


@pytest.mark.parametrize("age, stale", [(0, False), (179, False), (181, True)])
def test_staleness_is_judged_from_the_newest_result(age, stale):
    from chalicelib.core.snapview import is_stale
    snap = f.snapshot(data_as_of=f.T0)       # checks every 60 s: stale after 180 s
    assert is_stale(snap, f.T0 + age) is stale
    snap["outpost"]["stale"] = False          # the checker's own verdict wins when present
    assert is_stale(snap, f.T0 + 10_000) is False


def test_only_show_if_degraded_hides_healthy_components():
    snap = f.busy_snapshot()
    for row in snap["components"]:
        row["only_show_if_degraded"] = True
    names = [n for _, n in components(page(snap))]
    assert names == ["API", "Search"]


def test_times_are_absolute_in_the_page_time_zone():
    cfg = StatusConfig(page=Page("acme", "Acme", "https://a.example", "America/Los_Angeles"),
                       checks=f.CFG.checks, components=f.CFG.components)
    text = visible_text(page(f.snapshot(cfg=cfg)))
    assert "Last checked May 28, 2026 13:26 PDT" in text
    # A cached page must not say "5 minutes ago".
    assert not re.search(r"(second|minute|hour)s? ago", text)


def test_every_copy_of_the_page_carries_both_views_and_judges_its_own_age():
    # The API's page and the S3 copy alike: CDNs and browsers keep either past its moment.
    body = page(f.busy_snapshot())
    assert re.search(r'<html lang="en" data-as-of="1779999980.0" data-stale-after="180.0">', body)
    p = assert_inert_html(body, allowed_scripts=1)
    assert "Date.now()" in p.script_bodies[0] and "setInterval" in p.script_bodies[0]
    # ... and the grey "unknown" favicon to switch to.
    assert re.search(r'<link rel="icon" href="data:image/svg\+xml,[^"]*" '
                     r'data-stale-href="data:image/svg\+xml,[^"]*%2359636e', body)
    assert 'class="banner tone-partial live-only"' in body
    assert 'class="banner tone-unknown stale-only"' in body
    assert body.count('class="pill tone-unknown stale-only"') == 4     # one per component + group
    assert "html.stale .live-only{display:none}" in body


def test_hostile_operator_text_is_inert_everywhere_on_the_page():
    snap = f.busy_snapshot(HOSTILE)
    for body, scripts in ((page(snap), 1), (page(snap, stale=True), 1),
                          (html.render_incident(snap, snap["incidents"][0]["id"]).decode(), 0),
                          (html.render_history(snap, 1).decode(), 0)):
        p = assert_inert_html(body, allowed_scripts=scripts)
        assert HOSTILE in "".join(p.text) or '<script>alert(1)</script>' in "".join(p.text)


def test_incident_page_and_unknown_id():
    snap = f.busy_snapshot()
    inc = snap["incidents"][0]
    body = html.render_incident(snap, inc["id"]).decode()
    text = visible_text(body)
    assert "<h1 id=\"incident-title\">API errors</h1>" in body
    assert "Identified" in text and "We are investigating errors on the API." in text
    assert 'href="../"' in body                        # relative: works under any base path
    maintenance = snap["scheduled_maintenances"][0]
    mbody = visible_text(html.render_incident(snap, maintenance["id"]).decode())
    assert "Scheduled May 29, 2026 20:26 UTC until May 29, 2026 22:26 UTC" in mbody
    assert html.render_incident(snap, "nope") is None
    assert "Not found" in html.render_not_found(snap).decode()


def _many_incidents(n):
    return [f.incident(f"i{k}", f"Incident {k}", [
        ("investigating", f"Body {k}", f.T0 - (n - k) * 5 * f.DAY),
        ("resolved", "Done", f.T0 - (n - k) * 5 * f.DAY + 600)]) for k in range(n)]


def test_history_pages_newest_first_grouped_by_month():
    snap = f.snapshot(incidents=list(reversed(_many_incidents(23))))
    assert view.history_pages(snap) == 3
    first = html.render_history(snap, 1).decode()
    names = re.findall(r'<a href="incidents/\w+">(Incident \d+)</a>', first)
    assert names == [f"Incident {k}" for k in range(22, 12, -1)]
    assert re.findall(r"<h2 id=\"m-\d\">([^<]+)</h2>", first) == ["May 2026", "April 2026"]
    assert 'href="history?page=2" rel="next"' in first and 'rel="prev"' not in first
    last = html.render_history(snap, 3).decode()
    assert re.findall(r">(Incident \d+)</a>", last) == ["Incident 2", "Incident 1", "Incident 0"]
    assert 'href="history?page=2" rel="prev"' in last and 'rel="next"' not in last
    assert html.render_history(snap, 4) is None and html.render_history(snap, 0) is None


def test_empty_history_has_one_page():
    snap = f.snapshot()
    assert view.history_pages(snap) == 1
    assert "No incidents or maintenance recorded." in html.render_history(snap, 1).decode()


def test_the_checkers_unknown_and_unmonitored_components():
    snap = f.busy_snapshot()
    extras = snap["outpost"]["components"]
    extras[f.cid("web")]["unknown"] = True             # never checked: not green on a live page
    extras[f.cid("search")]["monitored"] = False       # nothing reports for it: never stale
    statuses = {n: s for s, n in components(page(snap))}
    assert statuses == {"API": "major_outage", "Website": "unknown",
                        "Search": "degraded_performance"}
    stale = {n: s for s, n in components(page(snap, stale=True))}
    assert stale == {"API": "unknown", "Website": "unknown", "Search": "degraded_performance"}


@pytest.mark.parametrize("api, web, shown", [
    (False, False, "major_outage"),     # both known: the group's own worst status
    (False, True, "major_outage"),      # a known outage is still an outage
    (True, True, "unknown"),            # nothing known
])
def test_group_status_with_unknown_children(api, web, shown):
    snap = f.busy_snapshot()
    extras = snap["outpost"]["components"]
    extras[f.cid("api")]["unknown"], extras[f.cid("web")]["unknown"] = api, web
    assert re.search(r'<h3>Core</h3><span class="pill tone-(\w+)', page(snap)).group(1) == \
        {"major_outage": "major", "unknown": "unknown"}[shown]


def test_an_operational_group_with_an_unknown_child_is_unknown():
    states = {k: f.state() for k in ("api", "web", "search")}
    snap = f.snapshot(states)
    snap["outpost"]["components"][f.cid("web")]["unknown"] = True
    assert re.search(r'<h3>Core</h3><span class="pill tone-(\w+)', page(snap)).group(1) == "unknown"


def test_a_maintenance_window_from_the_status_file_is_shown():
    snap = f.busy_snapshot()
    snap["outpost"]["components"][f.cid("search")]["maintenance"] = {
        "id": "w", "name": "Nightly reindex", "starts_at": "2026-05-28T20:00:00.000Z",
        "ends_at": "2026-05-28T21:00:00.000Z"}
    assert "Maintenance window: Nightly reindex, until May 28, 2026 21:00 UTC" in \
        visible_text(page(snap))


def test_the_page_switches_to_what_staleness_would_show():
    snap = f.busy_snapshot()
    snap["outpost"]["components"][f.cid("api")]["overridden"] = True   # an incident set it
    body = page(snap)
    api = body[body.index('<h4 class="name">API</h4>'):body.index('<h4 class="name">Website</h4>')]
    assert 'class="pill tone-major live-only"' in api and 'class="pill tone-major stale-only"' in api


def _contrast(a: str, b: str) -> float:
    def lum(colour):
        r, g, b_ = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b_)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_text_colours_meet_wcag_aa_in_light_and_dark():
    css = open(html.TEMPLATES + "/style.css").read()
    light, dark = (dict(re.findall(r"--([\w-]+):(#[0-9a-f]{6})", block)) for block in
                   (css.split("@media")[0], css.split("prefers-color-scheme:dark")[1].split("}}")[0]))
    for palette in (light, dark):
        for surface in ("bg", "card"):
            for name in ("fg", "muted", "link", "ok", "degraded", "partial", "major",
                         "maintenance", "unknown"):
                assert _contrast(palette[name], palette[surface]) >= 4.5, (name, surface)
        for tone in ("ok", "degraded", "partial", "major", "maintenance", "unknown"):
            assert _contrast(palette["fg"], palette[f"{tone}-bg"]) >= 4.5, tone   # banners


@pytest.mark.parametrize("url, link", [
    ("https://social.example/@acme", '<a href="https://social.example/@acme" rel="me noopener">'
                                     "social.example/@acme</a>"),
    ("javascript:alert(1)", None),
    (None, None),
])
def test_official_account_link(url, link):
    body = html.render_index(f.busy_snapshot(), False, social_url=url).decode()
    if link:
        assert link in body
    else:
        assert "official account" not in body and "javascript:" not in body
