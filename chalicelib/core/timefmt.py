"""Time zones and ISO-8601 parsing, once: the status file names zones, stored documents and
clients write ISO timestamps, and every layer reads them the same way."""
from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from functools import lru_cache
from typing import Optional
from zoneinfo import ZoneInfo

UTC_NAMES = ("UTC", "Etc/UTC")


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    """The zone called `name` (the status file validated it); UTC without a tzdata lookup."""
    return timezone.utc if name in UTC_NAMES else ZoneInfo(name)


@lru_cache(maxsize=64)
def zone_or_utc(name: str) -> tzinfo:
    """For rendering what a stored document says: a bad zone name must not break a page."""
    try:
        return zone(name)
    except Exception:              # noqa: BLE001 - ZoneInfo raises several kinds; all mean "unknown"
        return timezone.utc


def parse_iso(text: object) -> Optional[datetime]:
    """An ISO-8601 timestamp ("Z" accepted for UTC), or None for anything else."""
    if not text or not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
