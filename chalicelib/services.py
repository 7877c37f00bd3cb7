"""Use-cases: the thin shell that feeds I/O results through the pure core and stores the outcome."""
from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, replace
from typing import Collection, Iterable, Optional

from . import reporting
from .checker import CREDIT_ROUNDS, attach_history, store_closed_days
from .errors import Conflict, OutpostError
from .expiry import send_heads_ups
from .history import is_stale, mark_stale, overlay
from .model import ComponentState, Level, MonitorRegionState
from .snapshot import build_snapshot
from .status import damp, derive_component_states
from .storage import Encoded
from .uptime import day_key, record_rt
from .windows import silenced

log = logging.getLogger("outpost")
MAX_CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class RoundReport:
    round_at: float
    regions: tuple[str, ...]
    checks: int
    failing_checks: int
    transitions: dict[str, tuple[str, str]]     # component id -> (old status, new status)
    snapshot_version: Optional[int]             # None: the snapshot could not be written


def run_round(c, regions: Optional[Iterable[str]] = None,
              monitor_ids: Optional[Collection[str]] = None) -> RoundReport:
    """Probe every monitor (or those in `monitor_ids`) from each region, damp per region, then
    re-derive the page. chalicelib.checker.run_scheduled runs several per invocation."""
    regions = tuple(regions or c.settings.check_regions)
    round_at = c.clock()
    results = probe_round(c, regions, monitor_ids)
    return record_round(c, regions, round_at, results)


def probe_round(c, regions: tuple[str, ...], monitor_ids: Optional[Collection[str]] = None) -> list:
    from .probe import run_checks      # the probes' libraries are only imported by the checker

    cfg = c.config
    unknown = [r for r in regions if r not in cfg.checks.regions]
    if unknown:
        raise ValueError(f"regions {unknown} are not in checks.regions {list(cfg.checks.regions)}")
    monitors = [m for _, m in cfg.monitors() if monitor_ids is None or m.id in monitor_ids]
    probed = [m for m in monitors if m.kind != "heartbeat"]
    results = run_checks(c.prober, [(m, r) for r in regions for m in probed])
    pushed = [m for m in monitors if m.kind == "heartbeat"]
    if pushed and not c.settings.checker_only:
        # Not regional: the home region judges each heartbeat once, as its first region.
        results += judge_heartbeats(c, pushed, regions[0])
    return results


def judge_heartbeats(c, monitors: list, region: str) -> list:
    """The round's verdicts on heartbeat monitors, from their stored beats (two BatchGetItems).
    A failed read gives no verdicts, not failures: after three rounds the page says unknown."""
    from .heartbeats import judge
    try:
        beats = c.heartbeat_store.beats([m.id for m in monitors])
    except Exception:                             # noqa: BLE001 - no data is not an outage
        log.exception("could not read heartbeats; judging none this round")
        return []
    now = c.clock()
    out = [judge(m, beats.get(m.id), now, region) for m in monitors]
    return [r for r in out if r is not None]


def record_round(c, regions: tuple[str, ...], round_at: float, results: list) -> RoundReport:
    """One results item per region, the regions' damped views, then the page."""
    store = c.store
    by_region: dict[str, list] = {r: [] for r in regions}
    for res in results:
        by_region[res.region].append(res)
    for region in regions:
        store.put_results(region, round_at, by_region[region])
        _fold_region(c, region, by_region[region])
    if results and not c.settings.checker_only:
        send_heads_ups(c, results)       # private, never raises; the fence makes it once
    if c.settings.checker_only:
        # A checker stage in another region: its views are saved; the home region's next round
        # derives the page from them. One writer for the page, and no snapshot per region-round.
        return RoundReport(round_at, regions, len(results),
                           sum(1 for r in results if r.level), {}, None)
    transitions, version = refresh_page(c)
    return RoundReport(round_at, regions, len(results), sum(1 for r in results if r.level),
                       transitions, version)


