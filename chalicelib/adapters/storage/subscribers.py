"""Subscriber records: conditional writes for codes, activation and unsubscribe
(chalicelib/usecases/subscribers.py, chalicelib/usecases/deliver.py), and index queries by kind and address."""
from __future__ import annotations

from typing import Optional

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError

from ...core.errors import ConditionFailed, Conflict
from .models import _Tables

# Subscriber fields kept as attributes of their own, not in the JSON blob (see SubscriberRow).
SUBSCRIBER_FIELDS = ("sns_arn", "code_sha", "code_expires", "code_attempts", "activating",
                     "activating_at", "verified_at", "unsubscribed_at")


class SubscriberRecords(_Tables):
    """Subscriber records as whole documents: the codec, writes of a whole record, reads and
    index queries by kind and address."""

    def _subscriber_row(self, doc: dict):
        blob = {k: v for k, v in doc.items() if k not in SUBSCRIBER_FIELDS and k != "state"}
        return self.SubscriberRow(doc["id"], kind=doc["kind"], address_hash=doc["address_hash"],
                                  state=doc["state"], doc=blob,
                                  **{k: doc.get(k) for k in SUBSCRIBER_FIELDS})

    @staticmethod
    def _subscriber_doc(row) -> dict:
        doc = dict(row.doc)
        doc["state"] = row.state
        for name in SUBSCRIBER_FIELDS:
            value = getattr(row, name, None)
            if value is not None:
                doc[name] = value
            elif name in ("activating", "activating_at"):
                doc.pop(name, None)
            # else: records written before these were attributes keep them in the blob
        doc.setdefault("sns_arn", None)
        return doc

    def put_subscriber(self, doc: dict) -> None:
        """Unconditional whole-record write (restores, fixtures). Changes go through the
        conditional methods below."""
        self._subscriber_row(doc).save()

    def create_subscriber(self, doc: dict) -> None:
        """Write a new record; Conflict if one with this id exists (idempotent creates)."""
        try:
            self._subscriber_row(doc).save(condition=self.SubscriberRow.id.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict(f"subscriber {doc['id']}") from exc
            raise

    def get_subscriber(self, sub_id: str) -> Optional[dict]:
        try:
            return self._subscriber_doc(self.SubscriberRow.get(sub_id, consistent_read=True))
        except DoesNotExist:
            return None

    def delete_subscriber(self, sub_id: str, audit: Optional[dict] = None) -> bool:
        if audit is not None:
            try:
                self.with_audit(audit, audit["at"], lambda tx: tx.delete(
                    self.SubscriberRow(sub_id), condition=self.SubscriberRow.id.exists()),
                    f"subscriber {sub_id}")
                return True
            except ConditionFailed:
                return False
        try:
            self.SubscriberRow(sub_id).delete(condition=self.SubscriberRow.id.exists())
            return True
        except DeleteError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def subscribers(self, kind: Optional[str] = None, state: Optional[str] = None) -> list[dict]:
        R = self.SubscriberRow
        if kind:
            # one kind: a query on the index, never a scan of every subscriber (fan-out)
            rows = R.by_address.query(kind, filter_condition=(R.state == state) if state else None)
        else:
            rows = R.scan(filter_condition=(R.state == state) if state else None)
        return [self._subscriber_doc(r) for r in rows]

    def subscriber_page(self, kind: str, cursor: Optional[dict], limit: int
                        ) -> tuple[list[dict], Optional[dict]]:
        """One page of the records of one kind (any state), and the cursor of the next page
        (None after the last): the webhook fan-out reads a bounded page per invocation."""
        R = self.SubscriberRow
        rows = R.by_address.query(kind, limit=limit, page_size=limit, last_evaluated_key=cursor)
        docs = [self._subscriber_doc(r) for r in rows]
        return docs, (rows.last_evaluated_key if len(docs) >= limit else None)

    def address_records(self, kind: str, address_hash: str) -> list[dict]:
        """Every record of one address, whatever its state: one query on the index (eventually
        consistent, like any index read)."""
        R = self.SubscriberRow
        return [self._subscriber_doc(r)
                for r in R.by_address.query(kind, R.address_hash == address_hash)]

    def find_subscriber(self, kind: str, address_hash: str) -> Optional[dict]:
        """A live (not unsubscribed) record of this address, if there is one."""
        return next((d for d in self.address_records(kind, address_hash)
                     if d["state"] != "unsubscribed"), None)


class SubscriberRepository(SubscriberRecords):
    """The changes to a record after it is made: code attempts, activation, unsubscribe.

    A record is the JSON blob plus SUBSCRIBER_FIELDS and `state` as attributes of their own.
    Everything that changes a record after it is made is one conditional UpdateItem: the
    methods below return the record as it is afterwards, or None when the condition failed.
    """

    def _update_subscriber(self, sub_id: str, actions: list, condition) -> Optional[dict]:
        row = self.SubscriberRow(sub_id)
        try:
            row.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise
        return self._subscriber_doc(row)

    def count_code_attempt(self, sub_id: str, now: float, max_attempts: int) -> Optional[dict]:
        """Spend one attempt at an SMS code: ADD 1 only while the record is pending, under the
        cap and unexpired. None: no attempt left (or no such pending SMS record)."""
        R = self.SubscriberRow
        return self._update_subscriber(
            sub_id, [R.code_attempts.add(1)],
            (R.kind == "sms") & (R.state == "pending") & (R.code_attempts < max_attempts)
            & (R.code_expires > now))

    def claim_activation(self, sub_id: str, owner: str, now: float, lease: float,
                         from_states: tuple[str, ...] = ("pending",),
                         code_sha: Optional[str] = None,
                         doc: Optional[dict] = None) -> Optional[dict]:
        """Take the right to create this record's SNS subscription: one caller wins, until it
        finishes or its lease runs out. The record becomes (or stays) pending; `doc` replaces
        the blob (a returning email address brings new choices)."""
        R = self.SubscriberRow
        actions = [R.state.set("pending"), R.activating.set(owner), R.activating_at.set(now)]
        if doc is not None:
            actions.append(R.doc.set({k: v for k, v in doc.items()
                                      if k not in SUBSCRIBER_FIELDS and k != "state"}))
        condition = (R.state.is_in(*from_states)
                     & (R.activating_at.does_not_exist() | (R.activating_at < now - lease)))
        if code_sha is not None:
            condition &= R.code_sha == code_sha
        return self._update_subscriber(sub_id, actions, condition)

    def finish_activation(self, sub_id: str, owner: str, sns_arn: Optional[str],
                          now: float) -> Optional[dict]:
        """pending -> active, only for the holder of the claim."""
        R = self.SubscriberRow
        actions = [R.state.set("active"), R.verified_at.set(now), R.activating.remove(),
                   R.activating_at.remove()]
        actions.append(R.sns_arn.set(sns_arn) if sns_arn else R.sns_arn.remove())
        return self._update_subscriber(sub_id, actions,
                                       (R.state == "pending") & (R.activating == owner))

    def abandon_activation(self, sub_id: str, owner: str) -> Optional[dict]:
        """Give the claim back (the SNS call failed), so the next try need not wait."""
        R = self.SubscriberRow
        return self._update_subscriber(sub_id, [R.activating.remove(), R.activating_at.remove()],
                                       (R.state == "pending") & (R.activating == owner))

    def mark_unsubscribed(self, sub_id: str, now: float) -> Optional[dict]:
        """pending|active -> unsubscribed; None if it was already unsubscribed or is gone."""
        R = self.SubscriberRow
        return self._update_subscriber(
            sub_id, [R.state.set("unsubscribed"), R.unsubscribed_at.set(now),
                     R.activating.remove(), R.activating_at.remove()],
            R.state.is_in("pending", "active"))
