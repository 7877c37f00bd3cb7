"""The deployed topology, in one process, for bench/cost.py: the three regions' environments,
a simulated clock, the reference status file, what a Lambda invocation writes to CloudWatch
Logs, and what is deployed (memory, architecture, alarms) read from the project's own config.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import time

from . import cost_model

REGIONS = ("us-west-2", "eu-west-1", "ap-southeast-2")
HOME = REGIONS[0]
STREAM_BATCH = 10                         # infra/resources.yaml: OnStateChange BatchSize
TABLES = {"RESULTS_TABLE": "cost-results", "STATE_TABLE": "cost-state",
          "KEYS_TABLE": "cost-keys", "AUDIT_TABLE": "cost-audit",
          "HISTORY_TABLE": "cost-history", "SUBSCRIBERS_TABLE": "cost-subscribers"}
BUCKET = "cost-static"
DELIVERY_QUEUE = "cost-deliveries"
REQUEST_ID = "0" * 8 + "-0000-0000-0000-" + "0" * 12



def status_text(port: int) -> str:
    w = cost_model.WORKLOAD
    lines = ["page:", "  id: cost", "  name: Cost Bench", "  url: https://status.cost-bench.example",
             "  time_zone: Etc/UTC", "  hosted_on: {provider: aws, region: us-west-2}",
             "  service_hosted_on: {provider: example-hosting, region: local}",
             "checks:", f"  regions: [{', '.join(REGIONS)}]", "  quorum: 2",
             "  interval: 60s", "  allow_private_targets: true", "components:"]
    per = w["monitors"] // w["components"]
    for i in range(w["components"]):
        lines += [f"  - id: svc{i}", f"    name: Service {i}",
                  f"    group: Group {i // 10}", "    monitors:"]
        for k in range(per):
            lines += [f"      - url: https://bench.test:{port}/ok/{i}-{k}?ms={w['target_ms']}",
                      "        timeout: 5s",
                      '        conditions: ["[STATUS] == 200", "[CERTIFICATE_EXPIRATION] > 48h"]']
    return "\n".join(lines) + "\n"


class SimClock:
    def __init__(self, start: float):
        self.t = start

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class LambdaLog(logging.Handler):
    """What CloudWatch Logs would ingest from the app's log records: the Python runtime's
    "[LEVEL]\\ttime\\trequest id\\tmessage" lines."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.bytes = self.events = 0
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record):
        line = f"[{record.levelname}]\t2026-11-26T00:00:00.000Z\t{REQUEST_ID}\t{self.format(record)}\n"
        self.bytes += len(line.encode("utf-8"))
        self.events += 1


def platform_log_bytes(seconds: float, memory_mb: int, used_mb: int) -> int:
    """Lambda's START, END and REPORT lines of one invocation."""
    ms = seconds * 1000
    return len((f"START RequestId: {REQUEST_ID} Version: $LATEST\n"
                f"END RequestId: {REQUEST_ID}\n"
                f"REPORT RequestId: {REQUEST_ID}\tDuration: {ms:.2f} ms\tBilled Duration: "
                f"{int(ms) + 1} ms\tMemory Size: {memory_mb} MB\tMax Memory Used: {used_mb} MB\t\n"
                ).encode())


@contextlib.contextmanager
def invocation(meter, phase: str, log: LambdaLog, tally: dict):
    """One Lambda invocation's AWS calls, log bytes (its records, its stdout, the platform's)
    and wall/CPU time, added to `tally`."""
    meter.phase = phase
    log.bytes = log.events = 0
    out = io.StringIO()
    # This thread's CPU only: the moto server answering the calls runs on its own threads.
    t, cpu = time.perf_counter(), time.thread_time()
    try:
        with contextlib.redirect_stdout(out):
            yield
    finally:
        meter.phase = None
        tally["wall_s"] = tally.get("wall_s", 0.0) + time.perf_counter() - t
        tally["cpu_s"] = tally.get("cpu_s", 0.0) + time.thread_time() - cpu
        tally["log_bytes"] = tally.get("log_bytes", 0) + log.bytes + len(out.getvalue().encode())
        tally["invocations"] = tally.get("invocations", 0) + 1
        tally.setdefault("custom_metrics", set()).update(emf_metrics(out.getvalue()))


def emf_metrics(stdout: str) -> set:
    """The custom CloudWatch metrics that log lines in embedded metric format define (each
    namespace, name and dimension set is one metric, $0.30 a month)."""
    found = set()
    for line in stdout.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        for spec in (doc.get("_aws") or {}).get("CloudWatchMetrics", ()) if isinstance(doc, dict) else ():
            for metric in spec.get("Metrics", ()):
                for dims in spec.get("Dimensions", ()):
                    found.add((spec.get("Namespace"), metric.get("Name"), tuple(dims)))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(port: int, status_file: str, region: str) -> dict:
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": region, "AWS_REGION": region,
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
           "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "STATUS_FILE": status_file,
           "CHECK_REGIONS": region, "SNAPSHOT_CACHE_SECONDS": "5",
           "AWS_LAMBDA_FUNCTION_NAME": "outpost-RunChecks", **TABLES}
    if region == HOME:
        env["STATIC_BUCKET"] = BUCKET
        env["DELIVERY_QUEUE_URL"] = f"http://127.0.0.1:{port}/123456789012/{DELIVERY_QUEUE}"
        env["DELIVERY_WORKER_FUNCTION"] = "outpost-Deliver"
    else:
        env["HOME_REGION"] = HOME
    return env


