"""Use-case: publish the page. The one place the public snapshot is assembled: built from the
components' states, incidents and overrides (snapshot.build_snapshot), annotated (unknown,
maintenance, stale: history.annotate), given its uptime history (history.attach), the backup
and report facts, then fitted to its size budget, written (conditionally on its version), and
mirrored to the static copy. A quiet round writes only the heartbeat (write on change)."""
from __future__ import annotations

import logging
from typing import Optional

from ..adapters.storage import Encoded
from ..core import budget, reports
from ..core.errors import Busy, SnapshotChanged, retry_on_conflict
from ..core.history import (annotate, attach, beat, component_histograms, content_hash, folded,
                            must_fold, spans_for)
from ..core.metrics import emit_snapshot_failure
from ..core.model import ComponentState
from ..core.snapshot import build_snapshot, iso_ms
from ..core.snapview import data_as_of_epoch, outpost
from ..core.uptime import DAYS, day_key, uptime_over
from ..core.windows import active
from .fences import once

log = logging.getLogger("outpost")
MAX_CONFLICT_RETRIES = 5
# A round vouches for the page for this many rounds: a little slack for a late schedule.
CREDIT_ROUNDS = 1.5


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
    store, cfg = c.store, c.config
    credit = CREDIT_ROUNDS * cfg.checks.interval
    loaded = _page_inputs(store)

    def attempt() -> int:
        heartbeat, hb_version = store.load_heartbeat()
        now = c.clock()
        doc = _assemble(c, states, data_as_of, now, loaded)
        if must_fold(heartbeat, content_hash(doc, _salt()), now, cfg.page.time_zone, credit):
            return _publish(c, states, data_as_of, views, loaded)
        new = beat(heartbeat, data_as_of, now, credit)
        store.save_heartbeat(new, hb_version, now)
        _static_heartbeat(c, new)
        return new.get("v")
    return retry_on_conflict(attempt, what="the heartbeat", tries=MAX_CONFLICT_RETRIES)


def _salt() -> str:
    """How the snapshot is stored is part of what is written: a deploy that changes the
    budgets rewrites it once (budget.py)."""
    return f"{budget.SNAPSHOT_BUDGET}/{budget.PART_BUDGET}/"


def _page_inputs(store) -> tuple[list, dict, list]:
    incident_docs, _ = store.load_incident_feed()
    manual, _ = store.load_overrides()
    # Incidents the feed already shortened (chalicelib.usecases.manage): their pages read the full item.
    partial = [d["id"] for d in incident_docs if d.get("abbreviated")]
    return incident_docs, manual, partial


def _assemble(c, states, as_of: Optional[float], now: float, loaded,
              previous: Optional[dict] = None) -> dict:
    """The one place the snapshot is put together: built from the states, incidents and
    overrides; annotated (unknown, maintenance, and the staleness rule); with the report facts
    (public counts are content too). What content_hash judges; a write then adds the history."""
    cfg = c.config
    incident_docs, manual, _ = loaded
    doc = build_snapshot(cfg, states, now, as_of, incident_docs=tuple(incident_docs),
                         manual_overrides=manual)
    annotate(doc, cfg, states, active(cfg.maintenance, now, cfg.page.time_zone), now)
    _attach_reports(c, previous, doc)
    return doc


def republish(c) -> None:
    """After an operator's change (or new report counts): the page from the stored states,
    and this Lambda's read cache forgets its copy so the next read shows the change."""
    states, _ = c.store.load_component_states()
    publish_snapshot(c, states, None)
    c.public_cache.invalidate()


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
    store = c.store
    loaded = loaded or _page_inputs(store)
    partial = loaded[2]

    def attempt() -> int:
        heartbeat, _ = store.load_heartbeat()
        previous, version = store.load_snapshot(consistent=True)
        old_parts = budget.history_parts(previous)
        previous = _with_history(store, previous, version, old_parts)
        as_of = data_as_of
        if as_of is None:
            as_of = data_as_of_epoch(previous)
        if as_of is None and heartbeat:
            as_of = heartbeat.get("as_of")
        doc = _assemble(c, states, as_of, c.clock(), loaded, previous)
        # The uptime history rides in every snapshot, the rounds since the previous write
        # accounted from the heartbeat's spans.
        closed = _attach_history(c, previous, doc, views, spans=spans_for(heartbeat, previous))
        doc["outpost"]["last_verified_backup"] = _last_verified_backup(c, previous, doc)
        digest = content_hash(doc, _salt())
        # What is stored stays under the item budget however much the page grows (budget.py).
        fitted = budget.fit_snapshot(doc, partial=partial)
        # Old incidents leaving is the steady state of a big page; anything more is news.
        log.log(logging.DEBUG if fitted.report["level"] in ("whole", "closed incidents")
                else logging.INFO, "snapshot stored within its budget: %s", fitted.report)
        saved = store.save_snapshot(Encoded(fitted.encoded), version, c.clock(),
                                    fitted.parts, old_parts)
        new_heartbeat = folded(doc, saved, digest, data_as_of, heartbeat)
        _reset_heartbeat(c, new_heartbeat)
        _store_closed_days(c, closed)
        if _static_copy(c, doc):      # S3 has no item limit: the copy keeps everything
            _static_heartbeat(c, new_heartbeat)
        else:
            # The copy is behind the snapshot: heartbeat.json must not vouch for it (the copy's
            # page turns stale, as it should), and no hash makes the next round publish and
            # copy again, however quiet it is.
            _reset_heartbeat(c, {**new_heartbeat, "hash": None})
        return saved
    return retry_on_conflict(attempt, what="the snapshot", tries=MAX_CONFLICT_RETRIES)


