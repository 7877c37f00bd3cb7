"""Count DynamoDB API calls by wrapping botocore's one choke point for every client.

PynamoDB builds its own botocore client, so a per-client event handler would miss it; every
client class, however, inherits `BaseClient._make_api_call`.
"""
from __future__ import annotations

import contextlib

from botocore.client import BaseClient


class DynamoCalls:
    def __init__(self) -> None:
        self.ops: list[str] = []
        self.tables: list[frozenset] = []      # the tables each call in `ops` touched
        self._original = None

    def install(self) -> None:
        if self._original is not None:
            return
        original = self._original = BaseClient._make_api_call
        ops, tables = self.ops, self.tables

        def counting(client, operation_name, api_params):
            if client.meta.service_model.service_name == "dynamodb":
                ops.append(operation_name)
                named = api_params.get("RequestItems") or {api_params.get("TableName"): None}
                tables.append(frozenset(named))
            return original(client, operation_name, api_params)

        BaseClient._make_api_call = counting

    def uninstall(self) -> None:
        if self._original is not None:
            BaseClient._make_api_call = self._original
            self._original = None

    def on_table(self, table: str, since: int) -> list[str]:
        """The operations since index `since` of `ops` that touched `table`."""
        return [op for op, names in zip(self.ops[since:], self.tables[since:]) if table in names]

    @contextlib.contextmanager
    def counting(self):
        """Yields the list that receives the operation names made inside the block."""
        self.install()
        start = len(self.ops)
        seen: list[str] = []
        try:
            yield seen
        finally:
            seen.extend(self.ops[start:])
