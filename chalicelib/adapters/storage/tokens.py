"""Short-lived token items in the state table: idempotency claims (leases, then the first
response) and fixed-window rate counters, all expiring by TTL."""
from __future__ import annotations

from datetime import datetime, timezone

from pynamodb.exceptions import DoesNotExist, PutError

from .models import _Tables

IDEMPOTENCY_TTL = 24 * 3600             # a retry within a day returns the first result


class TokenRepository(_Tables):
    """Idempotency keys and rate counters (TokenRow)."""

    def claim_idempotency(self, pk: str, owner: str, request_hash: str, now: float,
                          lease: float = 30.0):
        """Take the key for this request, or return the row that holds it.

        Returns None when claimed. Otherwise the TokenRow: state "done" with the first response,
        or "in_flight" while another request holds a live lease. A lease older than `lease`
        seconds is taken over: its request died before committing, and its commit is conditional
        on still being the owner, so the work can't land twice.
        """
        row = self.TokenRow(pk, state="in_flight", owner=owner, request_hash=request_hash,
                            updated_at=now,
                            expires_at=datetime.fromtimestamp(now + IDEMPOTENCY_TTL, timezone.utc))
        T = self.TokenRow
        try:
            row.save(condition=T.pk.does_not_exist()
                     | ((T.state == "in_flight") & (T.updated_at < now - lease)))
            return None
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        try:
            return T.get(pk, consistent_read=True)
        except DoesNotExist:                          # expired between the two calls
            return self.claim_idempotency(pk, owner, request_hash, now, lease)

    def release_idempotency(self, pk: str, owner: str) -> None:
        """Give the key back after a request failed without side effects (e.g. a 4xx)."""
        try:
            # Only an unfinished claim: a "done" key records work that happened.
            self.TokenRow(pk).delete(condition=(self.TokenRow.owner == owner)
                                     & (self.TokenRow.state == "in_flight"))
        except Exception:                             # best effort: the lease expires anyway
            pass

    def complete_token(self, pk: str, owner: str, response: dict, now: float) -> None:
        """Mark a claimed idempotency/dedupe key done, if we still own it."""
        row = self.TokenRow(pk)
        row.update(actions=[self.TokenRow.state.set("done"),
                            self.TokenRow.response.set(response),
                            self.TokenRow.updated_at.set(now)],
                   condition=self.TokenRow.owner == owner)

    def hit(self, bucket: str, now: float, window: float = 1.0) -> int:
        """Count one hit in the current fixed window; the count so far (this one included)."""
        row = self.TokenRow(f"rate#{bucket}#{int(now // window)}")
        row.update(actions=[self.TokenRow.hits.add(1),
                            self.TokenRow.expires_at.set(
                                datetime.fromtimestamp(now + window + 60, timezone.utc))])
        return int(row.hits)

    def count(self, bucket: str, now: float, window: float = 1.0) -> int:
        """Hits so far in the current window, without counting one."""
        try:
            row = self.TokenRow.get(f"rate#{bucket}#{int(now // window)}", consistent_read=True)
        except DoesNotExist:
            return 0
        return int(row.hits or 0)
