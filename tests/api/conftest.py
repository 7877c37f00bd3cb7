import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import wiring
from chalicelib.config import load_status_text
from tests.targets import Target

STATUS_FILE = """
page: {id: acme, name: Acme Status, url: "https://status.acme.example"}
checks:
  regions: [us-west-2, eu-west-1, ap-southeast-2]
  quorum: 2
  failure_threshold: 2
  success_threshold: 2
  allow_private_targets: true
  interval: 60s
components:
  - id: api
    name: API
    group: Core
    monitors:
      - url: ${TARGET}/health
        timeout: 1s
        conditions: ["[STATUS] == 200", "[BODY].status == ok"]
  - id: web
    name: Website
    monitors:
      - url: ${OTHER}/
        timeout: 1s
"""


class Clock:
    def __init__(self, t=1_780_000_000.0):
        self.t = t

    def __call__(self):
        return self.t

    def tick(self, seconds=60.0):
        self.t += seconds


@pytest.fixture
def targets():
    a, b = Target(), Target()
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def stack(targets):
    """The real app on moto DynamoDB, with a controllable clock and two live targets."""
    api_target, web_target = targets
    with mock_aws():
        c = wiring.container
        c.reset()
        c.env = {"AWS_DEFAULT_REGION": "us-east-1", "SNAPSHOT_CACHE_SECONDS": "5",
                 "CHECK_REGIONS": "us-west-2,eu-west-1,ap-southeast-2"}
        clock = Clock()
        cfg = load_status_text(STATUS_FILE, "test.yaml",
                               {"TARGET": api_target.url, "OTHER": web_target.url})
        c.override(config=cfg, clock=clock)
        c.store.create_tables()
        from app import app
        with Client(app) as client:
            yield c, client, clock, api_target, web_target
        c.reset()
        c.env = None
