"""Plain domain data: no I/O, no AWS, no HTTP. Everything else speaks in these types."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Optional


class ComponentStatus(str, enum.Enum):
    """Statuspage's component enum, ordered by how bad it is (maintenance is its own thing)."""
    OPERATIONAL = "operational"
    DEGRADED = "degraded_performance"
    PARTIAL = "partial_outage"
    MAJOR = "major_outage"
    MAINTENANCE = "under_maintenance"


class Level(enum.IntEnum):
    """What one check (or one region's confirmed view of a monitor) says, worst is highest."""
    OK = 0
    DEGRADED = 1
    FAIL = 2


@dataclass(frozen=True)
class Place:
    provider: str
    region: str


@dataclass(frozen=True)
class Embed:
    """Who may show `/embed` in an iframe: CSP frame-ancestors sources (origins, or 'self').
    Empty (the default) means nobody: framing is an opt-in, per origin."""
    frame_ancestors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Page:
    id: str
    name: str
    url: str
    time_zone: str = "Etc/UTC"
    hosted_on: Optional[Place] = None
    service_hosted_on: Optional[Place] = None
    locale: str = "en"              # language of the page, feeds, email and SMS (render.i18n)
    embed: Embed = Embed()


@dataclass(frozen=True)
class CheckPolicy:
    regions: tuple[str, ...]
    quorum: int
    failure_threshold: int = 2
    success_threshold: int = 2
    allow_private_targets: bool = False
    interval: float = 60.0          # seconds between rounds in the deployed schedule
    allowed_networks: tuple[str, ...] = ()   # CIDRs exempt from the SSRF guard (e.g. a VPC)


@dataclass(frozen=True)
class Monitor:
    id: str                         # stable within the page: "<component id>.<index>" unless named
    url: str = ""                   # the target; a third-party monitor's is the vendor's page
    timeout: float = 5.0            # seconds, hard limit for the whole check
    conditions: tuple[str, ...] = ("[STATUS] == 200",)
    degraded_when: tuple[str, ...] = ()
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()    # extra request headers, HTTP(S) only
    body: Optional[str] = None                   # request body, HTTP(S) only
    max_redirects: int = 5                       # 0: report the 3xx itself
    interval: Optional[float] = None             # seconds; None: the round's (checks.interval)
    nameserver: Optional[str] = None             # DNS checks: "ip" or "ip:port"; None: system's
    every: Optional[float] = None                # heartbeat: seconds between expected beats
    grace: float = 0.0                           # heartbeat: slack after `every` before failing
    statuspage: bool = False                     # third-party: `url` is a vendor's Statuspage
    vendor_component: Optional[str] = None       # third-party: one vendor component (by name)

    @property
    def kind(self) -> str:
        """http, tcp, dns, tls, heartbeat or statuspage: which probe runs it (https is http
        over TLS; a heartbeat is judged from the beats it was sent, not probed)."""
        if self.every is not None:
            return "heartbeat"
        if self.statuspage:
            return "statuspage"
        scheme = self.url.split(":", 1)[0].lower()
        return "http" if scheme in ("http", "https") else scheme


@dataclass(frozen=True)
class Component:
    id: str                         # the operator's id from the status file ("api")
    name: str
    group: Optional[str] = None
    description: Optional[str] = None
    monitors: tuple[Monitor, ...] = ()
    position: int = 0


@dataclass(frozen=True)
class MaintenanceWindow:
    """Planned work on some components: they show under_maintenance and it is not downtime.
    `start`/`end` are the first occurrence (epoch seconds); `recurrence` repeats it in the
    page's time zone (so "every Sunday 02:00" stays 02:00 across DST) until `until`."""
    id: str
    components: tuple[str, ...]
    start: float
    end: float
    name: Optional[str] = None
    recurrence: Optional[str] = None             # None, "daily" or "weekly"
    until: Optional[float] = None


