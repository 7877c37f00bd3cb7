"""I/O: heartbeat tokens and beats, in the reports table.

That table has no stream, so beats (written from a public URL) never wake the outbox, which is
the same reason user reports live there. Two items per heartbeat monitor, sort key 0:

  pk "hbtoken#<sha256 of the token>"  monitor, created_at, beat_at, state, msg
      the beat record, found from the URL's token with one GetItem
  pk "hbmon#<monitor id>"             token_sha
      which token is current, for the checker and for rotation

The checker reads both for every heartbeat monitor in two BatchGetItems per round.
"""
from __future__ import annotations

from typing import Optional

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.models import Model

BEAT_FIELDS = ("monitor", "created_at", "beat_at", "state", "msg", "recovered_at")


def build_heartbeat_model(table: str, region: str, host: Optional[str] = None):
    class HeartbeatRow(Model):
        Meta = type("Meta", (), {"table_name": table, "region": region, "host": host,
                                 "billing_mode": "PAY_PER_REQUEST"})
        pk = UnicodeAttribute(hash_key=True)
        sk = NumberAttribute(range_key=True, default=0)
        monitor = UnicodeAttribute(null=True)
        token_sha = UnicodeAttribute(null=True)
        created_at = NumberAttribute(null=True)
        beat_at = NumberAttribute(null=True)
        state = UnicodeAttribute(null=True)
        msg = UnicodeAttribute(null=True)
        recovered_at = NumberAttribute(null=True)      # the last fail -> ok turn inside a gap
    return HeartbeatRow


def _record(row) -> dict:
    return {k: getattr(row, k) for k in BEAT_FIELDS if getattr(row, k) is not None}


class HeartbeatStore:
    def __init__(self, reports_table: str, region: str, host: Optional[str] = None):
        self.Row = build_heartbeat_model(reports_table, region, host)

    def beat_by_token(self, sha: str) -> Optional[dict]:
        """The beat record a token's hash names, or None (one eventually consistent GetItem:
        a token minted a moment ago may 404 for a moment, which its first retry fixes)."""
        try:
            return _record(self.Row.get(f"hbtoken#{sha}", 0))
        except DoesNotExist:
            return None

    def record_beat(self, sha: str, state: str, msg: Optional[str], now: float,
                    gap: float, recovery: bool = False) -> bool:
        """One conditional UpdateItem; False when another beat got there first (or the token
        was rotated away meanwhile). The condition is heartbeats.should_record's rule;
        `recovery`: the caller read a failure, so this ok may be the gap's one recovery."""
        R = self.Row
        news = R.beat_at.does_not_exist() | (R.beat_at <= now - gap)
        if state == "fail":
            news = news | (R.state == "ok")
        actions = [R.beat_at.set(now), R.state.set(state)]
        if state == "ok" and recovery:
            news = news | ((R.state == "fail") & (R.recovered_at.does_not_exist()
                                                  | (R.recovered_at <= now - gap)))
            actions.append(R.recovered_at.set(now))
        actions.append(R.msg.set(msg) if msg else R.msg.remove())
        try:
            R(f"hbtoken#{sha}", 0).update(actions=actions, condition=R.pk.exists() & news)
            return True
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def beats(self, monitor_ids: list[str]) -> dict[str, dict]:
        """monitor id -> its current beat record, for the monitors that have a token."""
        if not monitor_ids:
            return {}
        pointers = {r.pk.removeprefix("hbmon#"): r.token_sha
                    for r in self.Row.batch_get([(f"hbmon#{m}", 0) for m in monitor_ids])}
        if not pointers:
            return {}
        rows = {r.pk.removeprefix("hbtoken#"): r for r in self.Row.batch_get(
            [(f"hbtoken#{sha}", 0) for sha in set(pointers.values())], consistent_read=True)}
        return {m: _record(rows[sha]) for m, sha in pointers.items() if sha in rows}

    def rotate(self, monitor_id: str, sha: str, now: float) -> None:
        """Make `sha` the monitor's token; the old one stops working at once. The last beat
        carries over, so rotating never turns a healthy heartbeat red."""
        R = self.Row
        try:
            old_sha = R.get(f"hbmon#{monitor_id}", 0, consistent_read=True).token_sha
        except DoesNotExist:
            old_sha = None
        old = None
        if old_sha:
            try:
                old = _record(R.get(f"hbtoken#{old_sha}", 0, consistent_read=True))
            except DoesNotExist:
                pass
        fresh = {"monitor": monitor_id, "created_at": now}
        if old and old.get("beat_at") is not None:
            fresh.update({k: old[k] for k in ("beat_at", "state", "msg") if k in old})
        R(f"hbtoken#{sha}", 0, **fresh).save()
        R(f"hbmon#{monitor_id}", 0, token_sha=sha).save()
        if old_sha and old_sha != sha:
            R(f"hbtoken#{old_sha}", 0).delete()
