"""The audit log: what every mutation writes, and how operators read it back.

Entries are written by the storage layer in the same transaction as the change they record
(incidents and maintenance: storage.write_incident; component pins, subscriber erasure, key
mint and revoke: storage.with_audit), one DynamoDB partition per UTC month, sorted by time then
request id. Reading is paged newest first and filtered here, after the read (entries are
stored compressed), so one request costs a bounded amount whatever the filter: at most
SCAN_BUDGET entries and MONTHS_PER_REQUEST partitions, then a cursor says where to go on.
"""
from __future__ import annotations

import base64
import binascii
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
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
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
    cursor: Optional[tuple[str, str]] = None        # (month, sort key read last)
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

def _time(params: Mapping[str, str], name: str) -> Optional[float]:
    raw = params.get(name)
    if raw is None:
        return None
    if len(raw) > 40:
        raise BadQuery(name, "is too long for a timestamp")
    try:
        dt = datetime.fromisoformat(raw.strip().upper().replace("Z", "+00:00"))
    except ValueError:
        raise BadQuery(name, f"is not an ISO-8601 timestamp: {raw!r}") from None
    if dt.tzinfo is None:
        raise BadQuery(name, "needs a UTC offset, e.g. 2026-01-01T10:00:00Z")
    if not 1971 <= dt.year <= 9998:
        raise BadQuery(name, "must be between the years 1971 and 9998")
    return dt.timestamp()


def _filter(params: Mapping[str, str], name: str) -> Optional[str]:
    raw = params.get(name)
    if raw is None:
        return None
    if not _FILTER.match(raw):
        raise BadQuery(name, "must be 1 to 200 of letters, digits and _ . : / # @ * -")
    return raw


def encode_cursor(month: str, sk: str) -> str:
    return base64.urlsafe_b64encode(f"{month}|{sk}".encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> tuple[str, str]:
    if len(raw) > 400:
        raise BadQuery("cursor", "is not a cursor from a previous response")
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadQuery("cursor", "is not a cursor from a previous response") from None
    month, sep, sk = text.partition("|")
    if not sep or not _MONTH.match(month) or not sk:
        raise BadQuery("cursor", "is not a cursor from a previous response")
    return month, sk


def parse_query(params: Mapping[str, str], now: float) -> Query:
    """The query string of GET .../audit, or BadQuery naming the parameter."""
    known = {"since", "until", "actor", "action", "target", "limit", "cursor"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise BadQuery(unknown[0][:40], f"unknown parameter; known: {', '.join(sorted(known))}")
    until = _time(params, "until")
    open_ended = until is None
    until = now if until is None else until
    since = _time(params, "since")
    since = until - DEFAULT_SPAN if since is None else since
    if since >= until:
        raise BadQuery("since", "must be before until")
    raw_limit = params.get("limit", str(DEFAULT_LIMIT))
    if not (raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 4):
        raise BadQuery("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    limit = int(raw_limit)
    if not 1 <= limit <= MAX_LIMIT:
        raise BadQuery("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    cursor = decode_cursor(params["cursor"]) if "cursor" in params else None
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
    (sort key, entry) newest first within [low, high] (storage.Store.audit_rows)."""
    # until is exclusive: "<time>#<request id>" sorts after "<time>"; "~" after every time.
    low = _iso(query.since)
    until_key = "~" if query.open_ended else _iso(query.until)
    out: list[dict] = []
    budget, months_read = SCAN_BUDGET, 0
    resume_month, resume_key = query.cursor or (None, None)
    for month in months_newest_first(query.since, query.until):
        if resume_month is not None and month > resume_month:
            continue                                   # done on an earlier page
        if months_read == MONTHS_PER_REQUEST:
            return out, encode_cursor(month, "~")       # "~" sorts after every time
        months_read += 1
        high = until_key
        if month == resume_month and resume_key != "~":
            high = min(high, resume_key)
        for sk, item in rows(month, low, high, budget + 1):
            if sk == high:                             # the cursor's own entry, or one at until
                continue
            budget -= 1
            if matches(query, item):
                out.append(present(sk, item))
            if len(out) == query.limit or budget == 0:
                return out, encode_cursor(month, sk)
    return out, None