def _fold_region(c, region: str, results: list) -> None:
    """Apply this round to the region's damped views; a concurrent round means reload and redo."""
    policy, tz = c.config.checks, c.config.page.time_zone
    # A vendor page that could not be read says nothing about the vendor: no observation, so
    # the mirrored status holds and turns unknown after three rounds, never a made-up outage.
    mirrors = {m.id for _, m in c.config.monitors() if m.kind == "statuspage"}
    results = [r for r in results if r.monitor_id not in mirrors or r.vendor_status is not None]
    for _ in range(MAX_CONFLICT_RETRIES):
        views, version = c.store.load_region_views([region])[region]
        new_views = dict(views)
        for res in results:
            view = damp(views.get(res.monitor_id) or MonitorRegionState(), res, policy)
            # Response times of working checks only: a fast 503 is not a fast service.
            if res.level != Level.FAIL and res.response_time_ms is not None:
                view = replace(view, rt_days=record_rt(view.rt_days, day_key(res.checked_at, tz),
                                                       res.response_time_ms))
            new_views[res.monitor_id] = view
        try:
            c.store.save_region_views(region, new_views, version, c.clock())
            return
        except Conflict:
            log.info("region %s views changed underneath; retrying", region)
    raise RuntimeError(f"could not save views for region {region}: too many conflicts")


def refresh_page(c) -> tuple[dict[str, tuple[str, str]], int]:
    """Re-derive component states from every region and republish the snapshot.

    The component document is written only when a status or scope changes, conditionally on its
    version: two overlapping rounds can't both record the same transition.
    """
    cfg, store = c.config, c.store
    for _ in range(MAX_CONFLICT_RETRIES):
        now = c.clock()
        views = {r: v for r, (v, _) in store.load_region_views(list(cfg.checks.regions)).items()}
        previous, version = store.load_component_states()
        in_maintenance = silenced(cfg.maintenance, store.load_incident_feed()[0], now,
                                  cfg.page.time_zone)
        states = derive_component_states(cfg.components, views, cfg.checks, previous, now,
                                         in_maintenance=in_maintenance)
        transitions = {k: (previous[k].status.value if k in previous else None, s.status.value)
                       for k, s in states.items()
                       if k not in previous or previous[k].status != s.status}
        if _differs(previous, states):
            try:
                store.save_component_states(states, version, now)
            except Conflict:
                continue
        snap_version = publish_round(c, states, _data_as_of(views), views)
        for key, (old, new) in transitions.items():
            if old is not None:
                log.warning("component %s: %s -> %s", key, old, new)
        return ({k: v for k, v in transitions.items() if v[0] is not None}, snap_version)
    raise RuntimeError("could not save component states: too many conflicts")


def _differs(old: dict[str, ComponentState], new: dict[str, ComponentState]) -> bool:
    if old.keys() != new.keys():
        return True
    return any((old[k].status, old[k].scope, old[k].unknown) != (new[k].status, new[k].scope,
                                                                 new[k].unknown) for k in new)


def _data_as_of(views: dict[str, dict[str, MonitorRegionState]]) -> Optional[float]:
    seen = [v.last_checked_at for per in views.values() for v in per.values() if v.last_checked_at]
    return max(seen) if seen else None


def publish_round(c, states: dict[str, ComponentState], data_as_of: Optional[float],
                  views: dict) -> Optional[int]:
    """A check round's publish: the snapshot (and the static copy) only when what they say
    changed, or history must be folded in (history.must_fold); otherwise only the heartbeat,
    a small item with the newest check time and the time the rounds vouched for. Returns the
    snapshot's version (unchanged on a quiet round), None when it could not be written."""
    try:
        return _publish_round(c, states, data_as_of, views)
    except Exception as exc:                      # noqa: BLE001 - reported, never silent
        snapshot_not_written(c, exc)
        return None


def _publish_round(c, states, data_as_of, views) -> int:
    from .history import beat, content_hash, must_fold
    store, cfg = c.store, c.config
    credit = CREDIT_ROUNDS * cfg.checks.interval
    loaded = _page_inputs(store)
    for _ in range(MAX_CONFLICT_RETRIES):
        heartbeat, hb_version = store.load_heartbeat()
        now = c.clock()
        doc = _content(c, states, data_as_of, now, loaded)
        if must_fold(heartbeat, content_hash(doc, _salt()), now, cfg.page.time_zone, credit):
            return _publish(c, states, data_as_of, views, loaded)
        new = beat(heartbeat, data_as_of, now, credit)
        try:
            store.save_heartbeat(new, hb_version, now)
        except Conflict:
            continue
        _static_heartbeat(c, new)
        return new.get("v")
    raise RuntimeError("could not save the heartbeat: too many conflicts")


def _salt() -> str:
    """How the snapshot is stored is part of what is written: a deploy that changes the
    budgets rewrites it once (budget.py)."""
    from . import budget
    return f"{budget.SNAPSHOT_BUDGET}/{budget.PART_BUDGET}/"


