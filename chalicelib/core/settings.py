"""Deployment settings: table names, region, topics, queues and limits, read once from the
Lambda's environment (infra/*.yaml sets them; the local stack and tests set their own)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional

# The status file shipped in the bundle, beside this package.
_SHIPPED_STATUS_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "status.yaml")


@dataclass(frozen=True)
class Settings:
    results_table: str
    state_table: str
    keys_table: str
    audit_table: str
    aws_region: str
    dynamodb_host: Optional[str]
    status_file: str
    check_regions: tuple[str, ...]
    snapshot_cache_seconds: float
    static_bucket: Optional[str] = None      # S3 bucket for the static copy; None: no copy
    history_table: str = "outpost-history"
    subscribers_table: str = "outpost-subscribers"
    updates_topic_arn: Optional[str] = None
    operator_topic_arn: Optional[str] = None
    checker_only: bool = False               # a checker stage in another region (no topics here)
    delivery_queue_url: Optional[str] = None  # the delivery worker's queue (webhooks)
    delivery_dlq_url: Optional[str] = None    # where deliveries that ran out of tries go
    delivery_worker: Optional[str] = None     # the worker's function name, to kick it
    webhook_deadline: float = 10.0            # seconds for a whole webhook request
    reports_table: str = "outpost-reports"
    # The value CloudFront sends to the API origin in X-Outpost-Origin (infra/resources.yaml):
    # only a request carrying it may name its viewer (http.client_addresses). None: no check.
    origin_secret: Optional[str] = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        regions = [r.strip() for r in env.get("CHECK_REGIONS", "").split(",") if r.strip()]
        return cls(
            results_table=env.get("RESULTS_TABLE", "outpost-results"),
            state_table=env.get("STATE_TABLE", "outpost-state"),
            keys_table=env.get("KEYS_TABLE", "outpost-keys"),
            audit_table=env.get("AUDIT_TABLE", "outpost-audit"),
            # A checker stage in another region writes to the home region's tables.
            aws_region=env.get("HOME_REGION") or region,
            dynamodb_host=env.get("DYNAMODB_HOST") or None,
            status_file=env.get("STATUS_FILE") or _SHIPPED_STATUS_FILE,
            # A deployed checker speaks for the region it runs in unless told otherwise.
            check_regions=tuple(regions or [region]),
            snapshot_cache_seconds=float(env.get("SNAPSHOT_CACHE_SECONDS", "5")),
            static_bucket=env.get("STATIC_BUCKET") or None,
            history_table=env.get("HISTORY_TABLE", "outpost-history"),
            subscribers_table=env.get("SUBSCRIBERS_TABLE", "outpost-subscribers"),
            updates_topic_arn=env.get("UPDATES_TOPIC_ARN") or None,
            operator_topic_arn=env.get("OPERATOR_TOPIC_ARN") or None,
            checker_only=bool(env.get("HOME_REGION")) and env.get("HOME_REGION") != region,
            delivery_queue_url=env.get("DELIVERY_QUEUE_URL") or None,
            delivery_dlq_url=env.get("DELIVERY_DLQ_URL") or None,
            delivery_worker=env.get("DELIVERY_WORKER_FUNCTION") or None,
            webhook_deadline=float(env.get("WEBHOOK_DEADLINE_SECONDS") or 10.0),
            reports_table=env.get("REPORTS_TABLE", "outpost-reports"),
            origin_secret=env.get("ORIGIN_VERIFY_SECRET") or None,
        )
