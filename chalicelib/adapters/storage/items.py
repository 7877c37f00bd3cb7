"""Item-level helpers every repository shares: DynamoDB's 400 KB item limit checked before a
call, the JSON blob attribute (compact JSON, zlib) and its pre-encoded form, TTL times."""
from __future__ import annotations

import json
import zlib
from datetime import datetime, timezone
from typing import Any

from pynamodb.attributes import BinaryAttribute

from ...core import budget
from ...core.errors import OutpostError


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


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)
