"""The audit log (append-only, one partition per month): entries written in one transaction
with the mutation they record (incidents.py for incidents; `with_audit` for component pins,
subscriber erasure, key mint and revoke), and read back newest first (chalicelib/core/audit.py)."""
from __future__ import annotations

from datetime import datetime, timezone

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from ...core.errors import ConditionFailed, Conflict
from .items import check_item_size
from .models import _Tables


class AuditRepository(_Tables):
    """Reads of the audit table, newest first, and audited writes."""

    def recent_audit(self, month: str, limit: int = 50) -> list[dict]:
        return [r.entry for r in self.AuditRow.query(month, scan_index_forward=False, limit=limit)]

    def with_audit(self, audit: dict, now: float, write, what: str) -> None:
        """`write(tx)` and the audit entry for it in one transaction: a mutation is never left
        unaudited, and an audit entry never claims a mutation that did not happen. Raises
        ConditionFailed(what) when the write's condition fails, Conflict when another
        transaction held one of the items (try again)."""
        audit_row = self._audit_row(audit, now)
        check_item_size(audit_row)
        try:
            with TransactWrite(connection=Connection(region=self.region, host=self.host)) as tx:
                write(tx)
                tx.save(audit_row, condition=self.AuditRow.sk.does_not_exist())
        except TransactWriteError as exc:
            reasons = [getattr(r, "code", None) for r in (exc.cancellation_reasons or [])]
            # PynamoDB orders a transaction's items by kind (deletes, puts, updates), so the
            # write is not always first; the audit entry's own condition (a new sort key) is
            # all but certain to hold, so a failed condition is the write's.
            if "ConditionalCheckFailed" in reasons:
                raise ConditionFailed(what) from exc
            if "TransactionConflict" in reasons:       # another transaction held an item
                raise Conflict(f"{what} is busy") from exc
            raise

    def _audit_row(self, audit: dict, now: float):
        stamp = datetime.fromtimestamp(now, timezone.utc)
        return self.AuditRow(stamp.strftime("%Y-%m"),
                             f"{stamp.isoformat(timespec='microseconds')}#{audit['request_id']}",
                             entry=audit)

    def audit_rows(self, month: str, low: str, high: str, limit: int):
        """(sort key, entry) of one month's audit entries with low <= sort key <= high, newest
        first, at most `limit` of them."""
        rows = self.AuditRow.query(month, self.AuditRow.sk.between(low, high),
                                   scan_index_forward=False, limit=limit,
                                   page_size=min(limit, 200))
        for row in rows:
            yield row.sk, row.entry
