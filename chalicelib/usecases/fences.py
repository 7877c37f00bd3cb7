"""Exactly once, as far as we can see: a send fenced by a dedupe key in the state table.

`sent#<key>` is claimed with a short lease before the send and marked done after. A replay finds
"done" and skips; a send that died mid-way is retried after its lease (at least once beats
never); a claim held by someone else right now raises Busy (retry the record later). Every
notification path (the stream consumer, the delivery worker, alerts) fences its sends here.
"""
from __future__ import annotations

import secrets
from contextvars import ContextVar
from typing import Callable, Optional

from ..core.errors import Busy

LEASE_SECONDS = 60.0


# The key of the fence whose send is running: an operator alert sent inside it takes the key as
# its event id for the chat channels (chalicelib.usecases.channels), so a retried fence queues the same
# channel deliveries and their own fences absorb the copies.
current_fence: ContextVar[Optional[str]] = ContextVar("current_fence", default=None)


def once(c, key: str, send: Callable[[], Optional[str]]) -> bool:
    """Run `send` unless this key was already sent; True when it ran now."""
    pk = f"sent#{key}"
    owner = secrets.token_hex(8)
    held = c.store.claim_idempotency(pk, owner, "", c.clock(), lease=LEASE_SECONDS)
    if held is not None:
        if held.state == "done":
            return False
        raise Busy(key)
    running = current_fence.set(key)
    try:
        result = send()
    except Exception:
        c.store.release_idempotency(pk, owner)
        raise
    finally:
        current_fence.reset(running)
    c.store.complete_token(pk, owner, {"result": result}, c.clock())
    return True
