"""Read a DynamoDB stream (moto's) and hand its records to the Lambda handler, as the event
source mapping would in AWS: in order, in small batches, from the first failed record again when
the handler reports a partial batch failure."""
from __future__ import annotations

import base64
import logging
from datetime import datetime
from typing import Callable, Optional

log = logging.getLogger("outpost.streams")


def _lambda_shape(record: dict, stream_arn: str) -> dict:
    """boto3's get_records record -> the JSON a Lambda receives (binary as base64, times as
    epoch seconds)."""
    def fix(value):
        if isinstance(value, dict):
            return {k: base64.b64encode(v).decode() if k == "B" and isinstance(v, bytes)
                    else fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, datetime):
            return value.timestamp()
        return value
    out = fix(dict(record))
    out["eventSourceARN"] = stream_arn
    return out


class StreamReader:
    def __init__(self, dynamodb, streams, table: str):
        self.streams = streams
        self.arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self._iterators: dict[str, Optional[str]] = {}
        self._pending: dict[str, list] = {}

    def _shards(self) -> list[str]:
        desc = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]
        return [s["ShardId"] for s in desc["Shards"]]

    def poll(self, handler: Callable[[dict], Optional[dict]], batch_size: int = 10) -> int:
        """Feed new records to `handler({"Records": [...]})`; returns how many were handled."""
        self.fetch()
        return sum(self._drain(shard, handler, batch_size) for shard in list(self._pending))

    def fetch(self) -> dict[str, list]:
        """Read what is new on every shard into the pending lists (not handled yet)."""
        for shard in self._shards():
            if shard not in self._iterators:
                self._iterators[shard] = self.streams.get_shard_iterator(
                    StreamArn=self.arn, ShardId=shard,
                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                self._pending[shard] = []
            it = self._iterators[shard]
            if it:
                resp = self.streams.get_records(ShardIterator=it, Limit=100)
                self._iterators[shard] = resp.get("NextShardIterator")
                self._pending[shard].extend(_lambda_shape(r, self.arn) for r in resp["Records"])
        return self._pending

    def _drain(self, shard: str, handler, batch_size: int) -> int:
        pending = self._pending[shard]
        handled = 0
        while pending:
            batch = pending[:batch_size]
            result = handler({"Records": batch}) or {}
            failures = [f["itemIdentifier"] for f in result.get("batchItemFailures", [])]
            if failures:
                seqs = [r["dynamodb"]["SequenceNumber"] for r in batch]
                first = seqs.index(failures[0]) if failures[0] in seqs else 0
                handled += first
                del pending[:first]           # keep the failed record and everything after
                log.warning("stream batch failed at %s; will retry", failures[0])
                break
            handled += len(batch)
            del pending[:len(batch)]
        return handled