def _attach_reports(c, previous: Optional[dict], doc: dict) -> None:
    """Whether the page takes reports, and the public counts (kept by reporting.sweep).
    Never raises: a report problem must not stop the page from being published."""
    policy = c.config.reports
    extra = doc.setdefault("outpost", {})
    if not policy.enabled:
        return
    extra["reports_window_seconds"] = int(policy.window)
    if not policy.public:
        return
    try:
        state, _ = c.store.load_document(reports.STATE)
        counts = (state or {}).get("public") or {}
    except Exception:                          # noqa: BLE001 - keep what the page showed
        log.exception("could not read the report counts; keeping the previous ones")
        counts = ((previous or {}).get("outpost") or {}).get("reports") or {}
    shown = extra.get("components") or {}
    extra["reports"] = {pid: int(n) for pid, n in counts.items() if pid in shown}


def _with_history(store, previous: Optional[dict], version: Optional[int], parts: int):
    """The previous snapshot with its history parts put back (one BatchGetItem), so the uptime
    ledger carries over exactly. Parts missing while the snapshot is unchanged (a restore that
    left them out) mean no carried history: the history table fills it back (checker._restore).
    Parts missing because a newer snapshot replaced them: SnapshotChanged (reload)."""
    if not previous or not parts:
        return previous
    found = store.load_snapshot_parts(parts, consistent=True)
    if found is not None:
        return budget.merge_history(previous, found)
    if store.load_snapshot(consistent=True)[1] != version:
        raise SnapshotChanged("history parts replaced by a newer snapshot")
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
    old = outpost(previous)
    if "last_verified_backup" in old:
        return old["last_verified_backup"]
    try:
        record = c.store.load_backup_verified()
    except Exception:                                 # noqa: BLE001 - a page without it is fine
        log.exception("could not read backup#last_verified")
        return None
    if not record or not record.get("verified_at"):
        return None
    return iso_ms(record["verified_at"], doc["page"]["time_zone"])


def _static_copy(c, doc: dict) -> bool:
    """Mirror the new snapshot to S3 when STATIC_BUCKET is set. Best effort: the snapshot is
    saved and the API serves it, so a failing copy is logged, never raised into the round.
    False when the copy failed (it is behind the snapshot)."""
    if not c.settings.static_bucket:
        return True
    try:
        # Rendering (jinja2, Babel) loads only when a copy is written: a quiet round, and a
        # checker stage in another region, never pay for it at cold start.
        from ..adapters.static_copy import publish_static
        publish_static(c, doc)
        return True
    except Exception:
        log.exception("static copy to s3://%s failed", c.settings.static_bucket)
        return False


def _reset_heartbeat(c, heartbeat: dict) -> None:
    """After a snapshot write: its spans are folded in. Unconditional: the snapshot's own
    conditional write made this writer the one that folded them. A failure is logged: the next
    fold sees a heartbeat from an older ledger and credits only one round (history.spans_for)."""
    try:
        c.store.save_heartbeat(heartbeat, None, c.clock(), force=True)
    except Exception:                             # noqa: BLE001 - the snapshot is saved
        log.exception("could not reset the heartbeat after a snapshot write")


def _static_heartbeat(c, heartbeat: dict) -> None:
    """heartbeat.json in the static copy, when due (static_copy.StaticPublisher.beat)."""
    if not c.settings.static_bucket:
        return
    try:
        c.static_publisher.beat(heartbeat, c.config, c.clock())
    except Exception:
        log.exception("heartbeat.json to s3://%s failed", c.settings.static_bucket)


def _attach_history(c, previous: Optional[dict], doc: dict, views: Optional[dict],
                    spans: Optional[list] = None) -> list:
    """Carry the uptime and response-time history into the assembled snapshot. Returns the
    days this publish closed."""
    cfg, now = c.config, c.clock()
    restored = None if previous and previous.get("_uptime") else _restore(c, doc)
    histograms = component_histograms(cfg, views) if views is not None else None
    return attach(previous, doc, now, CREDIT_ROUNDS * cfg.checks.interval, histograms, restored,
                  spans)


def _store_closed_days(c, closed: list) -> None:
    """One history item per component per closed day; a failure is logged, not raised: the
    same days are in the snapshot, and the next day's flush does not depend on this one."""
    if not closed:
        return
    days = [(key, {**day, "response_time": point}) for key, day, point in closed if key]
    try:
        c.store.put_history_days(days, c.clock())
    except Exception:
        log.exception("could not store %d closed history days", len(days))


def _restore(c, doc: dict) -> Optional[dict]:
    """History from the history table for a snapshot that has none (first publish after the
    snapshot was lost or the format changed). One query per component, only then."""
    since = day_key(c.clock() - DAYS * 86400, doc["page"]["time_zone"])
    uptime, rts = {}, {}
    try:
        for cid, extra in doc["outpost"]["components"].items():
            days = c.store.load_history_days(extra["key"], since)
            if days:
                uptime[cid] = {"days": [{k: v for k, v in d.items() if k != "response_time"}
                                        for d in days], "uptime_90d": uptime_over(days)}
                rts[cid] = [d["response_time"] for d in days if d.get("response_time")]
    except Exception:
        log.exception("could not read history back; starting it afresh")
        return None
    return {"uptime": uptime, "response_times": rts}


