"""Incidents, the public incident feed and the pinned overrides: operator writes, each with its
audit entry (chalicelib/usecases/manage.py)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from ...core.errors import FeedChanged, IdempotencyTaken, IncidentChanged
from .items import _encoded, check_item_size
from .models import _Tables
from .tokens import IDEMPOTENCY_TTL


class IncidentRepository(_Tables):
    """Incident documents, the feed and overrides in the state table; write_incident commits the
    incident, the feed, its audit entry and the idempotency key in one transaction."""

    def load_incident(self, incident_id: str) -> tuple[Optional[dict], Optional[int]]:
        return self._load(f"incident#{incident_id}")

    def load_incident_feed(self) -> tuple[list, Optional[int]]:
        doc, version = self._load("incident_feed")
        return (doc or {}).get("incidents", []), version

    def load_overrides(self) -> tuple[dict, Optional[int]]:
        doc, version = self._load("overrides")
        return doc or {}, version

    def save_overrides(self, overrides: dict, version: Optional[int], now: float,
                       audit: Optional[dict] = None) -> int:
        """With `audit`, the pins and their audit entry land together or not at all."""
        if audit is None:
            return self._save("overrides", overrides, version, now)
        row = self.StateRow("overrides", doc=_encoded(overrides), updated_at=now)
        if version is not None:
            row.version = version
        check_item_size(row)
        self.with_audit(audit, now, lambda tx: tx.save(row), "overrides")
        return row.version if version is None else version + 1

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
