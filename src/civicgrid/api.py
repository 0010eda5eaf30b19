"""The REST API under /api/v1/: one NinjaAPI, bearer tokens, one error shape."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
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
    """A request body that is not a JSON object (ninja turns any parser error into a 400 in English)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        try:
            data = super().parse_body(request)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise UnreadableBody(_("请求体不是有效的 JSON")) from exc
        # Every body of this API is an object. Another value would reach a schema whose fields are all
        # optional as if it were {} (ninja reads a schema's fields off any object), and take the step.
        if not isinstance(data, dict):
            raise UnreadableBody(_("请求体应为 JSON 对象"))
        return data


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


# pydantic words its messages in English; the kinds a client of this API meets, in the caller's
# language (Chinese first), with pydantic's context filled in. Others keep pydantic's words.
_SCHEMA_MESSAGES = {
    "missing": gettext_lazy("必填"),
    "string_type": gettext_lazy("应为文本"),
    "string_too_short": gettext_lazy("至少 %(min_length)s 个字符"),
    "string_too_long": gettext_lazy("最多 %(max_length)s 个字符"),
    "int_type": gettext_lazy("应为整数"),
    "int_parsing": gettext_lazy("应为整数"),
    "int_from_float": gettext_lazy("应为整数"),
    "float_type": gettext_lazy("应为数字"),
    "float_parsing": gettext_lazy("应为数字"),
    "finite_number": gettext_lazy("应为有限的数字"),
    "bool_type": gettext_lazy("应为 true 或 false"),
    "bool_parsing": gettext_lazy("应为 true 或 false"),
    "literal_error": gettext_lazy("应为 %(expected)s 之一"),
    "enum": gettext_lazy("应为 %(expected)s 之一"),
    "greater_than": gettext_lazy("应大于 %(gt)s"),
    "greater_than_equal": gettext_lazy("应不小于 %(ge)s"),
    "less_than": gettext_lazy("应小于 %(lt)s"),
    "less_than_equal": gettext_lazy("应不大于 %(le)s"),
    "date_type": gettext_lazy("应为日期（YYYY-MM-DD）"),
    "date_parsing": gettext_lazy("应为日期（YYYY-MM-DD）"),
    "date_from_datetime_parsing": gettext_lazy("应为日期（YYYY-MM-DD）"),
    "date_from_datetime_inexact": gettext_lazy("应为日期（YYYY-MM-DD）"),
    "datetime_type": gettext_lazy("应为日期时间（ISO 8601）"),
    "datetime_parsing": gettext_lazy("应为日期时间（ISO 8601）"),
    "datetime_from_date_parsing": gettext_lazy("应为日期时间（ISO 8601）"),
    "list_type": gettext_lazy("应为列表"),
    "too_short": gettext_lazy("至少 %(min_length)s 项"),
    "too_long": gettext_lazy("最多 %(max_length)s 项"),
    "dict_type": gettext_lazy("应为 JSON 对象"),
    "model_type": gettext_lazy("应为 JSON 对象"),
    "model_attributes_type": gettext_lazy("应为 JSON 对象"),
}


def _schema_error(error: dict[str, Any]) -> dict[str, str]:
    """One of pydantic's errors as the API lists it: the field as the client sent it (a body's field
    by its name, as an action's refusals name it) and the message in the caller's language."""
    loc = [str(part) for part in error.get("loc", ())]
    # ("body", <the view's argument>, field…), ("query", name), ("path", name), ("header", name)
    field = ".".join(loc[2:] if loc[:1] == ["body"] and len(loc) > 2 else loc[1:]) or ".".join(loc)
    template = _SCHEMA_MESSAGES.get(error.get("type", ""))
    if error.get("type") == "value_error" and error.get("ctx", {}).get("error"):
        message = str(error["ctx"]["error"])  # our validators' own words
    elif template is None:
        message = str(error.get("msg", ""))
    else:
        try:
            context = {k: str(v) for k, v in (error.get("ctx") or {}).items()}
            if "expected" in context:  # "'a', 'b' or 'c'": the choices without an English word
                context["expected"] = context["expected"].replace(" or ", ", ")
            message = str(template) % context
        except (KeyError, TypeError, ValueError):
            message = str(error.get("msg", ""))
    return {"field": field, "message": message}


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    details = [_schema_error(e) for e in exc.errors]
    return error_response(request, 422, "invalid_input", _("请求参数有误"), details)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, 401, "unauthorized", _("未登录或令牌无效"))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, UnreadableBody):  # a malformed body, as any other: 422 naming it
        message = exc.__cause__.message
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
