"""Inbox, list, Excel export and the case page."""

from __future__ import annotations

from dataclasses import replace

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from civicgrid.cases import desk_queries, export
from civicgrid.cases.forms import CaseFilterForm
from civicgrid.cases.queries import get_case_for
from civicgrid.cases.views.common import PAGE_SIZE, CountedPaginator, case_context, search_page, staff_page
from civicgrid.people.queries import user_of


@staff_page
@require_GET
def inbox_view(request: HttpRequest) -> HttpResponse:
    """The user's tabs with counts and the chosen tab as a page: one COUNT per tab, one page query."""
    user = user_of(request)
    counts = desk_queries.tab_counts(user)
    wanted = request.GET.get("tab", "")
    current = next((t for t, _ in counts if t.key == wanted), None)
    if current is None:
        current = next((t for t, n in counts if n), counts[0][0] if counts else None)
    context: dict = {"counts": counts, "current": current, "rows": [], "page": None}
    if current is not None:
        total = next(n for t, n in counts if t is current)
        paginator = CountedPaginator(desk_queries.inbox(user, current.key), PAGE_SIZE, total)
        page = paginator.get_page(request.GET.get("page"))
        now = timezone.now()
        sign = current.key == "to_sign"
        context["page"] = page
        context["rows"] = [(c, desk_queries.clock_of(c, now, sign=sign)) for c in page]
    return render(request, "cases/inbox.html", context)


def _filter_form(request: HttpRequest) -> CaseFilterForm:
    return CaseFilterForm(user_of(request), request.GET or None)


@staff_page
@require_GET
def list_view(request: HttpRequest) -> HttpResponse:
    """Search and filters over every case the user may read, paged and sorted; links to the export."""
    user = user_of(request)
    form = _filter_form(request)
    if form.is_bound and not form.is_valid():
        return render(request, "cases/list.html", {"form": form, "rows": [], "page": None}, status=422)
    filters = form.filters()
    listed = desk_queries.filter_cases(user, replace(filters, q=""))
    if filters.q.strip():
        page = search_page(listed, filters.q, request.GET.get("page"))
    else:
        page = Paginator(listed.select_related("category", "lead_unit", "territory"), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
    now = timezone.now()
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "cases/list.html",
        {
            "form": form,
            "page": page,
            "rows": [(c, desk_queries.clock_of(c, now)) for c in page],
            "query": query.urlencode(),
            "limit": export.MAX_ROWS,
        },
    )


@staff_page
@require_GET
def export_view(request: HttpRequest) -> HttpResponseBase:
    """The filtered list as .xlsx; refused with a message above export.MAX_ROWS rows."""
    user = user_of(request)
    form = _filter_form(request)
    if form.is_bound and not form.is_valid():
        return render(request, "cases/list.html", {"form": form, "rows": [], "page": None}, status=422)
    cases = desk_queries.filter_cases(user, form.filters())
    total = cases.count()
    if total > export.MAX_ROWS:
        messages.error(
            request,
            gettext(
                "共 %(total)s 条工单，超过一次导出的上限 %(max)s 条。"
                "请缩小筛选范围（例如按受理日期分段）后再导出。"
            )
            % {"total": total, "max": export.MAX_ROWS},
        )
        query = request.GET.urlencode()
        return redirect(reverse("cases:list") + (f"?{query}" if query else ""))
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return FileResponse(
        export.export_file(cases, user),
        as_attachment=True,
        filename=f"工单-{stamp}.xlsx",
        content_type=export.CONTENT_TYPE,
    )


@staff_page
@require_GET
def case_view(request: HttpRequest, number: str) -> HttpResponse:
    """The case page: 404 outside the user's scope, the buttons only for the steps they may take now."""
    user = user_of(request)
    case = get_case_for(user, number)
    return render(request, "cases/case.html", case_context(case, user))