def _page_inputs(store) -> tuple[list, dict, list]:
    incident_docs, _ = store.load_incident_feed()
    manual, _ = store.load_overrides()
    # Incidents the feed already shortened (chalicelib.manage): their pages read the full item.
    partial = [d["id"] for d in incident_docs if d.get("abbreviated")]
    return incident_docs, manual, partial


def _content(c, states, data_as_of, now, loaded) -> dict:
    """The snapshot as built and annotated, before any history: what content_hash judges."""
    from .history import annotate
    from .windows import active
    cfg = c.config
    incident_docs, manual, _ = loaded
    doc = build_snapshot(cfg, states, now, data_as_of, incident_docs=tuple(incident_docs),
                         manual_overrides=manual)
    annotate(doc, cfg, states, active(cfg.maintenance, now, cfg.page.time_zone), now)
    reporting.attach(c, None, doc)                # public report counts are content too
    return doc


def publish_snapshot(c, states: dict[str, ComponentState], data_as_of: Optional[float],
                     views: Optional[dict] = None) -> Optional[int]:
    """Rebuild the public document from component states, incidents and overrides; its version,
    or None when it could not be written.

    `data_as_of` None keeps the previous snapshot's (an incident edit says nothing about checks).
    Never raises: a snapshot that cannot be written (too many conflicts, an item DynamoDB would
    refuse, storage down) is reported loudly, a metric and an operator alert, and the caller
    carries on. The round has already saved the component states; the next one tries again.
    """
    try:
        return _publish(c, states, data_as_of, views)
    except Exception as exc:                      # noqa: BLE001 - reported, never silent
        snapshot_not_written(c, exc)
        return None


def _publish(c, states: dict[str, ComponentState], data_as_of: Optional[float],
             views: Optional[dict], loaded: Optional[tuple] = None) -> int:
    from .budget import fit_snapshot, history_parts
    from .history import content_hash, folded, spans_for
    store = c.store
    incident_docs, manual, partial = loaded or _page_inputs(store)
    for _ in range(MAX_CONFLICT_RETRIES):
        heartbeat, _ = store.load_heartbeat()
        previous, version = store.load_snapshot(consistent=True)
        old_parts = history_parts(previous)
        previous = _with_history(store, previous, version, old_parts)
        if previous is _RELOAD:
            continue
        as_of = data_as_of
        if as_of is None and previous:
            as_of = (previous.get("outpost") or {}).get("data_as_of_epoch")
        if as_of is None and heartbeat:
            as_of = heartbeat.get("as_of")
        doc = build_snapshot(c.config, states, c.clock(), as_of,
                             incident_docs=tuple(incident_docs), manual_overrides=manual)
        # Staleness, maintenance and the uptime history ride in every snapshot (checker.py),
        # the rounds since the previous write accounted from the heartbeat's spans.
        closed = attach_history(c, previous, doc, states, views,
                                spans=spans_for(heartbeat, previous))
        doc["outpost"]["last_verified_backup"] = _last_verified_backup(c, previous, doc)
        reporting.attach(c, previous, doc)      # the report forms' switch and public counts
        digest = content_hash(doc, _salt())
        # What is stored stays under the item budget however much the page grows (budget.py).
        fitted = fit_snapshot(doc, partial=partial)
        # Old incidents leaving is the steady state of a big page; anything more is news.
        log.log(logging.DEBUG if fitted.report["level"] in ("whole", "closed incidents")
                else logging.INFO, "snapshot stored within its budget: %s", fitted.report)
        try:
            saved = store.save_snapshot(Encoded(fitted.encoded), version, c.clock(),
                                        fitted.parts, old_parts)
        except Conflict:
            continue
        _reset_heartbeat(c, folded(doc, saved, digest, data_as_of, heartbeat))
        store_closed_days(c, closed)
        _static_copy(c, doc)          # S3 has no item limit: the copy keeps everything
        return saved
    raise RuntimeError("could not save snapshot: too many conflicts")


_RELOAD = object()


def _with_history(store, previous: Optional[dict], version: Optional[int], parts: int):
    """The previous snapshot with its history parts put back (one BatchGetItem), so the uptime
    ledger carries over exactly. Parts missing while the snapshot is unchanged (a restore that
    left them out) mean no carried history: the history table fills it back (checker._restore).
    Parts missing because a newer snapshot replaced them: reload (_RELOAD)."""
    from .budget import merge_history
    if not previous or not parts:
        return previous
    found = store.load_snapshot_parts(parts, consistent=True)
    if found is not None:
        return merge_history(previous, found)
    if store.load_snapshot(consistent=True)[1] != version:
        return _RELOAD
    log.warning("the snapshot's %d history parts are missing; rebuilding its history", parts)
    return {k: v for k, v in previous.items() if k not in ("_uptime", "_history")}


