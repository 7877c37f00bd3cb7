"""Pure: "is it just me?" reports from users. Validation, client identity, 5-minute buckets,
spike detection against the usual count, the spikes' lifecycle and the operators' alert text.

No I/O here: chalicelib/usecases/reporting.py reads and writes the counters and calls these functions.

Who sent a report is decided at the HTTP edge (chalicelib/web/httpkit.py: CloudFront's viewer address,
an IPv6 client as its /64); here it is only an opaque key.

Counting. Every counted report adds one to its component in the current 5-minute bucket
(bucket start = epoch seconds rounded down to 300). The count "in the window" is the sum of the
window's buckets ending with the current one, so a 30-minute window is the current bucket and
the five before it. The usual count is the median of the same buckets shifted by 1 to 7 days:
the same time of day, so a service that always gets reports at 09:00 on Mondays does not alert
every Monday. A spike is a count of at least `threshold` and at least `factor` times the usual.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from .errors import RequestRefused
from .model import ReportPolicy

BUCKET = 300                         # seconds per counter bucket
BASELINE_DAYS = 7
KINDS = ("down", "slow", "errors", "login", "other")
KIND_LABELS = {"down": "down or not loading", "slow": "slow", "errors": "errors",
               "login": "cannot log in", "other": "something else"}
MAX_NOTE = 280                       # characters (code points), as the contract says
MAX_BODY = 4096                      # bytes; a full note in UTF-8 fits with room to spare
UNKNOWN_COUNTRY = "--"
_COUNTRY = re.compile(r"[A-Z]{2}")
FIELDS = ("component", "kind", "note")
STATE = "reports#state"          # state-table document: open spikes and the public counts


class ReportError(RequestRefused):
    """A report we refuse: `status` is the HTTP answer, `field` the part of the body at fault."""


@dataclass(frozen=True)
class Report:
    component: str                   # the status-file key
    kind: str
    note: Optional[str]


def parse(payload: Any, known: Mapping[str, str]) -> Report:
    """A report from a JSON object or form fields; `known` maps accepted ids to status-file keys."""
    if not isinstance(payload, dict):
        raise ReportError(422, "body must be an object with component and kind", "body")
    unknown = sorted(str(k) for k in payload if k not in FIELDS)
    if unknown:
        raise ReportError(422, f"unknown field; allowed: {', '.join(FIELDS)}", unknown[0][:40])
    component = payload.get("component")
    if not isinstance(component, str) or not component.strip():
        raise ReportError(422, "is required: a component id from the page", "component")
    key = known.get(component.strip())
    if key is None:
        raise ReportError(422, f"unknown component {component.strip()[:40]!r}", "component")
    kind = payload.get("kind")
    if kind not in KINDS:
        raise ReportError(422, f"must be one of {', '.join(KINDS)}", "kind")
    note = payload.get("note")
    if note is not None and not isinstance(note, str):
        raise ReportError(422, "must be a string", "note")
    note = _clean(note or "")
    if len(note) > MAX_NOTE:
        raise ReportError(422, f"is {len(note)} characters; at most {MAX_NOTE}", "note")
    return Report(key, kind, note or None)


def _clean(text: str) -> str:
    """Line breaks and tabs become spaces, other control characters go: a note is one line."""
    out = "".join(" " if ch in "\r\n\t" else ch for ch in text
                  if ch in "\r\n\t" or not (ord(ch) < 32 or 127 <= ord(ch) < 160))
    return " ".join(out.split())


# -- who sent it ---------------------------------------------------------------------------------

def country(header: Optional[str]) -> str:
    """CloudFront-Viewer-Country (ISO 3166 alpha-2), or "--" when absent or malformed."""
    value = (header or "").strip().upper()
    return value if _COUNTRY.fullmatch(value) else UNKNOWN_COUNTRY


# -- buckets and counters ------------------------------------------------------------------------

def bucket_of(t: float) -> int:
    return int(t // BUCKET) * BUCKET


def window_buckets(now: float, window: float) -> list[int]:
    """The buckets of the window ending now, oldest first (the last one is still filling)."""
    last = bucket_of(now)
    n = max(1, int(window // BUCKET))
    return [last - BUCKET * i for i in range(n - 1, -1, -1)]


def baseline_buckets(now: float, window: float, days: int = BASELINE_DAYS) -> list[list[int]]:
    """The same window on each of the previous `days` days, newest day first."""
    current = window_buckets(now, window)
    return [[b - 86400 * d for b in current] for d in range(1, days + 1)]


def counter_attributes(component: str, country_code: str, kind: str) -> list[str]:
    """The counters one report adds 1 to in its bucket's item: its component's total, its
    country and its kind. Component ids are [a-z0-9_-] and countries [A-Z]{2}, so '#' can't
    appear inside a part and the names can't collide."""
    return [f"n#{component}", f"c#{component}#{country_code}", f"k#{component}#{kind}"]


