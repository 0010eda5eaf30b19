"""/cases/export.xlsx: the list's filters, only visible cases, masking per role, local dates, the cap."""

from datetime import timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from civicgrid.cases import export
from civicgrid.cases.models import Case
from civicgrid.cases.tests.factories import PHONE, case_in_state, file_case

SHANGHAI = ZoneInfo("Asia/Shanghai")


def workbook(client, query=""):
    response = client.get("/cases/export.xlsx" + query)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == export.CONTENT_TYPE
    assert "attachment" in response["Content-Disposition"] and ".xlsx" in response["Content-Disposition"]
    book = load_workbook(BytesIO(b"".join(response.streaming_content)))
    rows = list(book.active.iter_rows(values_only=True))
    header = rows[0]
    return header, [dict(zip(header, r, strict=True)) for r in rows[1:]]


@pytest.mark.django_db
def test_export_rows_headers_dates_and_masking(client, world, cats):
    signed = case_in_state(world, "signed", category=cats["garbage"], title="垃圾堆积")
    received = file_case(world, title="路灯不亮", category=cats["road"], anonymous=True)
    file_case(world, by="staff_b1", title="乙街道的事")  # not visible to A
    client.force_login(world.users["dispatcher_a"])
    header, rows = workbook(client)
    assert list(header) == [label for label, _ in export.COLUMNS]
    assert header[0] == "工单编号" and "联系电话" in header and "受理时间" in header
    by_number = {r["工单编号"]: r for r in rows}
    assert set(by_number) == {signed.number, received.number}
    row = by_number[signed.number]
    assert row["标题"] == "垃圾堆积" and row["大类"] == "市容环境" and row["小类"] == "垃圾清运"
    assert row["状态"] == "已签收" and row["主办单位"] == "测试县城市管理局"
    assert row["协办单位"] == "测试县市场监督管理局" and row["渠道"] == "群众点单"
    assert row["反映人"] == "张三丰" and row["联系电话"] == PHONE  # the dispatcher sees the reporter
    case = Case.objects.get(pk=signed.pk)
    local = timezone.localtime(case.created_at, SHANGHAI).replace(tzinfo=None, microsecond=0)
    assert row["受理时间"].replace(microsecond=0) == local
    assert row["办理期限"].replace(microsecond=0) == timezone.localtime(case.due_at, SHANGHAI).replace(
        tzinfo=None, microsecond=0
    )
    assert row["是否超期"] == "否"
    assert by_number[received.number]["反映人"] == "匿名" and not by_number[received.number]["联系电话"]

    client.force_login(world.users["handler_cg"])
    _, rows = workbook(client)
    assert [r["工单编号"] for r in rows] == [signed.number]
    assert rows[0]["联系电话"] == "138****5678" and rows[0]["反映人"] == "张**"


@pytest.mark.django_db
def test_a_case_fed_back_after_its_deadline_stays_late_in_the_ledger(client, world, cats):
    on_time = case_in_state(world, "closed", title="按期")
    late = case_in_state(world, "closed", title="超期")
    Case.objects.filter(pk=late.pk).update(due_at=F("fed_back_at") - timedelta(hours=1))
    client.force_login(world.users["dispatcher_a"])
    _, rows = workbook(client)
    assert {r["标题"]: r["是否超期"] for r in rows} == {"按期": "否", "超期": "是"}
    assert on_time.number in {r["工单编号"] for r in rows}


@pytest.mark.django_db
def test_the_ledger_has_a_filter_on_its_header(client, world, cats):
    case_in_state(world, "signed")
    client.force_login(world.users["dispatcher_a"])
    response = client.get("/cases/export.xlsx")
    sheet = load_workbook(BytesIO(b"".join(response.streaming_content))).active
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(export.COLUMNS)).column_letter}2"