SNAPSHOT_ALERT_EVERY = 3600.0
_local_alert = {"at": float("-inf")}


def snapshot_not_written(c, exc: BaseException) -> None:
    """Say it loudly: a log line, an EMF metric (Outpost/SnapshotWriteFailed) on every failure,
    and at most one operator alert per hour. The fence is a token in the state table;
    when that table is what fails, a per-process fence keeps the alerts from flooding."""
    log.error("the snapshot could not be written; the page keeps showing the last one: %r",
              exc, exc_info=exc)
    from .metrics import emit_snapshot_failure
    now = c.clock()
    emit_snapshot_failure(c.env, exc, now)
    try:
        page = c.config.page.name
    except Exception:                             # noqa: BLE001 - the alert must still go
        page = "Outpost"
    subject = f"[{page}] The status page is not updating"
    text = (f"Outpost could not write the public snapshot: {type(exc).__name__}: "
            f"{str(exc)[:500]}\n\nComponent states are still saved each round, but visitors "
            "see the last published page until a write succeeds; every round retries. "
            "SnapshotWriteFailed counts the failures. This alert repeats at most once an hour.")
    try:
        from .fanout import Busy, once
        try:
            once(c, f"alert:snapshot:{int(now // SNAPSHOT_ALERT_EVERY)}",
                 lambda: c.notifier.publish_operator(subject, text))
        except Busy:
            pass                                  # another process is sending this one
        return
    except Exception:                             # noqa: BLE001 - the fence's table failed
        log.exception("could not fence the snapshot alert; using this process's fence")
    if now - _local_alert["at"] >= SNAPSHOT_ALERT_EVERY:
        _local_alert["at"] = now
        try:
            c.notifier.publish_operator(subject, text)
        except Exception:                         # noqa: BLE001 - logged above and here
            log.exception("could not alert the operators about the snapshot")


def _last_verified_backup(c, previous: Optional[dict], doc: dict) -> Optional[str]:
    """When `outpost backup verify` last proved an export (ISO, page time zone), or None.
    Carried from the previous snapshot (the verify command patches it in); read from the state
    table only when there is no previous value to carry, so a round costs no extra read."""
    old = (previous or {}).get("outpost") or {}
    if "last_verified_backup" in old:
        return old["last_verified_backup"]
    try:
        record = c.store.load_backup_verified()
    except Exception:                                 # noqa: BLE001 - a page without it is fine
        log.exception("could not read backup#last_verified")
        return None
    if not record or not record.get("verified_at"):
        return None
    from .snapshot import iso_ms
    return iso_ms(record["verified_at"], doc["page"]["time_zone"])


def _static_copy(c, doc: dict) -> None:
    """Mirror the new snapshot to S3 when STATIC_BUCKET is set. Best effort: the snapshot is
    saved and the API serves it, so a failing copy is logged, never raised into the round."""
    if not c.settings.static_bucket:
        return
    try:
        from .static_copy import publish_static
        publish_static(c, doc)
    except Exception:
        log.exception("static copy to s3://%s failed", c.settings.static_bucket)


def _reset_heartbeat(c, heartbeat: dict) -> None:
    """After a snapshot write: its spans are folded in. Unconditional: the snapshot's own
    conditional write made this writer the one that folded them. A failure is logged: the next
    fold sees a heartbeat from an older ledger and credits only one round (history.spans_for)."""
    try:
        c.store.save_heartbeat(heartbeat, None, c.clock(), force=True)
    except Exception:                             # noqa: BLE001 - the snapshot is saved
        log.exception("could not reset the heartbeat after a snapshot write")
    _static_heartbeat(c, heartbeat)


def _static_heartbeat(c, heartbeat: dict) -> None:
    """heartbeat.json in the static copy, when due (static_copy.StaticPublisher.beat)."""
    if not c.settings.static_bucket:
        return
    try:
        c.static_publisher.beat(heartbeat, c.config, c.clock())
    except Exception:
        log.exception("heartbeat.json to s3://%s failed", c.settings.static_bucket)


class SnapshotUnavailable(OutpostError):
    """No snapshot in memory and storage is not answering: the route says 503, not 500."""

    status = 503


