"""Outpost's exceptions, one tree, and the one retry-on-conflict loop.

Every error Outpost raises on purpose derives from OutpostError and carries the HTTP status it
means (chalicelib.web.apierrors turns any of them into the JSON answer, in one place). Callers tell
errors apart by type, never by message.

Optimistic concurrency everywhere (versions, conditional writes) means a writer can lose a
race. `retry_on_conflict` is how every such writer reloads, recomputes and tries again, and how
it gives up: `TooBusy`, a 409 that says "try again in a moment".
"""
from __future__ import annotations

import logging
import random
import time
from typing import Callable, Optional, TypeVar

log = logging.getLogger("outpost")
T = TypeVar("T")


class OutpostError(Exception):
    """Base of every error Outpost raises on purpose. `status` is what it means over HTTP,
    `field` the part of the request at fault (if any), `headers` what the answer adds."""

    status = 500

    def __init__(self, message: str = "", field: Optional[str] = None,
                 headers: Optional[dict] = None):
        super().__init__(message)
        self.message, self.field = message, field
        self.headers = dict(headers or {})


class RequestRefused(OutpostError):
    """A request refused with an explicit status (4xx, or 503 when a dependency is down)."""

    def __init__(self, status: int, message: str, field: Optional[str] = None,
                 retry_after: Optional[int] = None, headers: Optional[dict] = None):
        super().__init__(message, field, headers)
        self.status, self.retry_after = status, retry_after
        if retry_after:
            self.headers.setdefault("Retry-After", str(retry_after))


class ValidationError(OutpostError, ValueError):
    """Bad input; `field` is the dotted path the message is about."""

    status = 422

    def __init__(self, field: str, message: str):
        super().__init__(message, field)
        self.args = (f"{field}: {message}",)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class TooLarge(ValidationError):
    """Over a size budget: 413, naming the field."""

    status = 413


class NotFound(OutpostError):
    status = 404

    def __init__(self, what: str):
        super().__init__(f"not found: {what[:60]}")
        self.what = what


class PreconditionFailed(OutpostError):
    """If-Match named a version that is no longer current."""

    status = 412

    def __init__(self, current: int):
        super().__init__(f"version mismatch: the current version is {current}",
                         headers={"ETag": f'"{current}"'})
        self.current = current


class IdempotencyMismatch(OutpostError):
    status = 422

    def __init__(self):
        super().__init__("Idempotency-Key was already used with a different body",
                         "Idempotency-Key")


class IdempotencyInFlight(OutpostError):
    status = 409

    def __init__(self):
        super().__init__("a request with this Idempotency-Key is still in flight",
                         "Idempotency-Key", {"Retry-After": "1"})


class Conflict(OutpostError):
    """Someone else wrote this document first; reload and recompute."""

    status = 409


class IncidentChanged(Conflict):
    """The incident's version moved since it was read."""


class FeedChanged(Conflict):
    """Another incident was written to the public feed meanwhile (or held it in a transaction)."""


class SnapshotChanged(Conflict):
    """Another writer published the snapshot first (or replaced its history parts)."""


class IdempotencyTaken(Conflict):
    """Another request took over this Idempotency-Key's lease."""


class ConditionFailed(Conflict):
    """A write's own condition did not hold (the item is missing, or already there)."""


class Busy(OutpostError):
    """Someone else is doing this right now: try again shortly."""

    status = 409


class TooBusy(Busy):
    """Other writers kept winning (retry_on_conflict gave up): try again in a moment."""

    def __init__(self, what: str):
        super().__init__(f"{what}; retry in a moment", headers={"Retry-After": "1"})


class SnapshotUnavailable(OutpostError):
    """No snapshot in memory and storage is not answering: the route says 503, not 500."""

    status = 503


class QueueFailed(OutpostError):
    """SQS refused some messages (or no queue is configured): those named were not queued."""

    status = 503


class PostFailed(OutpostError):
    """A social post or poll the platform did not take; `permanent` when trying again can't
    help (the message goes to the dead-letter queue at once)."""

    status = 502

    def __init__(self, reason: str, permanent: bool = False):
        super().__init__(reason)
        self.permanent = permanent


def retry_on_conflict(attempt: Callable[[], T], *, what: str, tries: int = 8,
                      on: type[Conflict] = Conflict, backoff: bool = False,
                      sleep: Optional[Callable[[float], None]] = None,
                      busy: Optional[str] = None) -> T:
    """`attempt()` until it returns without raising `on`; it must reload what it read each time.

    `backoff`: sleep a few random milliseconds (growing) between tries, so racers that lost
    together do not collide again in lockstep. Raises TooBusy naming `what` after `tries`
    (`busy`, when given, is its message instead: the words an API answer has always used)."""
    for n in range(tries):
        try:
            return attempt()
        except on:
            log.info("%s changed underneath (try %d of %d); reloading", what, n + 1, tries)
            if backoff:
                (sleep or time.sleep)(random.uniform(0.005, 0.05) * (n + 1))
    raise TooBusy(busy or f"{what} is changing fast")
