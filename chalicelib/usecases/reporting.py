"""Use-cases for user reports: take one (public POST), sweep (the scheduler: spikes, alerts and
the public counts), list them (operators), and their share of the snapshot.

Where detection runs. The POST only validates and does a few bounded writes (caps, dedupe,
one atomic ADD on the bucket's counters, the report itself): no reads of history, nothing
that grows with traffic, nothing that can make a stranger's request slow or fail for
another reason. Detection runs in the scheduler's housekeeping, once a minute from the home
region (every CHECK_INTERVAL locally), so an alert goes out within a minute of the report that
tips the count over, and:
  - its cost is fixed (one Query of the window's buckets; the 7-day baseline, one BatchGet,
    only when some component is at or over the threshold), whatever the number of reports;
  - the count also goes *down* when reports age out of the window, which only a timer sees;
  - there is one writer of the spikes' state and of the public counts, so the snapshot is
    republished at most once a minute because of reports, not once per report.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any, Optional

from ..core import reports as core
from ..core.errors import Busy, Conflict
from ..core.reports import ReportError
from ..core.snapshot import iso_ms, known_components, public_id
from . import mentions
from .fences import once
from .publish import republish

log = logging.getLogger("outpost.reports")
STATE = core.STATE
RECORD_TTL = 8 * 86400           # counters and reports: a week of baseline plus a day of slack
HOUR = 3600


SOURCE_FACTOR = 25               # reports per hour one source address may relay, x per-IP cap


@dataclass(frozen=True)
class Client:
    """Who sent a report (chalicelib/web/httpkit.py decides): `network` is the viewer's address or its
    IPv6 /64; `source` the address API Gateway saw when it differs (behind CloudFront, an edge
    server shared by many viewers). Both are only ever stored as keyed hashes."""
    network: str
    country: str = core.UNKNOWN_COUNTRY
    source: Optional[str] = None


def _salt(c) -> bytes:
    # A deployment secret made once (first writer wins) and kept per warm Lambda.
    return c._get("reports_salt", lambda: c.store.secret(
        "reports", lambda: secrets.token_hex(32)).encode())


def client_hash(c, network: str) -> str:
    """A keyed hash of an address, for dedupe and caps: the address itself is never stored."""
    return hmac.new(_salt(c), network.encode(), hashlib.sha256).hexdigest()[:32]


def submit(c, payload: Any, client: Client) -> dict:
    """Take one report: 4xx (ReportError) before any write when it is malformed, 429 over the
    caps, and one counted report per client and component per window."""
    policy = c.config.reports
    if not policy.enabled:
        raise ReportError(404, "this page does not take problem reports")
    report = core.parse(payload, known_components(c.config))
    store, now = c.store, c.clock()
    retry = int(HOUR - now % HOUR) + 1
    if store.report_count("global", now, HOUR) >= policy.global_per_hour:
        raise ReportError(429, "we are getting a great many reports; try again later",
                          retry_after=retry)
    who = client_hash(c, client.network)
    if store.report_hit(f"ip#{who}", now, HOUR) > policy.per_ip_per_hour:
        raise ReportError(429, "too many reports from this address; try again later",
                          retry_after=retry)
    # CloudFront writes the viewer's address, but a caller that reaches the API directly can
    # write any: one source address may relay many viewers (an edge server), not unlimited ones.
    if client.source is not None and store.report_hit(
            f"src#{client_hash(c, client.source)}", now, HOUR) > \
            policy.per_ip_per_hour * SOURCE_FACTOR:
        raise ReportError(429, "too many reports through this address; try again later",
                          retry_after=retry)
    name = _name(c, report.component)
    if not store.report_first_seen(f"{who}#{report.component}", now, policy.window):
        return {"accepted": True, "counted": False,
                "message": f"We already have your report about {name}; thank you."}
    store.report_hit("global", now, HOUR)
    bucket = core.bucket_of(now)
    store.count_report(bucket, core.counter_attributes(report.component, client.country,
                                                       report.kind),
                       bucket + core.BUCKET + RECORD_TTL)
    store.put_report({"at": now, "component": report.component, "kind": report.kind,
                      "country": client.country, "note": report.note}, now, RECORD_TTL)
    return {"accepted": True, "counted": True,
            "message": f"Your report about {name} helps us see problems our checks may "
                       "miss. Updates are posted on the status page."}


def _name(c, key: str) -> str:
    return next((comp.name for comp in c.config.components if comp.id == key), key)


# -- the scheduler's sweep -----------------------------------------------------------------------

def sweep(c) -> dict:
    """Count the window, find spikes, alert each once, keep the public counts current."""
    cfg = c.config
    policy = cfg.reports
    if not policy.enabled:
        return {}
    now = c.clock()
    keys = [comp.id for comp in cfg.components]
    window = core.window_buckets(now, policy.window)
    tallies = core.tally(c.store.report_window(window[0], window[-1]).values(), keys)
    counts = {k: t.count for k, t in tallies.items()}
    hot = [k for k, n in counts.items() if n >= policy.threshold]
    usual: dict[str, float] = {}
    if hot:
        days = core.baseline_buckets(now, policy.window)
        usual = core.baselines(days, c.store.report_buckets([b for d in days for b in d]), hot)
    detected = core.detect(counts, usual, policy)
    ids = {k: public_id(cfg.page.id, "component", k) for k in keys}
    public = core.public_counts(counts, policy, ids)

    state, version = c.store.load_document(STATE)
    state = {"spikes": {}, "public": {}, **(state or {})}     # none yet: nothing to write
    spikes, started = core.advance(state.get("spikes") or {}, detected, counts, now,
                                   policy.window)
    for key in started:
        spikes[key]["usual"] = detected[key]
    new = {"spikes": spikes, "public": public}
    if new != state:
        try:
            version = c.store.save_document(STATE, new, version, now)
        except Conflict:
            log.info("another sweep updated the report state; it will alert and publish")
            return {"counts": counts, "spikes": sorted(detected), "alerted": []}
    alerted = _alert_new_spikes(c, new, version, tallies, now)      # first: "at once"
    if public != (state.get("public") or {}):
        try:
            republish(c)
        except Exception:                      # noqa: BLE001 - every round republishes anyway
            log.exception("report counts changed but the snapshot rebuild failed")
    return {"counts": counts, "spikes": sorted(detected), "alerted": alerted}


def _alert_new_spikes(c, state: dict, version: int, tallies: dict, now: float) -> list[str]:
    """One alert per spike, fenced by (component, start bucket): a retried or overlapping sweep
    finds the fence done and sends nothing; a failed send is retried by the next sweep."""
    done = []
    for key, spike in sorted(state["spikes"].items()):
        if spike.get("alerted"):
            continue
        try:
            once(c, f"reports-spike:{key}:{spike['since']}",
                 lambda key=key, spike=spike: _send_alert(c, key, spike,
                                                         tallies.get(key) or core.Tally()))
        except Busy:
            continue
        except Exception:                      # noqa: BLE001 - next sweep retries the send
            log.exception("report spike alert for %s failed", key)
            continue
        spike["alerted"] = True
        done.append(key)
    if done:
        try:
            c.store.save_document(STATE, state, version, now)
        except Conflict:
            pass                               # the fences hold; the next sweep marks them
    return done


def _send_alert(c, key: str, spike: dict, tally: core.Tally) -> Optional[str]:
    cfg = c.config
    pid = public_id(cfg.page.id, "component", key)
    snap, _ = c.public_cache.snapshot()
    extra = (snap.get("outpost") or {}).get("components", {}).get(pid) or {}
    checks = core.checks_view(extra.get("scope") or {}, extra.get("automatic_status")
                              or "operational", int((snap.get("outpost") or {}).get("quorum")
                                                    or cfg.checks.quorum))
    base = cfg.page.url.rstrip("/")
    links = {"Status page": f"{base}/#c-{pid}",
             "Reports and notes (operator API, subscribers:read)":
                 f"{base}/api/v1/pages/{cfg.page.id}/reports?component={key}",
             "Post an incident": f"{base}/api/v1/pages/{cfg.page.id}/incidents"}
    subject, text = core.alert(cfg.page.name, _name(c, key), tally, spike.get("usual", 0.0),
                               cfg.reports, checks, links)
    text += mentions.alert_line(c, c.clock())     # the second user signal, when it is on
    return c.notifier.publish_operator(subject, text)


# -- the snapshot's share, and the operators' view ----------------------------------------------

def listing(c, component: Optional[str], limit: int) -> list[dict]:
    """Newest reports first, with their notes (operators only)."""
    cfg = c.config
    key = None
    if component:
        key = known_components(cfg).get(component)
        if key is None:
            raise ReportError(422, f"unknown component {component[:40]!r}", "component")
    tz = cfg.page.time_zone
    return [{"id": d["id"], "created_at": iso_ms(d["at"], tz),
             "component_id": public_id(cfg.page.id, "component", d["component"]),
             "component_key": d["component"], "kind": d["kind"],
             "country": None if d.get("country") == core.UNKNOWN_COUNTRY else d.get("country"),
             "note": d.get("note")}
            for d in c.store.recent_reports(limit, key)]
