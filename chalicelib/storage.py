"""I/O: the only PynamoDB module. Domain dataclasses in, domain dataclasses out.

Tables (names from settings):
  results  one item per region per round (hash region, range round_at), expires by TTL.
  state    small documents under a string key, each with a version for conditional writes:
           "region#<name>"  damped per-monitor views of one region
           "components"     derived component states (the page's source of truth)
           "snapshot"       the precomputed public document: the only thing a public GET reads
  keys     operator API keys, hashed.
"""
from __future__ import annotations

import base64
import json
import secrets
import time
import zlib
from datetime import datetime, timezone
from dataclasses import asdict
from typing import Any, Optional

from pynamodb.connection import Connection
from pynamodb.expressions.operand import Path
from pynamodb.attributes import (BinaryAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute,
                                 UnicodeSetAttribute, VersionAttribute)
from pynamodb.exceptions import (DeleteError, DoesNotExist, PutError, TransactWriteError,
                                 UpdateError)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from . import budget
from .auth import ApiKey
from .errors import (Conflict, FeedChanged, IdempotencyTaken, IncidentChanged, OutpostError,
                     SnapshotChanged,
                     retry_on_conflict)
from .model import (CheckResult, ComponentState, ComponentStatus, Level,
                    MonitorRegionState, Scope)

SUBSCRIBER_INDEX = "kind-address"            # infra/resources.yaml names it the same
# Subscriber fields kept as attributes of their own, not in the JSON blob (see SubscriberRow).
SUBSCRIBER_FIELDS = ("sns_arn", "code_sha", "code_expires", "code_attempts", "activating",
                     "activating_at", "verified_at", "unsubscribed_at")
RESULTS_TTL_SECONDS = 8 * 24 * 3600     # a week of raw rounds, plus a day of slack
IDEMPOTENCY_TTL = 24 * 3600             # a retry within a day returns the first result


class ItemTooLarge(OutpostError, ValueError):
    """An item over DynamoDB's 400 KB limit, refused before the call: AWS would answer with a
    ValidationException, and moto would store it, so tests would never see the failure."""

    def __init__(self, pk: str, size: int):
        super().__init__(f"item {pk!r} is {size} bytes; DynamoDB's limit is "
                         f"{budget.DYNAMODB_ITEM_LIMIT}")
        self.pk, self.size = pk, size


def check_item_size(row) -> int:
    """The row's size as DynamoDB counts it; raises ItemTooLarge over the limit. A versioned
    row not yet saved gains its version attribute on save: counted here already."""
    item = row.serialize()
    size = budget.item_size(item)
    version = getattr(type(row), "_version_attribute_name", None)
    if version and version not in item:
        size += len(version) + 2
    if size > budget.DYNAMODB_ITEM_LIMIT:
        key = next(iter(item["pk"].values())) if "pk" in item else type(row).__name__
        raise ItemTooLarge(str(key), size)
    return size


class Encoded(bytes):
    """A document already in JsonBlob's stored form: measuring an item (check_item_size) and
    then saving it serializes it twice, and a big snapshot costs a tenth of a second each."""


def _encoded(doc: Any) -> Any:
    if doc is None or isinstance(doc, Encoded):
        return doc
    return Encoded(budget.encode(doc))


class JsonBlob(BinaryAttribute):
    """JSON, zlib-compressed: keeps a big page's snapshot far below DynamoDB's 400 KB item cap."""

    def __init__(self, **kwargs):
        super().__init__(legacy_encoding=False, **kwargs)

    def serialize(self, value):
        if isinstance(value, Encoded):                      # encoded once, by _encoded()
            return super().serialize(bytes(value))
        return super().serialize(budget.encode(value))     # the form budget.py measures

    def deserialize(self, value):
        return json.loads(zlib.decompress(super().deserialize(value)))


