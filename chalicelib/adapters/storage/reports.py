""""Is it just me?" reports and the mention counters (chalicelib/usecases/reporting.py,
chalicelib/usecases/mentions.py): items in the reports table, all with a TTL."""
from __future__ import annotations

import secrets
import time
from typing import Optional

from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.expressions.operand import Path

from ...core.errors import Conflict
from .items import _at
from .models import _Tables


class ReportRepository(_Tables):
    """Rate windows, first-seen markers, per-bucket counters and the reports themselves."""

    def report_hit(self, name: str, now: float, window: float) -> int:
        """Count one in `name`'s current fixed window; the count so far, this one included."""
        row = self.ReportRow(f"rate#{name}#{int(now // window)}", 0)
        row.update(actions=[self.ReportRow.hits.add(1),
                            self.ReportRow.expires_at.set(_at(now + window + 60))])
        return int(row.hits)

    def report_count(self, name: str, now: float, window: float) -> int:
        """`name`'s count in its current fixed window, without adding one."""
        try:
            row = self.ReportRow.get(f"rate#{name}#{int(now // window)}", 0)
        except DoesNotExist:
            return 0
        return int(row.hits or 0)

    def report_first_seen(self, key: str, now: float, ttl: float) -> bool:
        """True for the first report under `key` in `ttl` seconds (then it counts), else False.
        The condition checks the expiry itself: TTL deletes expired items only eventually."""
        R = self.ReportRow
        try:
            R(f"seen#{key}", 0, expires_at=_at(now + ttl)).save(
                condition=R.pk.does_not_exist() | (R.expires_at < _at(now)))
            return True
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def count_report(self, bucket: int, attributes: list[str], expires: float) -> None:
        """Add 1 to each counter attribute of the bucket's item, atomically (ADD)."""
        self.ReportRow("bucket", bucket).update(
            actions=[Path([name]).add(1) for name in attributes]
            + [self.ReportRow.expires_at.set(_at(expires))])

    def add_to_counter(self, bucket: int, attribute: str, n: int, expires: float) -> None:
        """Add n to one counter attribute of the bucket's item (ADD; chalicelib/usecases/mentions.py)."""
        self.ReportRow("bucket", bucket).update(
            actions=[Path([attribute]).add(n), self.ReportRow.expires_at.set(_at(expires))])

    def report_window(self, first: int, last: int) -> dict[int, dict[str, int]]:
        """Counter items of the buckets first..last (one Query): bucket -> {attribute: count}."""
        conn = self.ReportRow._get_connection()
        out, start = {}, None
        while True:
            page = conn.query("bucket", self.ReportRow.sk.between(first, last),
                              exclusive_start_key=start)
            out.update(_counters(item) for item in page.get("Items", ()))
            start = page.get("LastEvaluatedKey")
            if not start:
                return out

    def report_buckets(self, buckets: list[int]) -> dict[int, dict[str, int]]:
        """Counter items of exactly these buckets (BatchGetItem, 100 keys a call, unprocessed
        keys retried); buckets nobody reported in are simply absent."""
        conn = self.ReportRow._get_connection()
        table = self.ReportRow.Meta.table_name
        out: dict[int, dict[str, int]] = {}
        pending = [{"pk": "bucket", "sk": b} for b in sorted(set(buckets))]
        for attempt in range(8):
            if not pending:
                return out
            batch, pending = pending[:100], pending[100:]
            resp = conn.batch_get_item(batch)
            out.update(_counters(item) for item in resp.get("Responses", {}).get(table, ()))
            left = resp.get("UnprocessedKeys", {}).get(table, {}).get("Keys", ())
            if left:
                pending = [{"pk": k["pk"]["S"], "sk": int(k["sk"]["N"])} for k in left] + pending
                time.sleep(min(1.0, 0.05 * 2 ** attempt))
        raise RuntimeError("report counters: DynamoDB kept keys unprocessed")

    def put_report(self, record: dict, now: float, ttl: float) -> None:
        """One report, notes included (operators read them); never overwrites another."""
        R = self.ReportRow
        for _ in range(3):
            # time in ms, then 9 random digits: ordered by time, unique in a burst
            sk = int(now * 1000) * 10**9 + secrets.randbelow(10**9)
            try:
                R("report", sk, doc={**record, "id": str(sk)}, expires_at=_at(now + ttl)).save(
                    condition=R.pk.does_not_exist())
                return
            except PutError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
        raise Conflict("report")

    def recent_reports(self, limit: int, component: Optional[str] = None,
                       max_read: int = 1000) -> list[dict]:
        """Newest first; with `component`, only its reports among the newest `max_read`."""
        out = []
        for read, row in enumerate(self.ReportRow.query("report", scan_index_forward=False,
                                                        page_size=min(max_read, 200))):
            if read >= max_read or len(out) >= limit:
                break
            if row.doc and (component is None or row.doc.get("component") == component):
                out.append(row.doc)
        return out


def _counters(item: dict) -> tuple[int, dict[str, int]]:
    """(bucket, {counter attribute: count}) from a raw reports-table item."""
    counts = {name: int(value["N"]) for name, value in item.items()
              if "#" in name and "N" in value}
    return int(item["sk"]["N"]), counts
