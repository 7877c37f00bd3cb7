"""The read side of the page: the snapshot as every public route serves it, read at most once
per TTL per warm Lambda, marked stale when its data is too old, rendered once per version."""
from __future__ import annotations

import hashlib
import logging
import threading
from typing import Optional

from ..core.budget import history_parts, merge_history
from ..core.errors import SnapshotUnavailable
from ..core.history import fold_view, mark_stale, overlay
from ..core.snapshot import build_snapshot
from ..core.snapview import too_old

log = logging.getLogger("outpost")


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
                    # A stale page beats no page: keep serving what we have, retry after a TTL,
                    # judged at this moment like any copy (it says so once its data is old).
                    log.exception("snapshot read failed; serving the cached copy")
                    self._fetched_at = now
                    return self._as_seen(now), self._version
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
        stale = too_old(doc, now)
        if not stale and not (doc.get("outpost") or {}).get("stale"):
            return doc
        if self._marked is None or self._marked[0] != (self._version, self._as_of, stale):
            self._marked = ((self._version, self._as_of, stale), mark_stale(doc, now))
        return self._marked[1]

    def with_history(self, snap: dict, version: Optional[int]) -> dict:
        """`snap` with its history put back. Inline history costs nothing; history in parts
        (chalicelib.core.budget) costs one BatchGetItem per snapshot version, only for the renders
        that draw it (uptime.json, the HTML page), never for the v2 JSON."""
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
                snap = fold_view(self.with_history(snap, version), self._heartbeat)
            body = render(snap, name)
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            # Lambda's proxy response carries text; decode once here, not per request.
            hit = self._rendered[key] = (body.decode("utf-8"), etag)
        return hit
