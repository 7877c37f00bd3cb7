"""Meter every AWS call the app makes, and what DynamoDB would bill for it.

Wraps botocore's one choke point (`BaseClient._make_api_call`, as bench/dynamo.py does) while a
moto server runs in this process, so a write's bill can use the item it replaces: DynamoDB
charges a PutItem or UpdateItem for the larger of the old and new item, 1 write unit per KB
(twice that in a transaction), and a read 1 unit per 4 KB strongly consistent, half that
eventually consistent, with a Query or Scan rounded up over all the items it read.

Calls are added to the current `phase` (a label the driver sets); calls outside one are setup.
"""
from __future__ import annotations

import base64
import math
import time
from collections import Counter, defaultdict
from typing import Optional

from botocore.client import BaseClient
from botocore.exceptions import ClientError

WRITE_UNIT, READ_UNIT = 1024, 4096


def number_size(text: str) -> int:
    """A DynamoDB number: 1 byte per two significant digits, plus 1."""
    digits = text.lstrip("+-").replace(".", "").split("e")[0].split("E")[0].strip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def value_size(value: dict) -> int:
    """Bytes of one AttributeValue in DynamoDB's accounting."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "N":
        return number_size(v)
    if kind == "B":
        return len(v) if isinstance(v, (bytes, bytearray)) else len(base64.b64decode(v))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(x.encode("utf-8")) for x in v)
    if kind == "NS":
        return sum(number_size(x) for x in v)
    if kind == "BS":
        return sum(len(x) if isinstance(x, (bytes, bytearray)) else len(base64.b64decode(x))
                   for x in v)
    if kind == "L":                                    # 3 bytes, plus 1 per element
        return 3 + sum(1 + value_size(x) for x in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(x) for k, x in v.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Optional[dict]) -> int:
    """Bytes of an item: every attribute's name plus its value."""
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(v) for name, v in item.items())


def write_units(old: int, new: int) -> int:
    return max(1, math.ceil(max(old, new) / WRITE_UNIT))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT))
    return units if consistent else units / 2


class AwsMeter:
    """Per phase: API calls by service and operation, DynamoDB units, S3 bytes written."""

    def __init__(self) -> None:
        self.phase: Optional[str] = None
        self.calls: dict[str, Counter] = defaultdict(Counter)
        self.units: dict[str, Counter] = defaultdict(Counter)
        self.puts: dict[str, Counter] = defaultdict(Counter)      # per table: items written
        self._original = None

    # -- install ------------------------------------------------------------------------------
    def install(self) -> None:
        original = self._original = BaseClient._make_api_call
        meter = self

        def metered(client, operation, params):
            phase = meter.phase
            if phase is None:
                return original(client, operation, params)
            service = client.meta.service_model.service_name
            meter.calls[phase][f"{service}:{operation}"] += 1

            def call():                     # the call itself, timed (not the bookkeeping)
                t = time.perf_counter()
                try:
                    return original(client, operation, params)
                finally:
                    meter.units[phase]["aws_s"] += time.perf_counter() - t
            if service == "dynamodb":
                return meter._dynamodb(phase, client, operation, params, call)
            if service == "s3" and operation == "PutObject":
                body = params.get("Body") or b""
                meter.units[phase]["s3_put_bytes"] += len(body)
            return call()

        BaseClient._make_api_call = metered

    def uninstall(self) -> None:
        if self._original is not None:
            BaseClient._make_api_call = self._original
            self._original = None

    # -- DynamoDB -----------------------------------------------------------------------------
    def _table(self, region: str, name: str):
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends
        return dynamodb_backends[DEFAULT_ACCOUNT_ID][region].get_table(name)

    def _stored(self, region: str, name: str, key_or_item: dict) -> int:
        """Size of the item with this key as the table holds it now (0: none)."""
        from moto.dynamodb.models.dynamo_type import DynamoType
        table = self._table(region, name)
        hash_key = DynamoType(key_or_item[table.hash_key_attr])
        range_key = (DynamoType(key_or_item[table.range_key_attr])
                     if table.range_key_attr else None)
        item = table.get_item(hash_key, range_key)
        return item_size(item.to_json()["Attributes"]) if item is not None else 0

    def _dynamodb(self, phase: str, client, operation: str, params: dict, call):
        region = client.meta.region_name
        units = self.units[phase]
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            table = params["TableName"]
            key = params.get("Item") or params["Key"]
            old = self._stored(region, table, key)
            try:
                out = call()
            except ClientError as exc:      # a failed condition still bills the write
                if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    units["write_units"] += write_units(old, 0)
                raise
            new = 0 if operation == "DeleteItem" else self._stored(region, table, key)
            units["write_units"] += write_units(old, new)
            units["write_bytes"] += new
            if operation == "PutItem":
                self.puts[phase][table] += 1
            return out
        if operation == "TransactWriteItems":
            entries = []
            for item in params["TransactItems"]:
                (kind, body), = item.items()
                key = body.get("Item") or body["Key"]
                entries.append((kind, body["TableName"], key,
                                self._stored(region, body["TableName"], key)))
            out = call()
            for kind, table, key, old in entries:
                new = 0 if kind in ("Delete", "ConditionCheck") else self._stored(region, table, key)
                units["write_units"] += 2 * write_units(old, new)
                units["write_bytes"] += new
            return out
        if operation == "BatchWriteItem":
            entries = []
            for table, requests in params["RequestItems"].items():
                for req in requests:
                    key = (req.get("PutRequest") or {}).get("Item") or req["DeleteRequest"]["Key"]
                    entries.append((table, key, "PutRequest" in req,
                                    self._stored(region, table, key)))
            out = call()
            for table, key, put, old in entries:
                new = self._stored(region, table, key) if put else 0
                units["write_units"] += write_units(old, new)
                units["write_bytes"] += new
            return out
        out = call()
        if operation == "GetItem":
            units["read_units"] += read_units(item_size(out.get("Item")),
                                              bool(params.get("ConsistentRead")))
        elif operation == "BatchGetItem":
            for table, request in params["RequestItems"].items():
                found = out.get("Responses", {}).get(table, [])
                consistent = bool(request.get("ConsistentRead"))
                units["read_units"] += sum(read_units(item_size(i), consistent) for i in found)
                units["read_units"] += read_units(0, consistent) * (len(request["Keys"]) - len(found))
        elif operation in ("Query", "Scan"):
            size = sum(item_size(i) for i in out.get("Items", []))
            units["read_units"] += read_units(size, bool(params.get("ConsistentRead")))
        return out

    def take(self, phase: str) -> dict:
        """Everything counted under `phase`, then forget it."""
        out = {"calls": dict(self.calls.pop(phase, {})),
               "units": dict(self.units.pop(phase, {})),
               "puts": dict(self.puts.pop(phase, {}))}
        return out
