"""Every test runs with fake AWS credentials and no real endpoint: nothing can reach AWS."""
import os
import sys

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    # botocore 1.44 routes stream calls to account-id endpoints moto does not match
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
})
for leaked in ("AWS_ENDPOINT_URL", "DYNAMODB_HOST", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(leaked, None)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
