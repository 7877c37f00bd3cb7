"""`outpost doctor`: the offsite guard and the other checks a deploy needs (pure, plus the CLI)."""
import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

from chalicelib.core.model import CheckPolicy, Component, Monitor, Page, Place, StatusConfig
from chalicelib.tools import doctor
from tests.statusfiles import ACME, component, http_monitor, status_yaml

REGIONS = ("us-west-2", "eu-west-1", "ap-southeast-2")
ALL_REPORT = {"prod": "us-west-2", "checker-eu-west-1": "eu-west-1",
              "checker-ap-southeast-2": "ap-southeast-2"}


def cfg(page_url="https://status.acme-status.example", here=("aws", "us-west-2"),
        there=("mediatemple", "el-segundo"), monitors=("https://api.acme.example/health",),
        **checks) -> StatusConfig:
    policy = {"regions": REGIONS, "quorum": 2, **checks}
    return StatusConfig(
        page=Page("acme", "Acme Status", page_url,
                  hosted_on=Place(*here) if here else None,
                  service_hosted_on=Place(*there) if there else None),
        checks=CheckPolicy(**policy),
        components=(Component("api", "API", monitors=tuple(
            Monitor(f"api.{i}", url) for i, url in enumerate(monitors))),))


def codes(findings, level=None):
    return [f.code for f in findings if level is None or f.level == level]


def test_a_good_deploy_has_nothing_to_say():
    assert doctor.check(cfg(), "prod", ALL_REPORT) == []
    assert doctor.format_report([], "s.yaml", "prod") == \
        (0, "outpost doctor: s.yaml (stage prod)\nok: ready to deploy (0 warning(s))")


@pytest.mark.parametrize("there", [("aws", "us-west-2"), ("AWS", "US-West-2 ")])
def test_refuses_to_run_where_the_service_runs(there):
    findings = doctor.check(cfg(there=there))
    assert codes(findings, "error") == ["offsite"]
    code, text = doctor.format_report(findings, "s.yaml", "prod")
    assert code == 1
    assert "ERROR   offsite: Outpost would run on aws us-west-2, the same provider and region" \
        in text
    assert text.endswith("refused: 1 error(s), 0 warning(s)")


def test_same_provider_elsewhere_is_a_warning_and_unknown_placement_too():
    assert codes(doctor.check(cfg(there=("aws", "us-east-1")))) == ["same-provider"]
    findings = doctor.check(cfg(there=None))
    assert codes(findings) == ["offsite-unknown"]
    assert "page.service_hosted_on not set" in findings[0].message
    assert doctor.format_report(findings, "s", "prod")[0] == 0


@pytest.mark.parametrize("page_url, monitors, shared", [
    ("https://status.acme.example", ["https://api.acme.example/health"], True),
    ("https://acme.example/status", ["tcp://db.acme.example:5432"], True),
    ("https://status.acme.example", ["dns://ACME.example.?type=MX"], True),
    ("https://status.acme.co.uk", ["https://www.acme.co.uk"], True),
    ("https://status.acme.co.uk", ["https://www.other.co.uk"], False),
    ("https://acme-status.example", ["https://api.acme.example"], False),
    ("https://abc123.execute-api.us-east-1.amazonaws.com/api/",
     ["https://xyz987.execute-api.us-east-1.amazonaws.com/prod/health"], False),
    ("https://acme.github.io", ["https://other.github.io"], False),
    ("https://status.acme.example", ["https://203.0.113.7/health", "tls://[2001:db8::1]:443"],
     False),
])
def test_shared_dns_fate(page_url, monitors, shared):
    findings = doctor.check(cfg(page_url=page_url, monitors=monitors))
    assert ("shared-dns" in codes(findings, "warning")) == shared
    assert "error" not in [f.level for f in findings]


def test_shared_dns_names_the_domain_and_some_monitors():
    urls = [f"https://s{i}.acme.example/" for i in range(5)]
    (f,) = doctor.check(cfg(page_url="https://status.acme.example", monitors=urls))
    assert "under acme.example" in f.message and "and 2 more" in f.message


@pytest.mark.parametrize("kwargs, stage, code", [
    ({"page_url": "http://status.acme-status.example"}, "prod", "page-url"),
    ({"allow_private_targets": True}, "prod", "private-targets"),
    ({"interval": 10.0}, "prod", "interval"),
    ({"quorum": 3, "regions": ("us-west-2", "eu-west-1")}, "prod", "quorum"),
    ({"quorum": 2, "regions": ("us-west-2",)}, "prod", "quorum"),
])
def test_deploy_settings_are_errors(kwargs, stage, code):
    findings = doctor.check(cfg(**kwargs), stage)
    assert code in codes(findings, "error")
    assert doctor.format_report(findings, "s", stage)[0] == 1


