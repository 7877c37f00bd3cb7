"""Operator API keys, hashed (chalicelib/core/auth.py)."""
from __future__ import annotations

from typing import Optional

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from ...core.auth import ApiKey
from ...core.errors import ConditionFailed, Conflict
from .models import _Tables


class KeyRepository(_Tables):
    """The keys table: create once, read, record use sparingly, list, revoke."""

    def put_key(self, key_id: str, secret_sha256: str, name: str, scopes, now: float,
                expires_at: Optional[float] = None, audit: Optional[dict] = None) -> None:
        row = self.KeyRow(key_id, secret_sha256=secret_sha256, name=name, scopes=set(scopes),
                          created_at=now, expires_at=expires_at)
        if audit is not None:
            self.with_audit(audit, now, lambda tx: tx.save(
                row, condition=self.KeyRow.key_id.does_not_exist()), f"key {key_id}")
            return
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

    def revoke_key(self, key_id: str, now: float, audit: Optional[dict] = None) -> bool:
        if audit is not None:
            try:
                self.with_audit(audit, now, lambda tx: tx.update(
                    self.KeyRow(key_id), actions=[self.KeyRow.revoked_at.set(now)],
                    condition=self.KeyRow.key_id.exists()), f"key {key_id}")
                return True
            except ConditionFailed:
                return False
        try:
            self.KeyRow(key_id).update(actions=[self.KeyRow.revoked_at.set(now)],
                                       condition=self.KeyRow.key_id.exists())
            return True
        except UpdateError:
            return False
