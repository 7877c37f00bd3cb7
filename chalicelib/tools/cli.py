"""`outpost`: the operator CLI. Talks to the HTTP API; keys are minted against DynamoDB directly
(IAM-protected), which is how the first key comes to exist.

Exit codes: 0 ok, 1 the API refused (the message says why), 2 could not reach it or bad usage.
"""
from __future__ import annotations

import getpass
import json
import os
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Optional
from urllib.parse import urlencode

import click
import requests

from .. import wiring
from ..adapters.queues import DeadLetterQueue
from ..core import dead_letters
from ..core.audit import iam_actor
from ..core.conditions import ConditionError, parse_duration
from ..core.errors import QueueFailed
from ..usecases.manage import mint_key, revoke_key
from . import backup as b
from . import doctor
from .backup import Progress


def _local_file(name: str) -> str:
    """Files the local stack writes for the CLI (OUTPOST_LOCAL_DIR, default ./.local)."""
    return os.path.join(os.environ.get("OUTPOST_LOCAL_DIR") or ".local", name)


class Api:
    def __init__(self, url: str, key: Optional[str]):
        self.url = url.rstrip("/")
        self.key = key
        self.session = requests.Session()
        self._page_id = None

    def page_id(self) -> str:
        if self._page_id is None:
            self._page_id = self.request("GET", "/api/v2/status.json", auth=False)["page"]["id"]
        return self._page_id

    def request(self, method: str, path: str, body=None, auth: bool = True, headers=None,
                retries: int = 2):
        hdrs = {"Accept": "application/json", **(headers or {})}
        if auth:
            if not self.key:
                raise click.ClickException(
                    "no API key: pass --key, set OUTPOST_KEY, or run `make run` locally")
            hdrs["Authorization"] = f"Bearer {self.key}"
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        for attempt in range(retries + 1):
            try:
                resp = self.session.request(method, self.url + path, headers=hdrs, timeout=15,
                                            data=json.dumps(body) if body is not None else None)
                break
            except requests.ConnectionError as exc:
                # Safe to retry: POSTs carry an Idempotency-Key, PATCHes name their fields.
                if attempt == retries:
                    click.echo(f"error: cannot reach {self.url}: {exc.__class__.__name__}", err=True)
                    sys.exit(2)
        self.last_headers = resp.headers          # paged listings name the next page here
        if resp.status_code >= 400:
            try:
                err = resp.json()
                text = err.get("error") or err.get("message") or resp.text
                if err.get("field"):
                    text += f" (field: {err['field']})"
            except ValueError:
                text = resp.text[:200]
            raise click.ClickException(f"{resp.status_code}: {text}")
        return resp.json() if resp.content else None

    def manage(self, method: str, path: str, body=None, headers=None):
        return self.request(method, f"/api/v1/pages/{self.page_id()}{path}", body, headers=headers)

def _dead_letter_queue(obj) -> DeadLetterQueue:
    """The one dead-letter queue (and the delivery queue replays go to), from the settings."""
    s = obj["container"].settings
    return DeadLetterQueue(s.aws_region, s.delivery_dlq_url, s.delivery_queue_url)



def _default_key() -> Optional[str]:
    if os.path.exists(_local_file("operator.key")):
        with open(_local_file("operator.key")) as fh:
            return fh.read().strip() or None
    return None


@click.group()
@click.option("--url", envvar="OUTPOST_URL", default="http://127.0.0.1:8000", show_default=True,
              help="Outpost API base URL.")
@click.option("--key", envvar="OUTPOST_KEY", default=None,
              help="Operator API key (default: .local/operator.key when present).")
@click.option("--status-file", envvar="STATUS_FILE", default=None,
              help="Status file (for commands that read it).")
@click.pass_context
def main(ctx, url, key, status_file):
    """Operate an Outpost status page: incidents, maintenance, components, keys."""
    ctx.obj = {"api": Api(url, key or _default_key()), "status_file": status_file}


