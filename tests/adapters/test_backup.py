"""Backups on moto: a stack populated by the real services exports, restores into fresh tables
and compares equal; corrupt or altered exports are refused; the page learns of the last proof."""
import gzip
import json

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from chalicelib import wiring
from chalicelib.core.config import load_status_text
from chalicelib.tools import backup
from chalicelib.usecases.manage import (Actor, create_incident, mint_key, set_component,
                                        update_incident)
from chalicelib.usecases.rounds import run_round
from tests.statusfiles import ACME, check_policy, component, http_monitor, status_yaml
from tests.targets import Target

STATUS = status_yaml([component("api", "API", http_monitor("${TARGET}/health")),
                      component("web", "Website", http_monitor("${TARGET}/"))],
                     page={**ACME, "time_zone": "Europe/Berlin"},
                     checks=check_policy(allow_private_targets=True))
ENV = {"AWS_DEFAULT_REGION": "us-east-1", "CHECK_REGIONS": "us-west-2,eu-west-1,ap-southeast-2",
       "RESULTS_TABLE": "b-results", "STATE_TABLE": "b-state", "KEYS_TABLE": "b-keys",
       "AUDIT_TABLE": "b-audit", "HISTORY_TABLE": "b-history", "SUBSCRIBERS_TABLE": "b-subs"}


def op(n):
    """Each operator action its own request (the audit log keys entries by time and request)."""
    return Actor("key_test", f"req-{n}")


