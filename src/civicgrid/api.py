"""The REST API under /api/v1/: one NinjaAPI, bearer tokens, one error shape."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer

from civicgrid.core.errors import DomainError, InvalidInput
from civicgrid.core.rendering import ApiRenderer
from civicgrid.people.actions import user_for_token


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class UnreadableBody(ValueError):
    """A request body that is not JSON (ninja turns any parser error into a 400 in English)."""


class JsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        try:
            return super().parse_body(request)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise UnreadableBody(str(exc)) from exc


api = NinjaAPI(
    title="Civic Grid API",
    version="1",
    description=(
        "网格化基层治理平台 REST API。除 POST /auth/token 外，"
        "每个调用都需要 `Authorization: Bearer <token>`。"
    ),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=BearerToken(),
    renderer=ApiRenderer(),
    parser=JsonParser(),
)


def error_response(
    request: HttpRequest, status: int, code: str, message: str, details: Any = None
) -> HttpResponse:
    return api.create_response(
        request, {"error": {"code": code, "message": message, "details": details}}, status=status
    )


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    details = exc.details
    if isinstance(exc, InvalidInput) and isinstance(details, dict):
        # An action's {field: problem} (pages mark their form fields from it) in the shape the request
        # schemas' errors have (docs/api.md): the message in the caller's language, and the problem
        # ("required", "too long" or the refused value) kept for programs.
        details = [{"field": f, "message": exc.message, "problem": p} for f, p in details.items()]
    return error_response(request, exc.status, exc.code, exc.message, details)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    details = [
        {
            "field": ".".join(str(p) for p in e.get("loc", [])[1:]) or str(e.get("loc", "")),
            "message": e.get("msg"),
        }
        for e in exc.errors
    ]
    return error_response(request, 422, "invalid_input", _("请求参数有误"), details)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, 401, "unauthorized", _("未登录或令牌无效"))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, UnreadableBody):  # a malformed body, as any other: 422 naming it
        message = _("请求体不是有效的 JSON")
        return error_response(request, 422, "invalid_input", message, [{"field": "body", "message": message}])
    return error_response(request, exc.status_code, "http_error", str(exc))


def _register_routers() -> None:
    from civicgrid.cases.api import router as cases_router
    from civicgrid.core.api import router as core_router
    from civicgrid.notify.api import router as notify_router
    from civicgrid.people.api import router as people_router

    api.add_router("/", people_router)
    api.add_router("/", core_router)
    api.add_router("/", cases_router)
    api.add_router("/", "civicgrid.cases.measures_api.router")
    api.add_router("/", notify_router)
    api.add_router("/", "civicgrid.routing.api.router")


_register_routers()