def _components(pairs: tuple[str, ...]) -> dict:
    out = {}
    for pair in pairs:
        cid, sep, status = pair.partition("=")
        if not sep or not cid or not status:
            raise click.BadParameter(f"{pair!r}: use COMPONENT=STATUS, e.g. api=major_outage",
                                     param_hint="--component")
        out[cid] = status
    return out


def _print_incident(inc: dict) -> None:
    click.echo(f"{inc['id']}  [{inc['status']}]  {inc['name']}  (impact {inc['impact']})")
    if inc.get("scheduled_for"):
        click.echo(f"  scheduled {inc['scheduled_for']} -> {inc['scheduled_until']}")
    for upd in inc.get("incident_updates") or []:
        click.echo(f"  {upd['created_at']}  {upd['status']:<13} {upd['body']}")
        for comp in upd.get("affected_components") or []:
            click.echo(f"      {comp['name']}: {comp['old_status']} -> {comp['new_status']}")


# -- incidents --------------------------------------------------------------------------------

@main.group()
def incident():
    """Open, update, resolve and list incidents."""


@incident.command("open")
@click.argument("name")
@click.option("--body", "-m", help="First public update.")
@click.option("--status", default="investigating", show_default=True,
              type=click.Choice(["investigating", "identified", "monitoring", "resolved"]))
@click.option("--component", "-c", multiple=True, help="COMPONENT=STATUS, repeatable.")
@click.option("--impact", type=click.Choice(["none", "minor", "major", "critical"]))
@click.option("--no-notify", is_flag=True, help="Don't notify subscribers of this update.")
@click.pass_obj
def incident_open(obj, name, body, status, component, impact, no_notify):
    fields = {"name": name, "status": status, "deliver_notifications": not no_notify}
    if body:
        fields["body"] = body
    if component:
        fields["components"] = _components(component)
    if impact:
        fields["impact_override"] = impact
    inc = obj["api"].manage("POST", "/incidents", {"incident": fields},
                            headers={"Idempotency-Key": uuid.uuid4().hex})
    _print_incident(inc)


def _patch(obj, incident_id, fields, if_match):
    headers = {"If-Match": f'"{if_match}"'} if if_match is not None else None
    return obj["api"].manage("PATCH", f"/incidents/{incident_id}", {"incident": fields},
                             headers=headers)


@incident.command("update")
@click.argument("incident_id")
@click.option("--body", "-m")
@click.option("--status", type=click.Choice(["investigating", "identified", "monitoring",
                                             "resolved", "postmortem", "scheduled", "in_progress",
                                             "verifying", "completed"]))
@click.option("--component", "-c", multiple=True, help="COMPONENT=STATUS, repeatable.")
@click.option("--if-match", type=int, help="Refuse if the incident changed since this version.")
@click.option("--no-notify", is_flag=True)
@click.pass_obj
def incident_update(obj, incident_id, body, status, component, if_match, no_notify):
    fields = {}
    if body:
        fields["body"] = body
    if status:
        fields["status"] = status
    if component:
        fields["components"] = _components(component)
    if not fields:
        raise click.UsageError("nothing to update: give --body, --status or --component")
    if no_notify:
        fields["deliver_notifications"] = False
    _print_incident(_patch(obj, incident_id, fields, if_match))


@incident.command("resolve")
@click.argument("incident_id")
@click.option("--body", "-m")
@click.pass_obj
def incident_resolve(obj, incident_id, body):
    fields = {"status": "resolved"}
    if body:
        fields["body"] = body
    _print_incident(_patch(obj, incident_id, fields, None))


