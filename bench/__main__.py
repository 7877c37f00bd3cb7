"""`python -m bench`: print the benchmark tables and a one-line verdict; always exits 0."""
from __future__ import annotations

import sys
import time

from . import env

env.setup()                 # before anything creates a botocore client


def main() -> int:
    from moto import mock_aws

    from . import (check_round, detection, mixed_round, public_pages, public_read, quiet_round,
                   snapshot_budget)
    from .dynamo import DynamoCalls
    from .table import Row, render

    started = time.perf_counter()
    calls = DynamoCalls()
    calls.install()
    try:
        with mock_aws():
            read_rows, read_facts = public_read.run(calls)
            page_rows, _ = public_pages.run(calls)
        t_read = time.perf_counter() - started
        with mock_aws():
            budget_rows, _ = snapshot_budget.run(calls)
        with mock_aws():
            quiet_rows, _ = quiet_round.run()
        round_rows, stress_rows, round_facts = check_round.run()
    finally:
        calls.uninstall()
    mixed_rows, _ = mixed_round.run()
    with mock_aws():
        detect_rows, _ = detection.run()
    from . import notify_latency
    notify_rows, _ = notify_latency.run()
    from . import edge_stampede
    stampede_rows, _ = edge_stampede.run()
    from . import conditions
    condition_rows, _ = conditions.run()
    from . import reports
    calls.install()
    try:
        with mock_aws():
            report_rows, _ = reports.run(calls)
    finally:
        calls.uninstall()
    # Last: its moto server and endpoint must not meet the others' mock_aws().
    from . import cost
    cost_rows, cost_facts = cost.run()
    total = time.perf_counter() - started

    print(render(f"(a) Public read: summary.json, {public_read.BIG} components, moto DynamoDB",
                 read_rows))
    print()
    print(render(f"(a') Public pages: / and summary.json, {public_pages.BIG} components, "
                 f"{public_pages.INCIDENTS_BIG} incidents, moto DynamoDB", page_rows))
    print()
    print(render(f"(b) Check round: {check_round.FAST} targets at {check_round.DELAY_MS} ms + "
                 f"{check_round.HANGING} hanging, timeout {check_round.TIMEOUT:g} s, "
                 f"{round_facts['max_workers']} workers", round_rows))
    print()
    print(render("(b') Extra, not a DESIGN target: every target healthy but slow", stress_rows))
    print()
    print(render(f"(c) Check round, every kind mixed: {sum(mixed_round.MIX.values())} targets "
                 f"(HTTP, HTTPS, TCP, TLS, DNS) at {check_round.DELAY_MS} ms + "
                 f"{sum(mixed_round.HANG.values())} hanging, timeout {check_round.TIMEOUT:g} s",
                 mixed_rows))
    print()
    print(render("(d) Detection latency in simulated time: 3 regions, quorum 2, thresholds 2, "
                 "5 s public cache", detect_rows))
    print()

    print(render("(e) Incident POST to SNS publish and to a signed webhook, real local stack "
                 "(subprocess, moto server)", notify_rows))
    print()
    print(render(conditions.TITLE, condition_rows))
    print()
    print(render(f"(j) Public read stampede: {edge_stampede.WAVES[0]} and "
                 f"{edge_stampede.WAVES[1]:,} concurrent visitors through the local edge "
                 "(nginx as CloudFront), real local stack", stampede_rows))
    print()

    print(render("(g) Monthly cost of the reference workload (100 monitors x 3 regions, "
                 "1 M views), from measured counts x list prices", cost_rows))
    print()
    print(render(f"(h) User reports: a stranger's POST, the sweep and a public read, "
                 f"{reports.COMPONENTS} components, moto DynamoDB", report_rows))
    print()

    print(render(f"(i) Snapshot budget: {snapshot_budget.INCIDENTS} incidents of "
                 f"{snapshot_budget.BODY_CHARS} characters, {snapshot_budget.COMPONENTS} "
                 f"components with {snapshot_budget.HISTORY_DAYS} days of history, moto DynamoDB",
                 budget_rows))
    print()

    print(render(quiet_round.TITLE, quiet_rows))
    print()

    scored = [r for r in read_rows + page_rows + round_rows + mixed_rows + detect_rows
              + notify_rows + condition_rows + report_rows + cost_rows + budget_rows
              + quiet_rows + stampede_rows
              if r.ok is not None]
    failed = [r.metric.strip() for r in scored if not r.ok]
    slow = round_facts["slow"]
    extra = (f"; extra: {slow['fast_timed_out']}/{slow['fast']} healthy 1 s targets reported "
             f"as timed out" if slow["fast_timed_out"] else "")
    print(f"(a) {t_read:.1f} s, (b) {total - t_read:.1f} s, total {total:.1f} s")
    if failed:
        print(f"VERDICT: FAIL, {len(failed)}/{len(scored)} targets missed: "
              f"{'; '.join(failed)}{extra}")
    else:
        print(f"VERDICT: PASS, all {len(scored)} targets met{extra}")
    # DESIGN.md, "Contract: commands": the bench ends with exactly these two lines.
    for line in cost.cost_model.contract_lines(cost_facts["totals"]):
        print(line)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
