"""Status-file keys for check kinds, cadence and maintenance windows: results and file:line errors."""
import textwrap
from datetime import datetime, timezone

import pytest

from chalicelib.core.config import ConfigError, load_status_text
from chalicelib.core.model import MaintenanceWindow

MARK = "#<"
HEAD = """
page: {id: p, name: P, url: 'https://p.example', time_zone: Europe/London}
checks: {regions: [a, b, c], interval: 60s}
components:
  - id: api
    name: API
    monitors:
"""


def load(monitors: str, tail: str = ""):
    return load_status_text(HEAD + textwrap.indent(textwrap.dedent(monitors), "      ") + tail,
                            source="s.yaml", environ={})


def test_every_kind_loads_with_its_default_conditions():
    cfg = load("""
        - url: https://api.example/health
          method: POST
          headers: {Authorization: Bearer t, X-Probe: "1"}
          body: '{"ping": true}'
          max_redirects: 0
          interval: 20s
        - url: tcp://db.example:5432
        - url: tls://api.example:443
        - url: dns://api.example?type=MX
          nameserver: 1.1.1.1:53
    """)
    http, tcp, tls, dns = cfg.components[0].monitors
    assert (http.kind, http.headers, http.body, http.max_redirects, http.interval) == (
        "http", (("Authorization", "Bearer t"), ("X-Probe", "1")), '{"ping": true}', 0, 20.0)
    assert http.conditions == ("[STATUS] == 200",)
    assert (tcp.kind, tcp.conditions) == ("tcp", ("[CONNECTED] == true",))
    assert (tls.kind, tls.conditions) == ("tls", ("[CONNECTED] == true", "[CERTIFICATE_EXPIRATION] > 48h"))
    assert (dns.kind, dns.conditions, dns.nameserver) == ("dns", ("[DNS_RCODE] == NOERROR",), "1.1.1.1:53")


def test_an_interval_longer_than_the_round_runs_every_round():
    from chalicelib.core.status import stale_after
    from chalicelib.usecases.checker import plan
    cfg = load("- url: https://api.example/\n  interval: 5m\n")
    (mon,) = cfg.components[0].monitors
    assert mon.interval == 300.0
    assert plan([mon], cfg.checks.interval) == [(0, ("api.0",))]
    assert stale_after(mon, cfg.checks) == 180.0


def test_maintenance_windows_use_the_page_time_zone_unless_given_an_offset():
    cfg = load("- url: https://api.example/\n", """
maintenance:
  - id: db
    name: Database upgrade
    components: [api]
    start: 2026-07-01T02:00:00        # naive: Europe/London, BST in July (UTC+1)
    duration: 2h
    recurrence: weekly
    until: 2026-09-01T00:00:00Z
  - components: [api]
    start: "2026-12-01T02:00:00Z"
    end: 2026-12-01T03:30:00Z
""")
    july = datetime(2026, 7, 1, 1, 0, tzinfo=timezone.utc).timestamp()
    dec = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc).timestamp()
    assert cfg.maintenance == (
        MaintenanceWindow("db", ("api",), july, july + 7200, "Database upgrade", "weekly",
                          datetime(2026, 9, 1, tzinfo=timezone.utc).timestamp()),
        MaintenanceWindow("maintenance-1", ("api",), dec, dec + 5400))


