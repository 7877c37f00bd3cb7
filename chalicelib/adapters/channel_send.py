"""I/O: one chat or on-call message through Apprise, under a hard deadline and the SSRF guard.
Runs only in the delivery worker (chalicelib.usecases.channels).

Apprise speaks each service's API (Slack, Discord, Teams workflows, Google Chat, Matrix,
Telegram, PagerDuty, Opsgenie) with `requests`, one call after another, each bounded by its own
connect and read timeouts (Apprise's `cto`/`rto`; we set both to the deadline). Per-read
timeouts alone would let a receiver that trickles a byte a second hold the worker for ever, and
Apprise takes no session or adapter from us, so the bound is put one level down: while a send
runs in this thread, every connection urllib3 opens goes through `_guarded_connection`, which

- resolves the name once through chalicelib.adapters.ssrf (every address public, unless the status file
  allows private targets or lists the network) and connects to exactly that address, so a
  redirect or a second request (Matrix logs in, joins, then sends) is held to the same rule;
- gives the connection only what is left of ONE deadline, and refuses new ones after it;
- keeps a duplicate of each socket, which a timer shuts down when the deadline passes: a
  blocked read returns at once, whatever timeout urllib3 set.

Other threads (boto3 shares urllib3) are not affected: the guard is per thread.
"""
from __future__ import annotations

import logging
import re
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence
from urllib.parse import parse_qsl, urlsplit

import apprise
import urllib3.util.connection as urllib3_connection
from apprise import AppriseAsset, NotifyFormat, NotifyType
from apprise.common import PersistentStoreMode

from . import ssrf

log = logging.getLogger("outpost.channels")

# The services Outpost sends to, by Apprise's plugin class. All of them speak HTTP through
# requests, so the guard below covers every byte they send; Apprise's other plugins (mail,
# MQTT, desktop notifications...) would not be covered, so they are refused.
SERVICES = {
    "NotifySlack": "Slack", "NotifyDiscord": "Discord", "NotifyWorkflows": "Microsoft Teams",
    "NotifyGoogleChat": "Google Chat", "NotifyMatrix": "Matrix", "NotifyTelegram": "Telegram",
    "NotifyPagerDuty": "PagerDuty", "NotifyOpsgenie": "Opsgenie",
    "NotifyJSON": "JSON webhook", "NotifyForm": "form webhook",
}
TYPES = {"info": NotifyType.INFO, "success": NotifyType.SUCCESS,
         "warning": NotifyType.WARNING, "failure": NotifyType.FAILURE}


class Unusable(Exception):
    """The URL can't become a channel (not Apprise's, or not a service we send to); retrying
    won't help. str() is safe to show: it never contains the URL."""


@dataclass(frozen=True)
class Outcome:
    ok: bool
    reason: str = ""


def open_channel(url: str):
    """The Apprise plugin for `url`, or Unusable. Nothing is sent."""
    asset = AppriseAsset(storage_mode=PersistentStoreMode.MEMORY)   # Lambda: no disk cache
    try:
        plugin = apprise.Apprise.instantiate(url.strip(), asset=asset, suppress_exceptions=True)
    except Exception:                                # noqa: BLE001 - Apprise's parse errors
        plugin = None
    if not plugin:
        raise Unusable("not a valid Apprise URL (see the README, Chat and on-call channels)")
    if type(plugin).__name__ not in SERVICES:
        raise Unusable(f"{plugin.service_name} is not a channel Outpost sends to; use one of: "
                       f"{', '.join(sorted(set(SERVICES.values())))}")
    return plugin


def service(plugin) -> str:
    return SERVICES.get(type(plugin).__name__, type(plugin).__name__)


def limits(plugin) -> tuple[int, int]:
    """(characters for the body, for the title); a title limit of 0 means the service has no
    title and Apprise puts it on the body's first line."""
    return int(plugin.body_maxlen), int(plugin.title_maxlen)


def shown(plugin) -> str:
    """The URL with its secrets masked (Apprise's privacy form), for logs and alerts."""
    try:
        return plugin.url(privacy=True).split("?", 1)[0]
    except Exception:                                # noqa: BLE001 - only a label
        return service(plugin)


def secrets_in(url: str) -> list[str]:
    """The parts of a channel URL that may be tokens, to scrub from anything we keep."""
    try:
        parts = urlsplit(url)
        # slack://TOKEN_A/...: Apprise's "host" is often a token; a name with a dot is a host
        netloc = [p for p in re.split(r"[@:]", parts.netloc) if "." not in p]
        pieces = netloc + parts.path.split("/") + [v for _, v in parse_qsl(parts.query)]
    except ValueError:
        return [url]
    return sorted({p for p in pieces if len(p) >= 6}, key=len, reverse=True)


def scrub(text: str, secrets: Sequence[str]) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    return text


# -- one send ------------------------------------------------------------------------------------

