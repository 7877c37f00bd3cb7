"""Driving the app under test as its schedule and its operator would: check rounds on the test
clock, the real scheduled handler, and tighter caps in the status file."""
from dataclasses import replace

from chalice.local import LambdaContext

from app import app
from chalicelib.usecases.rounds import run_round

REGIONS = ["us-west-2", "eu-west-1", "ap-southeast-2"]      # the stack fixture's CHECK_REGIONS


def rounds(c, clock, n, regions=None):
    for _ in range(n):
        clock.tick(60)
        run_round(c, regions)


def tick(client):
    """One run of the real scheduled handler: the checks, then housekeeping (the report sweep),
    with the deployed 60 s Lambda timeout (the test client's default of 3 s would leave
    housekeeping no time)."""
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                            detail={}, resources=[])
    return app.handler_map["run_checks"](event, LambdaContext("run_checks", 512,
                                                              max_runtime_ms=60_000))


def spike_alerts(messages):
    """The operator messages that are user-report spike alerts."""
    return [m for m in messages if "user reports about" in m.get("Subject", "")]


def cap(c, **caps):
    """The status file's subscriber caps, changed for this test."""
    c.override(config=replace(c.config, subscribers=replace(c.config.subscribers, **caps)))
