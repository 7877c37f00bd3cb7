"""Pure core of user reports: parsing, client identity, buckets, baselines, spikes, alert text."""
import pytest

from chalicelib.core import reports as r
from chalicelib.core.config import ConfigError, load_status_text
from chalicelib.core.model import ReportPolicy

KNOWN = {"api": "api", "abc123def456": "api", "web": "web"}
POLICY = ReportPolicy(threshold=10, factor=3, window=1800)
T = 1_780_000_000.0                      # a multiple of 300 plus 100: inside a bucket
DAY = 86400


# -- parse -------------------------------------------------------------------------------------

def test_parse_accepts_key_or_public_id_and_an_optional_note():
    assert r.parse({"component": "api", "kind": "down"}, KNOWN) == r.Report("api", "down", None)
    assert r.parse({"component": "abc123def456", "kind": "slow", "note": "  eu  \n  only "},
                   KNOWN) == r.Report("api", "slow", "eu only")
    assert r.parse({"component": "web", "kind": "other", "note": ""}, KNOWN).note is None


@pytest.mark.parametrize("payload, field", [
    ({"component": "nope", "kind": "down"}, "component"),
    ({"kind": "down"}, "component"),
    ({"component": 3, "kind": "down"}, "component"),
    ({"component": "api", "kind": "angry"}, "kind"),
    ({"component": "api"}, "kind"),
    ({"component": "api", "kind": "down", "note": 5}, "note"),
    ({"component": "api", "kind": "down", "note": "x" * 281}, "note"),
    ({"component": "api", "kind": "down", "email": "a@b"}, "email"),
    (["api"], "body"),
])
def test_parse_refuses_with_422_naming_the_field(payload, field):
    with pytest.raises(r.ReportError) as err:
        r.parse(payload, KNOWN)
    assert err.value.status == 422 and err.value.field == field


def test_a_note_is_measured_in_characters_and_loses_control_characters():
    assert r.parse({"component": "api", "kind": "down", "note": "é" * 280}, KNOWN).note == "é" * 280
    assert r.parse({"component": "api", "kind": "down", "note": "a\x00b\x1bc\u0085d"},
                   KNOWN).note == "abcd"


# -- who ---------------------------------------------------------------------------------------

def test_country_is_two_letters_or_unknown():
    assert r.country("de") == "DE" and r.country(None) == "--" and r.country("XYZ") == "--"
    assert r.country("<b>") == "--"


# -- buckets, tally, baseline ------------------------------------------------------------------

def test_window_buckets_end_with_the_current_one():
    now = 1_800_000_123.0
    buckets = r.window_buckets(now, 1800)
    assert len(buckets) == 6 and buckets[-1] == r.bucket_of(now) <= now < buckets[-1] + 300
    assert buckets == sorted(buckets) and buckets[1] - buckets[0] == 300
    days = r.baseline_buckets(now, 1800)
    assert len(days) == 7 and days[0] == [b - DAY for b in buckets] and days[6][0] == buckets[0] - 7 * DAY


def test_tally_sums_counters_and_ignores_unknown_components():
    items = [{"n#api": 3, "c#api#US": 2, "c#api#--": 1, "k#api#down": 3, "n#gone": 9},
             {"n#api": 2, "c#api#US": 2, "k#api#slow": 2, "n#web": 1}]
    t = r.tally(items, ["api", "web"])
    assert t["api"].count == 5 and t["api"].countries == {"US": 4, "--": 1}
    assert t["api"].kinds == {"down": 3, "slow": 2} and t["web"].count == 1
    assert "gone" not in t


def test_counter_attributes_cannot_collide():
    assert r.counter_attributes("my_api-2", "DE", "login") == \
        ["n#my_api-2", "c#my_api-2#DE", "k#my_api-2#login"]


def test_median():
    assert r.median([]) == 0.0 and r.median([5]) == 5 and r.median([1, 9, 3]) == 3
    assert r.median([1, 2, 3, 10]) == 2.5


def test_baseline_is_the_median_of_the_same_window_on_seven_days():
    now = T
    days = r.baseline_buckets(now, 1800)
    items = {}
    for d, count in enumerate([4, 0, 2, 6, 1, 3, 5]):    # one bucket per day carries the count
        items[days[d][2]] = {"n#api": count}
    assert r.baselines(days, items, ["api", "web"]) == {"api": 3.0, "web": 0.0}


