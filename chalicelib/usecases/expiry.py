"""Private heads-ups before a certificate expires: the operators hear at 14, 7 and 3 days.

The public check fails only where its own condition says ([CERTIFICATE_EXPIRATION] > 48h, say);
these warnings go to the operators' channels (Notifier.publish_operator) and nowhere else: not
into reasons, the snapshot or any public document. Each goes once per threshold per
certificate, fenced in the state table (fences.once), whichever process or region sees it first.
A renewed certificate has a new notAfter, so its own warnings start afresh.

Domain (registration) expiry is not covered: Outpost has no RDAP/WHOIS probe.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Iterable, Optional
from urllib.parse import urlsplit

from ..core.errors import Busy
from ..core.model import CheckResult
from .fences import once

log = logging.getLogger("outpost.expiry")
THRESHOLDS_DAYS = (14, 7, 3)
# Fenced keys this process has already seen done: the fence is asked once per process, not
# once per round, so a certificate inside its window does not cost a write every minute.
_sent: set[str] = set()


def due(expires_at: float, now: float) -> Optional[int]:
    """Pure: the tightest threshold (in days) that `expires_at` is within, or None. Only the
    tightest: a certificate first seen 2 days out gets the 3-day warning, not three at once."""
    left = expires_at - now
    hits = [d for d in THRESHOLDS_DAYS if left <= d * 86400]
    return min(hits) if hits else None


def heads_ups(results: Iterable[CheckResult], now: float) -> dict[str, tuple[int, float]]:
    """Pure: monitor id -> (threshold days, notAfter) for every monitor whose certificate is
    inside a threshold, judged on the soonest notAfter any region saw this round."""
    soonest: dict[str, float] = {}
    for r in results:
        if r.certificate_expires_at is not None:
            soonest[r.monitor_id] = min(r.certificate_expires_at,
                                        soonest.get(r.monitor_id, float("inf")))
    out = {}
    for mid, at in soonest.items():
        days = due(at, now)
        if days is not None:
            out[mid] = (days, at)
    return out


def message(page: str, target: str, days: int, expires_at: float, now: float) -> tuple[str, str]:
    """Pure: (subject, text) of one heads-up."""
    when = datetime.fromtimestamp(expires_at, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    left = max(0.0, expires_at - now) / 86400
    subject = f"[{page}] TLS certificate for {target} expires in {left:.0f} days"
    text = (f"The certificate served by {target} expires on {when} ({left:.1f} days from now; "
            f"this is the {days}-day heads-up). Renew it before the public check fails. "
            "This warning is private: the status page does not show it.")
    return subject, text


def _host(url: Optional[str]) -> Optional[str]:
    """Where the certificate is served: host[:port] only. The monitor's URL may carry a secret
    (a `${VAR}` in its path or query), and the heads-up goes to the chat channels too."""
    try:
        parts = urlsplit(url or "")
        host = parts.hostname
        return (f"{host}:{parts.port}" if parts.port else host) if host else None
    except ValueError:
        return None


def send_heads_ups(c, results: list[CheckResult]) -> None:
    """Send what is due, once each. Never raises: a round must not fail over a warning."""
    try:
        now = c.clock()
        targets = {m.id: _host(m.url) for _, m in c.config.monitors()}
        for mid, (days, at) in sorted(heads_ups(results, now).items()):
            key = f"certexpiry:{mid}:{int(at)}:{days}"
            if key in _sent:
                continue
            subject, text = message(c.config.page.name, targets.get(mid) or mid, days, at, now)
            try:
                once(c, key, lambda: c.notifier.publish_operator(subject, text))
                _sent.add(key)
            except Busy:
                pass                    # another process is sending it right now
    except Exception:                   # noqa: BLE001 - logged; the next round tries again
        log.exception("could not send certificate expiry heads-ups")
