"""Backups that are tested: `outpost backup export` and `outpost backup verify`.

An export is one JSON document (gzip when the file name ends in .gz):

    {"format": "outpost-backup", "format_version": 1, "created_at": ..., "source": {...},
     "sections": {"incidents": {"table": "state", "count": n, "sha256": ..., "items": [...]},
                  ...},
     "sha256": ...}

Each section's sha256 covers its items in canonical JSON (sorted keys, integral floats as
ints, items sorted by key); the top-level sha256 covers the whole document without itself. So a
flipped byte anywhere is found, and the message names the section.

`verify` restores an export into FRESH tables (the source names plus a random suffix, on the
same DynamoDB endpoint), reads them back with the same code that exported, and compares counts
and hashes section by section; it also reads the restored data through the Store's own methods
(the feed, component states, keys, history, subscribers) to prove the app can use it. The
scratch tables are deleted afterwards, whatever happened. A verified export is recorded in the
state table (`backup#last_verified`) and shown on the page as `outpost.last_verified_backup`.

Adding a section (a new table or a new kind of state item) is one entry in SECTIONS; an older
export simply lacks it, and verify checks the sections a file has.

What is not exported: raw check results (they expire after a week and are re-created every
minute), per-region damped views (rebuilt within two rounds), idempotency keys and rate
counters (they expire in a day), and deployment secrets (`secret#*`: after a restore, a new
unsubscribe-link key is made and links in old messages stop working).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable, Optional, Protocol

from ..core.errors import OutpostError, TooBusy, retry_on_conflict
from ..core.snapshot import iso_ms
from ..usecases import deps


class Deps(deps.Clock, deps.Store, Protocol):
    """What this use-case is given (wiring.Container provides it all)."""


FORMAT = "outpost-backup"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Section:
    name: str
    table: str                                       # Store.backup_models() role
    keys: tuple[str, ...]                            # attributes that identify an item
    select: Optional[Callable[[dict], bool]] = None  # which items of the table (None: all)


def _pk(pred: Callable[[str], bool]) -> Callable[[dict], bool]:
    return lambda item: pred(item.get("pk", ""))


SECTIONS: tuple[Section, ...] = (
    Section("incidents", "state", ("pk",),
            _pk(lambda pk: pk.startswith("incident#") or pk == "incident_feed")),
    Section("components", "state", ("pk",), _pk(lambda pk: pk == "components")),
    Section("overrides", "state", ("pk",), _pk(lambda pk: pk == "overrides")),
    # The page as published: carries today's uptime, which the history table gets at midnight.
    Section("snapshot", "state", ("pk",),
            _pk(lambda pk: pk == "snapshot" or pk.startswith("snapshot#history#"))),
    Section("keys", "keys", ("key_id",)),            # hashed secrets only, as stored
    Section("history", "history", ("component", "date")),
    Section("audit", "audit", ("month", "sk")),
    Section("subscribers", "subscribers", ("id",)),  # when the deployment has the table
)


class BackupError(OutpostError):
    """An export that can't be trusted or a restore that didn't match: the message says why."""


# -- pure: canonical form and checksums ---------------------------------------------------------

def _normal(value):
    """DynamoDB hands back 1.0 as 1: compare numbers as DynamoDB stores them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def canonical(value) -> bytes:
    return json.dumps(_normal(value), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False).encode("utf-8")


def sha256(value) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def sort_items(section: Section, items: Iterable[dict]) -> list[dict]:
    return sorted((_normal(i) for i in items), key=lambda i: [str(i.get(k)) for k in section.keys])


def build_section(section: Section, items: Iterable[dict]) -> dict:
    ordered = sort_items(section, items)
    return {"table": section.table, "count": len(ordered), "sha256": sha256(ordered),
            "items": ordered}


def seal(doc: dict) -> dict:
    """Set the top-level checksum (over everything but itself)."""
    doc.pop("sha256", None)
    doc["sha256"] = sha256(doc)
    return doc


