"""Every test runs with fake AWS credentials and no real endpoint: nothing can reach AWS."""
import functools
import os
import sys

import botocore.loaders
import botocore.session

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


# PynamoDB opens a botocore session per table and each session parses the DynamoDB service model
# (a large JSON file) again: about 0.6 CPU-s of every API test's setup. One loader per test
# process parses each model once; the models are read-only data, so sharing them changes nothing.
@functools.lru_cache(maxsize=None)
def _shared_loader(data_path):
    return botocore.loaders.create_loader(data_path)


def _register_shared_data_loader(session):
    session._components.lazy_register_component(
        "data_loader", lambda: _shared_loader(session.get_config_variable("data_path")))


botocore.session.Session._register_data_loader = _register_shared_data_loader
