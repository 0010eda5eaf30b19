"""The measures page (/measures/): a thin view over measures.report, with an Excel export.

The table shows the unit and its child units (and, with ?by=person, its handlers) for a period,
greys out small samples, links each child to its own page, and draws the daily closure and on-time
rates with ECharts served from our own static files.
"""

from __future__ import annotations

from datetime import date
from io import BytesIO
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import override, pgettext_lazy
from django.views.decorators.http import require_GET

from civicgrid.cases.measures.report import (
    MIN_SAMPLE,
    STAFF_ROLES,
    period,
    trend,
    unit_for,
    unit_report,
)
from civicgrid.cases.measures_api import MeasuresOut
from civicgrid.core.errors import InvalidInput
from civicgrid.people.queries import units_visible_to, user_of

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# (key, label, kind): the columns of the unit table and the Excel sheet (the sheet is written in
# Chinese, as the cases' export is: a 台账 filed as it is).
Column = tuple[str, "StrOrPromise", str]
UNIT_COLUMNS: list[Column] = [
    ("orders", pgettext_lazy("measure column", "派单"), "count"),
    ("response_rate", pgettext_lazy("measure column", "响应率"), "rate"),
    ("due", pgettext_lazy("measure column", "应结"), "count"),
    ("deferred", pgettext_lazy("measure column", "缓办"), "count"),
    ("closed", pgettext_lazy("measure column", "结案"), "count"),
    ("on_time_closure_rate", pgettext_lazy("measure column", "按期结案率"), "rate"),
    ("closure_rate", pgettext_lazy("measure column", "结案率"), "rate"),
    ("extension_rate", pgettext_lazy("measure column", "延期率"), "rate"),
    ("rework_rate", pgettext_lazy("measure column", "返工率"), "rate"),
    ("return_rate", pgettext_lazy("measure column", "退单率"), "rate"),
    ("rated", pgettext_lazy("measure column", "评价"), "count"),
    ("resolution_rate", pgettext_lazy("measure column", "解决率"), "rate"),
    ("satisfaction_rate", pgettext_lazy("measure column", "满意率"), "rate"),
    ("handling_hours_avg", pgettext_lazy("measure column", "平均办理时长（小时）"), "hours"),
    ("handling_hours_p90", pgettext_lazy("measure column", "90% 办理时长（小时）"), "hours"),
]
PERSON_COLUMNS: list[Column] = [
    ("signed", pgettext_lazy("measure column", "签收"), "count"),
    ("response_rate", pgettext_lazy("measure column", "按时签收率"), "rate"),
    ("closed", pgettext_lazy("measure column", "结案"), "count"),
    ("on_time_closure_rate", pgettext_lazy("measure column", "按期结案率"), "rate"),
    ("rework_rate", pgettext_lazy("measure column", "返工率"), "rate"),
    ("rated", pgettext_lazy("measure column", "评价"), "count"),
    ("resolution_rate", pgettext_lazy("measure column", "解决率"), "rate"),
    ("satisfaction_rate", pgettext_lazy("measure column", "满意率"), "rate"),
    ("handling_hours_avg", pgettext_lazy("measure column", "平均办理时长（小时）"), "hours"),
    ("handling_hours_p90", pgettext_lazy("measure column", "90% 办理时长（小时）"), "hours"),
]


def _date(request: HttpRequest, name: str) -> date | None:
    value = request.GET.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(_("日期格式应为 YYYY-MM-DD"), details={name: value}) from exc