def check_export(doc) -> list[str]:
    """Every reason not to trust this export; [] when it is intact."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return [f"not an Outpost backup (format is not {FORMAT!r})"]
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        return [f"format_version {version!r} is not one this Outpost reads (<= {FORMAT_VERSION}); "
                f"use a newer outpost"]
    problems = []
    sections = doc.get("sections")
    if not isinstance(sections, dict):
        return ["no sections"]
    for name, sec in sorted(sections.items()):
        items = sec.get("items") if isinstance(sec, dict) else None
        if not isinstance(items, list):
            problems.append(f"section {name}: no items list")
            continue
        if sec.get("count") != len(items):
            problems.append(f"section {name}: count says {sec.get('count')} but it holds "
                            f"{len(items)} items")
        got = sha256(items)
        if got != sec.get("sha256"):
            problems.append(f"section {name}: checksum mismatch (recorded "
                            f"{str(sec.get('sha256'))[:12]}..., content {got[:12]}...)")
    body = {k: v for k, v in doc.items() if k != "sha256"}
    if sha256(body) != doc.get("sha256"):
        problems.append("whole-file checksum mismatch (the header or a section was changed)")
    return problems


# -- progress ---------------------------------------------------------------------------------

class Progress:
    """Lines like `export: state 1200 items`, at most one per `every` seconds plus one at the
    end of each step: works on a terminal and in a CI log alike."""

    def __init__(self, write: Optional[Callable[[str], None]] = None, every: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self.write, self.every, self.clock = write, every, clock
        self._last = float("-inf")

    def __call__(self, step: str, done: int, total: Optional[int] = None,
                 final: bool = False) -> None:
        if self.write is None:
            return
        now = self.clock()
        if not final and now - self._last < self.every:
            return
        self._last = now
        of = f"/{total}" if total is not None else ""
        self.write(f"{step}: {done}{of} items{' done' if final else ''}")

    def note(self, text: str) -> None:
        if self.write is not None:
            self.write(text)

    def counting(self, step: str, items: Iterable, total: Optional[int] = None):
        n = 0
        for item in items:
            n += 1
            self(step, n, total)
            yield item
        self(step, n, total, final=True)


# -- export -------------------------------------------------------------------------------------

def read_sections(store, progress: Progress, step: str = "export") -> dict[str, dict]:
    """Every section this deployment has, read from `store`'s tables (one scan per table)."""
    models = store.backup_models()
    out = {}
    for table in dict.fromkeys(s.table for s in SECTIONS):
        if table not in models:
            continue
        items = list(progress.counting(f"{step}: {table} table", store.scan_plain(table)))
        for section in (s for s in SECTIONS if s.table == table):
            chosen = [i for i in items if section.select is None or section.select(i)]
            out[section.name] = build_section(section, chosen)
    return out


def export(store, now: float, progress: Optional[Progress] = None,
           source: Optional[dict] = None) -> dict:
    progress = progress or Progress()
    doc = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "created_at": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds"),
        "created_at_epoch": now,
        "source": {"region": store.region, "endpoint": store.host,
                   "tables": store.table_names(), **(source or {})},
        "sections": read_sections(store, progress),
    }
    return seal(doc)


def write_export(doc: dict, path: str) -> int:
    """Write atomically (temp file, then rename); gzip for *.gz. Returns bytes written."""
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if path.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return len(data)


def read_export(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return json.loads(data)
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, EOFError) as exc:
        raise BackupError(f"{path} is corrupt: not valid JSON ({exc})") from None


# -- verify -------------------------------------------------------------------------------------

@dataclass
class VerifyReport:
    sections: dict[str, tuple[int, str]]     # name -> (count, sha256), equal in file and restore
    checks: list[str]                        # what the Store's own reads proved
    scratch_tables: dict[str, str]
    seconds: float


