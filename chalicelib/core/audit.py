"""The audit log: what every mutation writes, and how operators read it back.

Entries are written by the storage layer in the same transaction as the change they record
(incidents and maintenance: storage.write_incident; component pins, subscriber erasure, key
mint and revoke: storage.with_audit), one DynamoDB partition per UTC month, sorted by time then
request id. Reading is paged newest first and filtered here, after the read (entries are
stored compressed), so one request costs a bounded amount whatever the filter: at most
SCAN_BUDGET entries and MONTHS_PER_REQUEST partitions, then a cursor says where to go on.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping, Optional

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
SCAN_BUDGET = 1000            # entries read per request at most, matching or not
MONTHS_PER_REQUEST = 13       # month partitions queried per request at most
DEFAULT_SPAN = 366 * 86400.0  # without `since`: the last year
_FILTER = re.compile(r"^[A-Za-z0-9_.:/#@*-]{1,200}$")


class BadQuery(ValueError):
    """A query parameter that can't be used; `field` names it (a 400)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class Query:
    since: float
    until: float
    actor: Optional[str] = None
    action: Optional[str] = None
    target: Optional[str] = None
    limit: int = DEFAULT_LIMIT
    cursor: Optional[str] = None    # ids before this one (X-Next-Cursor: the last id read)
    open_ended: bool = False        # no `until` given: up to whatever is newest, now included


def entry(actor, action: str, target: str, now: float, before: Optional[int] = None,
          after: Optional[int] = None, details: Optional[dict] = None,
          idempotency_key: Optional[str] = None) -> dict:
    """An audit entry, shaped like the incidents' (manage._audit) plus optional details.
    `actor` has `key_id` and `request_id` (manage.Actor, or cli_actor for IAM callers)."""
    out = {"at": now, "key_id": actor.key_id, "request_id": actor.request_id, "action": action,
           "resource": target, "before_version": before, "after_version": after,
           "idempotency_key": idempotency_key}
    if details:
        out["details"] = details
    return out


@dataclass(frozen=True)
class Caller:
    """Who did it when no API key was involved: the CLI works on the tables with AWS
    credentials, so the actor is the IAM side (`iam:<local user>`)."""
    key_id: str
    request_id: str


def iam_actor(user: str) -> Caller:
    return Caller(f"iam:{user}"[:80], uuid.uuid4().hex)


# --- reading ----------------------------------------------------------------------------------

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                      r"([Zz]|[+-]\d{2}:\d{2})$")


def _time(params: Mapping[str, str], name: str) -> Optional[float]:
    """An RFC 3339 date-time (what the OpenAPI document's `format: date-time` allows), as epoch
    seconds. Every well-formed one is accepted: year 0000 reads as year 1 and a leap second as
    :59, since no audit entry is that old and a second's difference matters to none."""
    raw = params.get(name)
    if raw is None:
        return None
    match = _RFC3339.match(raw) if len(raw) <= 40 else None
    if not match:
        raise BadQuery(name, "is not an RFC 3339 timestamp, e.g. 2026-01-01T10:00:00Z")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    offset = match.group(8).upper()
    text = (f"{max(year, 1):04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:"
            f"{min(second, 59):02d}{(match.group(7) or '')[:7]}"
            f"{'+00:00' if offset == 'Z' else offset}")
    try:
        return datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError):
        raise BadQuery(name, f"is not a valid date and time: {raw!r}") from None


def _filter(params: Mapping[str, str], name: str) -> Optional[str]:
    raw = params.get(name)
    if raw is None:
        return None
    if not _FILTER.match(raw):
        raise BadQuery(name, "must be 1 to 200 of letters, digits and _ . : / # @ * -")
    return raw


