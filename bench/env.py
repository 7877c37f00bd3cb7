"""Fake AWS credentials and region, set before anything builds a botocore client."""
from __future__ import annotations

import os
import sys

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    # botocore 1.44 routes some calls to account-id endpoints moto does not match
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "RESULTS_TABLE": "bench-results", "STATE_TABLE": "bench-state", "KEYS_TABLE": "bench-keys",
    # warm requests must stay inside the snapshot cache for the whole measurement
    "SNAPSHOT_CACHE_SECONDS": "60",
}
LEAKY = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "DYNAMODB_HOST", "AWS_PROFILE",
         "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def setup() -> None:
    os.environ.update(FAKE_AWS)
    for name in LEAKY:
        os.environ.pop(name, None)
    # never pick up a real profile or credentials file
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
