"""Errors a GraphQL client may see. Anything else is masked as ``Unexpected error.``."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError


class ApiError(Exception):
    """A failure the client caused or may act on; ``code`` lands in ``extensions.code``."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.extensions = {"code": self.code, **extensions}


class BadInput(ApiError):
    code = "BAD_USER_INPUT"


class NotFound(ApiError):
    code = "NOT_FOUND"


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class StoreUnavailable(ApiError):
    code = "SERVICE_UNAVAILABLE"


def should_mask(error: GraphQLError) -> bool:
    """Mask resolver crashes; keep validation errors and :class:`ApiError` messages."""
    original = error.original_error
    return original is not None and not isinstance(original, ApiError | GraphQLError)


def caused_by_client(error: GraphQLError) -> bool:
    """Whether the client is to blame for ``error``, not the server: an :class:`ApiError`, or a
    request turned down before anything ran (syntax, validation, variables, limits)."""
    return isinstance(error.original_error, ApiError) or (
        error.path is None and not should_mask(error)
    )
