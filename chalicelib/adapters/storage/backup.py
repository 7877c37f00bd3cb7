"""Backups (chalicelib/tools/backup.py): whole tables as plain JSON, scratch copies to restore into,
and the record of the last verified export."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from pynamodb.attributes import TTLAttribute, UnicodeSetAttribute

from ...core.errors import retry_on_conflict
from .models import _Tables


class BackupRepository(_Tables):
    """The tables a backup covers, read and written as plain JSON."""

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
        return type(self)(f"{self.ResultRow.Meta.table_name}-{suffix}", names["state"],
                          names["keys"], self.region, self.host, audit_table=names["audit"],
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
