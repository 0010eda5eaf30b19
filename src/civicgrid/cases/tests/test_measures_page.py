"""The /measures/ page: the table, small samples greyed, the trend data, Excel export, scope."""

from __future__ import annotations

import json
import re
from io import BytesIO

import pytest
from openpyxl import load_workbook

from civicgrid.cases.measures.fold import fold
from civicgrid.cases.tests.measures_world import play
from civicgrid.people.models import User

JUNE = "from=2025-06-01&to=2025-06-30"


@pytest.fixture
def played(world, cats):
    numbers = play(world, cats)
    fold()
    return numbers


def page_as(client, world, who: str, query: str = JUNE):
    client.force_login(world.users[who])
    return client.get(f"/measures/?{query}")


@pytest.mark.django_db
def test_table_trend_and_small_samples(client, world, played):
    response = page_as(client, world, "dispatcher_a")
    assert response.status_code == 200
    html = response.content.decode()
    assert "考核指标 · 甲街道" in html and 'src="/static/vendor/echarts.min.js"' in html
    rows = re.findall(r"<tr class=\"([^\"]*)\"[^>]*>\s*<td>(.*?)</td>", html)
    classes = {re.sub(r"<[^>]+>", "", name): cls for cls, name in rows}
    assert "total" in classes["甲街道"]
    assert "small-sample" not in classes["甲一社区"] and "small-sample" in classes["甲二社区"]
    assert "75.0%" in html  # on-time closure of subdistrict A (9 of 12)
    assert "?from=2025-06-01&amp;to=2025-06-30&amp;unit=520281001001" in html  # drill down
    trend = json.loads(re.search(r'id="measures-trend-data"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert len(trend) == 30 and trend[0]["day"] == "2025-06-01"
    june16 = next(t for t in trend if t["day"] == "2025-06-16")
    assert (june16["base"], june16["closed"], june16["closed_on_time"]) == (3, 2, 1)


@pytest.mark.django_db
def test_people_and_drill_down(client, world, played):
    html = page_as(client, world, "leader", f"{JUNE}&unit=D-CG&by=person").content.decode()
    assert 'id="measures-people"' in html and "城管二" in html
    html = page_as(client, world, "dispatcher_a", f"{JUNE}&unit=520281001001").content.decode()
    assert "考核指标 · 甲一社区" in html and "↑ 甲街道" in html


@pytest.mark.django_db
def test_excel_export(client, world, played):
    response = page_as(client, world, "dispatcher_a", f"{JUNE}&format=xlsx&by=person")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(BytesIO(response.content))
    sheet = book["单位"]
    header = [c.value for c in sheet[2]]
    rows = {r[0]: dict(zip(header, r, strict=False)) for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert rows["甲街道"]["按期结案率"] == 0.75 and rows["甲街道"]["应结"] == 14
    assert rows["甲二社区"]["样本过少"] == "是" and rows["甲一社区"]["排名"] == 1
    assert "个人" in book.sheetnames and "说明" in book.sheetnames
    notes = [row[0] for row in book["说明"].iter_rows(values_only=True)]
    assert "按期结案率 = 按期结案 ÷ (应结 − 缓办)" in notes and not any("docs/" in str(n) for n in notes)


@pytest.mark.django_db
def test_english_headers_on_the_page_and_a_chinese_workbook(client, world, played):
    client.cookies["django_language"] = "en"
    html = page_as(client, world, "dispatcher_a").content.decode()
    assert "<th>Response rate</th>" in html and "<th>On-time closure</th>" in html and "响应率" not in html
    workbook = page_as(client, world, "dispatcher_a", f"{JUNE}&format=xlsx")
    assert (
        "filename*=utf-8''%E8%80%83%E6%A0%B8%E6%8C%87%E6%A0%87" in workbook["Content-Disposition"]
    )  # 考核指标
    book = load_workbook(BytesIO(workbook.content))
    assert "响应率" in [c.value for c in book["单位"][2]]  # the 台账 stays Chinese, as the cases' export


@pytest.mark.django_db
def test_scope_and_roles(client, world, played):
    assert page_as(client, world, "dispatcher_a", f"{JUNE}&unit=520281002").status_code == 404
    assert page_as(client, world, "resident").status_code == 403
    assert page_as(client, world, "nobody").status_code == 403
    for query, problem in (
        ("from=2025-06-30&to=2025-06-01", "开始日期不能晚于结束日期"),
        ("from=junk", "日期格式"),
    ):
        refused = page_as(client, world, "dispatcher_a", query)
        html = refused.content.decode()
        # The page stays, the problem beside the dates to mend (not an error page instead of it).
        assert refused.status_code == 422 and problem in html and 'class="measures-form"' in html
    assert page_as(client, world, "dispatcher_a", "from=junk&format=xlsx").status_code == 422
    client.logout()
    response = client.get("/measures/")
    assert response.status_code == 302 and "/login" in response["Location"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_trend_chart_draws(page, world, cats):
    from civicgrid.testing import PASSWORD, screenshot

    play(world, cats)
    fold()
    page.goto(f"{page.base}/login/?next=/measures/%3F{JUNE.replace('&', '%26')}")
    page.fill("input[name=username]", "dispatcher_a")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#measures-trend canvas")
    assert page.locator("#measures-units tbody tr").count() == 4
    screenshot(page, "measures")


@pytest.mark.django_db
def test_excel_export_writes_names_as_text(client, world, played):
    """Names are text whatever they hold: "=…" is no formula, a control character no broken workbook."""
    User.objects.filter(username="handler_cg2").update(display_name="=1+1\x0b城管二")
    response = page_as(client, world, "leader", f"{JUNE}&unit=D-CG&by=person&format=xlsx")
    assert response.status_code == 200
    cells = [r[0] for r in load_workbook(BytesIO(response.content))["个人"].iter_rows(min_row=3)]
    name = next(c for c in cells if c.value == "=1+1城管二")
    assert name.data_type == "s"  # a string, not a formula


@pytest.mark.django_db
def test_the_page_takes_the_same_queries_however_many_rows(client, world, played):
    """A subdistrict and a community (below the leader's own unit, so both link up to their parent)
    show different numbers of rows, of units or of people, in the same statements."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cost(query: str) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = page_as(client, world, "leader", query)
        assert response.status_code == 200
        return len(ctx.captured_queries), response.content.decode().count("<tr ")

    page_as(client, world, "leader")  # the session's first use
    for by in ("unit", "person"):
        costs = [cost(f"{JUNE}&unit={code}&by={by}") for code in ("520281001", "520281001001")]
        assert costs[0][1] != costs[1][1] and costs[0][0] == costs[1][0], (by, costs)
