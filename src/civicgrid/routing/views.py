"""The dispatcher's routing buttons on the case page (the suggestions panel posts here).

Each view is a thin wrapper around an action and returns to the case page with a message:
dispatch as suggested (changing the category first when the suggestion differs), change the
category, merge into a duplicate. Mounted at /routing/ (routing/urls.py).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from civicgrid.cases import actions as case_actions
from civicgrid.cases.queries import active_category
from civicgrid.cases.views.common import staff_page
from civicgrid.core.errors import DomainError, InvalidInput, InvalidTransition
from civicgrid.people.queries import user_of
from civicgrid.routing import queries


def _back(
    request: HttpRequest, number: str, error: DomainError | None = None, done: str = ""
) -> HttpResponse:
    if error is not None:
        messages.error(request, error.message)
    elif done:
        messages.success(request, done)
    return redirect("cases:case", number=number)


@staff_page
@require_POST
def dispatch_as_suggested(request: HttpRequest, number: str) -> HttpResponse:
    """按建议派遣: the suggested category (when it differs) and then the suggested lead unit."""
    user = user_of(request)
    case = queries.case_for_routing(user, number)
    suggestion = queries.suggestion_of(case)
    try:
        if suggestion is None or suggestion.lead_unit is None:
            raise InvalidTransition(_("该工单没有可用的派遣建议"))
        if suggestion.category_id and suggestion.category_id != case.category_id and suggestion.category:
            case_actions.recategorize(case.number, by=user, category=suggestion.category, note="按系统建议")
        case_actions.dispatch_case(
            case.number, by=user, lead_unit=suggestion.lead_unit, note="按系统建议派遣"
        )
    except DomainError as exc:
        return _back(request, number, exc)
    return _back(request, number, done=f"已派遣至 {suggestion.lead_unit.name}")


@staff_page
@require_POST
def recategorize(request: HttpRequest, number: str) -> HttpResponse:
    user = user_of(request)
    code = request.POST.get("category", "")
    category = active_category(code)
    try:
        if category is None:
            raise InvalidInput(_("请选择分类"))
        case_actions.recategorize(number, by=user, category=category, note=request.POST.get("note", "")[:500])
    except DomainError as exc:
        return _back(request, number, exc)
    return _back(request, number, done=f"分类已改为 {category}")


@staff_page
@require_POST
def merge(request: HttpRequest, number: str) -> HttpResponse:
    user = user_of(request)
    into = request.POST.get("into", "").strip().upper()
    try:
        case_actions.merge_case(number, by=user, into=into, note="疑似重复，合并办理")
    except DomainError as exc:
        return _back(request, number, exc)
    return _back(request, number, done=f"已合并到 {into}")
