"""The checker's one log line per invocation: what it did, for Logs Insights and for a human
reading the log. Nothing here is a CloudWatch metric (a custom metric costs $0.30 a month per
stage): the dead man's switch of infra/resources.yaml (ChecksAlarm) counts the results writes
themselves, with DynamoDB's built-in per-table metric, and the checker's failures with Lambda's.

The line is printed only in Lambda (its runtime sets AWS_LAMBDA_FUNCTION_NAME), so the local
stack stays quiet.
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
