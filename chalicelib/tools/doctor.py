"""`outpost doctor`: would this status file make a real offsite deploy? (`make package` runs it.)

A status page is only offsite if it runs away from the service it watches, and only honest if
the deploy can actually meet the quorum it promises. `check` is pure (a StatusConfig, the stage
and which regions the deployed stages will report as, in; findings out); `run` loads the status
file and `.chalice/config.json` and formats the report.

Levels: "error" refuses the deploy (exit 1); "warning" is printed and the deploy goes on (exit 0).
"""
from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass
from typing import Mapping, Optional
from urllib.parse import urlsplit

from ..core.audience import PAGE_WIDE
from ..core.config import ConfigError, load_status_file
from ..core.model import StatusConfig

LOCAL_STAGES = ("local",)
DEPLOYED_INTERVAL = 60.0          # app.run_checks is scheduled every minute

# Two-label public suffixes common enough to matter (a registrable domain is one label more).
# Not the whole Public Suffix List: doctor must work offline and without a new dependency.
MULTI_LABEL_SUFFIXES = frozenset("""
co.uk org.uk ac.uk gov.uk me.uk net.uk ltd.uk plc.uk sch.uk nhs.uk
com.au net.au org.au edu.au gov.au id.au co.nz org.nz net.nz govt.nz
co.jp ne.jp or.jp ac.jp go.jp co.kr or.kr com.cn net.cn org.cn com.hk com.tw com.sg
co.in net.in org.in co.za org.za com.br net.br org.br com.mx com.ar com.tr co.il com.my
""".split())
# Shared hosting domains: every customer host below them is its own site (its own DNS fate).
HOSTING_SUFFIXES = ("amazonaws.com", "cloudfront.net", "github.io", "herokuapp.com",
                    "netlify.app", "vercel.app", "pages.dev", "workers.dev", "azurewebsites.net",
                    "appspot.com", "web.app", "firebaseapp.com", "fly.dev", "onrender.com")


@dataclass(frozen=True)
class Finding:
    level: str          # "error" | "warning"
    code: str           # short, stable: offsite, shared-dns, quorum, ...
    message: str


