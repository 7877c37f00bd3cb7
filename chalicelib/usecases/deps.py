"""The typed ports a use-case may be given, one per dependency.

Each use-case module declares what it uses as a Protocol built from these (`class Deps(Clock,
Store, Protocol)` in publish.py reads "publishing uses the clock and the store") and annotates
its functions' `c` with it. wiring.Container provides every port; a test passes a smaller
object where a use-case needs little. tests/unit/test_deps.py checks that each module touches
only what it declares and declares everything the use-cases it calls need.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping, Optional, Protocol

if TYPE_CHECKING:   # types only: importing the adapters here would load boto3 on every cold start
    from ..adapters.heartbeat_store import HeartbeatStore as _HeartbeatStore
    from ..adapters.notify import Notifier as _Notifier
    from ..adapters.prober import Prober as _Prober
    from ..adapters.queues import DeliveryQueue as _DeliveryQueue
    from ..adapters.social_clients import Posters as _Posters
    from ..adapters.static_copy import StaticPublisher as _StaticPublisher
    from ..adapters.storage import Store as _Store
    from ..core.model import StatusConfig as _StatusConfig
    from ..core.settings import Settings as _Settings
    from .public_cache import PublicCache as _PublicCache


class Clock(Protocol):
    @property
    def clock(self) -> Callable[[], float]: ...


class Sleep(Protocol):
    @property
    def sleep(self) -> Callable[[float], None]: ...


class Jitter(Protocol):
    @property
    def uniform(self) -> Callable[[float, float], float]: ...


class Env(Protocol):
    """The process environment: secrets named by the status file, the Lambda's own name."""
    @property
    def env(self) -> Mapping[str, str]: ...


class Settings(Protocol):
    @property
    def settings(self) -> _Settings: ...


class Config(Protocol):
    @property
    def config(self) -> _StatusConfig: ...


class Store(Protocol):
    @property
    def store(self) -> _Store: ...


class HeartbeatStore(Protocol):
    @property
    def heartbeat_store(self) -> _HeartbeatStore: ...


class Probes(Protocol):
    @property
    def prober(self) -> _Prober: ...


class Notifier(Protocol):
    @property
    def notifier(self) -> _Notifier: ...


class Deliveries(Protocol):
    @property
    def deliveries(self) -> _DeliveryQueue: ...


class ChannelResolver(Protocol):
    """How chat channels' host names resolve (None: the system's DNS)."""
    @property
    def channel_resolver(self) -> Optional[Callable[[str], list]]: ...


class PublicCache(Protocol):
    @property
    def public_cache(self) -> _PublicCache: ...


class SocialPosters(Protocol):
    @property
    def social_posters(self) -> _Posters: ...


class StaticCopy(Protocol):
    @property
    def static_publisher(self) -> _StaticPublisher: ...


def ports(protocol: type) -> set[str]:
    """The dependencies a use-case's Deps declares: the ports above that it is built from."""
    return {name for klass in protocol.__mro__ if klass.__module__ == __name__
            for name, value in vars(klass).items() if isinstance(value, property)}