def test_no_history_means_a_usual_count_of_zero():
    days = r.baseline_buckets(T, 1800)
    assert r.baselines(days, {}, ["api"]) == {"api": 0.0}


# -- detection -----------------------------------------------------------------------------------

def test_spike_needs_the_threshold_and_the_factor():
    assert r.is_spike(10, 0.0, POLICY)                    # baseline 0: the threshold decides
    assert not r.is_spike(9, 0.0, POLICY)
    assert r.is_spike(12, 4.0, POLICY) and not r.is_spike(11, 4.0, POLICY)   # 3 x 4 = 12
    assert not r.is_spike(50, 20.0, POLICY)               # a busy hour as usual: no spike
    assert r.detect({"api": 30, "web": 3}, {"api": 1.0}, POLICY) == {"api": 1.0}
    assert r.detect({"api": 30}, {}, POLICY) == {"api": 0.0}


def test_public_counts_only_at_or_over_the_threshold_and_only_when_public():
    ids = {"api": "pid-api", "web": "pid-web"}
    assert r.public_counts({"api": 10, "web": 9}, POLICY, ids) == {"pid-api": 10}
    assert r.public_counts({"api": 10}, ReportPolicy(public=False), ids) == {}
    assert r.public_counts({"api": 10}, ReportPolicy(enabled=False), ids) == {}


def test_a_spike_starts_once_survives_a_dip_and_ends_after_a_quiet_window():
    spikes, started = r.advance({}, {"api": 0.0}, {"api": 12}, T, 1800)
    assert started == ["api"] and spikes["api"]["since"] == r.bucket_of(T)
    assert spikes["api"]["alerted"] is False
    spikes["api"]["alerted"] = True
    later, started = r.advance(spikes, {"api": 0.0}, {"api": 20}, T + 60, 1800)
    assert started == [] and later["api"]["since"] == r.bucket_of(T) and later["api"]["peak"] == 20
    dip, started = r.advance(later, {}, {"api": 9}, T + 120, 1800)        # under the threshold
    assert started == [] and dip["api"]["alerted"] is True
    back, started = r.advance(dip, {"api": 0.0}, {"api": 11}, T + 600, 1800)
    assert started == [] and back["api"]["since"] == r.bucket_of(T)      # the same spike
    over, _ = r.advance(back, {}, {"api": 0}, T + 600 + 1800, 1800)
    assert over == {}
    again, started = r.advance(over, {"api": 0.0}, {"api": 15}, T + 4000, 1800)
    assert started == ["api"] and again["api"]["since"] == r.bucket_of(T + 4000)


# -- what operators read -------------------------------------------------------------------------

def test_checks_view_and_corroboration():
    ok = {"failing": 0, "degraded": 0, "reporting": 3, "total": 3}
    assert r.checks_view(ok, "operational", 2) == ("checks: operational from 3 of 3 regions", False)
    some = {"failing": 1, "degraded": 0, "reporting": 3, "total": 3}
    text, likely = r.checks_view(some, "operational", 2)
    assert likely and "failing from 1 of 3 regions" in text and "quorum of 2" in text
    down = {"failing": 3, "degraded": 0, "reporting": 3, "total": 3}
    assert r.checks_view(down, "major_outage", 2) == \
        ("checks: major outage, failing from 3 of 3 regions", False)
    quiet = {"failing": 0, "degraded": 0, "reporting": 2, "total": 3}
    assert r.checks_view(quiet, "operational", 2)[0] == \
        "checks: operational from 2 of 3 regions (1 not reporting)"


