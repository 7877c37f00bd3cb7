"""Operator API errors as JSON: every failure names the problem (and the field, when there is one)."""
from __future__ import annotations

from typing import Optional

from chalice import Response


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: Optional[str] = None,
                 headers: Optional[dict] = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field
        self.headers = headers or {}

    def response(self) -> Response:
        body = {"error": self.message}
        if self.field:
            body["field"] = self.field
        return Response(body=body, status_code=self.status,
                        headers={"Content-Type": "application/json", "Cache-Control": "no-store",
                                 **self.headers})
