"""The delivery worker's kicks, locally. In AWS a producer that queues a due delivery invokes
the worker asynchronously (chalicelib/adapters/queues.py WorkerKick); moto runs no Lambdas, so here a
kick runs the real worker handler on a thread, and the worker drains moto's queue itself."""
from __future__ import annotations

import logging
import threading

from chalice.local import LambdaContext


class LocalKicks:
    """The delivery worker's kicks, locally: each kick is an asynchronous invocation of the real
    worker handler on one of `workers` threads, as Lambda runs a kicked function. A kick
    while `workers` kicks already wait adds nothing: those drain the queue anyway."""

    def __init__(self, app, stop: threading.Event, workers: int):
        self.app, self.stop, self.workers = app, stop, workers
        self.waiting = threading.Semaphore(0)
        self.pending = 0
        self.lock = threading.Lock()

    def __call__(self, function=None) -> bool:
        with self.lock:
            if self.pending >= self.workers:
                return True
            self.pending += 1
        self.waiting.release()
        return True

    def run(self) -> None:
        log = logging.getLogger("outpost.deliveries")
        handler = self.app.handler_map["deliver"]
        while not self.stop.is_set():
            if not self.waiting.acquire(timeout=0.5):
                continue
            with self.lock:
                self.pending -= 1
            try:
                out = handler({}, LambdaContext("deliver", 256, max_runtime_ms=30_000))
                if out["received"]:
                    log.info("worker: %d delivered, %d to retry", out["deleted"], out["failed"])
            except Exception:          # the next kick (at the latest, the minute's) retries
                log.exception("delivery worker failed")
