"""The checker's one log line per invocation: short, plain JSON, no CloudWatch metric."""
import json
from types import SimpleNamespace

from chalicelib.core import metrics


def report(regions=("us-west-2",), checks=10, failing=1):
    return SimpleNamespace(regions=regions, checks=checks, failing_checks=failing)


def test_the_line_is_short_json_and_defines_no_custom_metric():
    text = metrics.results_line(3, 3, 30, 2, 1_780_000_000.5)
    line = json.loads(text)
    assert line == {"rounds": 3, "results_written": 3, "checks": 30, "failing": 2,
                    "at": 1_780_000_000}
    assert "_aws" not in line and "\n" not in text
    assert len(text) < 100            # ingested once a minute per region: bytes are money


def test_emitted_only_in_lambda_and_zero_when_no_round_finished(capsys):
    metrics.emit_results({}, [report()], 1.0)
    assert capsys.readouterr().out == ""
    env = {"AWS_LAMBDA_FUNCTION_NAME": "fn"}
    metrics.emit_results(env, [report(("a", "b")), report(("a", "b"))], 1.0)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and json.loads(out)["results_written"] == 4
    metrics.emit_results(env, [], 1.0)
    assert json.loads(capsys.readouterr().out)["results_written"] == 0


def test_a_snapshot_that_was_not_written_is_one_dimensionless_metric(capsys):
    error = ValueError("item 'snapshot' is 512000 bytes")
    line = json.loads(metrics.snapshot_failure_line("outpost-api", error, 2.0))
    (spec,) = line["_aws"]["CloudWatchMetrics"]
    # no dimensions: the checker and the API count into the one metric
    assert spec == {"Namespace": "Outpost", "Dimensions": [[]],
                    "Metrics": [{"Name": "SnapshotWriteFailed", "Unit": "Count"}]}
    assert (line["SnapshotWriteFailed"], line["error"], line["FunctionName"]) == \
        (1, "ValueError", "outpost-api") and "512000" in line["detail"]
    metrics.emit_snapshot_failure({}, error, 2.0)
    assert capsys.readouterr().out == ""
    metrics.emit_snapshot_failure({"AWS_LAMBDA_FUNCTION_NAME": "fn"}, error, 2.0)
    assert json.loads(capsys.readouterr().out)["SnapshotWriteFailed"] == 1
