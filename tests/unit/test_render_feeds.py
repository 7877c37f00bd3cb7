"""Atom and RSS history feeds: valid for a standard parser, with incidents, updates, maintenance."""
import feedparser
import pytest

from chalicelib.render import feeds
from tests import factories as f
from tests.inert import HOSTILE, assert_inert_xml

RENDERERS = {"atom": feeds.render_atom, "rss": feeds.render_rss}


@pytest.mark.parametrize("kind", RENDERERS)
def test_feed_parses_and_has_every_incident_update_and_maintenance(kind):
    parsed = feedparser.parse(RENDERERS[kind](f.busy_snapshot()))
    assert parsed.bozo is False, parsed.get("bozo_exception")
    assert parsed.version == ("atom10" if kind == "atom" else "rss20")
    assert parsed.feed.title == "Acme Status: incident history"
    titles = [e.title for e in parsed.entries]
    # Newest activity first: the maintenance started 10 min ago, the incident's last update 15.
    assert titles == ["Maintenance: Network maintenance (In progress)", "API errors (Identified)",
                      "Maintenance: Database upgrade (Scheduled)", "Slow search (Resolved)"]
    api = parsed.entries[1]
    assert api.link == f"https://status.acme.example/incidents/{f.busy_snapshot()['incidents'][0]['id']}"
    body = api.content[0].value if kind == "atom" else api.description
    assert "We are <strong>investigating</strong> errors on the API." in body
    assert "A bad deploy; rolling back." in body
    assert body.index("Identified ·") < body.index("Investigating ·")     # newest update first
    maintenance = parsed.entries[2]
    text = maintenance.content[0].value if kind == "atom" else maintenance.description
    assert "Scheduled May 29, 2026 20:26 UTC until May 29, 2026 22:26 UTC" in text
    assert {t.term for t in maintenance.tags} == {"maintenance", "scheduled"}


def test_atom_dates_and_ids():
    parsed = feedparser.parse(feeds.render_atom(f.busy_snapshot()))
    first = parsed.entries[0]
    assert first.id == first.link and first.updated == "2026-05-28T20:16:40.000Z"
    assert parsed.feed.updated == "2026-05-28T20:16:40.000Z"      # the newest entry, not "now"


def test_rss_dates_are_rfc822():
    parsed = feedparser.parse(feeds.render_rss(f.busy_snapshot()))
    assert parsed.entries[0].published == "Tue, 26 May 2026 20:26:40 GMT"


@pytest.mark.parametrize("kind", RENDERERS)
def test_an_empty_page_is_a_valid_empty_feed(kind):
    parsed = feedparser.parse(RENDERERS[kind](f.snapshot()))
    assert parsed.bozo is False and parsed.entries == []


def test_feeds_are_capped_at_50_entries():
    many = [f.incident(f"i{k}", f"Incident {k}", [("resolved", "x", f.T0 - k * 60)]) for k in range(60)]
    parsed = feedparser.parse(feeds.render_atom(f.snapshot(incidents=many)))
    assert len(parsed.entries) == 50 and parsed.entries[0].title == "Incident 0 (Resolved)"


@pytest.mark.parametrize("kind, html_field", [("atom", "content"), ("rss", "description")])
def test_hostile_text_stays_text(kind, html_field):
    raw = RENDERERS[kind](f.busy_snapshot(HOSTILE + "\x01\x1b"))
    assert_inert_xml(raw, html_fields=(html_field,))       # well-formed despite ]]> and controls
    parsed = feedparser.parse(raw)
    assert parsed.bozo is False
    # The title comes back exactly as typed (minus the control characters): escaped, not dropped.
    assert parsed.entries[1].title == f"API errors{HOSTILE} (Identified)"
