"""I/O: run checks concurrently, each under a hard deadline, and turn what happened into data.

A timeout, a refused connection or a refused (private) target is a CheckResult, never an exception.
"""
from __future__ import annotations

import concurrent.futures as cf
import importlib
import ipaddress
import logging
import time
from functools import lru_cache
from typing import Callable, Iterable, Optional, Sequence

from .. import __version__
from ..core.conditions import Condition, Observation, parse
from ..core.model import CheckResult, Level, Monitor
from .probes import ProbeContext
from .ssrf import Resolver

log = logging.getLogger("outpost.probe")
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


# How a mirrored vendor status counts as a check (the page shows the vendor's status itself).
_VENDOR_LEVEL = {"operational": Level.OK, "under_maintenance": Level.OK,
                 "degraded_performance": Level.DEGRADED, "partial_outage": Level.FAIL,
                 "major_outage": Level.FAIL}


def evaluate(monitor: Monitor, obs: Observation, error: Optional[str], region: str,
             checked_at: float, vendor_status: Optional[str] = None) -> CheckResult:
    """The verdict on one observation: pure but for the wall clock, which turns the probe's
    "certificate expires in" back into the notAfter it was measured from."""
    conds = tuple(_compiled(c).evaluate(obs) for c in monitor.conditions)
    expires_at = None
    if obs.certificate_expires_in is not None:
        # notAfter itself (whole seconds), the same every round, so it names the certificate.
        expires_at = float(round(time.time() + obs.certificate_expires_in))
    if vendor_status is not None and not error:
        level = _VENDOR_LEVEL[vendor_status]
        return CheckResult(
            monitor_id=monitor.id, region=region, checked_at=checked_at, level=level,
            response_time_ms=obs.response_time_ms, status_code=obs.status_code,
            error=None if level == Level.OK else "the vendor reports "
            + vendor_status.replace("_", " "),
            vendor_status=vendor_status, certificate_expires_at=expires_at)
    if error or not all(c.success for c in conds):
        level = Level.FAIL
    else:
        degraded = tuple(_compiled(c).evaluate(obs) for c in monitor.degraded_when)
        level = Level.DEGRADED if any(c.success for c in degraded) else Level.OK
        conds += tuple(c for c in degraded if c.success)
    return CheckResult(
        monitor_id=monitor.id, region=region, checked_at=checked_at, level=level,
        response_time_ms=obs.response_time_ms, status_code=obs.status_code, error=error,
        conditions=conds, certificate_expires_at=expires_at,
    )


class Prober:
    """Runs one monitor of any kind (http/https, tcp, dns, tls) from one region.

    Every kind goes through the SSRF guard (chalicelib.adapters.ssrf) and connects only to the address it
    validated. `resolver`, `ca_file` and `nameservers` exist so tests can point checks at
    servers on 127.0.0.1 they control; production leaves them unset.
    """

    def __init__(self, page_url: str, allow_private: bool = False,
                 clock: Callable[[], float] = time.time, resolver: Optional[Resolver] = None,
                 ca_file: Optional[str] = None, nameservers: Sequence[tuple[str, int]] = (),
                 allowed_networks: Sequence[str] = ()):
        self.page_url = page_url
        self.allow_private = allow_private
        self.clock = clock
        self.resolver, self.ca_file, self.nameservers = resolver, ca_file, tuple(nameservers)
        self.allowed_networks = tuple(ipaddress.ip_network(n) for n in allowed_networks)
        self._contexts: dict[str, ProbeContext] = {}

    def _context(self, region: str) -> ProbeContext:
        ctx = self._contexts.get(region)
        if ctx is None:
            ctx = self._contexts[region] = ProbeContext(
                user_agent(self.page_url, region), self.allow_private, self.resolver,
                self.ca_file, self.nameservers, self.allowed_networks)
        return ctx

    def check(self, monitor: Monitor, region: str) -> CheckResult:
        checked_at = self.clock()
        kind = _KINDS.get(monitor.kind)
        if kind is None:
            return evaluate(monitor, Observation(), f"unsupported check kind {monitor.kind!r}",
                            region, checked_at)
        module = importlib.import_module(kind, __package__)
        # (observation, error), or for a third-party monitor (..., the vendor's status)
        obs, error, *vendor = module.probe(monitor, self._context(region))
        return evaluate(monitor, obs, error, region, checked_at, *vendor)


HttpProber = Prober          # the foundation's name, kept for callers that still use it
# Each kind's module is imported on first use: dnspython stays out of a cold start without DNS.
_KINDS = {"http": ".probes.http", "tcp": ".probes.tcp", "dns": ".probes.dns", "tls": ".probes.tls",
          "statuspage": ".probes.statuspage"}


def run_checks(prober: Prober, jobs: Iterable[tuple[Monitor, str]],
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
