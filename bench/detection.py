"""(d) Detection latency, in simulated rounds: outage start -> summary.json shows it.

The real app (chalice.test.Client) on moto, real checks against a target on 127.0.0.1 from
three simulated regions (quorum 2, failure and success thresholds 2), and a simulated clock:
the schedule fires every 60 s, a reader polls summary.json every simulated second through the
public cache (5 s, as deployed). The outage starts at several points between two rounds, so
the table shows the best, typical and worst case. Times are simulated seconds, so the numbers
are exact consequences of the design (interval, thresholds, cache), not of this machine.
"""
from __future__ import annotations

import json
import logging
import threading

from tests.targets import Target

from .table import Row

PERIOD = 60.0
OFFSETS = (0.05, 0.5, 0.95)         # where in the gap between two rounds the outage starts
STATUS_FILE = """
page: {{id: bench, name: Bench, url: "https://status.bench.example"}}
checks:
  regions: [us-west-2, eu-west-1, ap-southeast-2]
  quorum: 2
  failure_threshold: 2
  success_threshold: 2
  allow_private_targets: true
  interval: 60s
components:
  - id: api
    name: API
    monitors:
      - url: {url}/health
        timeout: 2s
{extra}"""


class _Sim:
    """Simulated time: `advance` moves the clock second by second, polling summary.json."""

    def __init__(self, c, client, start: float):
        self.c, self.client, self.t = c, client, start
        self.seen: list[tuple[float, str]] = []
        self.events: list = []                   # [(when, callback)]: the outage starting

    def at(self, when: float, callback) -> None:
        self.events.append((when, callback))

    def clock(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        # Rounds started in this invocation take ~0 simulated seconds: let them land first,
        # or the simulated clock would outrun their real (millisecond) work.
        for thread in threading.enumerate():
            if thread.name.startswith("round+"):
                thread.join()
        end = self.t + seconds
        while self.t < end:
            for when, callback in [e for e in self.events if e[0] <= self.t + 1.0]:
                self.t = max(self.t, when)
                callback()
                self.events.remove((when, callback))
            self.t = min(end, self.t + 1.0)
            body = json.loads(self.client.http.get("/api/v2/summary.json").body)
            self.seen.append((self.t, body["components"][0]["status"]))

    def first(self, status: str, after: float):
        return next((t for t, s in self.seen if t >= after and s == status), None)


def _scenario(target, extra: str, failing: set, offset: float, gap: float, rounds: int = 6):
    """(latency to major_outage or None, latency back to operational or None) in sim seconds."""
    from app import app
    from chalice.test import Client

    from chalicelib import wiring
    from chalicelib.core.config import load_status_text
    from chalicelib.usecases.checker import run_invocation

    c = wiring.container
    c.reset()
    c.env = {"AWS_DEFAULT_REGION": "us-east-1", "SNAPSHOT_CACHE_SECONDS": "5",
             "CHECK_REGIONS": "us-west-2,eu-west-1,ap-southeast-2",
             "RESULTS_TABLE": "det-results", "STATE_TABLE": "det-state", "KEYS_TABLE": "det-keys",
             "AUDIT_TABLE": "det-audit", "HISTORY_TABLE": "det-history"}
    target.failing = set()
    with Client(app) as client:
        sim = _Sim(c, client, 1_780_000_000.0)
        c.override(config=load_status_text(STATUS_FILE.format(url=target.url, extra=extra)),
                   clock=sim.clock, sleep=sim.advance)
        c.store.create_tables()

        def invocation():
            start = sim.t
            run_invocation(c)
            sim.advance(start + PERIOD - sim.t)
        for _ in range(3):                                   # healthy warm-up rounds
            invocation()
        # The schedule keeps firing; the outage starts `offset` of the way between two rounds.
        began = sim.t + offset * gap
        sim.at(began, lambda: target.failing.update(failing))
        for _ in range(rounds):
            invocation()
        down = sim.first("major_outage", began)
        target.failing = set()
        healed = sim.t
        for _ in range(4):
            invocation()
        up = sim.first("operational", healed) if down else None
    c.reset()
    c.env = None
    return (None if down is None else down - began), (None if up is None else up - healed)


def _clear_tables() -> None:
    import boto3
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    for name in ddb.list_tables()["TableNames"]:
        if name.startswith("det-"):
            ddb.delete_table(TableName=name)


def run() -> tuple[list[Row], dict]:
    rows: list[Row] = []
    facts: dict = {}
    sub_minute = "        interval: 20s\n"
    target = Target()      # fails for the regions in target.failing (the User-Agent says which)
    import app  # noqa: F401  (importing it sets the "outpost" logger's level; quiet it after)
    quiet = logging.getLogger("outpost")
    level = quiet.level
    quiet.setLevel(logging.ERROR)                       # every simulated transition logs a warning
    try:
        for label, extra, gap in (("every 60 s", "", PERIOD),
                                  ("every 20 s (3 rounds per invocation)", sub_minute, 20.0)):
            # two failing rounds (failure_threshold) after the outage, plus the 5 s public cache
            bound = 2 * gap + 5
            lat = []
            for offset in OFFSETS:
                _clear_tables()
                down, up = _scenario(target, extra, {"*"}, offset, gap)
                lat.append((offset, down, up))
            worst = max((d for _, d, _ in lat if d is not None), default=None)
            rows.append(Row(f"outage -> summary.json, checks {label}, worst",
                            "never" if worst is None else f"{worst:.0f} s", target=f"<= {bound:.0f} s",
                            ok=worst is not None and all(d is not None for _, d, _ in lat)
                            and worst <= bound))
            for offset, down, up in lat:
                rows.append(Row(f"  outage starts {offset:.0%} into the gap: down / recovered",
                                f"{down:.0f} s / {up:.0f} s" if down is not None and up is not None
                                else f"{down} / {up}"))
            facts[label] = lat
        _clear_tables()
        down, _ = _scenario(target, "", {"eu-west-1"}, 0.5, PERIOD, rounds=10)
        rows.append(Row("one region of three failing for 10 rounds: page changes",
                        "never" if down is None else f"after {down:.0f} s", target="never",
                        ok=down is None))
        _clear_tables()
    finally:
        target.close()
        quiet.setLevel(level)
    return rows, facts