def test_the_local_stage_may_relax_the_deploy_rules():
    relaxed = cfg(page_url="http://127.0.0.1:8000", allow_private_targets=True, interval=10.0)
    assert doctor.check(relaxed, "local", {"local": "nowhere"}) == []


def test_weak_quorums_are_warnings():
    assert codes(doctor.check(cfg(quorum=1))) == ["quorum"]
    single = doctor.check(cfg(quorum=1, regions=("us-west-2",)))
    assert codes(single) == ["quorum"] and "one vantage point" in single[0].message
    assert codes(doctor.check(cfg(monitors=()))) == ["no-monitors"]


def test_stages_must_be_able_to_meet_the_quorum():
    only_home = doctor.check(cfg(), "prod", {"prod": "us-west-2"})
    assert codes(only_home, "warning") == ["no-checker", "no-checker"]
    (err,) = [f for f in only_home if f.level == "error"]
    assert err.code == "quorum-unreachable" and "only 1 region(s) will report" in err.message
    stray = doctor.check(cfg(), "prod", {**ALL_REPORT, "checker-sa-east-1": "sa-east-1"})
    assert codes(stray, "error") == ["stage-region"]
    assert "checker-sa-east-1 would report as region sa-east-1" in stray[0].message
    assert doctor.check(cfg(), "prod", {k: v for k, v in ALL_REPORT.items()
                                        if k != "checker-ap-southeast-2"})[0].code == "no-checker"


def test_reporting_regions_come_from_the_chalice_stages(tmp_path):
    (tmp_path / ".chalice").mkdir()
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps({"stages": {
        "prod": {}, "dev": {"environment_variables": {"CHECK_REGIONS": "eu-west-1"}},
        "checker-eu-west-1": {"environment_variables": {"CHECK_REGIONS": "eu-west-1"}},
        "checker-ap-southeast-2": {}}}))
    assert doctor.reporting_regions(str(tmp_path), "prod", cfg()) == ALL_REPORT
    assert doctor.reporting_regions(str(tmp_path), "checker-eu-west-1", cfg()) == ALL_REPORT
    assert doctor.reporting_regions(str(tmp_path), "dev", cfg())["dev"] == "eu-west-1"
    assert doctor.reporting_regions(str(tmp_path / "nowhere"), "prod", cfg()) is None


def test_the_bundled_status_file_and_stages_pass():
    from tests.conftest import ROOT
    code, text = doctor.run(f"{ROOT}/chalicelib/status.yaml", "prod", ROOT, {})
    assert code == 0, text


HOME = {"provider": "aws", "region": "us-east-1"}


def status_file(quorum=2, **page):
    """Outpost and the service it watches both in aws us-east-1, unless `page` says otherwise."""
    return status_yaml(
        [component("api", "API", http_monitor("https://api.acme.example/health", timeout=None))],
        page={**ACME, "hosted_on": HOME, "service_hosted_on": HOME, **page},
        checks={"regions": ["us-east-1", "eu-west-1", "ap-southeast-2"], "quorum": quorum})


def test_cli_doctor_exit_codes(tmp_path):
    from chalicelib.tools.cli import main
    bad = tmp_path / "same.yaml"
    bad.write_text(status_file())
    runner = CliRunner()
    out = runner.invoke(main, ["doctor", "--status-file", str(bad)])
    assert out.exit_code == 1
    assert "ERROR   offsite: Outpost would run on aws us-east-1" in out.stderr
    assert "warning shared-dns" in out.stderr and "refused: " in out.stderr
    good = tmp_path / "good.yaml"
    good.write_text(status_file(service_hosted_on={"provider": "hetzner", "region": "fsn1"},
                                url="https://status.acme-status.example"))
    out = runner.invoke(main, ["doctor", "--status-file", str(good)])
    assert out.exit_code == 0, out.output
    assert out.stdout.strip().endswith("ok: ready to deploy (0 warning(s))")
    broken = tmp_path / "broken.yaml"
    broken.write_text(status_file(quorum="two"))
    out = runner.invoke(main, ["--status-file", str(broken), "doctor"])
    assert out.exit_code == 1 and "checks.quorum" in out.stderr
    assert "refused: the status file does not load" in out.stderr


def test_a_replaced_place_compares_by_value():
    c = cfg()
    moved = replace(c, page=replace(c.page, service_hosted_on=Place("aws", "us-west-2")))
    assert codes(doctor.check(moved), "error") == ["offsite"]


def test_a_component_may_not_take_the_page_wide_audience_value():
    named_page = replace(cfg(), components=(Component("page", "Page", monitors=()),
                                            *cfg().components))
    assert codes(doctor.check(named_page, "prod", ALL_REPORT), "error") == ["reserved-id"]
