"""I/O: run HTTP checks concurrently, each under a hard deadline, and turn what happened into data.

A timeout, a refused connection or a refused (private) target is a CheckResult, never an exception.
"""
from __future__ import annotations

import concurrent.futures as cf
import ipaddress
import logging
import socket
import time
from functools import lru_cache
from typing import Callable, Iterable, Optional
from urllib.parse import urlsplit

import requests

from . import __version__
from .conditions import Condition, Observation, parse
from .model import CheckResult, Level, Monitor

log = logging.getLogger("outpost.probe")
MAX_BODY_BYTES = 1 << 20          # conditions look at the first MiB; nobody's health body is larger
MAX_WORKERS = 256
# Spare time the round allows past the longest timeout before declaring a check hung.
DEADLINE_GRACE = 0.5
# A round gives queued checks up to this many timeouts to get a worker before skipping them.
HARD_LIMIT_FACTOR = 3


@lru_cache(maxsize=4096)
def _compiled(text: str) -> Condition:
    return parse(text)


def user_agent(page_url: str, region: str) -> str:
    return f"Outpost/{__version__} (+{page_url}; region={region})"


def evaluate(monitor: Monitor, obs: Observation, error: Optional[str], region: str,
             checked_at: float) -> CheckResult:
    """Pure: the verdict on one observation."""
    conds = tuple(_compiled(c).evaluate(obs) for c in monitor.conditions)
    if error or not all(c.success for c in conds):
        level = Level.FAIL
    else:
        degraded = tuple(_compiled(c).evaluate(obs) for c in monitor.degraded_when)
        level = Level.DEGRADED if any(c.success for c in degraded) else Level.OK
        conds += tuple(c for c in degraded if c.success)
    return CheckResult(
        monitor_id=monitor.id, region=region, checked_at=checked_at, level=level,
        response_time_ms=obs.response_time_ms, status_code=obs.status_code, error=error,
        conditions=conds,
    )


def refused_reason(url: str, allow_private: bool) -> Optional[str]:
    """Why a target must not be probed (SSRF guard), or None. Checks every resolved address."""
    if allow_private:
        return None
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as exc:
        return f"cannot resolve {host}: {exc.strerror or exc}"
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if getattr(addr, "ipv4_mapped", None):
            addr = addr.ipv4_mapped
        if not addr.is_global or addr.is_multicast:
            return f"target {host} resolves to non-public address {addr} (allow_private_targets is off)"
    return None


class HttpProber:
    """Probes one monitor over HTTP(S) with requests; the deadline covers connect, headers and body."""

    def __init__(self, page_url: str, allow_private: bool = False,
                 session_factory: Callable[[], requests.Session] = requests.Session,
                 clock: Callable[[], float] = time.time):
        self.page_url = page_url
        self.allow_private = allow_private
        self.session_factory = session_factory
        self.clock = clock

    def check(self, monitor: Monitor, region: str) -> CheckResult:
        checked_at = self.clock()
        reason = refused_reason(monitor.url, self.allow_private)
        if reason:
            return evaluate(monitor, Observation(), f"blocked: {reason}", region, checked_at)
        obs, error = self._fetch(monitor, region)
        return evaluate(monitor, obs, error, region, checked_at)

    def _fetch(self, monitor: Monitor, region: str) -> tuple[Observation, Optional[str]]:
        started = time.monotonic()
        deadline = started + monitor.timeout
        headers = {"User-Agent": user_agent(self.page_url, region)}
        elapsed_ms = lambda: int((time.monotonic() - started) * 1000)  # noqa: E731
        try:
            with self.session_factory() as session:
                resp = session.request(monitor.method, monitor.url, headers=headers, stream=True,
                                       timeout=(monitor.timeout, monitor.timeout),
                                       allow_redirects=True)
                with resp:
                    body = self._read_body(resp, deadline)
                    if body is None:
                        return Observation(connected=True), f"timeout after {monitor.timeout:g}s"
                    return Observation(
                        status_code=resp.status_code, response_time_ms=elapsed_ms(),
                        body=body, headers=dict(resp.headers), connected=True,
                    ), None
        except requests.exceptions.ConnectTimeout:
            return Observation(), f"connect timeout after {monitor.timeout:g}s"
        except requests.exceptions.ReadTimeout:
            return Observation(connected=True), f"timeout after {monitor.timeout:g}s"
        except requests.exceptions.SSLError as exc:
            return Observation(), f"TLS error: {_short(exc)}"
        except requests.exceptions.ConnectionError as exc:
            return Observation(), f"connection failed: {_short(exc)}"
        except requests.exceptions.RequestException as exc:
            return Observation(), f"request failed: {_short(exc)}"

    @staticmethod
    def _read_body(resp: requests.Response, deadline: float) -> Optional[str]:
        """The body as text, or None when the deadline passes first (a trickling server)."""
        chunks, size = [], 0
        for chunk in resp.iter_content(chunk_size=16384):
            chunks.append(chunk)
            size += len(chunk)
            if time.monotonic() > deadline:
                return None
            if size >= MAX_BODY_BYTES:
                break
        return b"".join(chunks).decode(resp.encoding or "utf-8", errors="replace")


def _short(exc: Exception) -> str:
    text = str(exc.__context__ or exc) if not str(exc) else str(exc)
    return text[:160]


def run_checks(prober: HttpProber, jobs: Iterable[tuple[Monitor, str]],
               max_workers: int = MAX_WORKERS) -> list[CheckResult]:
    """Run every (monitor, region) check at once on a bounded pool.

    Each check's deadline runs from when it actually starts, so a check queued behind others is
    never blamed for the wait. A check still running past its own timeout plus a little grace is
    reported as hung and its thread abandoned. A check that could not even start before
    `hard_limit` is left out (no observation), never reported as a failure: a slow checker must
    not look like a down service.
    """
    jobs = list(jobs)
    if not jobs:
        return []
    pool = cf.ThreadPoolExecutor(max_workers=min(max_workers, len(jobs)),
                                 thread_name_prefix="probe")
    started: dict[int, float] = {}
    checked_at: dict[int, float] = {}

    def run(i: int, monitor: Monitor, region: str) -> CheckResult:
        started[i] = time.monotonic()
        checked_at[i] = prober.clock()
        return prober.check(monitor, region)

    futures = {pool.submit(run, i, m, r): i for i, (m, r) in enumerate(jobs)}
    round_start = time.monotonic()
    hard_limit = round_start + HARD_LIMIT_FACTOR * max(m.timeout for m, _ in jobs) + DEADLINE_GRACE
    pending = set(futures)
    hung: set = set()
    while pending:
        _, pending = cf.wait(pending, timeout=0.05, return_when=cf.FIRST_COMPLETED)
        now = time.monotonic()
        for fut in list(pending):
            i = futures[fut]
            if i in started and now > started[i] + jobs[i][0].timeout + DEADLINE_GRACE:
                hung.add(fut)
                pending.discard(fut)
        if now > hard_limit:
            break
    pool.shutdown(wait=False, cancel_futures=True)
    results = []
    for fut, i in futures.items():
        monitor, region = jobs[i]
        if fut in hung:
            results.append(evaluate(monitor, Observation(), f"timeout after {monitor.timeout:g}s (hung)",
                                    region, checked_at.get(i, prober.clock())))
        elif fut.done() and not fut.cancelled():
            exc = fut.exception()
            results.append(fut.result() if exc is None else evaluate(
                monitor, Observation(), f"probe error: {type(exc).__name__}", region,
                checked_at.get(i, prober.clock())))
        else:
            log.warning("check %s from %s did not start before the round's limit; skipped",
                        monitor.id, region)
    return results