@dataclass
class Tally:
    count: int = 0
    countries: dict = field(default_factory=dict)
    kinds: dict = field(default_factory=dict)


def tally(buckets: Iterable[Mapping[str, int]], components: Iterable[str]) -> dict[str, Tally]:
    """Sum bucket items (attribute -> count) per component; components not listed are ignored
    (one removed from the status file may still have counters until they expire)."""
    out = {cid: Tally() for cid in components}
    for item in buckets:
        for name, value in item.items():
            parts = name.split("#")
            if len(parts) < 2 or parts[1] not in out:
                continue
            t = out[parts[1]]
            if parts[0] == "n" and len(parts) == 2:
                t.count += int(value)
            elif parts[0] == "c" and len(parts) == 3:
                t.countries[parts[2]] = t.countries.get(parts[2], 0) + int(value)
            elif parts[0] == "k" and len(parts) == 3:
                t.kinds[parts[2]] = t.kinds.get(parts[2], 0) + int(value)
    return out


def median(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def baselines(days: list[list[int]], items: Mapping[int, Mapping[str, int]],
              components: Iterable[str]) -> dict[str, float]:
    """Median over the days of each component's count in that day's window. A missing bucket
    is a bucket nobody reported in: 0, not "unknown" (no history means a usual count of 0)."""
    out = {}
    for cid in components:
        per_day = [sum(int((items.get(b) or {}).get(f"n#{cid}", 0)) for b in day) for day in days]
        out[cid] = median(per_day)
    return out


def is_spike(count: int, baseline: float, policy: ReportPolicy) -> bool:
    return count >= policy.threshold and count >= policy.factor * baseline


def detect(counts: Mapping[str, int], usual: Mapping[str, float],
           policy: ReportPolicy) -> dict[str, float]:
    """Components in a spike now -> their usual count. `usual` need only hold the components
    at or over the threshold (nothing under it can be a spike)."""
    return {cid: usual.get(cid, 0.0) for cid, n in counts.items()
            if is_spike(n, usual.get(cid, 0.0), policy)}


def public_counts(counts: Mapping[str, int], policy: ReportPolicy,
                  public_ids: Mapping[str, str]) -> dict[str, int]:
    """What the page shows: public component id -> count, only at or over the threshold."""
    if not (policy.enabled and policy.public):
        return {}
    return {public_ids[cid]: n for cid, n in sorted(counts.items())
            if n >= policy.threshold and cid in public_ids}


# -- a spike's life: starts once, alerts once, ends after a quiet window -------------------------

def advance(spikes: Mapping[str, dict], detected: Mapping[str, float], counts: Mapping[str, int],
            now: float, window: float) -> tuple[dict[str, dict], list[str]]:
    """The spikes after this sweep, and the components whose spike starts now.

    A spike is identified by its component and the bucket it started in (`since`): that pair
    fences its one alert. It stays open while it is detected and for one window after (so a
    count wobbling around the threshold is one spike, not ten) and then closes; a later rise is
    a new spike with a new alert.
    """
    out: dict[str, dict] = {}
    started = []
    for cid, spike in spikes.items():
        if cid in detected:
            out[cid] = {**spike, "last": now, "peak": max(spike.get("peak", 0), counts.get(cid, 0))}
        elif now - spike.get("last", now) < window:
            out[cid] = dict(spike)
    for cid in sorted(detected):
        if cid not in out:
            out[cid] = {"since": bucket_of(now), "last": now, "peak": counts.get(cid, 0),
                        "alerted": False}
            started.append(cid)
    return out, started


# -- what the operators read ---------------------------------------------------------------------

_STATUS_WORDS = {"operational": "operational", "degraded_performance": "degraded performance",
                 "partial_outage": "partial outage", "major_outage": "major outage",
                 "under_maintenance": "under maintenance"}


def checks_view(scope: Mapping[str, int], status: str, quorum: int) -> tuple[str, bool]:
    """("checks: ..." in words, likely real?) from the component's scope on the snapshot.

    Likely real: some regions see it failing, but fewer than the quorum, so the page still says
    what the quorum says. Users reporting problems at the same time corroborate those regions.
    """
    failing, degraded = int(scope.get("failing", 0)), int(scope.get("degraded", 0))
    reporting, total = int(scope.get("reporting", 0)), int(scope.get("total", 0))
    words = _STATUS_WORDS.get(status, status.replace("_", " "))
    if failing >= quorum and failing:
        return f"checks: {words}, failing from {failing} of {total} regions", False
    if failing:
        return (f"checks: failing from {failing} of {total} regions, fewer than the quorum of "
                f"{quorum}, so the page still says {words}"), True
    if degraded:
        return f"checks: {words}, degraded from {degraded} of {total} regions", False
    ok = max(0, reporting - failing - degraded)
    text = f"checks: {words} from {ok} of {total} regions"
    if reporting < total:
        text += f" ({total - reporting} not reporting)"
    return text, False


def _top(counter: Mapping[str, int], n: int, labels: Optional[Mapping[str, str]] = None) -> str:
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    if not ranked:
        return "none"
    name = (lambda k: (labels or {}).get(k, k))
    return ", ".join(f"{'unknown' if k == UNKNOWN_COUNTRY else name(k)} {v}" for k, v in ranked)


def minutes(window: float) -> str:
    m = int(window // 60)
    if m % 60 == 0 and m >= 60:
        hours = m // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{m} minutes"


def alert(page_name: str, component_name: str, t: Tally, usual: float, policy: ReportPolicy,
          checks: tuple[str, bool], links: Mapping[str, str]) -> tuple[str, str]:
    """(subject, text) of the operators' alert for one spike. Never a note: notes are strangers'
    words, read through the operator API, not pushed into inboxes and chat."""
    text_checks, likely = checks
    span = minutes(policy.window)
    lead = "Likely real: " if likely else ""
    subject = f"[{page_name}] {lead}{t.count} user reports about {component_name} in {span}"
    usual_text = f"{usual:g}" if usual else "0"
    lines = [
        f"{t.count} people reported problems with {component_name} in the last {span} "
        f"(usual for this time of day: {usual_text}, the median of the last {BASELINE_DAYS} "
        f"days; a spike is at least {policy.threshold} and {policy.factor:g}x the usual).",
        f"What they report: {_top(t.kinds, len(KINDS), KIND_LABELS)}.",
        f"Top countries: {_top(t.countries, 5)}.",
        f"{text_checks[:1].upper()}{text_checks[1:]}.",
    ]
    if likely:
        lines.append("Likely real: some regions see failures and users report problems at the "
                     "same time. The checks have not reached their quorum, so the page has not "
                     "changed by itself.")
    elif text_checks.startswith("checks: operational") and "not reporting" not in text_checks:
        lines.append("The checks see nothing wrong: users may be seeing what the probes don't "
                     "(a region, a network, a feature the checks don't cover).")
    lines.append("Reports never change a component's status. If users are right, post an "
                 "incident so they know you know.")
    lines.append("")
    lines.extend(f"{label}: {url}" for label, url in links.items())
    return subject, "\n".join(lines)
