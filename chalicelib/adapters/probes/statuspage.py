"""Third-party components: read a vendor's Statuspage v2 summary and mirror its status.

The fetch is an ordinary HTTP check (probes.http): the SSRF guard on every hop, the monitor's
deadline over the whole exchange, and at most http.MAX_BODY_BYTES read, so a vendor page that
hangs, trickles or is huge costs what any check costs. A page that can't be read or isn't
Statuspage's JSON is an error with no vendor status (rounds._fold_region: no news).
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Optional

from ...core.conditions import Observation
from ...core.model import ComponentStatus, Monitor
from . import ProbeContext, http

SUMMARY_PATH = "/api/v2/summary.json"
STATUSES = {s.value for s in ComponentStatus}
# The page-wide indicator, for a vendor page without components.
_INDICATOR = {"none": "operational", "minor": "degraded_performance", "major": "partial_outage",
              "critical": "major_outage", "maintenance": "under_maintenance"}
_RANK = {"operational": 0, "under_maintenance": 1, "degraded_performance": 2,
         "partial_outage": 3, "major_outage": 4}


def summary_url(base: str) -> str:
    return base.rstrip("/") + SUMMARY_PATH


def probe(monitor: Monitor, ctx: ProbeContext) -> tuple[Observation, Optional[str], Optional[str]]:
    """(observation, error, vendor status); the status is None whenever there is an error."""
    fetch = replace(monitor, url=summary_url(monitor.url), statuspage=False, method="GET",
                    headers=(("Accept", "application/json"),), conditions=())
    obs, error = http.probe(fetch, ctx)
    body, obs = obs.body, _bare(obs)
    if error:
        return obs, f"vendor status page: {error}", None
    if obs.status_code != 200:
        return obs, f"vendor status page answered HTTP {obs.status_code}", None
    try:
        doc = json.loads(body or "")
    except (ValueError, RecursionError):      # RecursionError: "[[[[..." nested past the stack
        return obs, "vendor status page: not JSON (or over 1 MiB)", None
    status, problem = vendor_status(doc, monitor.vendor_component)
    return obs, problem, status


def _bare(obs: Observation) -> Observation:
    """What the vendor sent stays here: its document is not ours to store or show, and its
    certificate is not ours to renew (no expiry heads-ups for it)."""
    return replace(obs, body=None, headers={}, certificate_expires_in=None)


def vendor_status(doc: Any, component: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """Pure: (our status, None) from a Statuspage v2 summary, or (None, what is wrong).

    With `component`, that vendor component's status (matched by name, case-insensitively);
    without, the worst of the vendor's components, or its page indicator when it lists none.
    Vendor statuses are Statuspage's enum, the same as ours, so they map one to one.
    """
    if not isinstance(doc, dict):
        return None, "vendor status page: not a Statuspage summary"
    rows = doc.get("components")
    rows = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    if component is not None:
        wanted = component.casefold()
        found = [r for r in rows if isinstance(r.get("name"), str)
                 and r["name"].strip().casefold() == wanted]
        if not found:
            return None, f"vendor status page has no component named {component[:80]!r}"
        status = found[0].get("status")
        return (status, None) if status in STATUSES else (None, _unknown(status))
    statuses = [r.get("status") for r in rows if not r.get("group")]
    if statuses:
        bad = [s for s in statuses if s not in STATUSES]
        if bad:
            return None, _unknown(bad[0])
        return max(statuses, key=_RANK.__getitem__), None
    indicator = (doc.get("status") or {}).get("indicator") if isinstance(doc.get("status"),
                                                                          dict) else None
    if indicator in _INDICATOR:
        return _INDICATOR[indicator], None
    return None, "vendor status page: not a Statuspage summary"


def _unknown(status: Any) -> str:
    return f"vendor status page: unknown component status {str(status)[:40]!r}"
