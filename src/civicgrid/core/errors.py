"""Domain errors that actions and queries raise; the API and the pages map each to one status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None):
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    """Missing or outside the caller's scope: the two are never told apart."""

    status = 404
    code = "not_found"

    def __init__(self, message: str = "未找到", details: Any = None):
        super().__init__(message, details)


class Forbidden(DomainError):
    status = 403
    code = "forbidden"

    def __init__(self, message: str = "无权进行此操作", details: Any = None):
        super().__init__(message, details)


class InvalidTransition(DomainError):
    status = 409
    code = "invalid_transition"


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"
