"""The monthly bill of the reference workload, from measured counts x list prices. Pure.

`bench/cost.py` measures the counts (a scaled, real run on moto: DynamoDB request units, S3
requests, Lambda durations and memory, log bytes, bytes per page view); this module holds the
prices, in ONE dated table, and the arithmetic, and renders the README's cost section. The
test of the README section (tests/unit/test_cost_model.py) runs this same arithmetic on the
counts the last `make bench` recorded in bench/cost_counts.json.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# AWS list prices, pay-as-you-go, us-east-1 (us-west-2 is the same for every line here), no
# free tier. Checked against the services' pricing pages (shared/research/cost.md) on the date
# below. GB means 2^30 bytes, as AWS bills it.
PRICES = {
    "as_of": "2026-11-26",
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": {"x86_64": 0.0000166667, "arm64": 0.0000133334},
    "dynamodb_write_unit": 0.625 / 1e6,          # on demand, 1 KB each
    "dynamodb_read_unit": 0.125 / 1e6,           # 4 KB strongly consistent, 8 KB eventually
    "dynamodb_storage_gb_month": 0.25,
    "dynamodb_pitr_gb_month": 0.20,
    "api_gateway_rest_request": 3.50 / 1e6,
    "cloudfront_https_request": 0.0100 / 10_000,  # US, Canada, Europe
    "cloudfront_transfer_gb": 0.085,              # to the internet, first 10 TB, US and Europe
    "origin_shield_request": 0.0075 / 10_000,     # shield in a US region
    "s3_put_request": 0.005 / 1000,               # PUT, COPY, POST, LIST
    "s3_get_request": 0.0004 / 1000,
    "s3_storage_gb_month": 0.023,
    "cloudwatch_alarm_metric": 0.10,              # standard resolution, per metric an alarm reads
    "cloudwatch_custom_metric": 0.30,
    "cloudwatch_logs_ingested_gb": 0.50,
    "cloudwatch_logs_stored_gb_month": 0.03,
    "sqs_request": 0.40 / 1e6,
}

# The reference workload (DESIGN.md, "Performance and cost targets") and what the model assumes
# beyond what the run measures.
WORKLOAD = {
    "monitors": 100,                 # 50 components x 2 monitors
    "components": 50,
    "regions": 3,                    # the home stage + 2 checker stages
    "minutes_per_month": 60 * 24 * 30,
    "views_per_month": 1_000_000,    # each view is one request for "/"
    # Assumptions (not measured here):
    "target_ms": 200,                # every monitored HTTPS endpoint answers in 200 ms
    "aws_call_s": 0.01,              # a DynamoDB or S3 call in the same region
    "cross_region_rtt_s": 0.14,      # a checker stage's DynamoDB call to the home region
    "regional_edge_caches": 4,       # PriceClass_100's that serve the audience
    "cloudfront_header_bytes": 300,  # Via, X-Cache, X-Amz-Cf-Pop/Id, Age, Date, Server
    "lambda_mb_per_vcpu": 1769,      # Lambda's CPU share grows with memory: 1 vCPU at 1,769 MB
    "sqs_polls_per_minute": 15,      # an idle SQS event source: 5 pollers x 20 s long polls
    "kick_receive_s": 1.0,           # a kicked delivery worker's last receive waits 1 s (empty)
    # A checker invoked every minute stays warm, so its imports are not paid per round; Lambda
    # still replaces execution environments now and then (it publishes no rate): one new
    # environment per region every 2 hours, each paying the measured import once.
    "checker_cold_starts_per_hour": 0.5,
}
TARGET_USD = 1.50                    # each of the two contract lines (DESIGN.md)
GB = 2 ** 30
MEMORY_HEADROOM = 0.8                # peak RSS at most 80% of the configured memory
MAX_CPU_STRETCH_S = 1.0              # a round may take at most this much longer for lack of CPU


@dataclass(frozen=True)
class Line:
    kind: str          # "fixed" or "views"
    service: str
    quantity: str      # the arithmetic, in words and numbers
    usd: float


def cpu_share(memory_mb: int) -> float:
    return min(1.0, memory_mb / WORKLOAD["lambda_mb_per_vcpu"])


def duration_s(cpu_s: float, wait_s: float, memory_mb: int) -> float:
    """A handler's duration at `memory_mb`: its waits, plus its CPU time stretched by the CPU
    share Lambda gives that memory (measured on this machine's full core)."""
    return wait_s + cpu_s / cpu_share(memory_mb)


def billed_s(seconds: float) -> float:
    """Lambda bills each invocation in whole milliseconds, rounded up."""
    return math.ceil(seconds * 1000 - 1e-9) / 1000


def fits(rss_mb: float, cpu_s: float, mb: int) -> bool:
    """Enough memory for the checker: its peak RSS with room to spare, and enough CPU that a
    round is at most MAX_CPU_STRETCH_S longer than on a full core, so its wall time stays set
    by its slowest check and no check times out for want of CPU."""
    return rss_mb <= MEMORY_HEADROOM * mb and cpu_s / cpu_share(mb) - cpu_s <= MAX_CPU_STRETCH_S


def choose_memory(rss_mb: float, cpu_s: float) -> int:
    """The checker's memory: the smallest size (64 MB steps) that fits. Above it more memory
    only costs: the waiting part of a round bills per MB."""
    return next((mb for mb in range(128, 3009, 64) if fits(rss_mb, cpu_s, mb)), 3008)


def sequential_calls(spans: list, checks_span, latency: float) -> int:
    """AWS round trips on a round's critical path, from the measured (start, end) of each call
    and of the checks: a call still in flight when the checks began that would be back before
    they end (at a deployed call's `latency`) costs nothing; of the others, calls in flight together
    cost one round trip, so the count is the longest chain of calls that did not overlap."""
    if checks_span is not None:
        start, end = checks_span
        spans = [s for s in spans if not (s[1] >= start and s[0] + latency <= end)]
    chain, free_at = 0, float("-inf")
    for a, b in sorted(spans, key=lambda s: s[1]):
        if a >= free_at:
            chain, free_at = chain + 1, b
    return chain


def call_latency(kind: str) -> float:
    """A home round's calls stay in its region; a checker stage's cross to the home region."""
    return WORKLOAD["cross_region_rtt_s"] if kind == "remote" else WORKLOAD["aws_call_s"]


def round_s(m: dict, kind: str, mem: int, wait_s: float) -> float:
    """One round's billed seconds: its waits on the checks, its CPU stretched by the CPU share,
    its AWS round trips (those on the critical path, when measured) at a deployed latency."""
    trips = m.get("aws_round_trips", m["aws_calls"])
    return billed_s(duration_s(m["cpu_s"], wait_s, mem) + trips * call_latency(kind))


def publish_rate(counts: dict) -> float:
    """The share of home rounds that rewrite the snapshot (and render the static copy): as the
    scaled run measured, and never less than the hourly fold (history.FOLD_EVERY)."""
    lam = counts["checker_lambda"]["home"]
    measured = counts.get("snapshot_writes_per_round", 0.0) * WORKLOAD["regions"]
    return min(1.0, max(measured, 60.0 / lam.get("fold_every_s", 3600.0)))


def checker_compute(counts: dict, mem: int) -> tuple[dict, float]:
    """Billed seconds per round (home, remote) and GB-seconds a month at `mem` MB: the waits on
    the checks as measured, CPU stretched by the CPU share, each AWS round trip at a deployed
    call's latency (a checker stage's cross the region). A home round is a quiet one (it beats
    the heartbeat) or, at publish_rate, one that rewrites the snapshot: billed in proportion."""
    w, lam = WORKLOAD, counts["checker_lambda"]
    secs = {}
    for kind in ("home", "remote"):
        m = lam[kind]
        secs[kind] = round_s(m, kind, mem, m["probe_wait_s"])
    if "publish" in lam["home"]:
        rate = publish_rate(counts)
        secs["home"] = ((1 - rate) * secs["home"]
                        + rate * round_s(lam["home"]["publish"], "home", mem,
                                         lam["home"]["probe_wait_s"]))
    minutes = w["minutes_per_month"]
    gbs = (minutes * secs["home"] + minutes * (w["regions"] - 1) * secs["remote"]) * mem / 1024
    return secs, gbs


def renewals_per_month(requests_per_month: float, ttl_s: float, caches: int = 1) -> float:
    """Fetches a cache layer makes for one object: after each fetch it serves the copy for
    `ttl_s`, then fetches again on the next request (a renewal process with Poisson arrivals
    spread over `caches` independent caches). Never more than one per TTL per cache."""
    seconds = WORKLOAD["minutes_per_month"] * 60
    if requests_per_month <= 0:
        return 0.0
    rate = requests_per_month / seconds / caches
    return min(requests_per_month, caches * seconds / (ttl_s + 1 / rate))


def model(counts: dict) -> tuple[list[Line], dict]:
    """Every line of the monthly bill and the two totals, from measured `counts`."""
    p, w = PRICES, WORKLOAD
    cfg = counts["config"]
    arch = cfg["architecture"]
    gb_s = p["lambda_gb_second"][arch]
    minutes = w["minutes_per_month"]
    rounds = {"home": minutes, "remote": minutes * (w["regions"] - 1)}
    region_rounds = sum(rounds.values())
    lines: list[Line] = []

    def add(kind, service, quantity, usd):
        lines.append(Line(kind, service, quantity, usd))

    # -- the checker: Lambda ------------------------------------------------------------------
    mem = cfg["run_checks_mb"]
    lam = counts["checker_lambda"]
    add("fixed", "Lambda requests, checker",
        f"{region_rounds:,} invocations (3 regions x 1/min) x $0.20/M",
        region_rounds * p["lambda_request"])
    secs, gbs = checker_compute(counts, mem)
    add("fixed", "Lambda compute, checker",
        f"{rounds['home']:,} x {secs['home']:.2f} s (home) + {rounds['remote']:,} x "
        f"{secs['remote']:.2f} s (checker stages: "
        f"{lam['remote'].get('aws_round_trips', lam['remote']['aws_calls']):.0f} of "
        f"{lam['remote']['aws_calls']:.0f} calls in sequence, {w['cross_region_rtt_s'] * 1000:.0f}"
        f" ms away) at {mem} MB {arch} = {gbs:,.0f} GB-s",
        gbs * gb_s)
    if "import_s" in lam["home"]:
        colds = w["checker_cold_starts_per_hour"] * minutes / 60
        # the imports' CPU time when measured (wall time on a busy machine is mostly waiting)
        cold_s = {k: billed_s(duration_s(lam[k].get("import_cpu_s", lam[k]["import_s"]), 0.0,
                                         mem)) for k in rounds}
        cold_gbs = colds * (cold_s["home"] + (w["regions"] - 1) * cold_s["remote"]) * mem / 1024
        add("fixed", "Lambda compute, checker cold starts",
            f"{colds:,.0f} per region ({w['checker_cold_starts_per_hour']:g}/hour, assumed) x "
            f"{cold_s['home']:.2f} s of imports (measured, home) = {cold_gbs:,.0f} GB-s",
            cold_gbs * gb_s)

    # -- the checker: DynamoDB and S3 per region-round ---------------------------------------
    chk = counts["checker"]
    wru = sum(rounds[k] * chk[k]["write_units"] for k in rounds)
    rru = sum(rounds[k] * chk[k]["read_units"] for k in rounds)
    add("fixed", "DynamoDB writes, rounds",
        f"{chk['home']['write_units']:.1f} WRU (home) / {chk['remote']['write_units']:.1f} WRU "
        f"(other regions) per round = {wru / 1e6:.2f} M WRU", wru * p["dynamodb_write_unit"])
    add("fixed", "DynamoDB reads, rounds",
        f"{chk['home']['read_units']:.1f} RRU (home) / {chk['remote']['read_units']:.1f} RRU "
        f"per round = {rru / 1e6:.2f} M RRU", rru * p["dynamodb_read_unit"])
    puts = sum(rounds[k] * chk[k]["s3_put_requests"] for k in rounds)
    add("fixed", "S3 requests, static copy",
        f"{chk['home']['s3_put_requests']:.1f} PUT/LIST per home round "
        f"({chk['home']['s3_put_bytes'] / 1024:.0f} KB) = {puts / 1e6:.2f} M",
        puts * p["s3_put_request"])

    # -- the stream consumer ------------------------------------------------------------------
    st = counts["stream"]
    inv = region_rounds * st["invocations"]
    st_s = billed_s(duration_s(st["cpu_s"], st["aws_calls"] * w["aws_call_s"],
                               cfg["on_state_change_mb"]))
    st_gbs = inv * st_s * cfg["on_state_change_mb"] / 1024
    add("fixed", "Lambda, stream consumer",
        f"{st['records']:.1f} records in {st['invocations']:.1f} batches per round: "
        f"{inv:,.0f} x {st_s * 1000:.0f} ms at {cfg['on_state_change_mb']} MB = {st_gbs:,.0f} GB-s",
        inv * p["lambda_request"] + st_gbs * gb_s)
    st_units = region_rounds * (st["read_units"] * p["dynamodb_read_unit"]
                                + st["write_units"] * p["dynamodb_write_unit"])
    add("fixed", "DynamoDB, stream consumer",
        f"{st['read_units']:.1f} RRU + {st['write_units']:.1f} WRU per round", st_units)

    # -- storage ------------------------------------------------------------------------------
    sto = counts["storage"]
    ddb_gb = sto["dynamodb_bytes"] / GB
    add("fixed", "DynamoDB storage + PITR",
        f"{sto['dynamodb_bytes'] / 1e6:.1f} MB (a week of results, state, 90 days of history)",
        ddb_gb * (p["dynamodb_storage_gb_month"] + p["dynamodb_pitr_gb_month"]))
    add("fixed", "S3 storage, static copy", f"{sto['s3_bytes'] / 1e6:.1f} MB",
        sto["s3_bytes"] / GB * p["s3_storage_gb_month"])

    # -- CloudWatch ---------------------------------------------------------------------------
    cw = counts["cloudwatch"]
    add("fixed", "CloudWatch alarms",
        f"{cw['alarm_metrics']} metrics read by alarms ({cw['alarms']} alarms) x $0.10",
        cw["alarm_metrics"] * p["cloudwatch_alarm_metric"])
    add("fixed", "CloudWatch custom metrics", f"{cw['custom_metrics']} x $0.30",
        cw["custom_metrics"] * p["cloudwatch_custom_metric"])
    log_bytes = sum(rounds[k] * chk[k]["log_bytes"] for k in rounds) + \
        region_rounds * st["log_bytes"]
    retention = cfg["log_retention_days"]
    add("fixed", "CloudWatch Logs, checker + consumer",
        f"{chk['home']['log_bytes']:.0f} B per round (checker) + {st['log_bytes']:.0f} B "
        f"(consumer) = {log_bytes / 1e6:.0f} MB ingested, kept {retention} days",
        log_bytes / GB * (p["cloudwatch_logs_ingested_gb"]
                          + p["cloudwatch_logs_stored_gb_month"] * retention / 30))
    # -- the delivery queue: no event source (its idle long polls were $0.26 a month); the home
    # checker asks once a minute whether anything is due, and each kick of the worker costs at
    # least one receive (an empty queue: exactly one) and a short invocation ---------------
    polls = counts["sqs_event_sources"] * w["sqs_polls_per_minute"] * minutes
    asks = {k: sum(v for op, v in chk[k]["calls"].items() if op.startswith("sqs:"))
            for k in rounds}
    kicks = sum(rounds[k] * chk[k]["calls"].get("lambda:Invoke", 0) for k in rounds) + \
        region_rounds * st.get("kicks", 0)
    sqs = polls + sum(rounds[k] * asks[k] for k in rounds) + \
        region_rounds * st.get("sqs_requests", 0) + kicks
    add("fixed", "SQS",
        f"{counts['sqs_event_sources']} event source(s); {asks['home']:.1f} request(s) per home "
        f"round (anything due?) + {kicks:,.0f} kicks x 1 receive = {sqs / 1e6:.3f} M requests",
        sqs * p["sqs_request"])
    worker_mb = cfg.get("deliver_mb", 256)
    worker_gbs = kicks * w["kick_receive_s"] * worker_mb / 1024
    add("fixed", "Lambda, delivery worker's idle kicks",
        f"{kicks:,.0f} x {w['kick_receive_s']:g} s (its last, empty, long poll) at {worker_mb} MB",
        kicks * p["lambda_request"] + worker_gbs * gb_s)

    # -- per million page views ---------------------------------------------------------------
    o = counts["origin"]
    views = w["views_per_month"]
    ttl = o["ttl_s"]
    fetches = renewals_per_month(views, ttl)
    shield = renewals_per_month(views, ttl, w["regional_edge_caches"])
    view_bytes = o["compressed_bytes"] + o["header_bytes"] + w["cloudfront_header_bytes"]
    add("views", "CloudFront requests", f"{views:,} HTTPS requests x $0.0100/10k",
        views * p["cloudfront_https_request"])
    add("views", "CloudFront data transfer",
        f"{views:,} x {view_bytes / 1024:.1f} KB ({o['body_bytes'] / 1024:.0f} KB page, "
        f"gzip {o['compressed_bytes'] / 1024:.1f} KB, + headers) = {views * view_bytes / GB:.1f} GB",
        views * view_bytes / GB * p["cloudfront_transfer_gb"])
    add("views", "Origin Shield requests",
        f"{shield:,.0f} (regional caches' misses: {w['regional_edge_caches']} x one per "
        f"{ttl:g} s max-age)", shield * p["origin_shield_request"])
    add("views", "API Gateway, origin requests",
        f"{fetches:,.0f} (shield's misses: hit ratio {1 - fetches / views:.1%}) x $3.50/M",
        fetches * p["api_gateway_rest_request"])
    api_mb = cfg["api_handler_mb"]
    # A render whenever the page's bytes change: measured at the origin (the snapshot's
    # writes, and the heartbeat's newest check time once per home round), never below what
    # the snapshot writes alone would cause.
    versions = min(fetches, max(region_rounds * counts["snapshot_writes_per_round"],
                                w["minutes_per_month"] * o.get("renders_per_minute", 0.0)))
    render_s = o["render_cpu_s"] / cpu_share(api_mb)
    handler_s = billed_s(duration_s(o["handler_cpu_s"], o["dynamodb_calls"] * w["aws_call_s"],
                                    api_mb))
    api_gbs = (fetches * handler_s + versions * render_s) * api_mb / 1024
    add("views", "Lambda, API at the origin",
        f"{fetches:,.0f} x {handler_s * 1000:.0f} ms + {versions:,.0f} renders of new "
        f"page data x {render_s:.2f} s, at {api_mb} MB = {api_gbs:,.0f} GB-s",
        fetches * p["lambda_request"] + api_gbs * gb_s)
    add("views", "DynamoDB reads, origin", f"{o['read_units']:.1f} RRU per origin request",
        fetches * o["read_units"] * p["dynamodb_read_unit"])
    add("views", "CloudWatch Logs, API", f"{o['log_bytes']:.0f} B per origin request",
        fetches * o["log_bytes"] / GB * (p["cloudwatch_logs_ingested_gb"]
                                         + p["cloudwatch_logs_stored_gb_month"] * retention / 30))

    fixed = sum(x.usd for x in lines if x.kind == "fixed")
    per_view = sum(x.usd for x in lines if x.kind == "views") * 1e6 / views
    return lines, {"fixed": fixed, "views": per_view, "origin_fetches": fetches,
                   "checker_seconds": secs}


def contract_lines(totals: dict) -> list[str]:
    """The two lines `make bench` ends with (DESIGN.md, "Contract: commands")."""
    return [f"cost fixed: ${totals['fixed']:.2f}/month",
            f"cost per 1M views: ${totals['views']:.2f}"]


README_BEGIN = "<!-- cost table: generated by `make bench` (bench/cost.py); do not edit -->"
README_END = "<!-- end of cost table -->"


def render_markdown(counts: dict) -> str:
    """The README's cost section body: the bill, line by line, and the two totals."""
    lines, totals = model(counts)
    w = WORKLOAD
    out = [README_BEGIN, "",
           f"Measured by `make bench` on {counts['measured_on']} ({counts['machine']}): "
           f"{w['monitors']} monitors ({w['components']} components) checked every minute "
           f"from {w['regions']} regions, {w['views_per_month']:,} page views a month; AWS list "
           f"prices of {PRICES['as_of']} (us-east-1, pay-as-you-go, no free tier).", "",
           "| | item | arithmetic (per month) | USD/month |", "|---|---|---|---:|"]
    for kind, title in (("fixed", "fixed"), ("views", "per 1M views")):
        for line in (x for x in lines if x.kind == kind):
            out.append(f"| {title} | {line.service} | {line.quantity} | {line.usd:.2f} |")
        total = totals["fixed"] if kind == "fixed" else totals["views"]
        out.append(f"| **{title}** | **total** | | **{total:.2f}** |")
    out += ["", "```", *contract_lines(totals), "```", "", README_END]
    return "\n".join(out)


def readme_section(readme: str) -> str:
    """The generated section as it stands in README.md (markers included)."""
    start = readme.index(README_BEGIN)
    return readme[start:readme.index(README_END, start) + len(README_END)]


def replace_readme_section(readme: str, section: str) -> str:
    return readme.replace(readme_section(readme), section)