def build_models(results_table: str, state_table: str, keys_table: str, audit_table: str,
                 region: str, host: Optional[str] = None,
                 subscribers_table: str = "outpost-subscribers"):
    """Model classes bound to this deployment's tables; made at run time, never at import."""

    def meta(table):
        return type("Meta", (), {"table_name": table, "region": region, "host": host,
                                 "billing_mode": "PAY_PER_REQUEST"})

    class ResultRow(Model):
        Meta = meta(results_table)
        region = UnicodeAttribute(hash_key=True)
        round_at = NumberAttribute(range_key=True)       # epoch milliseconds
        results = JsonBlob()
        expires_at = TTLAttribute()

    class StateRow(Model):
        # The stream is the outbox: every document change reaches the notifier, old and new.
        Meta = type("Meta", (meta(state_table),), {"stream_view_type": "NEW_AND_OLD_IMAGES"})
        pk = UnicodeAttribute(hash_key=True)
        doc = JsonBlob(null=True)
        updated_at = NumberAttribute(default=0)
        version = VersionAttribute()

    class TokenRow(Model):
        """Short-lived, unversioned items in the state table: idempotency keys, rate counters."""
        Meta = meta(state_table)
        pk = UnicodeAttribute(hash_key=True)
        state = UnicodeAttribute(null=True)          # idempotency: in_flight | done
        owner = UnicodeAttribute(null=True)          # who holds the in-flight lease
        request_hash = UnicodeAttribute(null=True)
        response = JsonBlob(null=True)
        hits = NumberAttribute(null=True)
        updated_at = NumberAttribute(default=0)
        expires_at = TTLAttribute(null=True)

    class AuditRow(Model):
        """Append-only: one partition per month, sorted by time then request id."""
        Meta = meta(audit_table)
        month = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        entry = JsonBlob()

    class KeyRow(Model):
        Meta = meta(keys_table)
        key_id = UnicodeAttribute(hash_key=True)
        secret_sha256 = UnicodeAttribute()
        name = UnicodeAttribute(default="")
        scopes = UnicodeSetAttribute()
        created_at = NumberAttribute()
        expires_at = NumberAttribute(null=True)
        revoked_at = NumberAttribute(null=True)
        last_used_at = NumberAttribute(null=True)

    class SubscribersByAddress(GlobalSecondaryIndex):
        """Every record of one address (kind + address hash), and every record of one kind.

        Both keys are attributes every record has always had, so DynamoDB backfills the index
        on an existing table by itself. `kind` has three values: fine for a status page's
        subscriber counts, and it lets fan-out query one kind instead of scanning the table.
        """
        class Meta:
            index_name = SUBSCRIBER_INDEX
            projection = AllProjection()
        kind = UnicodeAttribute(hash_key=True)
        address_hash = UnicodeAttribute(range_key=True)

    class SubscriberRow(Model):
        Meta = meta(subscribers_table)
        id = UnicodeAttribute(hash_key=True)
        kind = UnicodeAttribute()                   # email | sms | webhook
        address_hash = UnicodeAttribute()           # for "already subscribed?" without the address
        state = UnicodeAttribute()                  # pending | active | unsubscribed
        doc = JsonBlob()
        # What changes after sign-up lives outside the blob, so one conditional UpdateItem can
        # test and change it (chalicelib/subscribers.py: code attempts, activation, unsubscribe).
        sns_arn = UnicodeAttribute(null=True)
        code_sha = UnicodeAttribute(null=True)
        code_expires = NumberAttribute(null=True)
        code_attempts = NumberAttribute(null=True)
        activating = UnicodeAttribute(null=True)    # who holds the right to subscribe it in SNS
        activating_at = NumberAttribute(null=True)
        verified_at = NumberAttribute(null=True)
        unsubscribed_at = NumberAttribute(null=True)
        by_address = SubscribersByAddress()

    return ResultRow, StateRow, KeyRow, AuditRow, TokenRow, SubscriberRow


# -- codecs: domain <-> plain JSON ----------------------------------------------------------------

def result_to_json(r: CheckResult) -> dict:
    d = {"m": r.monitor_id, "t": round(r.checked_at, 3), "l": int(r.level)}
    if r.response_time_ms is not None:
        d["rt"] = r.response_time_ms
    if r.status_code is not None:
        d["sc"] = r.status_code
    if r.error:
        d["e"] = r.error
    failed = [c.resolved for c in r.conditions if not c.success]
    if failed:
        d["why"] = failed
    return d


def view_to_json(v: MonitorRegionState) -> dict:
    d = asdict(v)
    d["level"] = int(v.level)
    return d


def view_from_json(d: dict) -> MonitorRegionState:
    return MonitorRegionState(**{**d, "level": Level(d["level"])})


def component_state_to_json(s: ComponentState) -> dict:
    return {"status": s.status.value, "since": s.since, "scope": asdict(s.scope),
            "reasons": list(s.reasons), "last_checked_at": s.last_checked_at,
            "created_at": s.created_at, "unknown": s.unknown}


def component_state_from_json(d: dict) -> ComponentState:
    return ComponentState(status=ComponentStatus(d["status"]), since=d["since"],
                          scope=Scope(**d["scope"]), reasons=tuple(d.get("reasons", ())),
                          last_checked_at=d.get("last_checked_at"),
                          created_at=d.get("created_at"), unknown=d.get("unknown", False))


def build_history_model(table: str, region: str, host: Optional[str] = None):
    """One item per component per day: the day's uptime seconds by kind and its response-time
    percentiles. Written once, when the day closes (chalicelib.history), never per round."""
    class HistoryRow(Model):
        Meta = type("Meta", (), {"table_name": table, "region": region, "host": host,
                                 "billing_mode": "PAY_PER_REQUEST"})
        component = UnicodeAttribute(hash_key=True)      # the operator's component id
        date = UnicodeAttribute(range_key=True)           # YYYY-MM-DD in the page's time zone
        day = JsonBlob()
        updated_at = NumberAttribute(default=0)
    return HistoryRow


def build_part_model(table: str, region: str, host: Optional[str] = None):
    """Unversioned documents in the state table that belong to a versioned one and are written
    in its transaction (the snapshot's history parts): the owner's version guards them."""
    class PartRow(Model):
        Meta = type("Meta", (), {"table_name": table, "region": region, "host": host,
                                 "billing_mode": "PAY_PER_REQUEST"})
        pk = UnicodeAttribute(hash_key=True)
        doc = JsonBlob(null=True)
        updated_at = NumberAttribute(default=0)
    return PartRow


