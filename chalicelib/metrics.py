"""CloudWatch metrics as log lines (embedded metric format): no API call, no client, no IAM
beyond writing logs, and nothing at all outside Lambda (the local stack stays quiet).

`ResultsWritten` is the dead man's switch of infra/resources.yaml (ResultsSilentAlarm): the
number of results items a checker invocation wrote (one per region per round). An invocation
that wrote nothing says 0; one that crashed or never ran says nothing, which the alarm treats
as breaching too.
"""
from __future__ import annotations

import json
from typing import Mapping

NAMESPACE = "Outpost"


def results_line(function_name: str, results_written: int, rounds: int, checks: int,
                 failing: int, now: float) -> str:
    """Pure: one EMF document. Only ResultsWritten is a metric (one metric, $0.30 a month);
    the other numbers are plain fields for Logs Insights."""
    return json.dumps({
        "_aws": {"Timestamp": int(now * 1000), "CloudWatchMetrics": [{
            "Namespace": NAMESPACE, "Dimensions": [["FunctionName"]],
            "Metrics": [{"Name": "ResultsWritten", "Unit": "Count"}]}]},
        "FunctionName": function_name, "ResultsWritten": results_written,
        "rounds": rounds, "checks": checks, "failing": failing,
    }, separators=(",", ":"))


def emit_results(env: Mapping[str, str], reports: list, now: float) -> None:
    """Print the line when running in Lambda (its runtime sets AWS_LAMBDA_FUNCTION_NAME)."""
    name = env.get("AWS_LAMBDA_FUNCTION_NAME")
    if not name:
        return
    print(results_line(name, sum(len(r.regions) for r in reports), len(reports),
                       sum(r.checks for r in reports), sum(r.failing_checks for r in reports),
                       now), flush=True)