def test_alert_text_has_counts_countries_checks_and_links_and_fits_sns():
    t = r.Tally(31, {"US": 20, "DE": 6, "--": 5}, {"down": 25, "slow": 6})
    links = {"Status page": "https://status.example/#c-x"}
    subject, text = r.alert("Acme Status", "API", t, 0.0, POLICY,
                            ("checks: failing from 1 of 3 regions, fewer than the quorum of 2, "
                             "so the page still says operational", True), links)
    assert subject == "[Acme Status] Likely real: 31 user reports about API in 30 minutes"
    assert len(subject) < 100 and subject.isascii()
    assert "31 people reported problems with API in the last 30 minutes" in text
    assert "Top countries: US 20, DE 6, unknown 5." in text
    assert "down or not loading 25, slow 6" in text
    assert "failing from 1 of 3 regions" in text and "Likely real" in text
    assert "https://status.example/#c-x" in text
    _, quiet = r.alert("Acme", "API", t, 2.0, POLICY,
                       ("checks: operational from 3 of 3 regions", False), links)
    assert "\nChecks: operational from 3 of 3 regions.\n" in quiet
    assert "seeing what the probes don't" in quiet and "Likely real" not in quiet


def test_minutes():
    assert r.minutes(1800) == "30 minutes" and r.minutes(3600) == "hour"
    assert r.minutes(7200) == "2 hours" and r.minutes(300) == "5 minutes"


# -- the status file -----------------------------------------------------------------------------

BASE = "page: {id: x, name: X, url: 'https://x.example'}\ncomponents: []\n"


def test_reports_section_defaults_and_values():
    assert load_status_text(BASE).reports == ReportPolicy()
    cfg = load_status_text(BASE + "reports:\n  threshold: 3\n  factor: 2.5\n  window: 15m\n"
                                  "  public: false\n  per_ip_per_hour: 5\n"
                                  "  global_per_hour: 50\n  enabled: true\n")
    assert cfg.reports == ReportPolicy(True, 3, 2.5, 900.0, False, 5, 50)


@pytest.mark.parametrize("body, key, message", [
    ("  threshold: 0\n", "reports.threshold", "at least 1"),
    ("  factor: 0.5\n", "reports.factor", "at least 1"),
    ("  factor: yes\n", "reports.factor", "expected a number"),
    ("  window: 7m\n", "reports.window", "multiple of 5m"),
    ("  window: 3h\n", "reports.window", "too long"),
    ("  window: 1m\n", "reports.window", "too short"),
    ("  public: maybe\n", "reports.public", "true or false"),
    ("  treshold: 3\n", "reports.treshold", "unknown key"),
])
def test_reports_section_errors_name_file_line_and_key(body, key, message):
    with pytest.raises(ConfigError) as err:
        load_status_text(BASE + "reports:\n" + body, "status.yaml")
    assert err.value.line == 4 and err.value.key == key and message in err.value.message
    assert str(err.value).startswith(f"status.yaml:4: {key}: ")


# -- the page ------------------------------------------------------------------------------------

def _snapshot(name, count, window=1800, public=True):
    from chalicelib.core.snapshot import build_snapshot, public_id
    cfg = load_status_text(BASE.replace("components: []", f"components:\n  - id: pay\n    name: '{name}'"))
    snap = build_snapshot(cfg, {}, T, T)
    if window:
        snap["outpost"]["reports_window_seconds"] = window
    if public:
        snap["outpost"]["reports"] = {public_id("x", "component", "pay"): count} if count else {}
    return snap


def test_the_page_says_how_many_people_reported_and_escapes_everything():
    from chalicelib.render.html import render_index
    page = render_index(_snapshot("<b>Pay</b> & co", 14), stale=False).decode()
    assert "14 people reported problems with &lt;b&gt;Pay&lt;/b&gt; &amp; co in the last " \
           "30 minutes" in page
    assert "<b>Pay" not in page
    # one form for every component (page weight): the name is an escaped option of its select
    assert "Having trouble with one of these?" in page
    assert '<option value="pay">&lt;b&gt;Pay&lt;/b&gt; &amp; co</option>' in page
    assert '<form method="post" action="api/v1/reports">' in page
    assert 'maxlength="280"' in page and '<option value="login">' in page
    assert "1 person reported problems with Pay in the last hour" in \
        render_index(_snapshot("Pay", 1, window=3600), stale=False).decode()


def test_no_count_and_no_forms_when_the_snapshot_says_so():
    from chalicelib.render.html import render_index
    quiet = render_index(_snapshot("Pay", 0), stale=False).decode()
    assert "reported problems" not in quiet and "Having trouble with one of these?" in quiet
    assert '<option value="pay">Pay</option>' in quiet
    off = render_index(_snapshot("Pay", 5, window=None), stale=False).decode()
    assert "reported problems" not in off and "Having trouble" not in off
