"""Pure: the size budget of stored documents.

DynamoDB refuses an item over 400 KB (attribute names plus values), and moto does not, so every
document Outpost stores is measured here, the way DynamoDB counts it, before it is written.

The snapshot is the one item a public GET reads. However much the page grows, it stays under
SNAPSHOT_BUDGET by giving things up in a fixed order (fit_snapshot):

  1. older closed incidents and maintenances leave it, oldest first, down to the newest
     KEEP_RECENT_CLOSED (each stays readable at /incidents/{id} from its own item);
  2. then the per-region response-time detail;
  3. then the uptime and response-time history moves to items of its own ("parts", written in
     the same transaction as the snapshot), and closed incidents fill what room that leaves;
  4. then open incidents keep only their newest updates, then shortened bodies (their full text
     stays in their own items);
  5. and, as a last resort, the oldest open incidents leave (still readable by id).

Every step is a function of the document alone, so two writers with the same input store the
same bytes, and the public v2 shapes never change: only how many objects and updates they hold.
"""
from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Optional

from .errors import OutpostError

DYNAMODB_ITEM_LIMIT = 400 * 1024        # what DynamoDB refuses above, names and values counted
SNAPSHOT_BUDGET = 350_000               # the snapshot item: room for growth between two rounds
PART_BUDGET = 300_000                   # one history part
ITEM_OVERHEAD = 128                     # pk, updated_at, version around a document's blob
KEEP_RECENT_CLOSED = 20                 # closed incidents that outlast the per-region detail
OPEN_KEEP_UPDATES = 3                   # updates an open incident keeps when space is short
OPEN_BODY_CHARS = 500                   # then the length its bodies are cut to
CLOSED_INCIDENT = {"resolved", "postmortem"}
CLOSED_MAINTENANCE = {"completed"}
_LISTS = ("incidents", "scheduled_maintenances")
_PRIVATE_TAIL = ("_archive", "_history")            # what a previous fit added, never input
_HISTORY = ("uptime", "response_times")


class SnapshotTooLarge(OutpostError, ValueError):
    """Nothing left to give up and the document is still over the budget."""


# -- measuring ------------------------------------------------------------------------------------

def encode(value: Any) -> bytes:
    """The stored form of a JSON document (storage.JsonBlob): compact JSON, zlib level 6."""
    return zlib.compress(json.dumps(value, separators=(",", ":")).encode(), 6)


