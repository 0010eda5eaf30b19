"""Domain errors that actions and queries raise; the API and the pages map each to one status.

Messages are translated when raised (`gettext` at the raise site), so they read in the request's
language; `details` stay machine-readable and untranslated (the API lists an InvalidInput's
{field: problem} as `{"field", "message", "problem"}`, with the message beside each field).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy
from ninja import Schema


class DomainError(Exception):
    status = 400
    code = "bad_request"
    default_message: Any = ""  # gettext_lazy text for `raise Error()`

    def __init__(self, message: str | None = None, details: Any = None):
        # A lazy default is resolved here, in the language active at raise time.
        message = str(self.default_message) if message is None else message
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    """Missing or outside the caller's scope: the two are never told apart."""

    status = 404
    code = "not_found"
    default_message = gettext_lazy("未找到")


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    default_message = gettext_lazy("无权进行此操作")


class InvalidTransition(DomainError):
    status = 409
    code = "invalid_transition"


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"


class ErrorBody(Schema):
    code: str
    message: str
    details: Any = None


class ErrorOut(Schema):
    """The API's one error shape (docs/api.md, "Errors")."""

    error: ErrorBody


# The statuses of the table in docs/api.md, "Errors". An operation declares those it can answer
# (`errors`), so that its OpenAPI document tells a client every reply it must handle.
ERROR_STATUSES = frozenset({401, 403, 404, 409, 422, 429})


def errors(*statuses: int) -> dict[int, Any]:
    """The error replies of an operation, for its `response={200: …, **errors(401, 404)}`."""
    unknown = set(statuses) - ERROR_STATUSES
    if unknown:
        raise ValueError(f"not an error status of this API: {sorted(unknown)}")
    return {status: ErrorOut for status in statuses}
