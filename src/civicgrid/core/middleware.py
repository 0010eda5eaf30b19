"""Pages answer domain errors with the right status and a page in the user's language, the API its
unknown paths and methods in its error shape; requests carrying a NUL character are refused before
any view sees them."""

from __future__ import annotations

import contextlib
import re

from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils.translation import gettext, gettext_noop, override

from civicgrid.core.errors import DomainError, InvalidInput

# What Django answers outside the API's views (no such path; a path without that method) in the API's
# one error shape, so that a client of /api/ never has to read an HTML page.
_API_REFUSALS = {
    404: ("not_found", gettext_noop("接口不存在")),
    405: ("method_not_allowed", gettext_noop("接口不支持该请求方法")),
}


class DomainErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        refusal = _API_REFUSALS.get(response.status_code)
        if refusal and request.path.startswith("/api/") and "json" not in response.get("Content-Type", ""):
            from civicgrid.api import error_response  # as _refusal: the API module loads the apps

            code, message = refusal
            reply = error_response(request, response.status_code, code, gettext(message))
            if response.has_header("Allow"):
                reply["Allow"] = response["Allow"]
            return reply
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DomainError) or request.path.startswith("/api/"):
            return None
        return render(request, "error.html", {"error": exception}, status=exception.status)


# A JSON string's escaped NUL: `\u0000` after an even number of backslashes (`\\u0000` is text).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
_MESSAGE = gettext_noop("请求中含有空字符（NUL），请删除后重试")


class RefuseNulMiddleware:
    """Refuses a NUL character (U+0000) in the path, the query, a form or a JSON body.

    PostgreSQL cannot hold one in text: every view that passed one on to a query answered 500 there
    (the API's lists, a case number, Open311, signing in), while SQLite stored it. No person types
    one, so the request is refused whole, in the form its caller reads: Open311's error list, a page,
    or the API's error shape (422) for the API and for scripts (the report page's fetch).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = _field_with_nul(request)
        return self.get_response(request) if field is None else _refusal(request, field)


def _field_with_nul(request: HttpRequest) -> str | None:
    if "\x00" in request.path:
        return "path"
    # A query can only carry a NUL as %00: parse it only then (most requests are not refused).
    data = [request.GET] if "%00" in request.META.get("QUERY_STRING", "") else []
    if request.method == "POST" and request.content_type in _FORMS:
        with contextlib.suppress(MultiPartParserError):  # the view answers a malformed upload
            data.append(request.POST)
    for query in data:
        for name, values in query.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return name.replace("\x00", "") or "?"
    if request.content_type != "application/json":
        return None
    # The substring first: the expression runs only on the rare body that could hold one.
    return "body" if b"u0000" in request.body and _JSON_NUL.search(request.body) else None


def _refusal(request: HttpRequest, field: str) -> HttpResponse:
    if request.path.startswith("/open311/"):
        from civicgrid.intake.open311.render import error

        with override(None):  # the standard's clients get the message ids, as its views answer
            return error("json" if request.path.endswith(".json") else "xml", 400, gettext(_MESSAGE))
    message = gettext(_MESSAGE)
    page = "text/html" in request.headers.get("Accept", "") or "HX-Request" in request.headers
    if page and not request.path.startswith("/api/"):
        return render(request, "error.html", {"error": InvalidInput(message)}, status=400)
    from civicgrid.api import error_response

    return error_response(request, 422, InvalidInput.code, message, [{"field": field, "message": message}])