class Clock:
    def __init__(self, t=1_780_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


def tables():
    return sorted(boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"])


@pytest.fixture(scope="module")
def stack():
    """Three days of rounds (an outage included), incidents, a pin, keys, a subscriber."""
    target = Target()
    with mock_aws():
        c = wiring.container
        c.reset()
        c.env = dict(ENV)
        clock = Clock()
        c.override(clock=clock, config=load_status_text(STATUS, "test.yaml",
                                                        {"TARGET": target.url}))
        c.store.create_tables()
        for hour in range(0, 72, 6):                  # crosses two midnights: history days
            clock.t = 1_780_000_000.0 + hour * 3600
            target.behaviour = "fail" if 24 <= hour < 36 else "ok"
            run_round(c)
        inc, _, _ = create_incident(c, {"incident": {"name": "Checkout errors", "body": "Looking",
                                                     "components": {"api": "partial_outage"}}},
                                    op(1))
        update_incident(c, inc["id"], {"incident": {"status": "resolved", "body": "Fixed"}},
                        op(2))
        create_incident(c, {"incident": {"name": "Ünïcode <b>&</b> 🚀", "body": "x" * 2000}},
                        op(3), idempotency_key="k1")
        create_incident(c, {"incident": {"name": "DB upgrade",
                                         "scheduled_for": "2026-06-01T02:00:00Z",
                                         "scheduled_until": "2026-06-01T04:00:00Z"}}, op(4))
        set_component(c, "web", "degraded_performance", op(5))
        mint_key(c, "ci", ["incidents:write"])
        revoked = mint_key(c, "old", ["keys:admin"], expires_at=clock() + 86400)
        c.store.revoke_key(revoked.split("_")[1], clock())
        if hasattr(c.store, "put_subscriber"):
            c.store.put_subscriber({"id": "sub1", "kind": "email", "address_hash": "h1",
                                    "state": "active", "address": "ops@acme.example"})
        yield c, clock
        c.reset()
        c.env = None
    target.close()


@pytest.fixture(scope="module")
def exported(stack, tmp_path_factory):
    c, clock = stack
    lines = []
    doc = backup.export(c.store, clock(), backup.Progress(lines.append, every=0))
    path = str(tmp_path_factory.mktemp("backup") / "export.json.gz")
    size = backup.write_export(doc, path)
    return doc, path, size, lines


def test_export_has_every_section_counted_and_checksummed(stack, exported):
    c, _ = stack
    doc, path, size, lines = exported
    assert doc["format"] == "outpost-backup" and doc["format_version"] == 1
    sections = doc["sections"]
    counts = {name: s["count"] for name, s in sections.items()}
    assert counts["incidents"] == 4                   # 3 incident items + the feed
    assert counts["components"] == counts["overrides"] == counts["snapshot"] == 1
    assert counts["keys"] == 2 and counts["audit"] >= 4
    assert counts["history"] >= 4                     # 2 closed days x 2 components
    if hasattr(c.store, "put_subscriber"):
        assert counts["subscribers"] == 1
    keys = sections["keys"]["items"]
    assert all(set(k) >= {"key_id", "secret_sha256"} and len(k["secret_sha256"]) == 64
               for k in keys)
    assert not any(i["pk"].startswith(("region#", "idem#", "rate#", "secret#"))
                   for i in sections["incidents"]["items"] + sections["snapshot"]["items"])
    assert backup.check_export(doc) == []
    assert backup.read_export(path) == json.loads(json.dumps(doc))
    assert size < 200_000
    assert any("export: state table" in line and "done" in line for line in lines)


def test_verify_restores_into_fresh_tables_and_finds_everything_equal(stack, exported):
    c, _ = stack
    doc, path, _, _ = exported
    before = tables()
    lines = []
    report = backup.verify(c.store, backup.read_export(path), backup.Progress(lines.append))
    assert {n: cnt for n, (cnt, _) in report.sections.items()} == \
        {n: s["count"] for n, s in doc["sections"].items()}
    assert {n: h for n, (_, h) in report.sections.items()} == \
        {n: s["sha256"] for n, s in doc["sections"].items()}
    assert all(name.startswith("b-") and "-verify-" in name
               for name in report.scratch_tables.values())
    assert tables() == before                         # scratch tables are gone again
    assert any("incident feed: 3 incidents, each loadable" in ch for ch in report.checks)
    assert any("operator keys: 2 (1 active)" in ch for ch in report.checks)
    assert any(line.startswith("restore: creating scratch tables") for line in lines)


def test_a_restore_that_differs_is_caught(stack, exported, monkeypatch):
    """If the restore lost an item, the section says so (and the scratch tables still go)."""
    c, _ = stack
    doc, _, _, _ = exported
    before = tables()
    real = c.store.scratch_copy

    def lossy(suffix):
        scratch = real(suffix)
        put = scratch.put_plain
        scratch.put_plain = lambda table, items: put(table, list(items)[:-1] if table == "keys"
                                                     else items)
        return scratch

    monkeypatch.setattr(c.store, "scratch_copy", lossy)
    with pytest.raises(backup.BackupError, match=r"section keys: restored 1 items"):
        backup.verify(c.store, json.loads(json.dumps(doc)))
    assert tables() == before


@pytest.mark.parametrize("damage, message", [
    (lambda d: d["sections"]["incidents"]["items"][0].update(pk="incident#forged"),
     "section incidents: checksum mismatch"),
    (lambda d: d["sections"]["keys"]["items"].pop(), "section keys: count says 2"),
    (lambda d: d.update(created_at="2001-01-01T00:00:00+00:00"), "whole-file checksum mismatch"),
    (lambda d: d.update(format_version=99), "format_version 99"),
])
def test_a_corrupt_export_is_refused_before_any_table_is_made(stack, exported, damage, message):
    c, _ = stack
    doc = json.loads(json.dumps(exported[0]))
    damage(doc)
    before = tables()
    with pytest.raises(backup.BackupError, match=message):
        backup.verify(c.store, doc)
    assert tables() == before


def test_cli_export_verify_round_trip_and_the_page_shows_it(stack, tmp_path, monkeypatch):
    from chalicelib.tools.cli import main
    c, clock = stack
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    path = str(tmp_path / "b.json")
    runner = CliRunner()
    out = runner.invoke(main, ["backup", "export", "--out", path])
    assert out.exit_code == 0, out.output
    assert f"wrote {path}" in out.stdout and "incidents" in out.stdout
    assert "export: state table" in out.stderr
    out = runner.invoke(main, ["backup", "verify", path])
    assert out.exit_code == 0, out.output
    assert "every section equal" in out.stdout and "ok  incident feed" in out.stdout
    assert "recorded as the last verified backup" in out.stdout
    snap, _ = c.store.load_snapshot()
    shown = snap["outpost"]["last_verified_backup"]
    assert shown.startswith("2026-05-31T") and shown.endswith("+02:00")      # Europe/Berlin
    clock.t += 60
    run_round(c)                                      # a round carries it without a read
    assert c.store.load_snapshot()[0]["outpost"]["last_verified_backup"] == shown
    assert c.store.load_backup_verified()["export_sha256"] == json.load(open(path))["sha256"]

    with open(path) as fh:
        raw = fh.read()
    with open(path, "w") as fh:
        fh.write(raw.replace('"Checkout errors"', '"Checkout errorz"'))
    out = runner.invoke(main, ["backup", "verify", path])
    assert out.exit_code == 1
    assert "the export is corrupt: section incidents: checksum mismatch" in out.stderr
    with open(path, "w") as fh:
        fh.write(raw[: len(raw) // 2])
    out = runner.invoke(main, ["backup", "verify", path])
    assert out.exit_code == 1 and "not valid JSON" in out.stderr


def test_gzip_and_plain_exports_read_the_same(tmp_path):
    doc = backup.seal({"format": "outpost-backup", "format_version": 1, "sections": {
        "overrides": backup.build_section(backup.SECTIONS[2], [{"pk": "overrides", "doc": {}}])}})
    backup.write_export(doc, str(tmp_path / "a.json"))
    backup.write_export(doc, str(tmp_path / "a.json.gz"))
    assert gzip.decompress((tmp_path / "a.json.gz").read_bytes()) == \
        (tmp_path / "a.json").read_bytes()
    assert backup.read_export(str(tmp_path / "a.json.gz")) == doc
