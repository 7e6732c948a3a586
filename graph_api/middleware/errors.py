"""The JSON error body the middleware answers with, shaped like a GraphQL error response."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse


def error_response(
    status: int, message: str, code: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """``{"errors": [{"message": ..., "extensions": {"code": ...}}]}`` with ``status``."""
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers)
