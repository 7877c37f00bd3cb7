"""The audit log's reads (append-only, one partition per month; written with the mutation it
records, see incidents.py)."""
from __future__ import annotations

from .models import _Tables


class AuditRepository(_Tables):
    """Reads of the audit table, newest first."""

    def recent_audit(self, month: str, limit: int = 50) -> list[dict]:
        return [r.entry for r in self.AuditRow.query(month, scan_index_forward=False, limit=limit)]
