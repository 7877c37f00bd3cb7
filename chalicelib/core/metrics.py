"""The checker's one log line per invocation: what it did, for Logs Insights and for a human
reading the log. Nothing here is a CloudWatch metric (a custom metric costs $0.30 a month per
stage): the dead man's switch of infra/resources.yaml (ChecksAlarm) counts the results writes
themselves, with DynamoDB's built-in per-table metric, and the checker's failures with Lambda's.

The line is printed only in Lambda (its runtime sets AWS_LAMBDA_FUNCTION_NAME), so the local
stack stays quiet. The one exception to "no metric" is SnapshotWriteFailed (below), printed
only when the page could not be updated, so a healthy page never pays for it.
"""
from __future__ import annotations

import json
from typing import Mapping


def results_line(results_written: int, rounds: int, checks: int, failing: int,
                 now: float) -> str:
    """Pure: one short JSON document (about 90 bytes)."""
    return json.dumps({"rounds": rounds, "results_written": results_written, "checks": checks,
                       "failing": failing, "at": int(now)}, separators=(",", ":"))


def emit_results(env: Mapping[str, str], reports: list, now: float) -> None:
    """Print the line when running in Lambda."""
    if not env.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    print(results_line(sum(len(r.regions) for r in reports), len(reports),
                       sum(r.checks for r in reports), sum(r.failing_checks for r in reports),
                       now), flush=True)


def snapshot_failure_line(function_name: str, error: BaseException, now: float) -> str:
    """Pure: one embedded-metric-format document counting a snapshot that could not be
    written (Outpost/SnapshotWriteFailed). The one custom metric here, and it costs nothing on
    a healthy page: CloudWatch bills a custom metric only for the hours it receives data, and
    this line is printed only when a write fails. No dimensions, so the checker and the API (an
    operator's write republishes too) count into one metric; the operators are told directly
    (publish.snapshot_not_written), so no alarm has to watch it."""
    return json.dumps({
        "_aws": {"Timestamp": int(now * 1000), "CloudWatchMetrics": [{
            "Namespace": "Outpost", "Dimensions": [[]],
            "Metrics": [{"Name": "SnapshotWriteFailed", "Unit": "Count"}]}]},
        "FunctionName": function_name, "SnapshotWriteFailed": 1,
        "error": type(error).__name__, "detail": str(error)[:300],
    }, separators=(",", ":"))


def emit_snapshot_failure(env: Mapping[str, str], error: BaseException, now: float) -> None:
    """Print the line when running in Lambda; elsewhere the log line and the alert suffice."""
    name = env.get("AWS_LAMBDA_FUNCTION_NAME")
    if not name:
        return
    print(snapshot_failure_line(name, error, now), flush=True)
