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


# The long tests (whole local stacks, a browser, the schemathesis run, `make package`) start
# first, one per worker (`--dist load` hands tests out round-robin in this order), so the run
# ends with short tests filling the gaps instead of one worker finishing a long one alone.
_LONG_FIRST = ("tests/e2e/test_fuzz_operator_api.py", "tests/e2e/", "tests/infra/",
               "tests/api/test_snapshot_budget.py", "tests/api/test_delivery_review.py",
               "tests/api/test_channels.py")


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        path = item.nodeid
        return next((n for n, prefix in enumerate(_LONG_FIRST) if path.startswith(prefix)),
                    len(_LONG_FIRST))
    items.sort(key=rank)         # stable: the order within each group is kept
