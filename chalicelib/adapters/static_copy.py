"""The static copy: every public representation written to S3, so CloudFront can keep serving
the page when API Gateway or Lambda fail (shared/research/reliability.md section 4.5).

`static_objects` is pure (snapshot -> keys, bytes, headers); `StaticPublisher` is the only S3
code. Keys mirror the public URL paths, so one CloudFront distribution can put S3 behind the
API as a fallback origin: `/` is `index.html`, `/incidents/{id}` is `incidents/{id}`.

Not copied: `/history?page=N` (a query string is not an S3 key; the feeds carry the history).
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import NamedTuple, Optional

from ..core.caching import PUBLIC_CACHE_CONTROL
from ..core.snapshot import iso_ms
from ..core.snapview import is_stale, outpost
from ..render import badges, feeds, html, v2

log = logging.getLogger("outpost")

HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
# Everything that can disappear (a deleted incident, a removed component): pruned when gone.
MANAGED_PREFIXES = ("incidents/", "badge/", "api/v2/shields/")


HEARTBEAT_KEY = "heartbeat.json"


class StaticObject(NamedTuple):
    key: str
    body: bytes
    content_type: str


def static_objects(snapshot: dict, now: float,
                   social_url: Optional[str] = None, accounts=()) -> list[StaticObject]:
    """Everything the public API serves, rendered from `snapshot` as of `now` (for staleness)."""
    stale = is_stale(snapshot, now)
    # The copy is rewritten only when the page changes: its script reads the newest check
    # time from heartbeat.json (StaticPublisher.beat) before it calls the page stale.
    index = html.render_index(snapshot, stale, social_url=social_url, heartbeat=HEARTBEAT_KEY,
                              accounts=accounts)
    out = [StaticObject("index.html", index, HTML),
           StaticObject("history.atom", feeds.render_atom(snapshot), "application/atom+xml"),
           StaticObject("history.rss", feeds.render_rss(snapshot), "application/rss+xml"),
           StaticObject("badge.svg", badges.page_svg(snapshot, stale), "image/svg+xml"),
           StaticObject("api/v2/shields.json", badges.page_shields(snapshot, stale), JSON)]
    out += [StaticObject(f"api/v2/{name}.json", v2.render(snapshot, name), JSON)
            for name in v2.ENDPOINTS]
    out.append(StaticObject("api/v2/uptime.json", v2.render_uptime(snapshot), JSON))
    keys = {cid: extra.get("key") for cid, extra in (outpost(snapshot).get("components") or {}).items()}
    for row in snapshot.get("components") or ():
        svg = badges.component_svg(snapshot, row, stale)
        shield = badges.component_shields(snapshot, row, stale)
        # Both names the dynamic routes accept: the public id and the status file's key.
        for name in filter(None, {row["id"], keys.get(row["id"])}):
            out.append(StaticObject(f"badge/{name}.svg", svg, "image/svg+xml"))
            out.append(StaticObject(f"api/v2/shields/{name}.json", shield, JSON))
    for item in [*(snapshot.get("incidents") or ()), *(snapshot.get("scheduled_maintenances") or ())]:
        page = html.render_incident(snapshot, item["id"])
        if page is not None:
            out.append(StaticObject(f"incidents/{item['id']}", page, HTML))
    return out


class StaticPublisher:
    """Writes changed objects to the bucket and prunes ones that no longer exist.

    Remembers what it wrote (per warm Lambda) so a round that changes one badge writes one
    object, not all of them. A cold Lambda writes everything once.
    """

    def __init__(self, bucket: Optional[str], region: str, client=None):
        self.bucket = bucket
        self.region = region
        self._client = client
        self._lock = threading.Lock()
        self._written: dict[str, str] = {}      # key -> sha256 of what we last wrote
        self._listed = False
        self._beat_at = float("-inf")           # when this process last wrote heartbeat.json

    @property
    def client(self):
        if self._client is None:
            import boto3  # cold start: boto3 loads on first use
            self._client = boto3.client("s3", region_name=self.region)
        return self._client

    def publish(self, objects: list[StaticObject]) -> dict:
        """{"written": n, "unchanged": n, "deleted": n}."""
        with self._lock:
            written = unchanged = 0
            for obj in objects:
                digest = hashlib.sha256(obj.body + obj.content_type.encode()).hexdigest()
                if self._written.get(obj.key) == digest:
                    unchanged += 1
                    continue
                self.client.put_object(Bucket=self.bucket, Key=obj.key, Body=obj.body,
                                       ContentType=obj.content_type,
                                       CacheControl=PUBLIC_CACHE_CONTROL)
                self._written[obj.key] = digest
                written += 1
            deleted = self._prune({o.key for o in objects})
            return {"written": written, "unchanged": unchanged, "deleted": deleted}

    def beat(self, heartbeat: dict, config, now: float) -> bool:
        """Write heartbeat.json when the copy's newest check time would otherwise age past
        `every(config)`; True when written. Not every round: at one round a minute a PUT per
        round is ~43,200 a month, and the page only needs the time to stay under its staleness
        limit while checks run."""
        if not self.bucket or now - self._beat_at < beat_every(config):
            return False
        as_of = heartbeat.get("as_of")
        body = json.dumps({"data_as_of": iso_ms(as_of, config.page.time_zone),
                           "data_as_of_epoch": as_of}, separators=(",", ":")).encode()
        with self._lock:
            # no-cache: CloudFront and browsers must revalidate; a cached heartbeat is a lie.
            self.client.put_object(Bucket=self.bucket, Key=HEARTBEAT_KEY, Body=body,
                                   ContentType=JSON, CacheControl="no-cache")
            self._beat_at = now
        return True

    def _prune(self, current: set[str]) -> int:
        # After the first publish we know every key we manage; list the bucket only once per
        # process (to find what an earlier process wrote), then delete from memory alone.
        if not self._listed:
            known = set()
            for prefix in MANAGED_PREFIXES:
                pages = self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=prefix)
                known |= {o["Key"] for p in pages for o in p.get("Contents", ())}
            self._listed = True
        else:
            known = set(self._written)
        gone = sorted(k for k in known - current if k.startswith(MANAGED_PREFIXES))
        for start in range(0, len(gone), 1000):          # DeleteObjects takes 1000 keys at most
            self.client.delete_objects(Bucket=self.bucket, Delete={
                "Objects": [{"Key": k} for k in gone[start:start + 1000]], "Quiet": True})
        for key in gone:
            self._written.pop(key, None)
        return len(gone)


def beat_every(config) -> float:
    """Seconds between heartbeat.json writes: as rare as possible while a page reading it never
    sees a running checker's time older than the staleness limit (3 rounds): the limit minus
    one and a half rounds (a late schedule), but at least one round. At the default 60 s
    rounds that is every other round: a newest time at most ~2 rounds old, and a page whose
    checkers stopped turns stale no later than one served by the API would."""
    interval = float(config.checks.interval)
    return max(interval, 3 * interval - 1.5 * interval)


def publish_static(c, snapshot: dict) -> Optional[dict]:
    """Write the static copy of `snapshot`; a no-op (None) when STATIC_BUCKET is not set."""
    publisher = c.static_publisher
    if not publisher.bucket:
        return None
    return publisher.publish(static_objects(snapshot, c.clock(),
                                            c.config.operations.social_url,
                                            c.config.social.accounts()))
