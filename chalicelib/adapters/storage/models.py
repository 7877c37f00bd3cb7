"""The PynamoDB model classes, bound to this deployment's tables at run time (never at import),
and _Tables: the one base that holds them for every repository.

Tables (names from settings):
  results  one item per region per round (hash region, range round_at), expires by TTL.
  state    small documents under a string key, each with a version for conditional writes:
           "region#<name>"  damped per-monitor views of one region
           "components"     derived component states (the page's source of truth)
           "snapshot"       the precomputed public document: the only thing a public GET reads
  keys     operator API keys, hashed.
"""
from __future__ import annotations

from typing import Any, Optional

from pynamodb.attributes import (NumberAttribute, TTLAttribute, UnicodeAttribute,
                                 UnicodeSetAttribute, VersionAttribute)
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from ...core.errors import Conflict
from .items import JsonBlob, _encoded, check_item_size

SUBSCRIBER_INDEX = "kind-address"            # infra/resources.yaml names it the same


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
        # test and change it (chalicelib/usecases/subscribers.py: code attempts, activation, unsubscribe).
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


def build_history_model(table: str, region: str, host: Optional[str] = None):
    """One item per component per day: the day's uptime seconds by kind and its response-time
    percentiles. Written once, when the day closes (chalicelib.core.history), never per round."""
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
    """"Is it just me?" reports (chalicelib/usecases/reporting.py): a table of its own, without a stream
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


class _Tables():
    """The table handles every repository works on, bound once per Store, and the two primitives
    of the state table's versioned documents (_load, _save) that several repositories share."""

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

    def create_tables(self) -> None:
        for model in (self.ResultRow, self.StateRow, self.KeyRow, self.AuditRow, self.HistoryRow,
                      self.SubscriberRow, self.ReportRow):
            if not model.exists():
                model.create_table(wait=True)

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