class PublicCache:
    """The read side: one snapshot read per `ttl` seconds per warm Lambda, renders per version.

    A hot request does no DynamoDB call and no rendering: it looks up bytes and an ETag.
    """

    def __init__(self, container, ttl: float = 5.0):
        self.c = container
        self.ttl = ttl
        self._lock = threading.Lock()
        self._snapshot: Optional[dict] = None
        self._version: Optional[int] = None
        self._fetched_at = float("-inf")
        self._rendered: dict[tuple, tuple[bytes, str]] = {}
        self._marked: Optional[tuple] = None
        self._parts: Optional[tuple] = None      # (snapshot version, its history parts)
        self._as_of: Optional[float] = None      # the heartbeat's newest check time
        self._heartbeat: Optional[dict] = None   # read with the snapshot: today's uptime

    def snapshot(self) -> tuple[dict, int]:
        now = self.c.clock()
        with self._lock:
            if self._snapshot is None or now - self._fetched_at >= self.ttl:
                try:
                    doc, version, heartbeat = self.c.store.load_public()
                except Exception as exc:
                    if self._snapshot is None:
                        log.exception("snapshot read failed and nothing is cached")
                        raise SnapshotUnavailable() from exc
                    # A stale page beats no page: keep serving what we have, retry after a TTL.
                    log.exception("snapshot read failed; serving the cached copy")
                    self._fetched_at = now
                    return self._snapshot, self._version
                if doc is None:
                    # Nothing published yet: show the configured page, all components unchecked.
                    doc, version = build_snapshot(self.c.config, {}, now, None), 0
                # The snapshot changes only with its content; the newest check time comes
                # from the heartbeat, read in the same call (history.overlay).
                doc = overlay(doc, heartbeat)
                self._heartbeat = heartbeat
                as_of = (doc.get("outpost") or {}).get("data_as_of_epoch")
                if (version, as_of) != (self._version, self._as_of):
                    self._rendered, self._marked = {}, None
                self._snapshot, self._version, self._fetched_at = doc, version, now
                self._as_of = as_of
            return self._as_seen(now), self._version

    def _as_seen(self, now: float) -> dict:
        """The snapshot marked stale (and its components unknown) once its data is too old:
        when every checker is down nobody rewrites the snapshot, so the reader must say it."""
        doc = self._snapshot
        stale = is_stale(doc, now)
        if not stale and not (doc.get("outpost") or {}).get("stale"):
            return doc
        if self._marked is None or self._marked[0] != (self._version, self._as_of, stale):
            self._marked = ((self._version, self._as_of, stale), mark_stale(doc, now))
        return self._marked[1]

    def with_history(self, snap: dict, version: Optional[int]) -> dict:
        """`snap` with its history put back. Inline history costs nothing; history in parts
        (chalicelib.budget) costs one BatchGetItem per snapshot version, only for the renders
        that draw it (uptime.json, the HTML page), never for the v2 JSON."""
        from .budget import history_parts, merge_history
        count = history_parts(snap)
        if not count:
            return snap
        cached = self._parts
        if cached is None or cached[0] != version:
            try:
                parts = self.c.store.load_snapshot_parts(count)
            except Exception as exc:
                log.exception("history parts read failed")
                raise SnapshotUnavailable() from exc
            if parts is None:
                # A newer snapshot replaced them: read it on the next request.
                self.invalidate()
                raise SnapshotUnavailable()
            cached = self._parts = (version, parts)
        return merge_history(snap, cached[1])

    def invalidate(self) -> None:
        """Forget the copy: the next read fetches (used right after this Lambda wrote)."""
        with self._lock:
            self._fetched_at = float("-inf")

    def rendered(self, name: str, render, history: bool = False) -> tuple[str, str]:
        """(body, strong ETag) of one representation of the current snapshot. `history`: the
        representation draws the uptime history, which may live in items of its own."""
        snap, version = self.snapshot()
        out = snap.get("outpost") or {}
        key = (version, out.get("data_as_of_epoch"), bool(out.get("stale")), name)
        hit = self._rendered.get(key)
        if hit is None:
            if history:
                from .history import fold_view
                snap = fold_view(self.with_history(snap, version), self._heartbeat)
            body = render(snap, name)
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            # Lambda's proxy response carries text; decode once here, not per request.
            hit = self._rendered[key] = (body.decode("utf-8"), etag)
        return hit


def mint_key(c, name: str, scopes, expires_at: Optional[float] = None) -> str:
    """Create an operator key and return it; this is the only time the secret exists in clear."""
    from .auth import new_key, validate_scopes
    scopes = validate_scopes(scopes)
    full, key_id, sha = new_key()
    c.store.put_key(key_id, sha, name, scopes, c.clock(), expires_at)
    return full
