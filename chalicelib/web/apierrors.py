"""Errors as HTTP answers, in one place: every OutpostError becomes JSON that names the problem
(and the field, when there is one), with the status and headers the error carries."""
from __future__ import annotations

from typing import Optional

from chalice import Response

from ..core.errors import OutpostError, RequestRefused


def error_body(err: OutpostError) -> dict:
    body = {"error": err.message}
    if err.field:
        body["field"] = err.field
    return body


def response_for(err: OutpostError) -> Response:
    return Response(body=error_body(err), status_code=err.status,
                    headers={"Content-Type": "application/json", "Cache-Control": "no-store",
                             **err.headers})


class ApiError(RequestRefused):
    """A refusal raised by the web layer itself (authentication, limits, malformed requests)."""

    def __init__(self, status: int, message: str, field: Optional[str] = None,
                 headers: Optional[dict] = None):
        super().__init__(status, message, field, headers=headers)

    def response(self) -> Response:
        return response_for(self)