def verify(store, doc: dict, progress: Optional[Progress] = None,
           suffix: Optional[str] = None, clock: Callable[[], float] = time.monotonic
           ) -> VerifyReport:
    """Restore `doc` into fresh tables next to `store`'s and prove it equal. Raises BackupError."""
    started = clock()
    progress = progress or Progress()
    problems = check_export(doc)
    if problems:
        raise BackupError("the export is corrupt: " + "; ".join(problems))
    wanted = doc["sections"]
    unknown = sorted(set(wanted) - {s.name for s in SECTIONS})
    if unknown:
        raise BackupError(f"the export has sections this Outpost does not know: {unknown}")
    scratch = store.scratch_copy(suffix or "verify-" + secrets.token_hex(3))
    missing = sorted({wanted[n]["table"] for n in wanted} - set(scratch.backup_models()))
    if missing:
        raise BackupError(f"this deployment has no {', '.join(missing)} table to restore into")
    tables = scratch.table_names()
    try:
        progress.note(f"restore: creating scratch tables {', '.join(sorted(tables.values()))}")
        scratch.create_backup_tables()
        for section in SECTIONS:
            if section.name in wanted:
                items = wanted[section.name]["items"]
                scratch.put_plain(section.table, progress.counting(
                    f"restore: {section.name}", items, len(items)))
        restored = read_sections(scratch, progress, step="read back")
        for name, sec in sorted(wanted.items()):
            got = restored.get(name) or {"count": 0, "sha256": sha256([])}
            if (got["count"], got["sha256"]) != (sec["count"], sec["sha256"]):
                raise BackupError(f"section {name}: restored {got['count']} items with hash "
                                  f"{got['sha256'][:12]}..., the export has {sec['count']} "
                                  f"with {sec['sha256'][:12]}...")
        extra = sorted(n for n, s in restored.items() if n not in wanted and s["count"])
        if extra:
            raise BackupError(f"restored tables hold sections the export lacks: {extra}")
        checks = domain_checks(scratch, wanted)
    finally:
        try:
            scratch.delete_backup_tables()
        except Exception as exc:              # noqa: BLE001 - report, don't mask the result
            progress.note(f"warning: could not delete scratch tables "
                          f"{sorted(tables.values())}: {exc}")
    return VerifyReport({n: (s["count"], s["sha256"]) for n, s in wanted.items()}, checks,
                        tables, clock() - started)


def domain_checks(scratch, wanted: dict) -> list[str]:
    """Read the restored tables the way the app does; every claim here was just exercised."""
    out = []
    feed, _ = scratch.load_incident_feed()
    incidents = [i for i in wanted.get("incidents", {}).get("items", ())
                 if i["pk"].startswith("incident#")]
    for ref in feed:
        doc, _ = scratch.load_incident(ref["id"])
        if doc is None:
            raise BackupError(f"the restored feed names incident {ref['id']}, which is missing")
    out.append(f"incident feed: {len(feed)} incidents, each loadable "
               f"({len(incidents)} incident items in all)")
    states, _ = scratch.load_component_states()
    out.append(f"component states: {len(states)} decoded")
    overrides, _ = scratch.load_overrides()
    out.append(f"overrides: {len(overrides)}")
    if "keys" in wanted:
        keys = scratch.list_keys()
        out.append(f"operator keys: {len(keys)} ({sum(1 for k in keys if not k.revoked_at)} "
                   f"active), hashes only")
    if "history" in wanted:
        components = sorted({i["component"] for i in wanted["history"]["items"]})
        days = sum(len(scratch.load_history_days(cid, "0000-00-00")) for cid in components)
        out.append(f"history: {days} days over {len(components)} components")
    if "subscribers" in wanted and hasattr(scratch, "subscribers"):
        out.append(f"subscribers: {len(scratch.subscribers())}")
    return out


def record_verified(c: Deps, doc: dict, report: VerifyReport, path: str) -> str:
    """Remember the verified export in the SOURCE deployment and show it on the page now:
    `backup#last_verified`, and the snapshot's outpost.last_verified_backup (patched in place,
    conditionally on its version, so the page need not be rebuilt from a local status file)."""
    now = c.clock()
    record = {"verified_at": now, "export_created_at": doc.get("created_at"),
              "export_sha256": doc.get("sha256"), "file": os.path.basename(path),
              "counts": {n: cnt for n, (cnt, _) in report.sections.items()}}
    c.store.save_backup_verified(record, now)

    def patch() -> str:
        snap, version = c.store.load_snapshot(consistent=True)
        if snap is None:
            return iso_ms(now)
        iso = iso_ms(now, (snap.get("page") or {}).get("time_zone") or "Etc/UTC")
        snap.setdefault("outpost", {})["last_verified_backup"] = iso
        c.store.save_snapshot(snap, version, now)
        return iso
    try:
        return retry_on_conflict(patch, what="the snapshot", tries=5)
    except TooBusy:
        return iso_ms(now)         # the record is saved; the next publish carries it
