"""The scaled, real run of bench/cost.py, in this process: the deployed topology on one
simulated clock against a moto server, every AWS call metered (bench/aws_meter.py)."""
from __future__ import annotations

import gzip
import logging
import statistics
import time

from . import cost_model
from .cost_setup import (BUCKET, DELIVERY_QUEUE, HOME, REGIONS, STREAM_BATCH, TABLES, LambdaLog, SimClock,
                         deployed_alarms, deployed_config, env_for, invocation, platform_log_bytes,
                         seed_history, snapshot_bytes, sqs_event_sources, table_bytes)

WARM_MINUTES, MEASURED_MINUTES = 3, 5
MACHINE = "2-core shared x86_64, Python 3.11"


class ScaledRun:
    """The deployed topology on one simulated clock: every minute three checkers, the stream
    consumer on their records, and the edge's fetches of `/` from the API."""

    def __init__(self, meter, moto_port: int, status_file: str, ca: str):
        import boto3
        from app import app
        from chalice.local import LambdaContext, LambdaEventConverter, RouteMatcher

        from chalicelib import wiring
        from chalicelib.adapters.prober import Prober
        from local.streams import StreamReader

        self.meter, self.log, self.app = meter, LambdaLog(), app
        self.start = time.time() - 7200       # the child processes run later, on the real clock
        self.clock = clock = SimClock(self.start)
        self.config = deployed_config()

        def container(region: str):
            c = wiring.Container()
            c.env = env_for(moto_port, status_file, region)
            c.override(clock=clock, sleep=clock.sleep)
            c.override(prober=Prober(c.config.page.url, True, clock=clock,
                                     resolver=lambda name: ["127.0.0.1"], ca_file=ca))
            return c

        self.checkers = {region: container(region) for region in REGIONS}
        self.home = home = self.checkers[HOME]
        home.store.create_tables()
        boto3.client("s3", region_name=HOME).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": HOME})
        seed_history(home.store, home.config, self.start)
        # the delivery worker's queue: the home checker asks it each minute whether anything
        # is due (no event source polls it)
        boto3.client("sqs", region_name=HOME).create_queue(QueueName=DELIVERY_QUEUE)
        self.consumer = container(HOME)                # the stream consumer's own Lambda
        self.api = wiring.container                    # app.py's routes use this one
        self.saved_api = (self.api._env, dict(self.api._built))
        self.api.reset()
        self.api.env = {k: v for k, v in env_for(moto_port, status_file, HOME).items()
                        if k != "AWS_LAMBDA_FUNCTION_NAME"}
        self.api.override(clock=clock)
        self.reader = StreamReader(boto3.client("dynamodb", region_name=HOME),
                                   boto3.client("dynamodbstreams", region_name=HOME),
                                   TABLES["STATE_TABLE"])
        converter = LambdaEventConverter(RouteMatcher(list(app.routes)), app.api.binary_types)
        self.page_event = converter.create_lambda_event(
            "GET", "/", {"accept": "text/html", "accept-encoding": "gzip, br"})
        self.api_ctx = LambdaContext("api_handler", self.config["api_handler_mb"],
                                     max_runtime_ms=10_000)
        self.tallies: dict = {"home": {}, "remote": {}, "stream": {}}
        self.stream_records = 0
        self.fetches: list[dict] = []
        self.versions: list = []

    def play(self) -> None:
        app_log = logging.getLogger("outpost")
        self.meter.install()
        app_log.addHandler(self.log)
        try:
            for minute in range(WARM_MINUTES + MEASURED_MINUTES):
                if minute == WARM_MINUTES:              # warm-up done: start counting afresh
                    for phase in ("checker:home", "checker:remote", "stream", "origin"):
                        self.meter.take(phase)
                    self.versions.append(self.home.store.load_snapshot(consistent=True)[1])
                self.minute(minute, measured=minute >= WARM_MINUTES)
            self.versions.append(self.home.store.load_snapshot(consistent=True)[1])
        finally:
            app_log.removeHandler(self.log)
            self.meter.uninstall()
            self.api._env, self.api._built = self.saved_api

    def minute(self, minute: int, measured: bool) -> None:
        from chalicelib.usecases.checker import run_invocation
        from chalicelib.usecases.fanout import handle_records
        from chalicelib.usecases.housekeeping import housekeeping

        t0 = self.start + 60 * minute
        for k, region in enumerate(REGIONS):
            self.clock.t = t0 + k                       # the three schedules a second apart
            c = self.checkers[region]
            kind = "home" if region == HOME else "remote"
            with invocation(self.meter, f"checker:{kind}", self.log,
                            self.tallies[kind] if measured else {}):
                housekeeping(c, f"cost-{minute}-{region}")      # app.run_checks' body
                run_invocation(c)
            pending = self.reader.fetch()               # Lambda's event source mapping
            records = [r for shard in pending.values() for r in shard]
            for shard in pending.values():
                shard.clear()
            self.stream_records += len(records) if measured else 0
            for i in range(0, len(records), STREAM_BATCH):
                with invocation(self.meter, "stream", self.log,
                                self.tallies["stream"] if measured else {}):
                    handle_records(self.consumer, records[i:i + STREAM_BATCH])
        for q in range(4):                              # the shield's fetches: one per max-age
            self.clock.t = t0 + 7 + 15 * q
            self.meter.phase = "origin" if measured else None
            t, cpu = time.perf_counter(), time.thread_time()
            resp = self.app(self.page_event, self.api_ctx)
            wall, cpu = time.perf_counter() - t, time.thread_time() - cpu
            self.meter.phase = None
            if measured:
                self.fetches.append({"wall_s": wall, "cpu_s": cpu, "resp": resp})

    def summary(self) -> dict:
        per_kind = {"home": MEASURED_MINUTES, "remote": MEASURED_MINUTES * (len(REGIONS) - 1)}
        region_rounds = sum(per_kind.values())
        checker = {kind: self._checker(kind, n) for kind, n in per_kind.items()}
        custom = {kind: len(self.tallies[kind].get("custom_metrics", ())) for kind in per_kind}
        return {"measured_on": time.strftime("%Y-%m-%d"), "machine": MACHINE,
                "config": self.config, "checker": checker,
                "stream": self._stream(region_rounds), "origin": self._origin(),
                "storage": self._storage(),
                "cloudwatch": {**deployed_alarms(), "custom_metrics":
                               custom["home"] + (len(REGIONS) - 1) * custom["remote"]},
                "snapshot_writes_per_round": (self.versions[1] - self.versions[0]) / region_rounds,
                "sqs_event_sources": sqs_event_sources()}

    def _checker(self, kind: str, n: int) -> dict:
        got = self.meter.take(f"checker:{kind}")
        calls, units = got["calls"], got["units"]
        return {
            "dynamodb_calls": sum(v for k, v in calls.items() if k.startswith("dynamodb:")) / n,
            "write_units": units.get("write_units", 0) / n,
            "write_bytes": units.get("write_bytes", 0) / n,
            "read_units": units.get("read_units", 0) / n,
            "results_puts": got["puts"].get(TABLES["RESULTS_TABLE"], 0) / n,
            "s3_put_requests": sum(v for k, v in calls.items() if k in (
                "s3:PutObject", "s3:ListObjectsV2", "s3:DeleteObjects")) / n,
            "s3_objects": calls.get("s3:PutObject", 0) / n,
            "s3_put_bytes": units.get("s3_put_bytes", 0) / n,
            "log_bytes": (self.tallies[kind]["log_bytes"] / n
                          + platform_log_bytes(2.0, self.config["run_checks_mb"], 110)),
            "calls": {k: v / n for k, v in sorted(calls.items())}}

    def _stream(self, region_rounds: int) -> dict:
        got, st = self.meter.take("stream"), self.tallies["stream"]
        batches = st.get("invocations", 0)
        return {"records": self.stream_records / region_rounds,
                "invocations": batches / region_rounds,
                "cpu_s": st.get("cpu_s", 0) / max(batches, 1),
                "aws_calls": sum(got["calls"].values()) / max(batches, 1),
                "read_units": got["units"].get("read_units", 0) / region_rounds,
                "write_units": got["units"].get("write_units", 0) / region_rounds,
                "sqs_requests": sum(v for k, v in got["calls"].items()
                                    if k.startswith("sqs:")) / region_rounds,
                "kicks": got["calls"].get("lambda:Invoke", 0) / region_rounds,
                "log_bytes": (st.get("log_bytes", 0) + batches * platform_log_bytes(
                    0.05, self.config["on_state_change_mb"], 80)) / region_rounds}

    def _origin(self) -> dict:
        from chalicelib.core.caching import PUBLIC_CACHE_CONTROL
        got, fetches = self.meter.take("origin"), self.fetches
        last = fetches[-1]["resp"]
        body = last["body"].encode("utf-8")
        etags = [f["resp"]["headers"].get("ETag") for f in fetches]
        rendered = [i == 0 or etags[i] != etags[i - 1] for i in range(len(fetches))]
        renders = [f for f, r in zip(fetches, rendered) if r]
        plain = [f for f, r in zip(fetches, rendered) if not r]
        directives = dict(d.strip().partition("=")[::2] for d in PUBLIC_CACHE_CONTROL.split(","))
        return {"ttl_s": float(directives["max-age"]), "body_bytes": len(body),
                "compressed_bytes": len(gzip.compress(body, 6)),
                "header_bytes": len("HTTP/1.1 200 OK\r\n\r\n") + sum(
                    len(f"{k}: {v}\r\n") for k, v in last["headers"].items()),
                "handler_cpu_s": statistics.median(f["cpu_s"] for f in plain) if plain else 0.0,
                "render_cpu_s": statistics.median(f["cpu_s"] for f in renders),
                "renders_per_minute": len(renders) / MEASURED_MINUTES,
                "read_units": got["units"].get("read_units", 0) / len(fetches),
                "dynamodb_calls": sum(v for k, v in got["calls"].items()
                                      if k.startswith("dynamodb:")) / len(fetches),
                "log_bytes": platform_log_bytes(0.005, self.config["api_handler_mb"], 90)}

    def _storage(self) -> dict:
        """Steady state: a week of results (their TTL), the state table, 90 days of history."""
        import boto3

        from chalicelib.adapters.storage import RESULTS_TTL_SECONDS
        results, n_results = table_bytes(TABLES["RESULTS_TABLE"])
        state, _ = table_bytes(TABLES["STATE_TABLE"])
        history, n_history = table_bytes(TABLES["HISTORY_TABLE"])
        objects = boto3.client("s3", region_name=HOME).list_objects_v2(Bucket=BUCKET)
        return {"dynamodb_bytes": results / n_results * len(REGIONS) * RESULTS_TTL_SECONDS / 60
                + state + history / n_history * 90 * cost_model.WORKLOAD["components"],
                "s3_bytes": sum(o["Size"] for o in objects.get("Contents", [])),
                "snapshot_bytes": snapshot_bytes()}