@incident.command("list")
@click.option("--unresolved", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def incident_list(obj, unresolved, as_json):
    items = obj["api"].manage("GET", "/incidents/unresolved" if unresolved else "/incidents")
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("no incidents")
    for inc in items:
        click.echo(f"{inc['id']}  {inc['status']:<13} {inc['impact']:<11} {inc['name']}")


@incident.command("show")
@click.argument("incident_id")
@click.pass_obj
def incident_show(obj, incident_id):
    _print_incident(obj["api"].manage("GET", f"/incidents/{incident_id}"))


# -- maintenance ------------------------------------------------------------------------------

def _when(text: str) -> str:
    """ISO time, or a relative '+30m' / '+2h' from now, as UTC ISO-8601."""
    if text.startswith("+"):
        try:
            return (datetime.now(timezone.utc) + timedelta(seconds=parse_duration(text[1:]))
                    ).isoformat(timespec="seconds")
        except ConditionError as exc:
            raise click.BadParameter(str(exc)) from None
    return text


@main.group()
def maintenance():
    """Schedule and list maintenance windows."""


@maintenance.command("schedule")
@click.argument("name")
@click.option("--start", required=True, help="ISO time with offset, or +30m from now.")
@click.option("--end", required=True, help="ISO time with offset, or +2h from now.")
@click.option("--component", "-c", multiple=True, help="Component id, repeatable.")
@click.option("--body", "-m")
@click.pass_obj
def maintenance_schedule(obj, name, start, end, component, body):
    fields = {"name": name, "scheduled_for": _when(start), "scheduled_until": _when(end),
              "component_ids": list(component)}
    if body:
        fields["body"] = body
    _print_incident(obj["api"].manage("POST", "/incidents", {"incident": fields},
                                      headers={"Idempotency-Key": uuid.uuid4().hex}))


@maintenance.command("list")
@click.pass_obj
def maintenance_list(obj):
    items = obj["api"].manage("GET", "/incidents/scheduled")
    if not items:
        click.echo("no maintenance")
    for m in items:
        click.echo(f"{m['id']}  {m['status']:<11} {m['scheduled_for']} -> {m['scheduled_until']}  "
                   f"{m['name']}")


# -- components -------------------------------------------------------------------------------

@main.group()
def component():
    """Pin a component's status, or hand it back to the checker."""


@component.command("set")
@click.argument("component_id")
@click.argument("status", type=click.Choice(["operational", "degraded_performance",
                                             "partial_outage", "major_outage",
                                             "under_maintenance"]))
@click.pass_obj
def component_set(obj, component_id, status):
    row = obj["api"].manage("PATCH", f"/components/{component_id}",
                            {"component": {"status": status}})
    click.echo(f"{row['name']}: {row['status']} (pinned; automatic would be {row['automatic_status']})")


@component.command("clear")
@click.argument("component_id")
@click.pass_obj
def component_clear(obj, component_id):
    row = obj["api"].manage("PATCH", f"/components/{component_id}", {"component": {"status": None}})
    click.echo(f"{row['name']}: {row['status']} (automatic)")


# -- the page ---------------------------------------------------------------------------------

@main.command()
@click.pass_obj
def status(obj):
    """The public page as a table."""
    snap = obj["api"].request("GET", "/api/v2/summary.json", auth=False)
    click.echo(f"{snap['page']['name']}: {snap['status']['description']} "
               f"[{snap['status']['indicator']}]")
    extras = (snap.get("outpost") or {}).get("components", {})
    width = max([len(c["name"]) for c in snap["components"]] + [9])
    for comp in snap["components"]:
        indent = "  " if comp.get("group_id") else ""
        scope = (extras.get(comp["id"]) or {}).get("scope_text") or ""
        click.echo(f"{indent}{comp['name']:<{width}}  {comp['status']:<22} {scope}".rstrip())
    for inc in snap["incidents"]:
        click.echo(f"incident {inc['id']}  [{inc['status']}] {inc['name']}")
    for mx in snap["scheduled_maintenances"]:
        click.echo(f"maintenance {mx['id']}  [{mx['status']}] {mx['name']} "
                   f"{mx['scheduled_for']} -> {mx['scheduled_until']}")
    as_of = (snap.get("outpost") or {}).get("data_as_of")
    if as_of:
        click.echo(f"checks as of {as_of}")


# -- heartbeats -------------------------------------------------------------------------------

@main.group()
def heartbeat():
    """Heartbeat (push) monitors: mint or rotate a beat URL, see the last beats."""


@heartbeat.command("rotate")
@click.argument("monitor_id")
@click.pass_obj
def heartbeat_rotate(obj, monitor_id):
    """Mint a new secret beat URL for MONITOR_ID; the old one stops working at once.
    The URL is shown only this once (Outpost keeps a hash of it)."""
    api = obj["api"]
    out = api.manage("POST", f"/heartbeats/{monitor_id}/rotate")
    click.echo(f"{out['monitor_id']} ({out['component_id']}): new beat URL, shown once:")
    click.echo(f"  {api.url}{out['path']}")
    click.echo("Beat with GET or POST; add ?status=fail&msg=... to report a failure.")


@heartbeat.command("list")
@click.pass_obj
def heartbeat_list(obj):
    """Every heartbeat monitor, its last beat and the job's last message (private)."""
    for hb in obj["api"].manage("GET", "/heartbeats"):
        last = hb["last_beat_at"] or ("never" if hb["has_token"] else "no token yet: rotate it")
        line = f"{hb['monitor_id']:<24} {hb['state'] or '-':<5} last beat {last}"
        click.echo(line + (f"  ({hb['message']})" if hb["message"] else ""))


# -- keys (DynamoDB directly: IAM is the gate, so the first key can be made) ------------------

def _container(local: bool):
    if local and os.path.exists(_local_file("aws.env")):
        with open(_local_file("aws.env")) as fh:
            for line in fh:
                name, _, value = line.strip().partition("=")
                if name:
                    os.environ[name] = value
    return wiring.container


@main.group()
@click.option("--local", is_flag=True, help="Use the running local stack's DynamoDB.")
@click.pass_obj
def keys(obj, local):
    """Create, list and revoke operator API keys (needs AWS credentials for the tables)."""
    obj["container"] = _container(local)


@keys.command("create")
@click.option("--name", required=True)
@click.option("--scope", "scopes", multiple=True, required=True,
              help="incidents:write, components:write, maintenance:write, subscribers:read, "
                   "subscribers:write, keys:admin, heartbeats:write, audit:read; repeatable.")
@click.option("--expires", help="Lifetime, e.g. 90d or 12h.")
@click.pass_obj
def keys_create(obj, name, scopes, expires):
    c = obj["container"]
    expires_at = None
    if expires:
        try:
            expires_at = c.clock() + parse_duration(expires)
        except ConditionError as exc:
            raise click.BadParameter(str(exc), param_hint="--expires") from None
    try:
        key = mint_key(c, name, scopes, expires_at, actor=_iam_actor())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scope") from None
    click.echo(key)
    click.echo("Store it now: it is shown once and only its hash is kept.", err=True)


@keys.command("list")
@click.pass_obj
def keys_list(obj):
    for key in sorted(obj["container"].store.list_keys(), key=lambda k: k.created_at):
        state = "revoked" if key.revoked_at else "active"
        click.echo(f"{key.key_id}  {state:<8} {key.name:<20} {','.join(sorted(key.scopes))}")


@keys.command("revoke")
@click.argument("key_id")
@click.pass_obj
def keys_revoke(obj, key_id):
    c = obj["container"]
    if not revoke_key(c, key_id, actor=_iam_actor()):
        raise click.ClickException(f"no key {key_id}")
    click.echo(f"revoked {key_id} (takes effect within 30 s)")



def _iam_actor():
    """Keys are made with AWS credentials, not an API key: the audit names the local user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return iam_actor(user)


# -- audit log (GET /api/v1/pages/{page_id}/audit) ---------------------------------------------

@main.command("audit")
@click.option("--since", help="From this time (ISO-8601, or -24h / -7d for that long ago).")
@click.option("--until", help="Before this time (ISO-8601, or -1h); default now.")
@click.option("--actor", help="Key id (or iam:<user>); a trailing * matches a prefix.")
@click.option("--action", help="e.g. incident.update, component.pin, key.*")
@click.option("--target", help="e.g. incident/<id>, component/api, subscriber/*")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="Entries to show at most (fetched 100 a page).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def audit_command(obj, since, until, actor, action, target, limit, as_json):
    """Read the audit log, newest first (needs a key with audit:read)."""
    filters = {"since": _ago(since, "--since"), "until": _ago(until, "--until"),
               "actor": actor, "action": action, "target": target}
    filters = {k: v for k, v in filters.items() if v}
    api, shown, cursor = obj["api"], 0, None
    while shown < limit:
        params = {**filters, "limit": min(100, limit - shown)}
        if cursor:
            params["cursor"] = cursor
        items = api.manage("GET", "/audit?" + urlencode(params))
        for item in items:
            if as_json:
                click.echo(json.dumps(item, separators=(",", ":")))
            else:
                versions = ("" if item.get("after_version") is None else
                            f" v{item.get('before_version') or 0}->{item['after_version']}")
                click.echo(f"{item['at']}  {item['actor']:<16} {item['action']:<18} "
                           f"{item['target']}{versions}")
        shown += len(items)
        cursor = api.last_headers.get("X-Next-Cursor")
        if not cursor:
            break
    if not shown and not as_json:
        click.echo("no audit entries")


def _ago(text: Optional[str], option: str) -> Optional[str]:
    """ISO time, or '-24h' / '-7d' before now, as UTC ISO-8601."""
    if not text or not text.startswith("-"):
        return text
    try:
        return (datetime.now(timezone.utc) - timedelta(seconds=parse_duration(text[1:]))
                ).isoformat(timespec="seconds")
    except ConditionError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


# -- offsite guard (chalicelib/tools/doctor.py) ------------------------------------------------------

_PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@main.command("doctor")
@click.option("--status-file", "doctor_file", type=click.Path(dir_okay=False), default=None,
              help="Status file to check (default: --status-file/STATUS_FILE, then the bundled "
                   "chalicelib/status.yaml that deploys).")
@click.option("--stage", default="prod", show_default=True,
              help="Stage to check for; `local` relaxes the deploy-only rules.")
@click.pass_obj
def doctor_command(obj, doctor_file, stage):
    """Refuse a deploy that would not be offsite. Exit 0 ok (warnings printed), 1 refused."""
    path = doctor_file or obj["status_file"] or os.path.join(_PROJECT, "chalicelib", "status.yaml")
    project = os.getcwd() if os.path.exists(os.path.join(".chalice", "config.json")) else _PROJECT
    code, text = doctor.run(path, stage, project_dir=project)
    click.echo(text, err=bool(code))
    sys.exit(code)


# -- backups (chalicelib/tools/backup.py; DynamoDB directly, like keys) -----------------------------

def _backup_container(local: bool):
    c = _container(local)
    if local:
        # Table names the local stack uses but may not have written to aws.env.
        try:
            with open(os.path.join(_PROJECT, ".chalice", "config.json")) as fh:
                names = json.load(fh)["stages"]["local"]["environment_variables"]
        except (OSError, KeyError, ValueError):
            names = {}
        for name, value in names.items():
            if name.endswith("_TABLE"):
                os.environ.setdefault(name, value)
    return c


def _progress():
    return Progress(lambda line: click.echo(line, err=True))


def _sections_table(sections) -> None:
    for name, (count, digest) in sections:
        click.echo(f"  {name:<12} {count:>7} items  sha256 {digest[:16]}")


@main.group()
def backup():
    """Export the data to a checksummed JSON file; prove an export restores (needs AWS
    credentials for the tables; verify also creates and deletes scratch tables)."""


@backup.command("export")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="File to write (default outpost-backup-<UTC time>.json; *.gz is gzipped).")
@click.option("--local", is_flag=True, help="Use the running local stack's DynamoDB.")
def backup_export(out, local):
    """Write incidents, component states, overrides, the snapshot, keys (hashes), history,
    audit log and subscribers to one versioned, checksummed JSON file."""
    c = _backup_container(local)
    started = time.monotonic()
    try:
        doc = b.export(c.store, c.clock(), _progress())
        path = out or time.strftime("outpost-backup-%Y%m%dT%H%M%SZ.json", time.gmtime(c.clock()))
        size = b.write_export(doc, path)
    except b.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:                         # noqa: BLE001 - AWS errors, said plainly
        raise click.ClickException(f"export failed: {exc.__class__.__name__}: {exc}") from None
    click.echo(f"wrote {path} ({size} bytes, format {doc['format_version']}, sha256 "
               f"{doc['sha256'][:16]}) in {time.monotonic() - started:.1f}s")
    _sections_table((n, (s["count"], s["sha256"])) for n, s in doc["sections"].items())


@backup.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--local", is_flag=True, help="Use the running local stack's DynamoDB.")
@click.option("--no-record", is_flag=True,
              help="Don't record this as the deployment's last verified backup.")
def backup_verify(file, local, no_record):
    """Restore FILE into fresh scratch tables, prove every section equal (counts and sha256),
    then delete them. A corrupt or altered file fails (exit 1) before anything is created."""
    c = _backup_container(local)
    try:
        doc = b.read_export(file)
        report = b.verify(c.store, doc, _progress())
    except b.BackupError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    except Exception as exc:                         # noqa: BLE001
        raise click.ClickException(f"verify failed: {exc.__class__.__name__}: {exc}") from None
    click.echo(f"verified {file}: restored into {len(report.scratch_tables)} scratch tables "
               f"(deleted again) in {report.seconds:.1f}s; every section equal")
    _sections_table(sorted(report.sections.items()))
    for line in report.checks:
        click.echo(f"  ok  {line}")
    same = (doc.get("source") or {}).get("tables") == c.store.table_names()
    if no_record or not same:
        if not same:
            click.echo("not recorded: the export came from other tables than this deployment's")
        return
    try:
        shown = b.record_verified(c, doc, report, file)
    except Exception as exc:                         # noqa: BLE001 - the proof stands anyway
        raise click.ClickException(f"verified, but could not record it: {exc}") from None
    click.echo(f"recorded as the last verified backup; the page shows {shown}")


@main.group("dead-letters")
@click.option("--local", is_flag=True, help="Use the running local stack's queues.")
@click.pass_obj
def dead_letters_group(obj, local):
    """What failed for good, from the one dead-letter queue (NotificationsAlarm watches it;
    needs AWS credentials and DELIVERY_DLQ_URL, the stack output DeadLetterQueueUrl)."""
    obj["container"] = _container(local)


@dead_letters_group.command("list")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.pass_obj
def dead_letters_list(obj, limit):
    """One line per letter: its kind, who gave up on it, and why."""
    try:
        bodies = _dead_letter_queue(obj).peek(limit)
    except QueueFailed as exc:
        raise click.ClickException(str(exc)) from None
    for body in bodies:
        letter = dead_letters.classify(body)
        click.echo(f"{letter.kind:<10} {letter.source}  {letter.summary}")
    click.echo(f"{len(bodies)} letter(s) shown", err=True)


@dead_letters_group.command("replay")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 10000))
@click.pass_obj
def dead_letters_replay(obj, limit):
    """Move the webhook, channel and social deliveries back to the delivery queue (once the
    receiver is fixed: each gets a fresh day of retries); every other letter stays."""
    try:
        now = obj["container"].clock()
        moved, left = _dead_letter_queue(obj).replay(
            lambda body: dead_letters.to_replay(body, now), limit)
    except QueueFailed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"moved {moved} deliveries back to the delivery queue; {left} other letter(s) "
               f"left (outpost dead-letters list)")


if __name__ == "__main__":
    main()
