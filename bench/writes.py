"""Record every DynamoDB and S3 write the app makes, with the item's size as DynamoDB counts
it: what a check round costs in writes (bench/quiet_round.py, tests/api/test_write_on_change.py).
Wraps botocore's one choke point, as bench/dynamo.py does."""
from __future__ import annotations

import contextlib
from typing import NamedTuple

from botocore.client import BaseClient

from .aws_meter import item_size

_DYNAMO_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
_S3_WRITES = ("PutObject", "DeleteObjects", "DeleteObject", "CopyObject")


class Write(NamedTuple):
    service: str       # "dynamodb" or "s3"
    op: str
    key: str           # the item's pk (dynamodb) or the object key (s3)
    size: int          # bytes: the item as DynamoDB counts it, or the object's body


def _dynamo(op: str, params: dict) -> list[Write]:
    def one(item: dict, kind: str) -> Write:
        if "round_at" in item:                          # the results table
            pk = "results#" + item["region"]["S"]
        else:
            pk = next((next(iter(item[k].values())) for k in ("pk", "component", "month",
                                                             "key_id", "kind", "id")
                       if k in item), "?")
        return Write("dynamodb", kind, str(pk), item_size(item))
    if op == "PutItem":
        return [one(params["Item"], op)]
    if op in ("UpdateItem", "DeleteItem"):
        return [one(params["Key"], op)]
    if op == "BatchWriteItem":
        return [one(r["PutRequest"]["Item"] if "PutRequest" in r else r["DeleteRequest"]["Key"],
                    op) for rs in params["RequestItems"].values() for r in rs]
    out = []
    for entry in params.get("TransactItems", ()):
        (kind, body), = entry.items()
        out.append(one(body.get("Item") or body.get("Key"), f"{op}:{kind}"))
    return out


@contextlib.contextmanager
def recording():
    """Yields the list of Writes made inside the block."""
    seen: list[Write] = []
    original = BaseClient._make_api_call

    def record(client, operation, params):
        service = client.meta.service_model.service_name
        if service == "dynamodb" and operation in _DYNAMO_WRITES:
            seen.extend(_dynamo(operation, params))
        elif service == "s3" and operation in _S3_WRITES:
            body = params.get("Body", b"")
            seen.append(Write("s3", operation, params.get("Key", ""),
                              len(body) if isinstance(body, (bytes, bytearray)) else 0))
        return original(client, operation, params)

    BaseClient._make_api_call = record
    try:
        yield seen
    finally:
        BaseClient._make_api_call = original
