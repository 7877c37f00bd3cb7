"""The tests' status-file builder writes files the real loader reads as meant."""
import pytest

from chalicelib.core.config import ConfigError, load_status_text
from tests.statusfiles import (ACME, CHECKS, REGIONS, check_policy, component, heartbeat_monitor,
                               http_monitor, status_yaml, statuspage_monitor)


def test_the_defaults_are_the_acme_page_and_the_usual_check_policy():
    text = status_yaml([component("api", "API", http_monitor("https://a.example/"))])
    cfg = load_status_text(text, "s.yaml", {})
    assert (cfg.page.id, cfg.page.name, cfg.page.url) == (ACME["id"], ACME["name"], ACME["url"])
    assert cfg.checks.regions == tuple(REGIONS)
    assert (cfg.checks.quorum, cfg.checks.failure_threshold, cfg.checks.success_threshold,
            cfg.checks.interval, cfg.checks.allow_private_targets) == (2, 2, 2, 60.0, False)
    (api,) = cfg.components
    assert (api.id, api.name, api.position) == ("api", "API", 0)
    (m,) = api.monitors
    assert (m.id, m.url, m.timeout, m.conditions) == ("api.0", "https://a.example/", 1.0,
                                                      ("[STATUS] == 200",))   # the default


def test_every_monitor_kind_with_placeholders_filled_by_the_loader():
    text = status_yaml(
        [component("api", "API", http_monitor("${T}/health", timeout="2s", interval="20s",
                                              conditions=["[STATUS] == 200", "[BODY].ok == true"]),
                   group="Core"),
         component("nightly", "Nightly export", heartbeat_monitor("export", "1h", "10m")),
         component("payments", "Payments", statuspage_monitor("${V}", "Payments", timeout="2s")),
         component("manual", "Set by hand")],
        checks=check_policy(allow_private_targets=True))
    cfg = load_status_text(text, "s.yaml", {"T": "http://127.0.0.1:1", "V": "http://127.0.0.1:2"})
    api, nightly, payments, manual = cfg.components
    (m,) = api.monitors
    assert (api.group, m.url, m.timeout, m.interval) == ("Core", "http://127.0.0.1:1/health",
                                                         2.0, 20.0)
    assert m.conditions == ("[STATUS] == 200", "[BODY].ok == true")
    (hb,) = nightly.monitors
    assert (hb.id, hb.every, hb.grace) == ("export", 3600.0, 600.0)
    (vendor,) = payments.monitors
    assert (vendor.statuspage, vendor.url, vendor.vendor_component, vendor.timeout) == (
        True, "http://127.0.0.1:2", "Payments", 2.0)
    assert manual.monitors == () and cfg.checks.allow_private_targets is True


def test_page_checks_and_other_sections_are_the_callers():
    text = status_yaml([component("svc", "Service")],
                       page={"id": "e2e", "name": 'E2E: "quoted" # not a comment',
                             "url": "http://127.0.0.1", "time_zone": "Europe/Berlin"},
                       checks={"regions": ["r1", "r2"], "quorum": 2},
                       subscribers={"debounce": "1s", "webhook_per_ip_per_hour": 50})
    cfg = load_status_text(text, "s.yaml", {})
    assert (cfg.page.id, cfg.page.name, cfg.page.time_zone) == (
        "e2e", 'E2E: "quoted" # not a comment', "Europe/Berlin")
    assert (cfg.checks.regions, cfg.checks.failure_threshold) == (("r1", "r2"), 2)
    assert (cfg.subscribers.debounce, cfg.subscribers.webhook_per_ip_per_hour) == (1.0, 50)


def test_what_is_left_out_is_the_loaders_default():
    no_checks = status_yaml([component("api", "API")], checks=None)
    assert "checks" not in no_checks
    assert load_status_text(no_checks, "s.yaml", {}).checks.failure_threshold == 2
    text = status_yaml([component("api", "API", http_monitor("https://a.example/", timeout=None))])
    assert "timeout" not in text
    assert load_status_text(text, "s.yaml", {}).components[0].monitors[0].timeout == 5.0


def test_check_policy_changes_and_removes_keys_and_leaves_checks_alone():
    policy = check_policy(interval="10s", quorum=None, allow_private_targets=True)
    assert policy == {"regions": REGIONS, "failure_threshold": 2, "success_threshold": 2,
                      "interval": "10s", "allow_private_targets": True}
    assert CHECKS["interval"] == "60s" and CHECKS["quorum"] == 2


def test_a_mistake_is_still_the_loaders_to_report():
    with pytest.raises(ConfigError, match="timeout"):
        load_status_text(status_yaml([component("api", "API", http_monitor("https://a.example/",
                                                                           timeout="soon"))]),
                         "s.yaml", {})