def host_of(url: str) -> Optional[str]:
    """The DNS name a monitor or page URL depends on; None for IP literals and unparsable URLs."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".").lower()
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        return host


def registrable_domain(host: str) -> str:
    """status.acme.example -> acme.example; www.acme.co.uk -> acme.co.uk; a host under a shared
    hosting domain (x.execute-api.us-east-1.amazonaws.com) is its own registrable domain."""
    host = host.rstrip(".").lower()
    if any(host == s or host.endswith("." + s) for s in HOSTING_SUFFIXES):
        return host
    labels = host.split(".")
    size = 3 if ".".join(labels[-2:]) in MULTI_LABEL_SUFFIXES else 2
    return ".".join(labels[-size:])


def _same_place(a, b) -> bool:
    return (a.provider.strip().lower(), a.region.strip().lower()) == \
           (b.provider.strip().lower(), b.region.strip().lower())


def check(config: StatusConfig, stage: str = "prod",
          reporting: Optional[Mapping[str, str]] = None) -> list[Finding]:
    """Every problem found, errors first. `reporting` maps each deployed stage to the region it
    reports as (None: not known, so the cross-stage checks are skipped)."""
    page, checks = config.page, config.checks
    local = stage in LOCAL_STAGES
    out: list[Finding] = []

    def error(code, msg):
        out.append(Finding("error", code, msg))

    def warn(code, msg):
        out.append(Finding("warning", code, msg))

    # 1. Offsite: the lesson of Salesforce 2009, whose health dashboard went down with it.
    here, there = page.hosted_on, page.service_hosted_on
    if here and there and _same_place(here, there):
        error("offsite", f"Outpost would run on {here.provider} {here.region}, the same provider "
                         f"and region as the service it watches (page.hosted_on == "
                         f"page.service_hosted_on): an outage there takes the status page down "
                         f"with the service. Deploy the home stage to another region or provider.")
    elif here and there and here.provider.strip().lower() == there.provider.strip().lower():
        warn("same-provider", f"Outpost and the service both run on {here.provider} (regions "
                              f"{here.region} and {there.region}): a provider-wide outage "
                              f"(control plane, IAM, DNS) can still take both down.")
    if not here or not there:
        missing = " and ".join(k for k, v in (("page.hosted_on", here),
                                              ("page.service_hosted_on", there)) if not v)
        warn("offsite-unknown", f"{missing} not set: doctor cannot tell whether the page runs "
                                f"offsite, and the page cannot tell its readers.")

    # 2. Shared DNS fate: if the service's domain is gone, a page under it is gone too.
    page_host = host_of(page.url)
    if page_host:
        domain = registrable_domain(page_host)
        shared = sorted({m.url for _, m in config.monitors()
                         if (h := host_of(m.url)) and registrable_domain(h) == domain})
        if shared:
            more = f" and {len(shared) - 3} more" if len(shared) > 3 else ""
            warn("shared-dns", f"page.url {page.url} is under {domain}, the same domain as "
                               f"monitors {', '.join(shared[:3])}{more}: a DNS or registrar "
                               f"problem with {domain} hides the status page exactly when it is "
                               f"needed. Use a separate domain (e.g. acme-status.example).")

    # 3. Settings a deployed page needs (the local stack may relax them).
    if not local:
        if urlsplit(page.url).scheme != "https":
            error("page-url", f"page.url {page.url} is not https: deployed pages are served over "
                              f"TLS, and the URL goes into every notification and User-Agent.")
        if checks.allow_private_targets:
            error("private-targets", "checks.allow_private_targets is true outside the local "
                                     "stage: checks could reach loopback, private and cloud "
                                     "metadata addresses (SSRF). Set it false; list real "
                                     "exceptions in checks.allowed_networks.")
        if checks.interval < DEPLOYED_INTERVAL:
            error("interval", f"checks.interval is {checks.interval:g}s but the deployed checker "
                              f"runs every {DEPLOYED_INTERVAL:g}s: the page would call its data "
                              f"stale between rounds. Use 60s (monitors may set a shorter "
                              f"`interval` of their own).")

    # 4. Quorum: can the regions that will actually report ever agree?
    regions = list(checks.regions)
    if config.monitors():
        if checks.quorum > len(regions):
            error("quorum", f"checks.quorum {checks.quorum} is more than the {len(regions)} "
                            f"region(s) in checks.regions: no status could ever change.")
        elif checks.quorum >= 2 and len(regions) < 2:
            error("quorum", f"checks.quorum {checks.quorum} needs at least 2 regions.")
        elif len(regions) == 1:
            warn("quorum", "one vantage point (checks.regions): a network problem near it looks "
                           "exactly like an outage of the service. Use 3 regions, quorum 2.")
        elif checks.quorum == 1:
            warn("quorum", f"checks.quorum 1 with {len(regions)} regions: one region's network "
                           f"trouble changes the page. Use a majority ({len(regions) // 2 + 1}).")
    else:
        warn("no-monitors", "no component has monitors: the page only shows what operators post.")

    if reporting is not None and not local and config.monitors():
        listed = set(regions)
        for st, region in sorted(reporting.items()):
            if region not in listed:
                error("stage-region", f"stage {st} would report as region {region}, which is not "
                                      f"in checks.regions {regions}: every round it runs fails. "
                                      f"Add the region, or set CHECK_REGIONS for the stage.")
        covered = {r for r in reporting.values() if r in listed}
        for region in regions:
            if region not in covered:
                warn("no-checker", f"checks.regions lists {region} but no stage reports from it "
                                   f"(add a checker-{region} stage to .chalice/config.json).")
        if len(covered) < checks.quorum:
            error("quorum-unreachable", f"only {len(covered)} region(s) will report "
                                        f"({', '.join(sorted(covered)) or 'none'}) but "
                                        f"checks.quorum is {checks.quorum}: every monitored "
                                        f"component would stay 'unknown'. Deploy more checker "
                                        f"stages or lower the quorum.")

    # 5. Notification fan-out: "page" is the value every page-wide event carries to SNS filter
    # policies (chalicelib.core.audience); a component with that id would be heard by everyone.
    if any(comp.id == PAGE_WIDE for comp in config.components):
        error("reserved-id", f"component id {PAGE_WIDE!r} is reserved: notifications about it "
                             f"would reach every component subscriber. Rename the component.")

    return sorted(out, key=lambda f: f.level != "error")


# -- I/O: the status file, the chalice stages, the report -------------------------------------

def reporting_regions(project_dir: str, stage: str, config: StatusConfig,
                      environ: Optional[Mapping[str, str]] = None) -> Optional[dict[str, str]]:
    """Stage -> the region its checker reports as: the home stage (`stage`, or "prod" when
    packaging a checker stage) and every "checker-<region>" stage in .chalice/config.json."""
    path = os.path.join(project_dir, ".chalice", "config.json")
    try:
        with open(path) as fh:
            chalice = json.load(fh)
    except (OSError, ValueError):
        return None
    stages = chalice.get("stages") or {}
    common = chalice.get("environment_variables") or {}

    def first(value: Optional[str]) -> Optional[str]:
        items = [r.strip() for r in (value or "").split(",") if r.strip()]
        return items[0] if items else None

    def env_of(name: str) -> dict:
        return {**common, **((stages.get(name) or {}).get("environment_variables") or {})}

    out: dict[str, str] = {}
    home = "prod" if stage.startswith("checker-") else stage
    here = config.page.hosted_on
    home_region = first(env_of(home).get("CHECK_REGIONS")) or (
        here.region if here and here.provider.strip().lower() == "aws" else None) or (
        (environ or {}).get("AWS_DEFAULT_REGION"))
    if home_region:
        out[home] = home_region
    for name in stages:
        if name.startswith("checker-"):
            out[name] = first(env_of(name).get("CHECK_REGIONS")) or name[len("checker-"):]
    return out


def format_report(findings: list[Finding], source: str, stage: str) -> tuple[int, str]:
    errors = [f for f in findings if f.level == "error"]
    warnings = [f for f in findings if f.level == "warning"]
    lines = [f"outpost doctor: {source} (stage {stage})"]
    for f in findings:
        lines.append(f"  {'ERROR' if f.level == 'error' else 'warning':<8}{f.code}: {f.message}")
    if errors:
        lines.append(f"refused: {len(errors)} error(s), {len(warnings)} warning(s)")
        return 1, "\n".join(lines)
    lines.append(f"ok: ready to deploy ({len(warnings)} warning(s))")
    return 0, "\n".join(lines)


def run(path: str, stage: str = "prod", project_dir: Optional[str] = None,
        environ: Optional[Mapping[str, str]] = None) -> tuple[int, str]:
    """(exit code, report text) for the status file at `path`."""
    try:
        config = load_status_file(path, environ if environ is not None else os.environ)
    except ConfigError as exc:
        return 1, f"outpost doctor: {path} (stage {stage})\n{exc}\nrefused: the status file " \
                  f"does not load"
    except OSError as exc:
        return 1, f"outpost doctor: cannot read {path}: {exc.strerror or exc}"
    reporting = reporting_regions(project_dir, stage, config, environ) if project_dir else None
    return format_report(check(config, stage, reporting), path, stage)