def stored_size(doc: Any) -> int:
    """Bytes a state-table document takes as DynamoDB counts them (blob plus its neighbours)."""
    return len(encode(doc)) + ITEM_OVERHEAD


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Size of an item in DynamoDB's JSON form ({name: {"S": ...}}) as DynamoDB counts it:
    attribute names, UTF-8 strings, raw binary, numbers by significant digits, 3 bytes per
    list or map plus 1 per element (https://docs.aws.amazon.com/amazondynamodb/latest/
    developerguide/CapacityUnitCalculations.html)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: Mapping[str, Any]) -> int:
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "B":
        return len(v) if isinstance(v, (bytes, bytearray)) else len(_b64(v))
    if kind == "N":
        return _number_size(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in v)
    if kind == "NS":
        return sum(_number_size(n) for n in v)
    if kind == "BS":
        return sum(len(b) if isinstance(b, (bytes, bytearray)) else len(_b64(b)) for b in v)
    if kind == "L":
        return 3 + sum(1 + _value_size(e) for e in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(e) for k, e in v.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def _number_size(text: str) -> int:
    digits = Decimal(text).normalize().as_tuple().digits
    return (len(digits) + 1) // 2 + 1


# -- the snapshot -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fitted:
    doc: dict                                   # what the snapshot item stores
    encoded: bytes                              # ... in its stored form (encode(doc))
    parts: list = field(default_factory=list)   # history items; empty when history is inline
    report: dict = field(default_factory=dict)  # what was given up, for logs and the bench


def fit_snapshot(doc: dict, limit: Optional[int] = None, part_limit: Optional[int] = None,
                 partial: Iterable[str] = ()) -> Fitted:
    """The snapshot as stored, under `limit` bytes (see the module's docstring for the order).

    `partial` are incidents already abbreviated upstream (the feed): their pages read the full
    incident. The input is not modified. Raises SnapshotTooLarge when even the last step fails.
    """
    limit = SNAPSHOT_BUDGET if limit is None else limit
    part_limit = PART_BUDGET if part_limit is None else part_limit
    ladder = _Ladder(doc, set(partial), part_limit, limit)
    everything = ladder.n_closed
    found = ladder.fit("inline", everything, everything)
    if found:
        return ladder.done(found, "whole")
    keep = min(KEEP_RECENT_CLOSED, everything)
    for history, lo, level in (("inline", keep, "closed incidents"),
                               ("no regions", keep, "per-region detail"),
                               ("external", 0, "history")):
        found = ladder.fit(history, lo, everything)
        if found:
            return ladder.done(found, level)
    for mode in (1, 2, 3):
        found = ladder.fit("external", 0, 0, open_mode=mode)
        if found:
            return ladder.done(found, "open incidents")
    found = ladder.fit_open()
    if found:
        return ladder.done(found, "oldest open incidents")
    raise SnapshotTooLarge(f"the snapshot is over {limit} bytes with every incident and the "
                           "history left out")


def _max_fit(lo: int, hi: int, fits: Callable[[int], Optional[Any]]) -> Optional[Any]:
    """fits(n) for the largest n in [lo, hi] where it is not None, or None. Documents grow
    with n (more objects in them), so a binary search finds it in log(hi - lo) tries."""
    best = None
    while lo <= hi:
        mid = (lo + hi + 1) // 2
        got = fits(mid)
        if got is not None:
            best, lo = got, mid + 1
        else:
            hi = mid - 1
    return best


def _age(item: dict) -> float:
    text = item.get("scheduled_for") or item.get("created_at")
    try:
        return datetime.fromisoformat(text).timestamp()
    except (TypeError, ValueError):
        return 0.0


def _closed(item: dict, list_name: str) -> bool:
    done = CLOSED_MAINTENANCE if list_name == "scheduled_maintenances" else CLOSED_INCIDENT
    return item.get("status") in done


class _Head:
    """Everything in a candidate but its incident lists (the "head"), compressed once. A
    candidate is stored head first, lists last, and deflate's output does not depend on how
    its input is split, so compressing only the lists from a copy of the head's compressor
    gives exactly encode(candidate), in a fraction of the time: the head holds the history,
    megabytes of JSON on a big page."""

    def __init__(self, head: dict):
        self.head = head
        self._zlib = zlib.compressobj(6)
        self._start = self._zlib.compress(json.dumps(head, separators=(",", ":"))[:-1].encode())

    def encode(self, tail: dict) -> bytes:
        z = self._zlib.copy()
        rest = "," + json.dumps(tail, separators=(",", ":"))[1:]
        return self._start + z.compress(rest.encode()) + z.flush()


class _Ladder:
    """Candidate documents, each the built one with fewer things in it, measured exactly."""

    def __init__(self, doc: dict, partial: set, part_limit: int, limit: int):
        self.doc, self.partial, self.part_limit, self.limit = doc, partial, part_limit, limit
        items = [(name, item) for name in _LISTS for item in doc.get(name) or ()]
        newest_first = sorted(items, key=lambda ni: _age(ni[1]), reverse=True)
        self.closed = [item["id"] for name, item in newest_first if _closed(item, name)]
        self.open = [item["id"] for name, item in newest_first if not _closed(item, name)]
        self.n_closed, self.n_open = len(self.closed), len(self.open)
        self._heads: dict = {}
        self._parts: Optional[list] = None

    def parts(self) -> list:
        if self._parts is None:
            out = self.doc.get("outpost") or {}
            self._parts = split_history({k: out.get(k) or {} for k in _HISTORY},
                                        self.part_limit)
        return self._parts

    def head(self, history: str) -> _Head:
        """The head with the history inline, without its per-region detail, or in parts."""
        if history not in self._heads:
            head = {k: v for k, v in self.doc.items() if k not in _LISTS + _PRIVATE_TAIL}
            out = head["outpost"] = dict(self.doc.get("outpost") or {})
            if history == "external":
                for key in _HISTORY:
                    out.pop(key, None)
                head["_history"] = {"parts": len(self.parts())}
            elif history == "no regions" and "response_times" in out:
                out["response_times"] = _strip_regions(out)["response_times"]
            self._heads[history] = _Head(head)
        return self._heads[history]

    def tail(self, closed: int, open_mode: int = 0, n_open: Optional[int] = None) -> dict:
        keep = set(self.closed[:closed]) | set(self.open[:self.n_open if n_open is None
                                                      else n_open])
        partial = set(self.partial)
        tail: dict = {}
        for name in _LISTS:
            kept = []
            for item in self.doc.get(name) or ():
                if item["id"] not in keep:
                    continue
                if open_mode and not _closed(item, name):
                    short = _abbreviate(item, "incident_updates", open_mode)
                    if short is not item:
                        partial.add(item["id"])
                    item = short
                kept.append(item)
            tail[name] = kept
        trimmed = sorted(set(self.closed + self.open) - keep)
        archive = {}
        if trimmed:
            archive["ids"] = trimmed
        if partial & keep:
            archive["partial"] = sorted(partial & keep)
        if archive:
            tail["_archive"] = archive
        return tail

    def measured(self, history: str, tail: dict) -> Optional[tuple]:
        head = self.head(history)
        encoded = head.encode(tail)
        if len(encoded) + ITEM_OVERHEAD > self.limit:
            return None
        return {**head.head, **tail}, encoded, history

    def fit(self, history: str, lo: int, hi: int, open_mode: int = 0) -> Optional[tuple]:
        """The most closed incidents in [lo, hi] that fit with this history, or None."""
        return _max_fit(lo, hi, lambda n: self.measured(history, self.tail(n, open_mode)))

    def fit_open(self) -> Optional[tuple]:
        return _max_fit(0, self.n_open, lambda m: self.measured(
            "external", self.tail(0, open_mode=3, n_open=m)))

    def done(self, found: tuple, level: str) -> Fitted:
        cand, encoded, history = found
        external = history == "external"
        lists = [(n, i) for n in _LISTS for i in cand.get(n) or ()]
        return Fitted(cand, encoded, self.parts() if external else [], {
            "level": level, "bytes": len(encoded) + ITEM_OVERHEAD,
            "closed_kept": sum(1 for n, i in lists if _closed(i, n)),
            "closed_total": self.n_closed,
            "open_kept": sum(1 for n, i in lists if not _closed(i, n)),
            "open_total": self.n_open,
            "abbreviated": len((cand.get("_archive") or {}).get("partial") or ()),
            "history_parts": len(self.parts()) if external else 0})


def _strip_regions(history: Mapping) -> dict:
    """The history without per-region response-time detail (the all-regions points stay)."""
    rts = history.get("response_times") or {}
    return {**history, "response_times": {
        cid: [{k: v for k, v in p.items() if k != "regions"} for p in points]
        for cid, points in rts.items()}}


def _abbreviate(item: dict, updates_key: str, mode: int) -> dict:
    """An incident with only its newest updates (mode 1), its newest one (2), shortened (3)."""
    updates = item.get(updates_key) or []
    keep = updates[:OPEN_KEEP_UPDATES if mode == 1 else 1]
    if mode >= 3:
        keep = [_short_body(u) for u in keep]
    if len(keep) == len(updates) and all(a is b for a, b in zip(keep, updates)):
        return item
    return {**item, updates_key: keep}


def _short_body(update: dict) -> dict:
    body = update.get("body") or ""
    if len(body) <= OPEN_BODY_CHARS:
        return update
    return {**update, "body": body[:OPEN_BODY_CHARS].rstrip() + " [...]"}


# -- history parts --------------------------------------------------------------------------------

def split_history(history: Mapping[str, Mapping], limit: int = PART_BUDGET,
                  measure: Callable[[Any], int] = stored_size) -> list[dict]:
    """{"uptime": {cid: ...}, "response_times": {cid: ...}} cut into parts of whole components,
    each under `limit`. Components are packed in order by their share of the raw JSON, scaled
    by how well the whole compresses; a part that still comes out too big is halved."""
    cids = sorted(set().union(*(history.get(k) or {} for k in _HISTORY)))
    if not cids:
        return []

    def part(keys):
        return {k: {c: history[k][c] for c in keys if c in (history.get(k) or {})}
                for k in _HISTORY}

    raw = {cid: len(json.dumps(part([cid]), separators=(",", ":"))) for cid in cids}
    ratio = measure(part(cids)) / max(1, sum(raw.values()))
    groups, current, used = [], [], 0.0
    for cid in cids:
        size = raw[cid] * ratio
        if current and used + size > limit * 0.9:
            groups.append(current)
            current, used = [], 0.0
        current.append(cid)
        used += size
    groups.append(current)
    parts: list[dict] = []
    while groups:
        keys = groups.pop(0)
        doc = part(keys)
        size = measure(doc)
        if size <= limit:
            parts.append(doc)
        elif len(keys) == 1:
            raise SnapshotTooLarge(f"the history of component {keys[0]} alone is {size} bytes, "
                                   f"over {limit}")
        else:
            half = len(keys) // 2
            groups[:0] = [keys[:half], keys[half:]]
    return parts


def merge_history(doc: dict, parts: Iterable[Mapping]) -> dict:
    """The snapshot with its history parts put back under `outpost`: what renders read."""
    out = dict(doc.get("outpost") or {})
    for key in _HISTORY:
        merged: dict = {}
        for part in parts:
            merged.update(part.get(key) or {})
        out[key] = merged
    return {**doc, "outpost": out}


def history_parts(doc: Optional[dict]) -> int:
    """How many history parts a stored snapshot points to (0: its history is inline)."""
    return int(((doc or {}).get("_history") or {}).get("parts") or 0)


def archived(doc: dict, incident_id: str) -> bool:
    """Whether the snapshot left this incident out, or abbreviated it, for its size: its page
    then reads the incident's own item. Unknown ids are neither, so they cost no read."""
    archive = doc.get("_archive") or {}
    return incident_id in (archive.get("ids") or ()) or incident_id in (archive.get("partial")
                                                                       or ())


# -- stored incidents (the feed) --------------------------------------------------------------------

def abbreviate_docs(docs: list[dict], limit: int, measure: Callable[[list], int]) -> list[dict]:
    """Stored incidents (newest first) fitted under `limit` by the same steps as the snapshot's
    open incidents: newest updates only, then shortened bodies, then the oldest leave. An
    abbreviated copy says so (`abbreviated`); the incident's own item keeps every word."""
    if measure(docs) <= limit:
        return docs
    for mode in (1, 2, 3):
        cand = [_mark(d, _abbreviate(d, "updates", mode)) for d in docs]
        if measure(cand) <= limit:
            return cand
    return _max_fit(0, len(cand), lambda m: cand[:m] if measure(cand[:m]) <= limit
                    else None) or []


def _mark(original: dict, short: dict) -> dict:
    return short if short is original else {**short, "abbreviated": True}