@dataclass(frozen=True)
class SubscriberPolicy:
    """Who may sign up for what, and the caps that keep SMS sign-up from being a pumping target."""
    email: bool = True
    webhooks: bool = True
    sms_countries: tuple[str, ...] = ()          # ISO 3166 codes; empty means SMS sign-up is off
    sms_per_number_per_day: int = 3
    sms_per_ip_per_hour: int = 10
    sms_global_per_hour: int = 100               # circuit breaker against SMS pumping
    email_per_ip_per_hour: int = 10              # sign-ups; each sends a confirmation mail
    email_global_per_hour: int = 1000
    webhook_per_ip_per_hour: int = 10            # sign-ups; each makes us call a stranger's URL
    webhook_global_per_hour: int = 100
    debounce: float = 300.0                      # seconds a component must hold before it is told


@dataclass(frozen=True)
class Operations:
    """How the operator side behaves."""
    update_reminder: float = 1800.0              # nudge when an open incident is quiet this long
    api_rate_limit: int = 20                     # requests per second per key
    auto_incidents: bool = True
    social_url: Optional[str] = None             # the official account, linked from the page
    auto_incident_title: str = "{component} is experiencing issues"
    auto_incident_body: str = ("Our automatic checks found {component} in {status} ({scope}). "
                               "We are investigating; updates follow here.")


@dataclass(frozen=True)
class ReportPolicy:
    """"Is it just me?" reports from users: when they make a spike, and what strangers may send."""
    enabled: bool = True
    threshold: int = 10                          # reports per component in the window, at least
    factor: float = 3.0                          # ... and this many times the usual count
    window: float = 1800.0                       # seconds, a multiple of the 5-minute bucket
    public: bool = True                          # show counts over the threshold on the page
    per_ip_per_hour: int = 20                    # reports accepted from one address (or /64)
    global_per_hour: int = 1000                  # reports accepted in total: bounds the writes


@dataclass(frozen=True)
class MastodonAccount:
    """The official Mastodon account. The token is never in the status file: `token_env` names
    the environment variable that holds it (read by the delivery worker at send time)."""
    instance: str                                # https://mastodon.example
    account: str                                 # the username: the profile is instance/@account
    token_env: str = "OUTPOST_MASTODON_TOKEN"
    max_characters: int = 500                    # the instance's limit (500 unless it says more)

    @property
    def profile(self) -> str:
        return f"{self.instance.rstrip('/')}/@{self.account}"


@dataclass(frozen=True)
class BlueskyAccount:
    """The official Bluesky account; its app password comes from `app_password_env`."""
    handle: str                                  # acme.bsky.social
    app_password_env: str = "OUTPOST_BLUESKY_APP_PASSWORD"
    service: str = "https://bsky.social"         # the account's PDS (tests: 127.0.0.1)

    @property
    def profile(self) -> str:
        return f"https://bsky.app/profile/{self.handle}"


@dataclass(frozen=True)
class XAccount:
    """Listed on the page only: posting to X needs a paid API tier, which Outpost does not use."""
    handle: str

    @property
    def profile(self) -> str:
        return f"https://x.com/{self.handle}"


@dataclass(frozen=True)
class AutoReply:
    """Answering mentions during an open incident with the page's link (off by default)."""
    enabled: bool = False
    keywords: tuple[str, ...] = ("down", "outage", "not working", "broken", "error", "status",
                                 "just me", "slow")
    per_hour: int = 60                           # replies in all, per platform per hour
    page_size: int = 40                          # notifications read per poll (one request)


@dataclass(frozen=True)
class SocialPolicy:
    """The one official identity (status file `social:`)."""
    mastodon: Optional[MastodonAccount] = None
    bluesky: Optional[BlueskyAccount] = None
    x: Optional[XAccount] = None
    auto_reply: AutoReply = AutoReply()

    @property
    def posting(self) -> tuple[str, ...]:
        """The platforms Outpost posts updates to."""
        return tuple(name for name in ("mastodon", "bluesky") if getattr(self, name))

    def accounts(self) -> tuple[tuple[str, str, str, bool], ...]:
        """(platform, account name, profile URL, whether Outpost posts updates there) of every
        official account, for the page."""
        out = []
        if self.mastodon:
            host = self.mastodon.instance.split("://", 1)[-1].rstrip("/")
            out.append(("Mastodon", f"@{self.mastodon.account}@{host}", self.mastodon.profile,
                        True))
        if self.bluesky:
            out.append(("Bluesky", f"@{self.bluesky.handle}", self.bluesky.profile, True))
        if self.x:
            out.append(("X", f"@{self.x.handle}", self.x.profile, False))
        return tuple(out)


