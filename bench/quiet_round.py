"""(j) Write on change: what a quiet, healthy round writes, per item, on moto.

The reference page (50 components x 2 monitors) checked from three regions: the home region's
checker and one checker stage for the two others, on one simulated clock, fed synthetic healthy
results (probing is measured in (b)/(c)). Every DynamoDB write is sized as DynamoDB counts the
item (bench/writes.py); S3 writes are counted by key. The baseline is a round that changes the
page (a component starts failing), measured in the same run: what every round cost before."""
from __future__ import annotations

from dataclasses import replace
from statistics import mean

from .table import Row

COMPONENTS, MONITORS, QUIET_ROUNDS = 50, 2, 10
HOME, STAGE = ("us-east-1",), ("eu-west-1", "ap-southeast-2")
BUCKET = "outpost-bench-quiet"
TARGET_BYTES = 2048


def reference_config():
    from chalicelib.core.model import Monitor

    from .public_read import make_config
    cfg = make_config(COMPONENTS)
    comps = tuple(replace(c, monitors=tuple(
        Monitor(id=f"{c.id}.{k}", url=f"https://{c.id}-{k}.bench.example/health")
        for k in range(MONITORS))) for c in cfg.components)
    return replace(cfg, components=comps)


def run() -> tuple[list[Row], dict]:
    """Call inside mock_aws()."""
    import boto3

    from chalicelib import wiring
    from chalicelib.usecases.rounds import record_round
    from tests.api.conftest import Clock

    from .bigpage import results
    from .writes import recording

    cfg, clock = reference_config(), Clock(1_780_000_000.0)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)

    def container(regions, checker_only):
        c = wiring.Container()
        c.env = {"AWS_DEFAULT_REGION": "us-east-1", "CHECK_REGIONS": ",".join(regions),
                 "STATIC_BUCKET": BUCKET}
        c.override(config=cfg, clock=clock)
        c.override(settings=replace(c.settings, checker_only=checker_only))
        return c

    home, stage = container(HOME, False), container(STAGE, True)
    home.store.create_tables()

    def minute(failing=frozenset()):
        """One minute: the home round, then the stage's; their writes."""
        clock.tick(60)
        out = {}
        for name, c, regions in (("home", home, HOME), ("stage", stage, STAGE)):
            with recording() as seen:
                record_round(c, regions, clock(), [r for r in results(cfg, clock(), failing)
                                                   if r.region in regions])
            out[name] = seen
        return out

    for _ in range(3):                       # first publish, then settle
        minute()
    quiet = [minute() for _ in range(QUIET_ROUNDS)]
    broken = frozenset({cfg.components[3].id})
    changed = [minute(broken) for _ in range(3)]
    change = max(changed, key=lambda m: sum(w.size for w in m["home"] if w.service == "dynamodb"))

    def dyn(m, who):
        return sum(w.size for w in m[who] if w.service == "dynamodb")

    def per_item(who):
        sizes: dict = {}
        for m in quiet:
            for w in m[who]:
                if w.service == "dynamodb":
                    kind = w.key.split("#")[0]
                    sizes[kind] = sizes.get(kind, 0) + w.size / QUIET_ROUNDS
        return sizes

    home_bytes = mean(dyn(m, "home") for m in quiet)
    stage_bytes = mean(dyn(m, "stage") for m in quiet)
    page_bytes = mean(sum(w.size for w in m["home"] if w.service == "dynamodb"
                          and w.key in ("heartbeat", "snapshot", "components")) for m in quiet)
    change_bytes = dyn(change, "home")
    s3_content = sum(1 for m in quiet for w in m["home"] + m["stage"]
                     if w.service == "s3" and w.key != "heartbeat.json")
    s3_beats = sum(1 for m in quiet for w in m["home"] if w.key == "heartbeat.json")
    snapshot_quiet = sum(1 for m in quiet for w in m["home"] + m["stage"] if w.key == "snapshot")
    items = per_item("home")
    stage_items = per_item("stage")

    def ratio(v):
        return f"{v / change_bytes:.3f}x" if change_bytes else "-"

    def fmt(sizes):
        return ", ".join(f"{k} {v / 1024:.1f}" for k, v in sorted(sizes.items())) + " KB"

    rows = [
        Row("quiet round, home: page items written (snapshot + heartbeat)",
            f"{page_bytes / 1024:.2f} KB", f"{change_bytes / 1024:.1f} KB", ratio(page_bytes),
            "<= 1 KB", page_bytes <= 1024),
        Row("quiet round, home: all DynamoDB written", f"{home_bytes / 1024:.1f} KB",
            f"{change_bytes / 1024:.1f} KB", ratio(home_bytes),
            f"<= {TARGET_BYTES / 1024:.0f} KB", home_bytes <= TARGET_BYTES),
        Row("  by item (home region's 1 of 3 regions)", fmt(items)),
        Row("quiet round, checker stage (2 regions): DynamoDB written",
            f"{stage_bytes / 1024:.1f} KB", target="no page items",
            ok=not any(k in stage_items for k in ("snapshot", "heartbeat", "components"))),
        Row("  by item", fmt(stage_items)),
        Row("quiet rounds: snapshot writes / S3 content objects written",
            f"{snapshot_quiet} / {s3_content}", target="0 / 0",
            ok=snapshot_quiet == 0 and s3_content == 0),
        Row("quiet rounds: heartbeat.json puts per round", f"{s3_beats / QUIET_ROUNDS:.2f}",
            target="<= 0.5 (every 1.5 rounds at most)", ok=s3_beats / QUIET_ROUNDS <= 0.5),
    ]
    return rows, {"home_bytes": home_bytes, "stage_bytes": stage_bytes,
                  "page_bytes": page_bytes, "change_bytes": change_bytes, "items": items}


def main() -> int:
    from . import env
    env.setup()
    from moto import mock_aws

    from .table import render
    with mock_aws():
        rows, _ = run()
    print(render(TITLE, rows))
    return 0


TITLE = (f"(j) Write on change: a quiet round, {COMPONENTS} components x {MONITORS} monitors, "
         f"home + 1 checker stage, moto")

if __name__ == "__main__":
    import sys
    sys.exit(main())