def parse_query(params: Mapping[str, str], now: float) -> Query:
    """The query string of GET .../audit, or BadQuery naming the parameter."""
    known = {"since", "until", "actor", "action", "target", "limit", "cursor"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise BadQuery(unknown[0][:40], f"unknown parameter; known: {', '.join(sorted(known))}")
    until = _time(params, "until")
    open_ended = until is None
    # Nothing is older than 1970 or newer than now (a day of slack for clocks): clamping keeps
    # a wide window's walk over empty months short.
    # Both ends clamped, so every bound is a date Python (and the partition names) can hold.
    latest = now + 86400
    until = now if until is None else min(max(until, 0.0), latest)
    since = _time(params, "since")
    since = until - DEFAULT_SPAN if since is None else since
    since = min(max(since, 0.0), latest)
    raw_limit = params.get("limit", str(DEFAULT_LIMIT))
    if not (raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 4):
        raise BadQuery("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    limit = int(raw_limit)
    if not 1 <= limit <= MAX_LIMIT:
        raise BadQuery("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    cursor = params.get("cursor")
    if cursor is not None and not 1 <= len(cursor) <= 400:
        raise BadQuery("cursor", "must be 1 to 400 characters")
    return Query(since=since, until=until, actor=_filter(params, "actor"),
                 action=_filter(params, "action"), target=_filter(params, "target"),
                 limit=limit, cursor=cursor, open_ended=open_ended)


def _like(pattern: Optional[str], value: Any) -> bool:
    """Exact, or a prefix when the pattern ends with `*` (`incident.*`, `component/*`)."""
    if pattern is None:
        return True
    value = value if isinstance(value, str) else ""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


def matches(query: Query, item: dict) -> bool:
    return (_like(query.actor, item.get("key_id")) and _like(query.action, item.get("action"))
            and _like(query.target, item.get("resource")))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="microseconds")


def _iso_ms(epoch) -> Optional[str]:
    if not isinstance(epoch, (int, float)):
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def present(sk: str, item: dict) -> dict:
    """An entry as the API shows it."""
    return {"id": sk, "at": _iso_ms(item.get("at")), "actor": item.get("key_id"),
            "request_id": item.get("request_id"), "action": item.get("action"),
            "target": item.get("resource"), "before_version": item.get("before_version"),
            "after_version": item.get("after_version"),
            "idempotency_key": item.get("idempotency_key"),
            "details": item.get("details")}


def months_newest_first(since: float, until: float) -> Iterator[str]:
    """The UTC months from `until`'s back to `since`'s, as the partitions are named."""
    first = datetime.fromtimestamp(since, timezone.utc)
    y, m = datetime.fromtimestamp(until, timezone.utc).timetuple()[:2]
    while (y, m) >= (first.year, first.month):
        yield f"{y:04d}-{m:02d}"
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)


def read(rows, query: Query) -> tuple[list[dict], Optional[str]]:
    """(entries, cursor for the next page or None). `rows(month, low, high, limit)` yields
    (sort key, entry) newest first within [low, high] (storage.Store.audit_rows).

    Ids (sort keys) are "<UTC time>#<request id>", so they sort by time across months too, and
    a cursor is simply an exclusive upper bound on them: any string is one. The cursor that
    resumes at the start of month M is "M~" ("~" sorts after every time in M)."""
    low = _iso(query.since)
    # until is exclusive: "<time>#<request id>" sorts after "<time>"; "~" after every time.
    high = "~" if query.open_ended else _iso(query.until)
    if query.cursor is not None:
        high = min(high, query.cursor)
    if high <= low:
        return [], None
    out: list[dict] = []
    budget, months_read = SCAN_BUDGET, 0
    for month in months_newest_first(query.since, query.until):
        if high <= month:
            continue                           # every id in `month` sorts after the bound
        if months_read == MONTHS_PER_REQUEST:
            return out, month + "~"
        months_read += 1
        for sk, item in rows(month, low, high, budget + 1):
            if sk == high:                     # the cursor's own entry
                continue
            budget -= 1
            if matches(query, item):
                out.append(present(sk, item))
            if len(out) == query.limit or budget == 0:
                return out, sk
    return out, None