@pytest.mark.django_db
def test_export_uses_the_lists_filters(client, world, cats):
    garbage = file_case(world, title="垃圾", category=cats["garbage"])
    file_case(world, title="道路", category=cats["road"])
    late = case_in_state(world, "dispatched", category=cats["water"])
    Case.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(days=1))
    client.force_login(world.users["dispatcher_a"])
    _, rows = workbook(client, f"?category={cats['garbage'].pk}")
    assert [r["工单编号"] for r in rows] == [garbage.number]
    _, rows = workbook(client, "?overdue=1")
    assert [r["工单编号"] for r in rows] == [late.number] and rows[0]["是否超期"] == "是"
    _, rows = workbook(client, "?q=道路")
    assert [r["标题"] for r in rows] == ["道路"]
    bad = client.get("/cases/export.xlsx?created_from=bad")
    assert bad.status_code == 422
    assert client.get("/cases/export.xlsx?created_to=9999-12-31").status_code == 422


@pytest.mark.django_db
def test_export_over_the_cap_is_refused_with_a_message(client, world, cats, monkeypatch):
    monkeypatch.setattr(export, "MAX_ROWS", 2)
    for _ in range(3):
        file_case(world)
    client.force_login(world.users["staff_a1"])
    response = client.get("/cases/export.xlsx?q=垃圾")
    assert response.status_code == 302 and response["Location"] == "/cases/list/?q=%E5%9E%83%E5%9C%BE"
    page = client.get(response["Location"]).content.decode()
    assert "共 3 条工单，超过一次导出的上限 2 条" in page
    response = client.get("/cases/export.xlsx?q=垃圾", headers={"Accept-Language": "en"})
    page = client.get(response["Location"], headers={"Accept-Language": "en"}).content.decode()
    assert "3 cases: more than one export can hold (2)" in page


@pytest.mark.django_db
def test_export_queries_do_not_grow_with_rows(client, world, cats):
    client.force_login(world.users["dispatcher_a"])
    case_in_state(world, "dispatched")

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/cases/export.xlsx")
            b"".join(response.streaming_content)
        return len(ctx.captured_queries)

    one = queries()
    for _ in range(10):
        case_in_state(world, "dispatched")
    assert queries() == one


@pytest.mark.django_db
def test_formulas_are_written_as_text(client, world, cats):
    file_case(world, title='=HYPERLINK("http://evil")', description="=1+1")
    client.force_login(world.users["staff_a1"])
    response = client.get("/cases/export.xlsx")
    book = load_workbook(BytesIO(b"".join(response.streaming_content)))
    row = next(iter(book.active.iter_rows(min_row=2, max_row=2)))
    title = row[1]
    assert title.value == '=HYPERLINK("http://evil")' and title.data_type == "s"
    assert row[-1].data_type == "s"


@pytest.mark.django_db
def test_control_characters_are_left_out_of_the_workbook(client, world, cats):
    """A case text holding a C0 control character (a vertical tab pasted from a word processor, or sent
    through the API) made the whole export fail: a workbook is XML and cannot hold it."""
    case = file_case(world, title="路灯\x01不亮", description="路灯\x0b不亮\x01\n已三天\x1f了")
    client.force_login(world.users["dispatcher_a"])
    _, rows = workbook(client)
    row = next(r for r in rows if r["工单编号"] == case.number)
    assert row["问题描述"] == "路灯不亮\n已三天了" and row["标题"] == "路灯不亮"
    assert Case.objects.get(pk=case.pk).description == "路灯\x0b不亮\x01\n已三天\x1f了"  # stored as sent


@pytest.mark.django_db
def test_a_deferred_case_exports_the_day_it_comes_back(client, world, cats):
    case = case_in_state(world, "deferred")
    day = Case.objects.get(pk=case.pk).resume_on
    client.force_login(world.users["dispatcher_a"])
    _, rows = workbook(client)
    (row,) = rows
    assert row["状态"] == "缓办" and row["恢复办理日期"].date() == day
    assert row["办理期限"] is not None  # the suspended deadline stays on record