def build_reports_model(table: str, region: str, host: Optional[str] = None):
    """"Is it just me?" reports (chalicelib/reporting.py): a table of its own, without a stream
    (strangers' writes must not wake the outbox) and with every item expiring by TTL.

      pk "bucket"             sk bucket start   counters "n#<component>", "c#<component>#<CC>",
                                                "k#<component>#<kind>" (one item per 5 minutes)
      pk "report"             sk ms*1e9+random  one report, with its private note
      pk "seen#<client>#<c>"  sk 0              one counted report per client per window
      pk "rate#<name>#<n>"    sk 0              per-address and global hourly caps
    """
    class ReportRow(Model):
        Meta = type("Meta", (), {"table_name": table, "region": region, "host": host,
                                 "billing_mode": "PAY_PER_REQUEST"})
        pk = UnicodeAttribute(hash_key=True)
        sk = NumberAttribute(range_key=True)
        hits = NumberAttribute(null=True)
        doc = JsonBlob(null=True)
        expires_at = TTLAttribute(null=True)
    return ReportRow


class Store:
    """Reads and writes whole documents; every write of shared state is conditional on version."""

    def __init__(self, results_table: str, state_table: str, keys_table: str, region: str,
                 host: Optional[str] = None, audit_table: str = "outpost-audit",
                 history_table: str = "outpost-history",
                 subscribers_table: str = "outpost-subscribers",
                 reports_table: str = "outpost-reports"):
        self.region, self.host = region, host
        self.HistoryRow = build_history_model(history_table, region, host)
        self.PartRow = build_part_model(state_table, region, host)
        self.ReportRow = build_reports_model(reports_table, region, host)
        (self.ResultRow, self.StateRow, self.KeyRow, self.AuditRow, self.TokenRow,
         self.SubscriberRow) = build_models(results_table, state_table, keys_table, audit_table,
                                            region, host, subscribers_table)

    def _connection(self):
        """One connection for the snapshot's transactions, made on first use: a new one per
        transaction builds a botocore client (hundreds of milliseconds) each time.
        write_incident keeps its own per call for now: moto rolls a failed transaction back by
        restoring a copy of the whole table, undoing writes that landed meanwhile, and faster
        transactions made the operator API's race tests hit that (two winners on one version)."""
        conn = getattr(self, "_tx_conn", None)
        if conn is None:
            conn = self._tx_conn = Connection(region=self.region, host=self.host)
        return conn

    # tables
    def create_tables(self) -> None:
        for model in (self.ResultRow, self.StateRow, self.KeyRow, self.AuditRow, self.HistoryRow,
                      self.SubscriberRow, self.ReportRow):
            if not model.exists():
                model.create_table(wait=True)

    # results: the one write per region per round
    def put_results(self, region: str, round_at: float, results: list[CheckResult]) -> None:
        self.ResultRow(region, int(round_at * 1000), results=[result_to_json(r) for r in results],
                       expires_at=datetime.fromtimestamp(round_at + RESULTS_TTL_SECONDS, timezone.utc)).save()

    def recent_results(self, region: str, limit: int = 10) -> list[dict]:
        rows = self.ResultRow.query(region, scan_index_forward=False, limit=limit)
        return [{"round_at": row.round_at / 1000, "results": row.results} for row in rows]

    # region views
    def load_region_views(self, regions: list[str]) -> dict[str, tuple[dict[str, MonitorRegionState], Optional[int]]]:
        out = {r: ({}, None) for r in regions}
        keys = [f"region#{r}" for r in regions]
        for row in self.StateRow.batch_get(keys):
            region = row.pk.split("#", 1)[1]
            out[region] = ({k: view_from_json(v) for k, v in row.doc.items()}, row.version)
        return out

    def save_region_views(self, region: str, views: dict[str, MonitorRegionState],
                          version: Optional[int], now: float) -> None:
        self._save(f"region#{region}", {k: view_to_json(v) for k, v in views.items()}, version, now)

    # component states
    def load_component_states(self) -> tuple[dict[str, ComponentState], Optional[int]]:
        doc, version = self._load("components")
        return {k: component_state_from_json(v) for k, v in (doc or {}).items()}, version

    def save_component_states(self, states: dict[str, ComponentState], version: Optional[int],
                              now: float) -> None:
        self._save("components", {k: component_state_to_json(v) for k, v in states.items()},
                   version, now)

    # history: closed days, one item per component per day
    def put_history_days(self, days: list[tuple[str, dict]], now: float) -> None:
        """Idempotent overwrite: a retried flush stores the same day again, never twice."""
        with self.HistoryRow.batch_write() as batch:
            for component, day in days:
                batch.save(self.HistoryRow(component, day["date"], day=day, updated_at=now))

    def load_history_days(self, component: str, since: str) -> list[dict]:
        """Stored days of one component from `since` (YYYY-MM-DD) on, oldest first."""
        return [row.day for row in self.HistoryRow.query(component, self.HistoryRow.date >= since)]

    # snapshot
    def load_snapshot(self, consistent: bool = False) -> tuple[Optional[dict], Optional[int]]:
        # Public reads are eventually consistent: half the cost, and a second's lag is harmless.
        return self._load("snapshot", consistent)

    def save_snapshot(self, doc: Any, version: Optional[int], now: float,
                      parts: Optional[list] = None, old_parts: int = 0) -> int:
        """The snapshot, and its history parts when it has them (chalicelib.budget): one
        transaction, conditional on the snapshot's version, so a reader or the next writer
        never pairs a snapshot with another round's history. Parts the new snapshot no longer
        names are deleted in the same transaction. Without parts it is one PutItem. `doc` may
        come already encoded (Encoded, from budget.fit_snapshot's measuring)."""
        if not parts and not old_parts:
            return self._save("snapshot", doc, version, now)
        row = self.StateRow("snapshot", doc=_encoded(doc), updated_at=now)
        if version is not None:
            row.version = version
        rows = [self.PartRow(f"snapshot#history#{i}", doc=_encoded(part), updated_at=now)
                for i, part in enumerate(parts or ())]
        for r in [row] + rows:
            check_item_size(r)
        try:
            with TransactWrite(connection=self._connection()) as tx:
                tx.save(row)
                for part in rows:
                    tx.save(part)
                for i in range(len(rows), old_parts):
                    tx.delete(self.PartRow(f"snapshot#history#{i}"))
        except TransactWriteError as exc:
            reasons = [getattr(r, "code", None) for r in (exc.cancellation_reasons or [])]
            if reasons and reasons[0] == "ConditionalCheckFailed" \
                    or "TransactionConflict" in reasons:
                raise SnapshotChanged("snapshot") from exc
            raise
        return 1 if version is None else version + 1

    def load_snapshot_parts(self, count: int, consistent: bool = False) -> Optional[list]:
        """The snapshot's `count` history parts in one BatchGetItem; None if any is missing
        (a newer snapshot replaced them between the two reads)."""
        if not count:
            return []
        keys = [f"snapshot#history#{i}" for i in range(count)]
        found = {row.pk: row.doc for row in self.PartRow.batch_get(keys,
                                                                   consistent_read=consistent)}
        if len(found) != count:
            return None
        return [found[k] for k in keys]

    # heartbeat: the newest check time and the rounds since the snapshot was last written
    def load_heartbeat(self) -> tuple[Optional[dict], Optional[int]]:
        return self._load("heartbeat")

    def save_heartbeat(self, doc: dict, version: Optional[int], now: float,
                       force: bool = False) -> int:
        """Conditional on `version`, unless `force` (the writer that just folded it)."""
        if not force:
            return self._save("heartbeat", doc, version, now)
        row = self.StateRow("heartbeat", doc=_encoded(doc), updated_at=now)
        check_item_size(row)
        row.save(add_version_condition=False)
        return row.version

    def load_public(self) -> tuple[Optional[dict], Optional[int], Optional[dict]]:
        """(snapshot, its version, heartbeat) in ONE BatchGetItem, eventually consistent: the
        public read's only DynamoDB call."""
        rows = {row.pk: row for row in self.StateRow.batch_get(["snapshot", "heartbeat"])}
        snap, beat = rows.get("snapshot"), rows.get("heartbeat")
        return (snap.doc if snap else None, snap.version if snap else None,
                beat.doc if beat else None)

    # generic versioned document
    def load_document(self, pk: str) -> tuple[Optional[Any], Optional[int]]:
        return self._load(pk)

    def save_document(self, pk: str, doc: Any, version: Optional[int], now: float) -> int:
        return self._save(pk, doc, version, now)

    def _load(self, pk: str, consistent: bool = True) -> tuple[Optional[Any], Optional[int]]:
        try:
            row = self.StateRow.get(pk, consistent_read=consistent)
        except DoesNotExist:
            return None, None
        return row.doc, row.version

    def _save(self, pk: str, doc: Any, version: Optional[int], now: float) -> int:
        row = self.StateRow(pk, doc=_encoded(doc), updated_at=now)
        if version is not None:
            row.version = version
        check_item_size(row)
        try:
            row.save()          # VersionAttribute makes this conditional on `version`
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict(pk) from exc
            raise
        return row.version

    # operator keys
    def put_key(self, key_id: str, secret_sha256: str, name: str, scopes, now: float,
                expires_at: Optional[float] = None) -> None:
        row = self.KeyRow(key_id, secret_sha256=secret_sha256, name=name, scopes=set(scopes),
                          created_at=now, expires_at=expires_at)
        try:
            row.save(condition=self.KeyRow.key_id.does_not_exist())
        except PutError as exc:
            raise Conflict(f"key {key_id}") from exc

    def get_key(self, key_id: str):
        """(ApiKey, secret sha256) or None."""
        try:
            row = self.KeyRow.get(key_id)
        except DoesNotExist:
            return None
        key = ApiKey(row.key_id, row.name, frozenset(row.scopes or ()), row.created_at,
                     row.expires_at, row.revoked_at)
        return key, row.secret_sha256

    def touch_key(self, key_id: str, now: float, every: float = 300.0) -> None:
        """Record use, at most once per `every` seconds: no hot write on every request."""
        row = self.KeyRow(key_id)
        try:
            row.update(actions=[self.KeyRow.last_used_at.set(now)],
                       condition=(self.KeyRow.key_id.exists()
                                  & (self.KeyRow.last_used_at.does_not_exist()
                                     | (self.KeyRow.last_used_at < now - every))))
        except UpdateError:
            pass                                     # someone recorded it recently: fine

    def list_keys(self) -> list:
        return [ApiKey(r.key_id, r.name, frozenset(r.scopes or ()), r.created_at, r.expires_at,
                       r.revoked_at) for r in self.KeyRow.scan()]

    def revoke_key(self, key_id: str, now: float) -> bool:
        try:
            self.KeyRow(key_id).update(actions=[self.KeyRow.revoked_at.set(now)],
                                       condition=self.KeyRow.key_id.exists())
            return True
        except UpdateError:
            return False

    # rate limiting: one counter item per key per second, gone a minute later
    def hit(self, bucket: str, now: float, window: float = 1.0) -> int:
        """Count one hit in the current fixed window; the count so far (this one included)."""
        row = self.TokenRow(f"rate#{bucket}#{int(now // window)}")
        row.update(actions=[self.TokenRow.hits.add(1),
                            self.TokenRow.expires_at.set(
                                datetime.fromtimestamp(now + window + 60, timezone.utc))])
        return int(row.hits)

    def count(self, bucket: str, now: float, window: float = 1.0) -> int:
        """Hits so far in the current window, without counting one."""
        try:
            row = self.TokenRow.get(f"rate#{bucket}#{int(now // window)}", consistent_read=True)
        except DoesNotExist:
            return 0
        return int(row.hits or 0)

    def complete_token(self, pk: str, owner: str, response: dict, now: float) -> None:
        """Mark a claimed idempotency/dedupe key done, if we still own it."""
        row = self.TokenRow(pk)
        row.update(actions=[self.TokenRow.state.set("done"),
                            self.TokenRow.response.set(response),
                            self.TokenRow.updated_at.set(now)],
                   condition=self.TokenRow.owner == owner)

    def secret(self, name: str, make) -> str:
        """A deployment secret kept in the state table, created once (first writer wins)."""
        pk = f"secret#{name}"
        try:
            return self.TokenRow.get(pk, consistent_read=True).request_hash
        except DoesNotExist:
            pass
        try:
            self.TokenRow(pk, state="secret", request_hash=make()).save(
                condition=self.TokenRow.pk.does_not_exist())
        except PutError:
            pass
        return self.TokenRow.get(pk, consistent_read=True).request_hash

    # subscribers ----------------------------------------------------------------------------
    # A record is the JSON blob plus SUBSCRIBER_FIELDS and `state` as attributes of their own.
    # Everything that changes a record after it is made is one conditional UpdateItem: the
    # methods below return the record as it is afterwards, or None when the condition failed.
    def _subscriber_row(self, doc: dict):
        blob = {k: v for k, v in doc.items() if k not in SUBSCRIBER_FIELDS and k != "state"}
        return self.SubscriberRow(doc["id"], kind=doc["kind"], address_hash=doc["address_hash"],
                                  state=doc["state"], doc=blob,
                                  **{k: doc.get(k) for k in SUBSCRIBER_FIELDS})

    @staticmethod
    def _subscriber_doc(row) -> dict:
        doc = dict(row.doc)
        doc["state"] = row.state
        for name in SUBSCRIBER_FIELDS:
            value = getattr(row, name, None)
            if value is not None:
                doc[name] = value
            elif name in ("activating", "activating_at"):
                doc.pop(name, None)
            # else: records written before these were attributes keep them in the blob
        doc.setdefault("sns_arn", None)
        return doc

    def put_subscriber(self, doc: dict) -> None:
        """Unconditional whole-record write (restores, fixtures). Changes go through the
        conditional methods below."""
        self._subscriber_row(doc).save()

    def create_subscriber(self, doc: dict) -> None:
        """Write a new record; Conflict if one with this id exists (idempotent creates)."""
        try:
            self._subscriber_row(doc).save(condition=self.SubscriberRow.id.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict(f"subscriber {doc['id']}") from exc
            raise

    def get_subscriber(self, sub_id: str) -> Optional[dict]:
        try:
            return self._subscriber_doc(self.SubscriberRow.get(sub_id, consistent_read=True))
        except DoesNotExist:
            return None

    def _update_subscriber(self, sub_id: str, actions: list, condition) -> Optional[dict]:
        row = self.SubscriberRow(sub_id)
        try:
            row.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise
        return self._subscriber_doc(row)

    def count_code_attempt(self, sub_id: str, now: float, max_attempts: int) -> Optional[dict]:
        """Spend one attempt at an SMS code: ADD 1 only while the record is pending, under the
        cap and unexpired. None: no attempt left (or no such pending SMS record)."""
        R = self.SubscriberRow
        return self._update_subscriber(
            sub_id, [R.code_attempts.add(1)],
            (R.kind == "sms") & (R.state == "pending") & (R.code_attempts < max_attempts)
            & (R.code_expires > now))

    def claim_activation(self, sub_id: str, owner: str, now: float, lease: float,
                         from_states: tuple[str, ...] = ("pending",),
                         code_sha: Optional[str] = None,
                         doc: Optional[dict] = None) -> Optional[dict]:
        """Take the right to create this record's SNS subscription: one caller wins, until it
        finishes or its lease runs out. The record becomes (or stays) pending; `doc` replaces
        the blob (a returning email address brings new choices)."""
        R = self.SubscriberRow
        actions = [R.state.set("pending"), R.activating.set(owner), R.activating_at.set(now)]
        if doc is not None:
            actions.append(R.doc.set({k: v for k, v in doc.items()
                                      if k not in SUBSCRIBER_FIELDS and k != "state"}))
        condition = (R.state.is_in(*from_states)
                     & (R.activating_at.does_not_exist() | (R.activating_at < now - lease)))
        if code_sha is not None:
            condition &= R.code_sha == code_sha
        return self._update_subscriber(sub_id, actions, condition)

    def finish_activation(self, sub_id: str, owner: str, sns_arn: Optional[str],
                          now: float) -> Optional[dict]:
        """pending -> active, only for the holder of the claim."""
        R = self.SubscriberRow
        actions = [R.state.set("active"), R.verified_at.set(now), R.activating.remove(),
                   R.activating_at.remove()]
        actions.append(R.sns_arn.set(sns_arn) if sns_arn else R.sns_arn.remove())
        return self._update_subscriber(sub_id, actions,
                                       (R.state == "pending") & (R.activating == owner))

    def abandon_activation(self, sub_id: str, owner: str) -> Optional[dict]:
        """Give the claim back (the SNS call failed), so the next try need not wait."""
        R = self.SubscriberRow
        return self._update_subscriber(sub_id, [R.activating.remove(), R.activating_at.remove()],
                                       (R.state == "pending") & (R.activating == owner))

    def mark_unsubscribed(self, sub_id: str, now: float) -> Optional[dict]:
        """pending|active -> unsubscribed; None if it was already unsubscribed or is gone."""
        R = self.SubscriberRow
        return self._update_subscriber(
            sub_id, [R.state.set("unsubscribed"), R.unsubscribed_at.set(now),
                     R.activating.remove(), R.activating_at.remove()],
            R.state.is_in("pending", "active"))

    def delete_subscriber(self, sub_id: str) -> bool:
        try:
            self.SubscriberRow(sub_id).delete(condition=self.SubscriberRow.id.exists())
            return True
        except DeleteError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def subscribers(self, kind: Optional[str] = None, state: Optional[str] = None) -> list[dict]:
        R = self.SubscriberRow
        if kind:
            # one kind: a query on the index, never a scan of every subscriber (fan-out)
            rows = R.by_address.query(kind, filter_condition=(R.state == state) if state else None)
        else:
            rows = R.scan(filter_condition=(R.state == state) if state else None)
        return [self._subscriber_doc(r) for r in rows]

    def subscriber_page(self, kind: str, cursor: Optional[dict], limit: int
                        ) -> tuple[list[dict], Optional[dict]]:
        """One page of the records of one kind (any state), and the cursor of the next page
        (None after the last): the webhook fan-out reads a bounded page per invocation."""
        R = self.SubscriberRow
        rows = R.by_address.query(kind, limit=limit, page_size=limit, last_evaluated_key=cursor)
        docs = [self._subscriber_doc(r) for r in rows]
        return docs, (rows.last_evaluated_key if len(docs) >= limit else None)

    def address_records(self, kind: str, address_hash: str) -> list[dict]:
        """Every record of one address, whatever its state: one query on the index (eventually
        consistent, like any index read)."""
        R = self.SubscriberRow
        return [self._subscriber_doc(r)
                for r in R.by_address.query(kind, R.address_hash == address_hash)]

    def find_subscriber(self, kind: str, address_hash: str) -> Optional[dict]:
        """A live (not unsubscribed) record of this address, if there is one."""
        return next((d for d in self.address_records(kind, address_hash)
                     if d["state"] != "unsubscribed"), None)

    # user reports (chalicelib/reporting.py); items in the reports table, all with a TTL -------
    def report_hit(self, name: str, now: float, window: float) -> int:
        """Count one in `name`'s current fixed window; the count so far, this one included."""
        row = self.ReportRow(f"rate#{name}#{int(now // window)}", 0)
        row.update(actions=[self.ReportRow.hits.add(1),
                            self.ReportRow.expires_at.set(_at(now + window + 60))])
        return int(row.hits)

    def report_count(self, name: str, now: float, window: float) -> int:
        """`name`'s count in its current fixed window, without adding one."""
        try:
            row = self.ReportRow.get(f"rate#{name}#{int(now // window)}", 0)
        except DoesNotExist:
            return 0
        return int(row.hits or 0)

    def report_first_seen(self, key: str, now: float, ttl: float) -> bool:
        """True for the first report under `key` in `ttl` seconds (then it counts), else False.
        The condition checks the expiry itself: TTL deletes expired items only eventually."""
        R = self.ReportRow
        try:
            R(f"seen#{key}", 0, expires_at=_at(now + ttl)).save(
                condition=R.pk.does_not_exist() | (R.expires_at < _at(now)))
            return True
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def count_report(self, bucket: int, attributes: list[str], expires: float) -> None:
        """Add 1 to each counter attribute of the bucket's item, atomically (ADD)."""
        self.ReportRow("bucket", bucket).update(
            actions=[Path([name]).add(1) for name in attributes]
            + [self.ReportRow.expires_at.set(_at(expires))])

    def add_to_counter(self, bucket: int, attribute: str, n: int, expires: float) -> None:
        """Add n to one counter attribute of the bucket's item (ADD; chalicelib/mentions.py)."""
        self.ReportRow("bucket", bucket).update(
            actions=[Path([attribute]).add(n), self.ReportRow.expires_at.set(_at(expires))])

    def report_window(self, first: int, last: int) -> dict[int, dict[str, int]]:
        """Counter items of the buckets first..last (one Query): bucket -> {attribute: count}."""
        conn = self.ReportRow._get_connection()
        out, start = {}, None
        while True:
            page = conn.query("bucket", self.ReportRow.sk.between(first, last),
                              exclusive_start_key=start)
            out.update(_counters(item) for item in page.get("Items", ()))
            start = page.get("LastEvaluatedKey")
            if not start:
                return out

    def report_buckets(self, buckets: list[int]) -> dict[int, dict[str, int]]:
        """Counter items of exactly these buckets (BatchGetItem, 100 keys a call, unprocessed
        keys retried); buckets nobody reported in are simply absent."""
        conn = self.ReportRow._get_connection()
        table = self.ReportRow.Meta.table_name
        out: dict[int, dict[str, int]] = {}
        pending = [{"pk": "bucket", "sk": b} for b in sorted(set(buckets))]
        for attempt in range(8):
            if not pending:
                return out
            batch, pending = pending[:100], pending[100:]
            resp = conn.batch_get_item(batch)
            out.update(_counters(item) for item in resp.get("Responses", {}).get(table, ()))
            left = resp.get("UnprocessedKeys", {}).get(table, {}).get("Keys", ())
            if left:
                pending = [{"pk": k["pk"]["S"], "sk": int(k["sk"]["N"])} for k in left] + pending
                time.sleep(min(1.0, 0.05 * 2 ** attempt))
        raise RuntimeError("report counters: DynamoDB kept keys unprocessed")

    def put_report(self, record: dict, now: float, ttl: float) -> None:
        """One report, notes included (operators read them); never overwrites another."""
        R = self.ReportRow
        for _ in range(3):
            # time in ms, then 9 random digits: ordered by time, unique in a burst
            sk = int(now * 1000) * 10**9 + secrets.randbelow(10**9)
            try:
                R("report", sk, doc={**record, "id": str(sk)}, expires_at=_at(now + ttl)).save(
                    condition=R.pk.does_not_exist())
                return
            except PutError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
        raise Conflict("report")

    def recent_reports(self, limit: int, component: Optional[str] = None,
                       max_read: int = 1000) -> list[dict]:
        """Newest first; with `component`, only its reports among the newest `max_read`."""
        out = []
        for read, row in enumerate(self.ReportRow.query("report", scan_index_forward=False,
                                                        page_size=min(max_read, 200))):
            if read >= max_read or len(out) >= limit:
                break
            if row.doc and (component is None or row.doc.get("component") == component):
                out.append(row.doc)
        return out

    # stream records (the outbox) ------------------------------------------------------------
    @staticmethod
    def decode_stream_image(image: Optional[dict]) -> tuple[Optional[str], Optional[Any]]:
        """(pk, doc) from a state-table stream image in DynamoDB JSON (Lambda's base64 or
        boto3's bytes for binary values). Raises ValueError on anything it can't read."""
        if not image:
            return None, None
        try:
            pk = image["pk"]["S"]
            raw = image.get("doc", {}).get("B")
            if raw is None:
                return pk, None
            if isinstance(raw, str):
                raw = base64.b64decode(raw)
            return pk, json.loads(zlib.decompress(raw))
        except (KeyError, TypeError, ValueError, zlib.error) as exc:
            raise ValueError(f"unreadable state image: {exc}") from exc


    # incidents ------------------------------------------------------------------------------
    def load_incident(self, incident_id: str) -> tuple[Optional[dict], Optional[int]]:
        return self._load(f"incident#{incident_id}")

    def load_incident_feed(self) -> tuple[list, Optional[int]]:
        doc, version = self._load("incident_feed")
        return (doc or {}).get("incidents", []), version

    def load_overrides(self) -> tuple[dict, Optional[int]]:
        doc, version = self._load("overrides")
        return doc or {}, version

    def save_overrides(self, overrides: dict, version: Optional[int], now: float) -> int:
        return self._save("overrides", overrides, version, now)

    def write_incident(self, doc: dict, version: Optional[int], feed: list,
                       feed_version: Optional[int], audit: dict, now: float,
                       idempotency: Optional[tuple[str, str, str, dict]] = None) -> int:
        """Incident, the public feed and the audit entry in one transaction, all or nothing.

        Raises IncidentChanged when the incident changed since `version`, FeedChanged when
        another incident was written meanwhile (reload and retry), and IdempotencyTaken when
        another request took over this idempotency key.
        """
        inc = self.StateRow(f"incident#{doc['id']}", doc=_encoded(doc), updated_at=now)
        if version is not None:
            inc.version = version
        feed_row = self.StateRow("incident_feed", doc=_encoded({"incidents": feed}),
                                 updated_at=now)
        if feed_version is not None:
            feed_row.version = feed_version
        stamp = datetime.fromtimestamp(now, timezone.utc)
        audit_row = self.AuditRow(stamp.strftime("%Y-%m"),
                                  f"{stamp.isoformat(timespec='microseconds')}#{audit['request_id']}",
                                  entry=audit)
        for row in (inc, feed_row, audit_row):
            check_item_size(row)
        try:
            with TransactWrite(connection=Connection(region=self.region, host=self.host)) as tx:
                tx.save(inc)
                tx.save(feed_row)
                tx.save(audit_row, condition=self.AuditRow.sk.does_not_exist())
                if idempotency:
                    pk, owner, request_hash, response = idempotency
                    done = self.TokenRow(pk, state="done", owner=owner, request_hash=request_hash,
                                         response=response, updated_at=now,
                                         expires_at=datetime.fromtimestamp(now + IDEMPOTENCY_TTL,
                                                                           timezone.utc))
                    tx.save(done, condition=self.TokenRow.owner == owner)
        except TransactWriteError as exc:
            reasons = [getattr(r, "code", None) for r in (exc.cancellation_reasons or [])]
            failed = [i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
            if 0 in failed:
                raise IncidentChanged(doc["id"]) from exc
            if 1 in failed:
                raise FeedChanged("incident feed") from exc
            if 3 in failed:
                raise IdempotencyTaken(idempotency[0]) from exc
            if "TransactionConflict" in reasons:
                # another transaction held one of these items at that instant: just try again
                raise FeedChanged("incident feed") from exc
            raise
        return inc.version if version is None else version + 1

    def recent_audit(self, month: str, limit: int = 50) -> list[dict]:
        return [r.entry for r in self.AuditRow.query(month, scan_index_forward=False, limit=limit)]

    # idempotency ----------------------------------------------------------------------------
    def claim_idempotency(self, pk: str, owner: str, request_hash: str, now: float,
                          lease: float = 30.0):
        """Take the key for this request, or return the row that holds it.

        Returns None when claimed. Otherwise the TokenRow: state "done" with the first response,
        or "in_flight" while another request holds a live lease. A lease older than `lease`
        seconds is taken over: its request died before committing, and its commit is conditional
        on still being the owner, so the work can't land twice.
        """
        row = self.TokenRow(pk, state="in_flight", owner=owner, request_hash=request_hash,
                            updated_at=now,
                            expires_at=datetime.fromtimestamp(now + IDEMPOTENCY_TTL, timezone.utc))
        T = self.TokenRow
        try:
            row.save(condition=T.pk.does_not_exist()
                     | ((T.state == "in_flight") & (T.updated_at < now - lease)))
            return None
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        try:
            return T.get(pk, consistent_read=True)
        except DoesNotExist:                          # expired between the two calls
            return self.claim_idempotency(pk, owner, request_hash, now, lease)

    def release_idempotency(self, pk: str, owner: str) -> None:
        """Give the key back after a request failed without side effects (e.g. a 4xx)."""
        try:
            # Only an unfinished claim: a "done" key records work that happened.
            self.TokenRow(pk).delete(condition=(self.TokenRow.owner == owner)
                                     & (self.TokenRow.state == "in_flight"))
        except Exception:                             # best effort: the lease expires anyway
            pass

    # backups (chalicelib/backup.py): whole tables as plain JSON, and scratch copies ----------
    def backup_models(self) -> dict:
        """The tables a backup covers, by role. Raw results (they expire in a week) are not."""
        models = {"state": self.StateRow, "keys": self.KeyRow, "audit": self.AuditRow,
                  "history": self.HistoryRow}
        if getattr(self, "SubscriberRow", None) is not None:
            models["subscribers"] = self.SubscriberRow
        return models

    def table_names(self) -> dict[str, str]:
        return {role: m.Meta.table_name for role, m in self.backup_models().items()}

    def scan_plain(self, role: str):
        """Every item of one table as plain JSON (JSON blobs decoded, sets as sorted lists, TTL
        times as epoch seconds), read with strong consistency."""
        for row in self.backup_models()[role].scan(consistent_read=True):
            yield plain_item(row)

    def put_plain(self, role: str, items) -> int:
        """Write items exactly as given (versions included: no conditions, no increments)."""
        model, n = self.backup_models()[role], 0
        with model.batch_write() as batch:
            for item in items:
                batch.save(item_from_plain(model, item))
                n += 1
        return n

    def scratch_copy(self, suffix: str) -> "Store":
        """A Store on the same endpoint whose tables are named `<name>-<suffix>`."""
        names = {role: f"{name}-{suffix}" for role, name in self.table_names().items()}
        kwargs = {"subscribers_table": names["subscribers"]} if "subscribers" in names else {}
        return Store(f"{self.ResultRow.Meta.table_name}-{suffix}", names["state"], names["keys"],
                     self.region, self.host, audit_table=names["audit"],
                     history_table=names["history"], **kwargs)

    def create_backup_tables(self) -> None:
        for model in self.backup_models().values():
            if not model.exists():
                model.create_table(wait=True)

    def delete_backup_tables(self) -> None:
        for model in self.backup_models().values():
            if model.exists():
                model.delete_table()

    def save_backup_verified(self, record: dict, now: float) -> None:
        """`backup#last_verified`: the last export that `outpost backup verify` proved."""
        def save() -> None:
            _, version = self._load("backup#last_verified")
            self._save("backup#last_verified", record, version, now)
        retry_on_conflict(save, what="backup#last_verified", tries=5)

    def load_backup_verified(self) -> Optional[dict]:
        return self._load("backup#last_verified", consistent=False)[0]


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def _counters(item: dict) -> tuple[int, dict[str, int]]:
    """(bucket, {counter attribute: count}) from a raw reports-table item."""
    counts = {name: int(value["N"]) for name, value in item.items()
              if "#" in name and "N" in value}
    return int(item["sk"]["N"]), counts


def plain_item(row) -> dict:
    out = {}
    for name, attr in row.get_attributes().items():
        value = getattr(row, name, None)
        if value is None:
            continue
        if isinstance(attr, TTLAttribute):
            value = int(value.timestamp())
        elif isinstance(value, (set, frozenset)):
            value = sorted(value)
        out[name] = value
    return out


def item_from_plain(model, item: dict):
    attrs = model.get_attributes()
    values = {}
    for name, value in item.items():
        attr = attrs.get(name)
        if attr is None:
            raise ValueError(f"{model.Meta.table_name}: unknown attribute {name!r}")
        if isinstance(attr, TTLAttribute):
            value = datetime.fromtimestamp(value, timezone.utc)
        elif isinstance(attr, UnicodeSetAttribute):
            value = set(value)
        values[name] = value
    return model(**values)
