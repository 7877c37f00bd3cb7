"""Chalice entry points: parse, call a service, render. Nothing else lives here."""
import logging

from chalice import Chalice, Rate, Response

from chalicelib import wiring
from chalicelib.core.errors import SnapshotUnavailable
from chalicelib.render import v2
from chalicelib.web import httpkit
from chalicelib.web.routes import checks, heartbeats, operator, pages, reports, subscribe

app = Chalice(app_name="outpost")
# Chalice sets its app logger ("outpost") to ERROR; our modules log under "outpost.*" and their
# INFO lines (round summaries, transitions, notifications) belong in CloudWatch.
app.log.setLevel(logging.INFO)
app.register_blueprint(operator.bp)
app.register_blueprint(pages.bp)
app.register_blueprint(checks.bp)
app.register_blueprint(subscribe.bp)
app.register_blueprint(reports.bp)
app.register_blueprint(heartbeats.bp)
c = wiring.container

# A literal is required here; `make package` points the event source at the real stream
# (infra/resources.yaml), and the local stack feeds this handler from moto's stream.
STATE_STREAM_ARN = ("arn:aws:dynamodb:us-east-1:123456789012:table/outpost-state/stream/"
                    "1970-01-01T00:00:00.000")


@app.on_dynamodb_record(stream_arn=STATE_STREAM_ARN, batch_size=10,
                        starting_position="TRIM_HORIZON")
def on_state_change(event):
    from chalicelib.usecases.fanout import handle_records
    with c.deliveries.held():                  # one kick of the worker per batch
        return handle_records(c, event.to_dict()["Records"])


@app.schedule(Rate(1, unit=Rate.MINUTES))
def run_checks(event):
    # The checks first: housekeeping after them, within what is left of the invocation.
    from chalicelib.usecases.checker import run_invocation
    from chalicelib.usecases.housekeeping import housekeeping
    remaining = getattr(event.context, "get_remaining_time_in_millis", None)
    try:
        return run_invocation(c, event.context)
    finally:
        housekeeping(c, event.to_dict().get("id", "schedule"),
                     (lambda: remaining() / 1000) if remaining else None)


# The delivery worker: no event source (an idle one polls SQS around the clock). Producers
# kick it when they queue a delivery that is due (chalicelib/adapters/queues.py); it receives from the
# queue itself until it is empty or its time is nearly up, then kicks its successor.
@app.lambda_function(name="deliver")
def deliver(event, context):
    from chalicelib.usecases.deliver import drain
    return drain(c, lambda: context.get_remaining_time_in_millis() / 1000,
                 lambda: c.deliveries.kick(context.function_name))


def _v2(name: str) -> Response:
    try:
        body, etag = c.public_cache.rendered(name, v2.render)
    except SnapshotUnavailable:
        return httpkit.unavailable()
    return httpkit.cached(app.current_request, body, etag, "application/json")


@app.route("/api/v2/summary.json", cors=True)
def summary():
    return _v2("summary")


@app.route("/api/v2/status.json", cors=True)
def status():
    return _v2("status")


@app.route("/api/v2/components.json", cors=True)
def components():
    return _v2("components")


@app.route("/api/v2/incidents.json", cors=True)
def incidents():
    return _v2("incidents")


@app.route("/api/v2/incidents/unresolved.json", cors=True)
def incidents_unresolved():
    return _v2("incidents/unresolved")


@app.route("/api/v2/scheduled-maintenances.json", cors=True)
def maintenances():
    return _v2("scheduled-maintenances")


@app.route("/api/v2/scheduled-maintenances/upcoming.json", cors=True)
def maintenances_upcoming():
    return _v2("scheduled-maintenances/upcoming")


@app.route("/api/v2/scheduled-maintenances/active.json", cors=True)
def maintenances_active():
    return _v2("scheduled-maintenances/active")
