"""The local edge's generated nginx config (local/edge_config.py): CloudFront's settings, as text."""
import os

import pytest
import yaml

from tests.conftest import ROOT

from local.edge_config import CONNECT_TIMEOUT, DEFAULT_TTL, READ_TIMEOUT, EdgeSettings, render


def settings(**kw):
    base = dict(port=8000, origin="127.0.0.1:9001", static="127.0.0.1:9002", bucket="b",
                origin_secret="s3cr3t", workdir="/tmp/edge")
    return EdgeSettings(**{**base, **kw})


class _CfnLoader(yaml.SafeLoader):
    """CloudFormation's short tags (!Ref, !Sub...) read as plain values: only numbers matter here."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_the_numbers_are_cloudfronts():
    with open(os.path.join(ROOT, "infra", "resources.yaml")) as fh:
        doc = yaml.load(fh, Loader=_CfnLoader)
    res = doc["Resources"]
    policy = res["PublicCachePolicy"]["Properties"]["CachePolicyConfig"]
    api = next(o for o in res["Distribution"]["Properties"]["DistributionConfig"]["Origins"]
               if o["Id"] == "api")
    assert policy["DefaultTTL"] == DEFAULT_TTL
    assert api["ConnectionTimeout"] == CONNECT_TIMEOUT
    assert api["CustomOriginConfig"]["OriginReadTimeout"] == READ_TIMEOUT


def test_the_secret_and_the_viewer_address_are_set_by_the_edge():
    conf = render(settings())
    assert conf.count('proxy_set_header X-Outpost-Origin "s3cr3t";') == 3   # /, openapi, /api/v1/
    assert 'proxy_set_header CloudFront-Viewer-Address "$remote_addr:$remote_port";' in conf
    assert "proxy_cache_lock on;" in conf and "proxy_cache_background_update on;" in conf
    assert "proxy_cache_use_stale" not in conf        # the origin's stale-* windows decide


def test_brotli_and_user_only_when_asked():
    assert "brotli" not in render(settings()) and "user " not in render(settings())
    conf = render(settings(brotli_module="/m/brotli.so", user="root"))
    assert conf.startswith("load_module /m/brotli.so;\nuser root;")


@pytest.mark.parametrize("secret", ['a"b', "a\\b", "a$b"])
def test_a_secret_that_would_break_the_config_is_refused(secret):
    with pytest.raises(ValueError, match="origin_secret"):
        render(settings(origin_secret=secret))
