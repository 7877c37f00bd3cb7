"""Pure: heartbeat (push) monitors. A job calls its secret URL; a missed beat is a failure.

Tokens are 256 random bits shown once; only their sha256 is stored, so a leaked table does not
leak working URLs, and the lookup is by hash (no secret comparison to time). A beat costs at
most one small conditional write, and beats closer together than `spacing` are coalesced, so a
flood on one token costs a bounded number of writes (see `should_record`).

A heartbeat is not regional: the home region judges it once per round, from the stored beat,
and the page counts that one judgement (no quorum; status.derive_component_states).
"""
from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from typing import Optional

from .model import CheckResult, Level, Monitor

TOKEN_PREFIX = "hb_"
_TOKEN = re.compile(r"^hb_[A-Za-z0-9_-]{43}$")
MAX_MESSAGE = 200            # characters of ?msg= kept (private to the operators)
MAX_SPACING = 60.0           # beats closer than this (or every/10) are coalesced
STATES = ("ok", "fail")


def new_token() -> tuple[str, str]:
    """(token shown once, its sha256 hex to store)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str) -> bool:
    """Cheap shape check: a malformed token is a 404 without any read."""
    return bool(_TOKEN.fullmatch(token or ""))


def clean_message(text: Optional[str]) -> Optional[str]:
    """A job's ?msg=, bounded and reduced to printable text on one line (control, format and
    bidi characters dropped) so it can go into an alert or a terminal as it is."""
    if not text:
        return None
    text = text[:MAX_MESSAGE * 4]             # bound the work before normalising
    kept = "".join(ch if unicodedata.category(ch)[0] not in "CZ" or ch == " " else " "
                   for ch in text)
    kept = " ".join(kept.split())[:MAX_MESSAGE]
    return kept or None


def spacing(monitor: Monitor) -> float:
    """Minimum seconds between two recorded beats of the same state."""
    return min(MAX_SPACING, (monitor.every or MAX_SPACING) / 10)


def should_record(beat: dict, state: str, now: float, gap: float) -> bool:
    """Whether a beat in `state` at `now` is news worth a write. At most four writes per `gap`
    whatever the request rate: one after the gap, an ok -> fail turn inside it (a failure
    must not wait), and one fail -> ok recovery per gap (a job re-run right after a failure
    may not beat again for a day) with the ok -> fail turn after it. The store repeats this
    test as the write's condition (races)."""
    last = beat.get("beat_at")
    if last is None or last <= now - gap:
        return True
    if beat.get("state") == "fail" and state == "ok":
        return is_recovery(beat, now, gap)
    return beat.get("state") == "ok" and state == "fail"


def is_recovery(beat: dict, now: float, gap: float) -> bool:
    """A fail -> ok turn allowed now: none recorded within the last `gap`."""
    recovered = beat.get("recovered_at")
    return beat.get("state") == "fail" and (recovered is None or recovered <= now - gap)


def judge(monitor: Monitor, beat: Optional[dict], now: float, region: str) -> Optional[CheckResult]:
    """The round's verdict on one heartbeat monitor, or None when it has no token yet (no
    data: the page shows it unknown, as for a silent checker).

    `beat` is the stored record: created_at (token minted), beat_at, state ("ok" | "fail").
    The reason is public, so it never carries the job's own message (that stays private).
    """
    if beat is None or monitor.every is None:
        return None
    last = beat.get("beat_at")
    since = last if last is not None else beat.get("created_at", now)
    allowed = monitor.every + monitor.grace
    if last is not None and beat.get("state") == "fail":
        level, error = Level.FAIL, "the job reported a failure"
    elif now - since > allowed:
        missed = "no beat" if last is None else "last beat"
        level = Level.FAIL
        error = (f"{missed} for {human(now - since)} (expected every {human(monitor.every)}"
                 + (f", grace {human(monitor.grace)})" if monitor.grace else ")"))
    else:
        level, error = Level.OK, None
    return CheckResult(monitor_id=monitor.id, region=region, checked_at=now, level=level,
                       error=error)


def human(seconds: float) -> str:
    """3h5m, 10m, 45s: short and exact enough for a reason line."""
    seconds = int(round(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return "".join(parts[:2])
