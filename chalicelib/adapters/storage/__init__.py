"""I/O: the only PynamoDB package. Domain dataclasses in, domain dataclasses out.

One repository module per aggregate, each a class over the same table handles (_Tables):

  models.py       PynamoDB model classes bound to this deployment's tables; _Tables holds them
                  once per Store, with the state table's versioned _load/_save
  items.py        the 400 KB item check (check_item_size, ItemTooLarge), JsonBlob, Encoded
  results.py      ResultRepository: round results, region views, component states, history days
  snapshots.py    SnapshotRepository: the snapshot, its history parts, the heartbeat, load_public
  incidents.py    IncidentRepository: incidents, the incident feed, overrides (with their audit)
  audit.py        AuditRepository: reads of the audit log
  subscribers.py  SubscriberRepository: subscriber records and their conditional transitions
  keys.py         KeyRepository: operator API keys
  tokens.py       TokenRepository: idempotency claims and fences, rate counters (hit, count)
  reports.py      ReportRepository: "is it just me?" reports and their counters
  documents.py    DocumentRepository: generic state documents, secrets, stream images
  backup.py       BackupRepository: backup tables as plain JSON, scratch copies

Callers still hold one `Store`, composed of every repository, so `c.store.<method>(...)` reads
as before; a later step can hand each use-case only the repositories it needs.
"""
from __future__ import annotations

from .audit import AuditRepository
from .backup import BackupRepository, item_from_plain, plain_item
from .documents import DocumentRepository
from .incidents import IncidentRepository
from .items import Encoded, ItemTooLarge, JsonBlob, check_item_size
from .keys import KeyRepository
from .models import (SUBSCRIBER_INDEX, build_history_model, build_models, build_part_model,
                     build_reports_model)
from .reports import ReportRepository
from .results import (RESULTS_TTL_SECONDS, ResultRepository, component_state_from_json,
                      component_state_to_json, result_to_json, view_from_json, view_to_json)
from .snapshots import SnapshotRepository
from .subscribers import SUBSCRIBER_FIELDS, SubscriberRepository
from .tokens import IDEMPOTENCY_TTL, TokenRepository

__all__ = ["Store", "Encoded", "ItemTooLarge", "JsonBlob", "check_item_size",
           "RESULTS_TTL_SECONDS", "IDEMPOTENCY_TTL", "SUBSCRIBER_INDEX", "SUBSCRIBER_FIELDS",
           "build_models", "build_history_model", "build_part_model", "build_reports_model",
           "result_to_json", "view_to_json", "view_from_json", "component_state_to_json",
           "component_state_from_json", "plain_item", "item_from_plain"]


class Store(ResultRepository, SnapshotRepository, IncidentRepository, AuditRepository,
            SubscriberRepository, KeyRepository, TokenRepository, ReportRepository,
            DocumentRepository, BackupRepository):
    """Reads and writes whole documents; every write of shared state is conditional on version."""
