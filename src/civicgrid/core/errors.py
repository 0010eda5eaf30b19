"""Domain errors that actions and queries raise; the API and the pages map each to one status.

Messages are translated when raised (`gettext` at the raise site), so they read in the request's
language; `details` stay machine-readable and untranslated (the API lists an InvalidInput's
{field: problem} as `{"field", "message", "problem"}`, with the message beside each field).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy


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