@dataclass(frozen=True)
class Channel:
    """A chat or on-call destination (Slack, Matrix, PagerDuty...). The status file names the
    environment variable holding its Apprise URL, never the URL: the URL is the secret, and only
    the delivery worker reads it (chalicelib.usecases.channels)."""
    name: str                                    # fences, breaker, logs: stable, not secret
    env: str                                     # SLACK_URL: the variable with the Apprise URL
    alerts: bool = True                          # operator alerts (Notifier.publish_operator)
    public: bool = False                         # public incident and maintenance updates


@dataclass(frozen=True)
class StatusConfig:
    page: Page
    checks: CheckPolicy
    components: tuple[Component, ...]
    source: str = "<memory>"        # where it was loaded from, for messages
    maintenance: tuple[MaintenanceWindow, ...] = ()
    subscribers: SubscriberPolicy = SubscriberPolicy()
    operations: Operations = Operations()
    reports: ReportPolicy = ReportPolicy()
    social: SocialPolicy = SocialPolicy()
    channels: tuple[Channel, ...] = ()

    def monitors(self) -> list[tuple[Component, Monitor]]:
        return [(c, m) for c in self.components for m in c.monitors]


@dataclass(frozen=True)
class ConditionResult:
    condition: str                  # as written: "[STATUS] == 200"
    resolved: str                   # with the observed value: "[STATUS] (503) == 200"
    success: bool


@dataclass(frozen=True)
class CheckResult:
    """One probe of one monitor from one region. Failures are data, never exceptions."""
    monitor_id: str
    region: str
    checked_at: float               # epoch seconds
    level: Level
    response_time_ms: Optional[int] = None
    status_code: Optional[int] = None
    error: Optional[str] = None     # transport failure text (timeout, refused, blocked)
    conditions: tuple[ConditionResult, ...] = ()
    # What a third-party monitor read from the vendor's page (a ComponentStatus value); None
    # when the page could not be read, which is no news rather than an outage.
    vendor_status: Optional[str] = None
    # The presented certificate's notAfter (epoch seconds), for the operators' private
    # heads-ups (chalicelib.usecases.expiry); never published.
    certificate_expires_at: Optional[float] = None

    @property
    def reasons(self) -> list[str]:
        """Why this check is not OK, in words safe to show publicly (never the body)."""
        out = [c.resolved for c in self.conditions if not c.success]
        if self.error:
            out.insert(0, self.error)
        return out


@dataclass
class MonitorRegionState:
    """Damped view of one monitor from one region, carried from round to round."""
    level: Level = Level.OK
    recent: list[int] = field(default_factory=list)   # latest observations, oldest first
    since: Optional[float] = None                     # when `level` last changed
    last_checked_at: Optional[float] = None
    last_reasons: list[str] = field(default_factory=list)
    last_response_time_ms: Optional[int] = None
    # Response-time histograms for today and yesterday (chalicelib.core.uptime): {day: {bucket: n}}.
    # Kept with the view because the view is written every round anyway: no extra write.
    rt_days: dict = field(default_factory=dict)
    vendor_status: Optional[str] = None              # third-party: the vendor's latest status


@dataclass(frozen=True)
class Scope:
    """How many regions see a monitor or component failing or degraded (confirmed, damped)."""
    failing: int
    degraded: int
    reporting: int
    total: int


@dataclass(frozen=True)
class ComponentState:
    status: ComponentStatus
    since: float                    # when `status` last changed
    scope: Scope
    reasons: tuple[str, ...] = ()
    last_checked_at: Optional[float] = None
    created_at: Optional[float] = None     # first time Outpost derived a state for it
    # Fewer regions than the quorum have fresh data for some monitor: `status` is the last one
    # that quorum vouched for, and the page must say "unknown" rather than imply it is current.
    unknown: bool = False