def _text(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "hours":
        return f"{value:.1f}"
    return str(value)


def _cells(measures: dict[str, Any], columns: list[Column]) -> list[dict[str, Any]]:
    return [
        {"text": _text(measures[key], kind), "small": key in measures["small"], "kind": kind}
        for key, _label, kind in columns
    ]


def _table(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [{"name": data["unit"]["name"], "code": None, "total": True, **_row(data, UNIT_COLUMNS)}]
    for child in data["children"]:
        rows.append(
            {"name": child["unit"]["name"], "code": child["unit"]["code"], **_row(child, UNIT_COLUMNS)}
        )
    return rows


def _row(item: dict[str, Any], columns: list[Column]) -> dict[str, Any]:
    return {
        "cells": _cells(item["measures"], columns),
        "small_sample": item["small_sample"],
        "rank": item.get("rank"),
    }


def _xlsx(data: dict[str, Any]) -> HttpResponse:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    from civicgrid.cases.export import text_cell

    grey = PatternFill("solid", fgColor="EEEEEE")
    book = Workbook()
    sheets: list[tuple[str, list[Column], list[tuple[str, str | None, dict[str, Any]]]]] = [
        (
            "单位",
            UNIT_COLUMNS,
            [(data["unit"]["name"], data["unit"]["code"], data)]
            + [(c["unit"]["name"], c["unit"]["code"], c) for c in data["children"]],
        )
    ]
    if data.get("people") is not None:
        sheets.append(
            ("个人", PERSON_COLUMNS, [(p["user"]["name"], p["user"]["username"], p) for p in data["people"]])
        )
    first = True
    for title, columns, items in sheets:
        sheet = book.active if first else book.create_sheet()
        first = False
        assert sheet is not None
        sheet.title = title
        sheet.append([text_cell(sheet, f"{data['unit']['name']} 考核指标 {data['from']} 至 {data['to']}")])
        sheet.append(["名称", "编码", *(str(label) for _k, label, _kind in columns), "样本过少", "排名"])
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for name, code, item in items:
            m = item["measures"]
            sheet.append(
                [
                    text_cell(sheet, name),
                    text_cell(sheet, code or ""),
                    *(m[key] for key, _l, _k in columns),
                    "是" if item["small_sample"] else "",
                    item.get("rank"),
                ]
            )
            row = sheet.max_row
            for i, (_key, _label, kind) in enumerate(columns, start=3):
                if kind == "rate":
                    sheet.cell(row=row, column=i).number_format = "0.0%"
            if item["small_sample"]:
                for cell in sheet[row]:
                    cell.fill = grey
        sheet.column_dimensions["A"].width = 24
        for i in range(2, len(columns) + 5):
            sheet.column_dimensions[get_column_letter(i)].width = 12
    note = book.create_sheet("说明")
    note.append([f"样本少于 {MIN_SAMPLE} 件的比率灰显，不参与排名。"])
    # The definitions the API documents (measures_api.MeasuresOut), so that the workbook explains
    # itself to whoever it is passed on to.
    for name, field in MeasuresOut.model_fields.items():
        if field.description and name != "small":
            note.append([text_cell(note, field.description)])
    note.append(["平均办理时长、90% 办理时长：从派遣到办结反馈的小时数（自然时间）。"])
    note.column_dimensions["A"].width = 60
    out = BytesIO()
    book.save(out)
    response = HttpResponse(
        out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    # Named in Chinese like the cases' ledger (工单-….xlsx), with the header's UTF-8 form for it.
    filename = f"考核指标-{data['unit']['name']}-{data['from']}-{data['to']}.xlsx"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


@login_required
@require_GET
def measures_view(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    unit = unit_for(user, request.GET.get("unit") or None)  # 403 without a staff role, 404 out of scope
    problem = ""
    try:
        p = period(_date(request, "from"), _date(request, "to"))
    except InvalidInput as exc:
        if request.GET.get("format") == "xlsx":
            raise
        # The page stays, with the default period and the problem beside the dates to mend.
        p, problem = period(None, None), exc.message
    by_person = request.GET.get("by") == "person"
    data = unit_report(unit, p, by_person=by_person)
    if request.GET.get("format") == "xlsx":
        with override("zh-hans"):
            return _xlsx(data)
    base = {"from": p.start.isoformat(), "to": p.end.isoformat()}
    parent = None
    if unit.parent_id and units_visible_to(user, roles=STAFF_ROLES).filter(pk=unit.parent_id).exists():
        parent = unit.parent
    here = {**base, **({"unit": unit.code} if unit.code else {})}
    context = {
        "data": data,
        "unit": unit,
        "parent": parent,
        "parent_query": urlencode({**base, "unit": parent.code}) if parent and parent.code else "",
        "columns": UNIT_COLUMNS,
        "rows": _table(data),
        "person_columns": PERSON_COLUMNS,
        "people": [{"name": x["user"]["name"], **_row(x, PERSON_COLUMNS)} for x in data.get("people") or []],
        "by_person": by_person,
        "base_query": urlencode(base),
        "export_query": urlencode({**here, **({"by": "person"} if by_person else {}), "format": "xlsx"}),
        "person_query": urlencode({**here, "by": "person"}),
        "unit_query": urlencode(here),
        "trend": trend(unit, p),
        "min_sample": MIN_SAMPLE,
        "problem": problem,
    }
    return render(request, "cases/measures.html", context, status=422 if problem else 200)
