"""The public snapshot, its history parts and the heartbeat: the documents a public GET reads."""
from __future__ import annotations

from typing import Any, Optional

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from ...core.errors import SnapshotChanged
from .items import _encoded, check_item_size
from .models import _Tables


class SnapshotRepository(_Tables):
    """The snapshot (one PutItem, or one transaction with its parts), the heartbeat, and the
    public read of both in one BatchGetItem."""

    def load_snapshot(self, consistent: bool = False) -> tuple[Optional[dict], Optional[int]]:
        # Public reads are eventually consistent: half the cost, and a second's lag is harmless.
        return self._load("snapshot", consistent)

    def save_snapshot(self, doc: Any, version: Optional[int], now: float,
                      parts: Optional[list] = None, old_parts: int = 0) -> int:
        """The snapshot, and its history parts when it has them (chalicelib.core.budget): one
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
