"""The case list as an Excel workbook (台账): openpyxl in write-only mode, written to a temporary file.

Write-only mode keeps memory flat however many rows there are; the rows come from the database in
chunks (one query per chunk and one for its assisting units), and the file is streamed to the client
from disk. The reporter is masked exactly as the case page masks it (schemas.reporter); dates are in
the installation's time zone (Asia/Shanghai), written without a zone as Excel expects.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from datetime import date, datetime
from typing import IO, Any

from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from civicgrid.cases import schemas
from civicgrid.cases.models import AssignmentRole, Case, CaseType, Channel, Satisfaction, Urgency
from civicgrid.cases.queries import with_list_relations
from civicgrid.core.text import xml_safe
from civicgrid.people.models import User

# Above this many rows the export is refused with a message to narrow the filters: a ledger that
# silently lacks rows would be worse than none, and bigger exports belong to a report job.
MAX_ROWS = 50_000
CHUNK = 2000
CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

COLUMNS: list[tuple[str, int]] = [
    ("工单编号", 18),
    ("标题", 24),
    ("类型", 8),
    ("渠道", 12),
    ("大类", 12),
    ("小类", 14),
    ("紧急程度", 8),
    ("状态", 10),
    ("属地", 16),
    ("地址", 28),
    ("主办单位", 20),
    ("协办单位", 24),
    ("反映人", 10),
    ("联系电话", 14),
    ("受理时间", 17),
    ("派遣时间", 17),
    ("签收时间", 17),
    ("办理期限", 17),
    ("反馈时间", 17),
    ("结案时间", 17),
    ("恢复办理日期", 12),
    ("是否超期", 8),
    ("满意度", 10),
    ("是否解决", 8),
    ("返工次数", 8),
    ("退回次数", 8),
    ("延期次数", 8),
    ("问题描述", 50),
]
DATE_FORMAT = "yyyy-mm-dd hh:mm"
DAY_FORMAT = "yyyy-mm-dd"

CHANNELS = dict(Channel.choices)
TYPES = dict(CaseType.choices)
URGENCIES = dict(Urgency.choices)
SATISFACTIONS = dict(Satisfaction.choices)


def _local(value: datetime | None) -> datetime | None:
    return timezone.localtime(value).replace(tzinfo=None) if value else None


def text_cell(ws: Any, value: str) -> Any:
    """A string cell that stays a string: openpyxl would store "=…" as a formula (formula injection),
    and refuses characters a workbook cannot hold (core.text.xml_safe)."""
    value = xml_safe(value)
    if value.startswith("="):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def _date(ws: Any, value: datetime | None) -> Any:
    if value is None:
        return None
    cell = WriteOnlyCell(ws, value=_local(value))
    cell.number_format = DATE_FORMAT
    return cell


def _day(ws: Any, value: date | None) -> Any:
    if value is None:
        return None
    cell = WriteOnlyCell(ws, value=value)
    cell.number_format = DAY_FORMAT
    return cell


def row(ws: Any, case: Case, viewer: User, now: datetime) -> list[Any]:
    category = case.category
    parent = category.parent if category is not None and category.parent_id else None
    assignments = getattr(case, "active_assignments", [])
    assisting = "、".join(a.unit.name for a in assignments if a.role == AssignmentRole.ASSIST)
    name, phone = schemas.reporter(case, viewer)
    resolved = {True: "已解决", False: "未解决", None: ""}[case.resolved]
    texts = [
        case.number,
        case.title,
        str(TYPES.get(case.type, case.type)),
        str(CHANNELS.get(case.channel, case.channel)),
        (parent.name if parent else category.name) if category else "",
        category.name if category and parent else "",
        str(URGENCIES.get(case.urgency, case.urgency)),
        case.status_name,
        case.territory.name if case.territory else "",
        case.address,
        case.lead_unit.name if case.lead_unit else "",
        assisting,
        name,
        phone,
    ]
    dates = [
        case.created_at,
        case.dispatched_at,
        case.signed_at,
        case.due_at,
        case.fed_back_at,
        case.closed_at,
    ]
    return [
        *(text_cell(ws, t) for t in texts),
        *(_date(ws, d) for d in dates),
        _day(ws, case.resume_on),
        "是" if _late(case, now) else "否",
        str(SATISFACTIONS.get(case.satisfaction, "")),
        resolved,
        case.rework_count,
        case.return_count,
        case.extension_count,
        text_cell(ws, case.description),
    ]


def _late(case: Case, now: datetime) -> bool:
    """是否超期 in a ledger: an open case past its deadline now, or a case fed back after it (a
    deferred one counts apart, as in the measures)."""
    if schemas.is_overdue(case, now):
        return True
    return bool(case.due_at and case.fed_back_at and case.fed_back_at > case.due_at and not case.deferred)


def _rows(cases: QuerySet[Case]) -> Iterable[Case]:
    related = with_list_relations(cases).select_related("category__parent")
    return related.iterator(chunk_size=CHUNK)


def write_workbook(cases: QuerySet[Case], viewer: User, out: IO[bytes], title: str = "工单") -> int:
    """Writes the cases to `out` as an .xlsx workbook; returns the number of rows written."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title)
    for index, (_, width) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "B2"
    header = []
    for label, _ in COLUMNS:
        cell = WriteOnlyCell(ws, value=label)
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    now = timezone.now()
    count = 0
    for case in _rows(cases):
        ws.append(row(ws, case, viewer, now))
        count += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{count + 1}"  # a ledger is filtered in Excel
    wb.save(out)
    return count


def export_file(cases: QuerySet[Case], viewer: User) -> IO[bytes]:
    """The workbook in a temporary file (removed when closed), positioned at its start."""
    out = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - returned open; the response closes it
    try:
        write_workbook(cases, viewer, out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out