def deployed_config() -> dict:
    from .env import ROOT
    with open(os.path.join(ROOT, ".chalice", "config.json")) as fh:
        cfg = json.load(fh)
    fns = cfg.get("lambda_functions", {})
    default_mb = 128                                   # chalice's default lambda_memory_size
    return {"architecture": cfg.get("lambda_architecture", "x86_64"),
            "log_retention_days": cfg.get("log_retention_in_days", 0) or 3650,
            "run_checks_mb": fns.get("run_checks", {}).get("lambda_memory_size", default_mb),
            "api_handler_mb": fns.get("api_handler", {}).get("lambda_memory_size", default_mb),
            "on_state_change_mb": fns.get("on_state_change", {}).get("lambda_memory_size",
                                                                     default_mb),
            "deliver_mb": fns.get("deliver", {}).get("lambda_memory_size", default_mb)}


def deployed_alarms() -> dict:
    """Alarms and the metrics they read, in the home stack and the checker stages as deployed
    with their defaults (infra/*.yaml), and the custom metrics the app defines."""
    import yaml

    from .env import ROOT

    class Loader(yaml.SafeLoader):
        pass

    def tag(loader, suffix, node):
        value = (loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
                 else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
                 else loader.construct_mapping(node))
        return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}
    Loader.add_multi_constructor("!", tag)

    def count(name: str) -> tuple[int, int]:
        with open(os.path.join(ROOT, "infra", name)) as fh:
            doc = yaml.load(fh, Loader=Loader)
        params = {k: v.get("Default") for k, v in (doc.get("Parameters") or {}).items()}

        def holds(cond) -> bool:
            (fn, arg), = cond.items()
            if fn == "Fn::Equals":
                return all(str(params.get(a["Ref"]) if isinstance(a, dict) else a)
                           == str(params.get(arg[0]["Ref"]) if isinstance(arg[0], dict) else arg[0])
                           for a in arg)
            if fn == "Fn::Not":
                return not holds(arg[0])
            raise ValueError(fn)
        alarms = metrics = 0
        for res in doc["Resources"].values():
            if res.get("Type") != "AWS::CloudWatch::Alarm":
                continue
            if "Condition" in res and not holds(doc["Conditions"][res["Condition"]]):
                continue
            props = res["Properties"]
            alarms += 1
            metrics += sum(1 for q in props["Metrics"] if "MetricStat" in q) \
                if "Metrics" in props else 1
        return alarms, metrics
    home, stage = count("resources.yaml"), count("checker.yaml")
    stages = len(REGIONS) - 1
    return {"alarms": home[0] + stages * stage[0], "alarm_metrics": home[1] + stages * stage[1]}


def sqs_event_sources() -> int:
    from app import app
    return sum(1 for source in app.event_sources if type(source).__name__ == "SQSEventConfig")


def seed_history(store, cfg, now: float) -> None:
    """89 closed days per component, as the checker stores them when a day ends: the first
    publish reads them back, so the snapshot carries its full 90 days, as it would in month 4."""
    from chalicelib.core.snapshot import iso_ms
    from chalicelib.core.uptime import day_key, day_start
    days = []
    for comp in cfg.components:
        for ago in range(89, 0, -1):
            day = day_key(now - ago * 86400, "Etc/UTC")
            point = {"t": iso_ms(day_start(day, "Etc/UTC"), "Etc/UTC"), "date": day,
                     # a slow day now and then sets the chart's scale, as in a real month
                     "p50": 180 + ago % 7, "p95": 650 if ago % 13 == 5 else 240 + ago % 11,
                     "regions": {r: {"p50": 170 + k + ago % 5, "p95": 230 + k + ago % 13,
                                     "n": 1440} for k, r in enumerate(REGIONS)}}
            days.append((comp.id, {
                "date": day, "uptime": 100.0,
                "operational_seconds": 86400, "degraded_seconds": 0, "partial_seconds": 0,
                "major_seconds": 0, "maintenance_seconds": 0, "nodata_seconds": 0,
                "response_time": point}))
    store.put_history_days(days, now)


def table_bytes(name: str) -> tuple[int, int]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from .aws_meter import item_size
    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][HOME].get_table(name)
    items = list(table.all_items())
    return sum(item_size(i.to_json()["Attributes"]) for i in items), len(items)


def snapshot_bytes() -> int:
    import boto3

    from .aws_meter import item_size
    item = boto3.client("dynamodb", region_name=HOME).get_item(
        TableName=TABLES["STATE_TABLE"], Key={"pk": {"S": "snapshot"}})["Item"]
    return item_size(item)
