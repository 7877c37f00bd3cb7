"""Pure: who an event is for. One rule, applied twice: by SNS (message attributes matched
against each subscription's filter policy: email, SMS, queues) and by us (webhooks).

- A page-wide event (an incident naming no component) reaches everyone.
- A component event reaches the subscribers of any of its components, and those who chose no
  components (everything).

On the SNS side the event's `components` attribute is a String.Array of the components it is
about, or just PAGE_WIDE when it names none; a component subscriber's policy admits its own
components plus PAGE_WIDE; a subscriber to everything has no `components` key at all. (Until
issue 10 every message carried PAGE_WIDE as well, so every component filter admitted every
event. The subscriber policies were already of this shape, so existing subscriptions need no
change: the fix is on the publishing side alone.)
"""
from __future__ import annotations

from typing import Collection, Iterable, Optional

PAGE_WIDE = "page"          # never a component id: `outpost doctor` refuses a component "page"
# SNS allows 150 value combinations per policy; PAGE_WIDE takes one of them.
MAX_FILTERED_COMPONENTS = 149
# An event about more components than this is announced as page-wide: it then reaches every
# subscriber it would have reached anyway and a few more, and the attribute stays small
# (it counts against the 256 KB of the message).
MAX_EVENT_COMPONENTS = 100
MAX_EVENT_BYTES = 8 * 1024


def event_components(components: Iterable[str]) -> list[str]:
    """The `components` attribute of an event: its components, or [PAGE_WIDE]."""
    keys = sorted(set(components))
    if not keys or len(keys) > MAX_EVENT_COMPONENTS \
            or sum(len(k.encode()) + 3 for k in keys) > MAX_EVENT_BYTES:
        return [PAGE_WIDE]
    return keys


def wants(subscribed: Optional[Collection[str]], about: Iterable[str]) -> bool:
    """Does a subscriber to `subscribed` (empty: everything) receive an event `about` these
    components? The same answer SNS gives for filter_policy() against event_components()."""
    if not subscribed:
        return True
    audience = event_components(about)
    return PAGE_WIDE in audience or bool(set(subscribed) & set(audience))


def filter_policy(components: Optional[Collection[str]], sms_only_important: bool
                  ) -> Optional[dict]:
    """The SNS filter policy for one subscriber (None: receive everything).

    More components than a policy can list (SNS: 150 combinations) means nearly everything:
    the subscriber gets every event rather than a sign-up that fails."""
    policy: dict = {}
    keys = sorted(set(components or ()))
    if keys and len(keys) <= MAX_FILTERED_COMPONENTS:
        policy["components"] = keys + [PAGE_WIDE]
    if sms_only_important:
        policy["sms_worthy"] = ["true"]
    return policy or None