CASES = {
    "unknown scheme": ("- url: ftp://x.example/  #<", "components[0].monitors[0].url",
                       ["unsupported URL scheme 'ftp'", "tcp, tls, dns"]),
    "tcp needs a port": ("- url: tcp://db.example  #<", "components[0].monitors[0].url",
                         ["expected tcp://host:port"]),
    "bad dns type": ("- url: dns://x.example?type=SRV  #<", "components[0].monitors[0].url",
                     ["unsupported DNS record type 'SRV'"]),
    "credentials in url": ("- url: https://u:p@x.example/  #<", "components[0].monitors[0].url",
                           ["credentials"]),
    "http key on tcp": ("""
        - url: tcp://db.example:5432
          method: POST  #<""", "components[0].monitors[0].method", ["only applies to http checks"]),
    "placeholder of another kind": ("""
        - url: tcp://db.example:5432
          conditions: ["[CONNECTED] == true", "[STATUS] == 200"]  #<""",
        "components[0].monitors[0].conditions[1]", ["[STATUS] does not apply to tcp://", "[CONNECTED]"]),
    "dns rcode on http": ("""
        - url: https://x.example/
          degraded_when:
            - "[DNS_RCODE] == NOERROR"  #<""", "components[0].monitors[0].degraded_when[0]",
        ["does not apply to https://"]),
    "bad rcode": ("""
        - url: dns://x.example
          conditions: ["[DNS_RCODE] == MAYBE"]  #<""", "components[0].monitors[0].conditions[0]",
        ["NXDOMAIN"]),
    "forbidden header": ("""
        - url: https://x.example/
          headers:
            Metadata-Flavor: Google  #<""", "components[0].monitors[0].headers.Metadata-Flavor",
        ["cannot be set by a check"]),
    "user agent is the contract's": ("""
        - url: https://x.example/
          headers: {User-Agent: curl}  #<""", "components[0].monitors[0].headers.User-Agent",
        ["cannot be set"]),
    "body with GET": ("""
        - url: https://x.example/
          body: hello  #<""", "components[0].monitors[0].body", ["needs method: POST"]),
    "too many redirects": ("""
        - url: https://x.example/
          max_redirects: 9  #<""", "components[0].monitors[0].max_redirects", ["at most 5"]),
    "interval that does not divide the round": ("""
        - url: https://x.example/
          interval: 25s  #<""", "components[0].monitors[0].interval", ["does not divide", "20s"]),
    "interval shorter than the timeout": ("""
        - url: https://x.example/
          timeout: 10s
          interval: 10s  #<""", "components[0].monitors[0].interval", ["at least 12s"]),
    "interval too short": ("""
        - url: https://x.example/
          interval: 1s  #<""", "components[0].monitors[0].interval", ["at least 5s"]),
    "bad nameserver": ("""
        - url: dns://x.example
          nameserver: dns.google  #<""", "components[0].monitors[0].nameserver", ["IP address"]),
}


@pytest.mark.parametrize("monitors, key, words", CASES.values(), ids=CASES.keys())
def test_monitor_errors_name_file_line_and_key(monitors, key, words):
    text = HEAD + textwrap.indent(textwrap.dedent(monitors).lstrip("\n"), "      ")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if MARK in t)
    with pytest.raises(ConfigError) as caught:
        load_status_text(text, source="s.yaml", environ={})
    err = caught.value
    assert (err.file, err.line, err.key) == ("s.yaml", line, key), str(err)
    for word in words:
        assert word in err.message, err.message


MAINT_CASES = {
    "unknown component": ("components: [api, nope]  #<", "maintenance[0].components[1]",
                          "unknown component 'nope'"),
    "end before start": ("components: [api]\n    start: 2026-12-01T02:00:00Z\n"
                         "    end: 2026-12-01T01:00:00Z  #<", "maintenance[0].end", "must be after start"),
    "bad time": ("components: [api]\n    start: next tuesday  #<", "maintenance[0].start", "bad time"),
    "recurrence too long": ("components: [api]\n    start: 2026-12-01T02:00:00Z\n    duration: 25h\n"
                            "    recurrence: daily  #<", "maintenance[0].recurrence", "shorter than its period"),
}


@pytest.mark.parametrize("body, key, words", MAINT_CASES.values(), ids=MAINT_CASES.keys())
def test_maintenance_errors(body, key, words):
    if "start" not in body:
        body += "\n    start: 2026-12-01T02:00:00Z\n    duration: 1h"
    elif "end" not in body and "duration" not in body:
        body += "\n    duration: 1h"
    text = HEAD + "      - url: https://x.example/\nmaintenance:\n  - " + body + "\n"
    line = next(n for n, t in enumerate(text.splitlines(), 1) if MARK in t)
    with pytest.raises(ConfigError) as caught:
        load_status_text(text, source="s.yaml", environ={})
    err = caught.value
    assert (err.line, err.key) == (line, key), str(err)
    assert words in err.message


def test_one_of_end_or_duration():
    with pytest.raises(ConfigError, match="exactly one of end or duration"):
        load("- url: https://x.example/\n", "maintenance:\n  - components: [api]\n"
             "    start: 2026-12-01T02:00:00Z\n")
