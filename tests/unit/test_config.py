"""The status file loader: exact results for good files, file:line: key: message for bad ones."""
from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

from chalicelib.core.config import ConfigError, load_status_file, load_status_text
from chalicelib.core.model import CheckPolicy, Component, Monitor, Page, Place, StatusConfig

ROOT = Path(__file__).resolve().parents[2]
MARK = "#<"        # in the error cases below, marks the line the error must point at


def yaml_text(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


FULL = yaml_text("""
    page:
      id: acme
      name: Acme Status
      url: https://status.acme.example
      time_zone: Europe/London
      hosted_on: {provider: aws, region: us-west-2}
      service_hosted_on:
        provider: mediatemple
        region: el-segundo
    checks:
      regions: [us-west-2, eu-west-1, ap-southeast-2]
      quorum: 3
      failure_threshold: 3
      success_threshold: 1
      allow_private_targets: true
      interval: 2m
    components:
      - id: api
        name: API
        group: Core
        description: Public REST API
        monitors:
          - url: ${API_URL}/health
            timeout: 1500ms
            conditions: ["[STATUS] == 200", "[BODY].status == ok", "[CERTIFICATE_EXPIRATION] > 168h"]
            degraded_when: ["[RESPONSE_TIME] > 800"]
          - id: api-head
            url: https://api.acme.example/
            method: HEAD
      - id: web
        name: Website
""")


def test_full_file_becomes_exact_dataclasses():
    config = load_status_text(FULL, source="full.yaml", environ={"API_URL": "https://api.acme.example"})
    assert config == StatusConfig(
        page=Page(id="acme", name="Acme Status", url="https://status.acme.example",
                  time_zone="Europe/London",
                  hosted_on=Place(provider="aws", region="us-west-2"),
                  service_hosted_on=Place(provider="mediatemple", region="el-segundo")),
        checks=CheckPolicy(regions=("us-west-2", "eu-west-1", "ap-southeast-2"), quorum=3,
                           failure_threshold=3, success_threshold=1, allow_private_targets=True,
                           interval=120.0),
        components=(
            Component(id="api", name="API", group="Core", description="Public REST API", position=0,
                      monitors=(
                          Monitor(id="api.0", url="https://api.acme.example/health", timeout=1.5,
                                  conditions=("[STATUS] == 200", "[BODY].status == ok",
                                              "[CERTIFICATE_EXPIRATION] > 168h"),
                                  degraded_when=("[RESPONSE_TIME] > 800",), method="GET"),
                          Monitor(id="api-head", url="https://api.acme.example/", method="HEAD"),
                      )),
            Component(id="web", name="Website", position=1),
        ),
        source="full.yaml",
    )
    assert isinstance(config.checks.regions, tuple)
    assert isinstance(config.components[0].monitors[0].conditions, tuple)


def test_defaults_are_filled_in():
    config = load_status_text(yaml_text("""
        page: {id: tiny, name: Tiny, url: "http://status.tiny.example"}
        checks:
          regions: [a, b, c, d]
        components:
          - id: home
            name: Home
            group:
            monitors:
              - url: https://tiny.example/
    """))
    assert config.page == Page(id="tiny", name="Tiny", url="http://status.tiny.example",
                               time_zone="Etc/UTC", hosted_on=None, service_hosted_on=None)
    assert config.checks == CheckPolicy(regions=("a", "b", "c", "d"), quorum=3, failure_threshold=2,
                                        success_threshold=2, allow_private_targets=False,
                                        interval=60.0)
    assert config.components == (Component(id="home", name="Home", group=None, description=None, monitors=(
        Monitor(id="home.0", url="https://tiny.example/", timeout=5.0, conditions=("[STATUS] == 200",),
                degraded_when=(), method="GET"),), position=0),)
    assert config.source == "<string>"


@pytest.mark.parametrize("regions, quorum", [(["x"], 1), (["x", "y"], 2), (["x", "y", "z"], 2)])
def test_default_quorum_is_a_majority(regions, quorum):
    config = load_status_text(f"page: {{id: p, name: P, url: 'https://p.example'}}\n"
                              f"checks: {{regions: {regions}}}\ncomponents: []\n")
    assert config.checks.quorum == quorum


def test_checks_may_be_left_out_when_nothing_is_monitored():
    config = load_status_text("page: {id: p, name: P, url: 'https://p.example'}\n"
                              "components:\n  - {id: manual, name: Manual}\n")
    assert config.checks == CheckPolicy(regions=("local",), quorum=1)
    assert config.components == (Component(id="manual", name="Manual"),)


def test_environment_substitution_with_defaults_and_escapes():
    text = yaml_text("""
        page:
          id: p
          name: "${NAME:-Fallback} costs $${HOME}"
          url: http://127.0.0.1:${PORT:-8000}
        components: []
    """)
    assert load_status_text(text, environ={}).page.url == "http://127.0.0.1:8000"
    assert load_status_text(text, environ={"PORT": ""}).page.url == "http://127.0.0.1:8000"
    page = load_status_text(text, environ={"PORT": "9001", "NAME": "Named"}).page
    assert (page.url, page.name) == ("http://127.0.0.1:9001", "Named costs ${HOME}")


def test_environment_defaults_to_os_environ_read_at_call_time(monkeypatch):
    text = "page: {id: p, name: P, url: 'http://${OUTPOST_TEST_HOST}'}\ncomponents: []\n"
    monkeypatch.setenv("OUTPOST_TEST_HOST", "first.example")
    assert load_status_text(text).page.url == "http://first.example"
    monkeypatch.setenv("OUTPOST_TEST_HOST", "second.example")
    assert load_status_text(text).page.url == "http://second.example"


# Each case: the file, the key path the error must name, and words the message must contain.
# The line the error must point at is the one marked with MARK.
ERROR_CASES = {
    "unknown top-level key": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        components: []
        extras: 1  #<
    """, "extras", ["unknown key 'extras'", "page, checks, components"]),
    "unknown key in page": ("""
        page:
          id: p
          name: P
          url: https://p.example
          colour: red  #<
        components: []
    """, "page.colour", ["unknown key 'colour'", "time_zone"]),
    "unknown key in a monitor": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks: {regions: [a]}
        components:
          - id: api
            name: API
            monitors:
              - url: https://api.example/
                retries: 3  #<
    """, "components[0].monitors[0].retries", ["unknown key 'retries'", "degraded_when"]),
    "bad duration": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks: {regions: [a]}
        components:
          - id: api
            name: API
            monitors:
              - url: https://api.example/
                timeout: 5x  #<
    """, "components[0].monitors[0].timeout", ["bad duration '5x'"]),
    "duration without a unit": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks:
          regions: [a]
          interval: 30  #<
        components: []
    """, "checks.interval", ["expected a duration", "an integer"]),
    "timeout over 60s": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks: {regions: [a]}
        components:
          - id: api
            name: API
            monitors:
              - {url: 'https://api.example/', timeout: 2m}  #<
    """, "components[0].monitors[0].timeout", ["at most 60s"]),
    "interval under 1s": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks:
          regions: [a]
          interval: 500ms  #<
        components: []
    """, "checks.interval", ["'500ms' is too short: must be at least 1s"]),
    "bad condition in a flow list": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks: {regions: [a]}
        components:
          - id: api
            name: API
            monitors:
              - url: https://api.example/
                conditions: ["[STATUS] == 200", "[BODY].ok == true", "[STATUS] ==="]  #<
    """, "components[0].monitors[0].conditions[2]", ["bad condition '[STATUS] ==='"]),
    "bad condition in a block list": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks: {regions: [a]}
        components:
          - id: api
            name: API
          - id: web
            name: Web
            monitors:
              - url: https://web.example/
                degraded_when:
                  - "[RESPONSE_TIME] > 800"
                  - "[NOT_A_THING] > 1"  #<
    """, "components[1].monitors[0].degraded_when[1]", ["bad condition", "NOT_A_THING"]),
    "missing required page key": ("""
        page:
          id: p  #<
          url: https://p.example
        components: []
    """, "page.name", ["required key is missing"]),
    "missing monitor url": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks: {regions: [a]}
        components:
          - id: api
            name: API
            monitors:
              - timeout: 5s  #<
    """, "components[0].monitors[0].url", ["required key is missing"]),
    "missing components": ("""
        page: {id: p, name: P, url: 'https://p.example'}  #<
    """, "components", ["required key is missing"]),
    "wrong type: string for an integer": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks:
          regions: [a, b]
          quorum: two  #<
        components: []
    """, "checks.quorum", ["expected an integer", "'two'"]),
    "wrong type: mapping for a list": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        components:
          api: {name: API}  #<
    """, "components", ["expected a list, got a mapping"]),
    "wrong type: number for a string": ("""
        page:
          id: p
          name: 2024  #<
          url: https://p.example
        components: []
    """, "page.name", ["expected a string", "integer"]),
    "wrong type: string for a boolean": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks:
          regions: [a]
          allow_private_targets: "true"  #<
        components: []
    """, "checks.allow_private_targets", ["expected true or false"]),
    "duplicate component id": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        components:
          - id: api
            name: API
          - id: api  #<
            name: API again
    """, "components[1].id", ["duplicate component id 'api'", "line 3"]),
    "duplicate monitor id": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks: {regions: [a]}
        components:
          - id: api
            name: API
            monitors:
              - url: https://api.example/
          - id: web
            name: Web
            monitors:
              - id: api.0  #<
                url: https://web.example/
    """, "components[1].monitors[0].id", ["duplicate monitor id 'api.0'", "line 7"]),
    "duplicate key": ("""
        page:
          id: p
          name: P
          url: https://p.example
          name: Q  #<
        components: []
    """, "page.name", ["duplicate key", "line 3"]),
    "duplicate region": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks:
          regions:
            - a
            - b
            - a  #<
        components: []
    """, "checks.regions[2]", ["duplicate value 'a'", "line 4"]),
    "empty regions": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks:
          regions: []  #<
        components: []
    """, "checks.regions", ["must not be empty"]),
    "regions missing while components have monitors": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks:
          quorum: 1  #<
        components:
          - id: api
            name: API
            monitors: [{url: 'https://api.example/'}]
    """, "checks.regions", ["required when any component has monitors"]),
    "quorum larger than regions": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks:
          regions: [us-west-2, eu-west-1]
          quorum: 3  #<
        components: []
    """, "checks.quorum", ["quorum 3", "2 region"]),
    "quorum zero": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks:
          regions: [a]
          quorum: 0  #<
        components: []
    """, "checks.quorum", ["at least 1"]),
    "bad URL scheme": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks: {regions: [a]}
        components:
          - id: files
            name: Files
            monitors:
              - url: ftp://files.example/  #<
    """, "components[0].monitors[0].url", ["'ftp'", "http, https"]),
    "URL without a host": ("""
        page:
          id: p
          name: P
          url: "https:///nohost"  #<
        components: []
    """, "page.url", ["bad URL"]),
    "bad time zone": ("""
        page:
          id: p
          name: P
          url: https://p.example
          time_zone: Mars/Olympus_Mons  #<
        components: []
    """, "page.time_zone", ["unknown time zone 'Mars/Olympus_Mons'"]),
    "bad page id": ("""
        page:
          id: Acme Inc  #<
          name: P
          url: https://p.example
        components: []
    """, "page.id", ["'Acme Inc'", "lowercase"]),
    "bad method": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks: {regions: [a]}
        components:
          - id: api
            name: API
            monitors:
              - url: https://api.example/
                method: DELETE  #<
    """, "components[0].monitors[0].method", ["'DELETE'", "GET, HEAD, POST"]),
    "place missing region": ("""
        page:
          id: p
          name: P
          url: https://p.example
          hosted_on: {provider: aws}  #<
        components: []
    """, "page.hosted_on.region", ["required key is missing"]),
    "YAML syntax error": ("""
        page:
          id: p
          name: [unclosed
          url: https://p.example  #<
        components: []
    """, "<syntax>", ["invalid YAML", "flow sequence (started on line 3)"]),
    "YAML tab indentation": ("""
        page:
        \tid: p  #<
    """, "<syntax>", ["invalid YAML"]),
    "control character": ("""
        page:
          id: p
          name: "bell \x07"  #<
    """, "<syntax>", ["#x0007 is not allowed"]),
    "YAML merge key": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks: {regions: [a]}
        components:
          - id: api
            name: API
            monitors:
              - &first {url: 'https://api.example/', timeout: 2s}
              - <<: *first  #<
                url: https://api.example/other
    """, "components[0].monitors[1]", ["merge keys (<<) are not supported"]),
    "no conditions": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks: {regions: [a]}
        components:
          - id: api
            name: API
            monitors:
              - url: https://api.example/
                conditions: []  #<
    """, "components[0].monitors[0].conditions", ["must not be empty"]),
    "unset environment variable": ("""
        page: {id: p, name: P, url: 'https://p.example'}
        checks: {regions: [a]}
        components:
          - id: api
            name: API
            monitors:
              - url: ${NOPE_NOT_SET}/health  #<
    """, "components[0].monitors[0].url", ["NOPE_NOT_SET is not set"]),
    "malformed variable reference": ("""
        page:
          id: p
          name: ${not a name}  #<
          url: https://p.example
        components: []
    """, "page.name", ["bad variable reference"]),
    "top level is not a mapping": ("""
        - page  #<
    """, "<document>", ["expected a mapping, got a list"]),
    "empty file": ("""
        # nothing here  #<
    """, "<document>", ["empty"]),
}


@pytest.mark.parametrize("text, key, words", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_error_names_file_line_and_key(text, key, words):
    text = yaml_text(text)
    marked = [n for n, line in enumerate(text.splitlines(), 1) if MARK in line]
    assert len(marked) == 1, "each case marks exactly one line"
    with pytest.raises(ConfigError) as caught:
        load_status_text(text, source="bad.yaml", environ={})
    error = caught.value
    assert (error.file, error.line, error.key) == ("bad.yaml", marked[0], key), str(error)
    assert str(error).startswith(f"bad.yaml:{marked[0]}: {key}: ")
    for word in words:
        assert word in error.message
    assert isinstance(error, ValueError)


def test_all_problems_are_reported_one_per_line_in_file_order():
    text = yaml_text("""
        page:
          id: p
          name: P
          url: gopher://p.example
          colour: red
        checks:
          regions: [a]
          quorum: 2
        components:
          - id: api
            name: API
            monitors:
              - url: https://api.example/
                timeout: soon
                conditions: ["[STATUS] =="]
    """)
    with pytest.raises(ConfigError) as caught:
        load_status_text(text, source="many.yaml")
    error = caught.value
    assert [(p.line, p.key) for p in error.errors] == [
        (4, "page.url"),
        (5, "page.colour"),
        (8, "checks.quorum"),
        (14, "components[0].monitors[0].timeout"),
        (15, "components[0].monitors[0].conditions[0]"),
    ]
    assert str(error).splitlines() == [str(p) for p in error.errors]
    assert (error.line, error.key) == (4, "page.url")     # the attributes describe the first


def test_config_error_survives_pickling():
    error = ConfigError("f.yaml", 3, "page.id", "bad")
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.line, again.errors) == ("f.yaml:3: page.id: bad", 3, error.errors)


def test_load_status_file_reports_the_path(tmp_path):
    path = tmp_path / "status.yaml"
    path.write_text("page: {id: p, name: P, url: 'https://p.example'}\ncomponents: []\n")
    assert load_status_file(str(path)).source == str(path)
    path.write_text("page: {id: p, name: P, url: 'https://p.example'}\ncomponents: 7\n")
    with pytest.raises(ConfigError, match=rf"^{path}:2: components: expected a list"):
        load_status_file(str(path))
    with pytest.raises(ConfigError, match="cannot read"):
        load_status_file(str(tmp_path / "missing.yaml"))


def test_shipped_example_status_file_loads():
    config = load_status_file(str(ROOT / "chalicelib" / "status.yaml"), environ={})
    assert config.page == Page(id="acme", name="Acme Status", url="https://status.acme.example",
                               hosted_on=Place("aws", "us-west-2"),
                               service_hosted_on=Place("mediatemple", "el-segundo"))
    assert config.checks == CheckPolicy(regions=("us-west-2", "eu-west-1", "ap-southeast-2"), quorum=2)
    assert [m.id for _, m in config.monitors()] == ["api.0"]


def test_shipped_demo_status_file_loads_with_demo_url():
    path = str(ROOT / "local" / "demo-status.yaml")
    config = load_status_file(path, environ={"DEMO_URL": "http://127.0.0.1:5123", "PORT": "8080"})
    assert config.page.id == "demo" and config.page.url == "http://127.0.0.1:8080"
    assert config.page.service_hosted_on == Place("example-hosting", "local")
    assert config.checks == CheckPolicy(regions=("us-west-2", "eu-west-1", "ap-southeast-2"), quorum=2,
                                        allow_private_targets=True, interval=10.0)
    assert [(c.id, c.name, c.group) for c in config.components] == [
        ("web", "Website", "Core"), ("api", "API", "Core"), ("search", "Search", None)]
    assert [m.url for _, m in config.monitors()] == [
        "http://127.0.0.1:5123/", "http://127.0.0.1:5123/health", "http://127.0.0.1:5123/search"]
    assert config.components[1].monitors[0].degraded_when == ("[RESPONSE_TIME] > 800",)

    with pytest.raises(ConfigError, match="DEMO_URL is not set"):
        load_status_file(path, environ={})


@pytest.mark.parametrize("name, what", [("Acme\\ud800", "a lone surrogate (U+D800)"),
                                        ("Ac\\x07me", "a control character (U+0007)"),
                                        ("Acme\\u0085", "a control character (U+0085)")])
def test_text_no_page_can_render_is_refused_by_name(name, what):
    """A lone surrogate (YAML lets "\\ud800" through) made every render of the calendar a 503."""
    text = 'page: {id: x, name: "%s", url: "https://x.example"}\ncomponents: []\n' % name
    with pytest.raises(ConfigError) as err:
        load_status_text(text)
    assert err.value.key == "page.name" and what in str(err.value)
