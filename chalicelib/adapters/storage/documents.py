"""Generic versioned documents of the state table, deployment secrets, and the decoding of the
state table's stream records (the outbox)."""
from __future__ import annotations

import base64
import json
import zlib
from typing import Any, Optional

from pynamodb.exceptions import DoesNotExist, PutError

from .models import _Tables


class DocumentRepository(_Tables):
    """Any state-table document by key, secrets made once, stream images read back."""

    def load_document(self, pk: str) -> tuple[Optional[Any], Optional[int]]:
        return self._load(pk)

    def save_document(self, pk: str, doc: Any, version: Optional[int], now: float) -> int:
        return self._save(pk, doc, version, now)

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
