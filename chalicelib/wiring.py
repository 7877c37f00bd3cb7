"""Composition root: settings, config, store, prober, clock and caches, built lazily on first use.

Nothing here runs at import time, so importing `app` stays cheap (Lambda cold start) and tests
can `override(...)` any piece before it is built.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from .core.settings import Settings

@dataclass
class Container:
    # None means "os.environ as it is when first needed": chalice.test swaps os.environ per call.
    _env: Optional[Mapping[str, str]] = None
    _built: dict = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def env(self) -> Mapping[str, str]:
        return os.environ if self._env is None else self._env

    @env.setter
    def env(self, value: Optional[Mapping[str, str]]) -> None:
        self._env = value

    def _get(self, name: str, factory: Callable[[], Any]) -> Any:
        if name not in self._built:
            with self._lock:
                if name not in self._built:
                    self._built[name] = factory()
        return self._built[name]

    def override(self, **pieces: Any) -> None:
        with self._lock:
            self._built.update(pieces)

    def reset(self) -> None:
        with self._lock:
            self._built.clear()

    @property
    def settings(self) -> Settings:
        return self._get("settings", lambda: Settings.from_env(self.env))

    @property
    def clock(self) -> Callable[[], float]:
        return self._get("clock", lambda: time.time)

    @property
    def sleep(self) -> Callable[[float], None]:
        """How the checker waits between sub-minute rounds; tests advance a fake clock instead."""
        return self._get("sleep", lambda: time.sleep)

    @property
    def config(self):
        from .core.config import load_status_file  # lazy: each Lambda builds only what it uses
        return self._get("config", lambda: load_status_file(self.settings.status_file, self.env))

    @property
    def store(self):
        def build():
            from .adapters.storage import Store  # lazy: each Lambda builds only what it uses
            s = self.settings
            return Store(s.results_table, s.state_table, s.keys_table, s.aws_region,
                         s.dynamodb_host, audit_table=s.audit_table,
                         history_table=s.history_table, subscribers_table=s.subscribers_table,
                         reports_table=s.reports_table)
        return self._get("store", build)

    @property
    def heartbeat_store(self):
        """Heartbeat tokens and beats (in the reports table: no stream to wake)."""
        def build():
            # lazy: each Lambda builds only what it uses
            from .adapters.heartbeat_store import HeartbeatStore
            s = self.settings
            return HeartbeatStore(s.reports_table, s.aws_region, s.dynamodb_host)
        return self._get("heartbeat_store", build)

    @property
    def prober(self):
        def build():
            from .adapters.prober import Prober  # lazy: each Lambda builds only what it uses
            cfg = self.config
            return Prober(cfg.page.url, cfg.checks.allow_private_targets, clock=self.clock,
                          allowed_networks=cfg.checks.allowed_networks)
        return self._get("prober", build)

    @property
    def notifier(self):
        def build():
            # lazy: each Lambda builds only what it uses
            from .adapters.notify import Notifier
            from .usecases.channels import enqueue_alert  # lazy, as above
            s = self.settings
            return Notifier(s.aws_region, s.updates_topic_arn, s.operator_topic_arn,
                            self.env.get("UPDATES_DLQ_ARN") or None,
                            operator_channels=lambda subject, text: enqueue_alert(
                                self, subject, text))
        return self._get("notifier", build)

    @property
    def deliveries(self):
        """The delivery worker's queue: the only way anything reaches a subscriber's endpoint."""
        def build():
            # lazy: each Lambda builds only what it uses
            from .adapters.queues import DeliveryQueue, WorkerKick
            s = self.settings
            kick = lambda function=None: self._get(    # noqa: E731 - tests, local stack: own
                "worker_kick", lambda: WorkerKick(s.aws_region, s.delivery_worker))(function)
            return DeliveryQueue(s.aws_region, s.delivery_queue_url, s.delivery_dlq_url, kick)
        return self._get("deliveries", build)

    @property
    def channel_resolver(self):
        """How the channel sender looks names up (None: the system's DNS). Tests point the
        services' real host names (hooks.slack.com...) at fakes on 127.0.0.1."""
        return self._get("channel_resolver", lambda: None)

    @property
    def uniform(self) -> Callable[[float, float], float]:
        """Jitter for retries; tests may pin it."""
        import random  # lazy: each Lambda builds only what it uses
        return self._get("uniform", lambda: random.SystemRandom().uniform)

    @property
    def public_cache(self):
        def build():
            # lazy: each Lambda builds only what it uses
            from .usecases.public_cache import PublicCache
            return PublicCache(self, ttl=self.settings.snapshot_cache_seconds)
        return self._get("public_cache", build)

    @property
    def key_guard(self):
        """Operator keys read recently, unknown key ids and failed logins, per warm Lambda."""
        def build():
            from .core.auth import KeyGuard  # lazy: each Lambda builds only what it uses
            return KeyGuard()
        return self._get("key_guard", build)

    @property
    def social_posters(self):
        """Clients of the official accounts (chalicelib/adapters/social_clients.py). Only the delivery
        worker builds them: atproto alone takes about 2 s to import."""
        def build():
            # lazy: each Lambda builds only what it uses
            from .adapters.social_clients import Posters
            return Posters(self.env, self.settings.webhook_deadline)
        return self._get("social_posters", build)

    @property
    def static_publisher(self):
        def build():
            # lazy: each Lambda builds only what it uses
            from .adapters.static_copy import StaticPublisher
            s = self.settings
            return StaticPublisher(s.static_bucket, s.aws_region)
        return self._get("static_publisher", build)


container = Container()