@dataclass
class _Send:
    end: float
    deadline: float
    allow_private: bool
    allowed_networks: Sequence
    resolver: Optional[Callable[[str], Sequence[str]]]
    secrets: Sequence[str] = ()         # scrubbed from each note before it is cut short
    sockets: list = field(default_factory=list)
    refused: str = ""
    cut: bool = False
    notes: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def left(self) -> float:
        return self.end - time.monotonic()

    def resolve(self, host: str) -> str:
        """The validated address, looked up within the deadline (getaddrinfo has its own
        timeouts; the lookup thread is left to finish alone if it outlives ours)."""
        found: list = []

        def lookup() -> None:
            try:
                found.append(str(ssrf.resolve(host, self.allow_private, self.resolver,
                                              self.allowed_networks)[0]))
            except ssrf.Refused as exc:
                found.append(exc)
        thread = threading.Thread(target=lookup, name="channel-dns", daemon=True)
        thread.start()
        thread.join(max(0.0, self.left()))
        if not found:
            raise self.refuse(f"no answer within {self.deadline:g}s (name lookup)")
        if isinstance(found[0], ssrf.Refused):
            raise self.refuse(str(found[0]))
        return found[0]

    def refuse(self, reason: str) -> OSError:
        self.refused = self.refused or reason
        return ConnectionRefusedError(reason)

    def track(self, sock: socket.socket) -> None:
        with self.lock:
            if self.cut:
                sock.close()
                raise self.refuse(f"no complete answer within {self.deadline:g}s")
            self.sockets.append(sock.dup())      # survives urllib3 wrapping it in TLS

    def stop(self) -> None:
        """The deadline passed: every read and write of this send fails now."""
        with self.lock:
            self.cut = True
            for dup in self.sockets:
                try:
                    dup.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        with self.lock:
            for dup in self.sockets:
                dup.close()
            self.sockets.clear()


_local = threading.local()
_install_lock = threading.Lock()
_original_connection = None


def _guarded_connection(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None,
                        socket_options=None):
    send: Optional[_Send] = getattr(_local, "send", None)
    if send is None:
        return _original_connection(address, timeout, source_address, socket_options)
    host, port = address
    target = send.resolve(host)
    left = send.left()
    if left <= 0 or send.cut:
        raise send.refuse(f"no complete answer within {send.deadline:g}s")
    bounded = min(timeout, left) if isinstance(timeout, (int, float)) else left
    sock = _original_connection((target, port), bounded, source_address, socket_options)
    send.track(sock)
    return sock


class _Notes(logging.Handler):
    """Apprise says why a send failed only in its log; keep the lines of the send running in
    this thread (WARNING and up) so the breaker and the dead letter can say it too."""

    def emit(self, record: logging.LogRecord) -> None:
        send = getattr(_local, "send", None)
        if send is not None and len(send.notes) < 20:
            send.notes.append(scrub(record.getMessage(), send.secrets)[:300])


def _install() -> None:
    """Once per process, on first use (never at import: the API Lambda imports nothing here)."""
    global _original_connection
    with _install_lock:
        if _original_connection is None:
            _original_connection = urllib3_connection.create_connection
            urllib3_connection.create_connection = _guarded_connection
            notes = _Notes(logging.WARNING)
            logging.getLogger("apprise").addHandler(notes)


@contextmanager
def held_to(deadline: float):
    """Every urllib3 connection this thread opens inside the block gets what is left of ONE
    deadline, and the timer shuts them all when it passes (as for a send, above). No SSRF rule
    here: for the official accounts' clients (chalicelib.adapters.social_clients), whose hosts the
    operator names. Pooled connections from before the block are not covered: the caller
    opens fresh ones."""
    _install()
    state = _Send(time.monotonic() + deadline, deadline, True, (), None)
    timer = threading.Timer(deadline, state.stop)
    timer.daemon = True
    _local.send = state
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        _local.send = None
        state.close()


def send(plugin, title: str, body: str, kind: str, deadline: float, allow_private: bool,
         allowed_networks: Sequence = (), resolver=None, secrets: Sequence[str] = ()) -> Outcome:
    """Send one message; Outcome(ok) or Outcome(False, why). Never takes longer than
    `deadline` seconds of network time, and never raises for the receiver's faults."""
    _install()
    plugin.socket_connect_timeout = deadline
    plugin.socket_read_timeout = deadline
    state = _Send(time.monotonic() + deadline, deadline, allow_private, allowed_networks,
                  resolver, secrets)
    timer = threading.Timer(deadline, state.stop)
    timer.daemon = True
    _local.send = state
    timer.start()
    try:
        ok = bool(plugin.notify(body=body, title=title, notify_type=TYPES.get(kind, NotifyType.INFO),
                                body_format=NotifyFormat.TEXT))
    except Exception as exc:                         # noqa: BLE001 - a plugin's own bug
        ok = False
        state.notes.append(f"{type(exc).__name__}: {scrub(str(exc), secrets)[:200]}")
    finally:
        timer.cancel()
        _local.send = None
        state.close()
    if ok:
        return Outcome(True)              # answered, even if the timer fired just after
    if state.cut or state.left() <= 0.05:       # urllib3's own timeout may fire first
        reason = f"no complete answer within {deadline:g}s"
    elif state.refused:
        reason = state.refused
    else:
        reason = state.notes[-1] if state.notes else f"{service(plugin)} refused the message"
    return Outcome(False, scrub(reason, secrets))
