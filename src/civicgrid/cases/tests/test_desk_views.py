"""The staff desk pages: inbox tabs and counts, the list, the case page, steps (htmx and plain), scope."""

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from civicgrid.cases import actions, search
from civicgrid.cases.models import Case, Category, ExtensionRequest
from civicgrid.cases.tests.factories import HX, PHONE, case_in_state, file_case
from civicgrid.core.models import Unit
from civicgrid.people.models import User
from civicgrid.routing.models import RoutingSuggestion


def tab_keys(response):
    return [t.key for t, _ in response.context["counts"]]


@pytest.mark.django_db
def test_inbox_shows_only_the_tabs_of_the_users_roles(login, cats):
    assert tab_keys(login("dispatcher_a").get("/cases/")) == [
        "to_register",
        "to_dispatch",
        "due_soon",
        "overdue",
        "to_recheck",
        "returned",
        "extension_requests",
    ]
    assert tab_keys(login("handler_cg").get("/cases/")) == ["to_sign", "in_progress", "due_soon", "overdue"]
    assert tab_keys(login("grid_a1").get("/cases/")) == [
        "to_register",
        "to_sign",
        "in_progress",
        "due_soon",
        "overdue",
        "to_recheck",
    ]
    assert tab_keys(login("leader").get("/cases/")) == ["due_soon", "overdue"]
    assert len(tab_keys(login("staff_a1").get("/cases/"))) == 9


@pytest.mark.django_db
def test_inbox_lists_what_waits_with_counts_and_deadline_colour(login, world, cats):
    registered = case_in_state(world, "registered", title="井盖缺失")
    dispatched = case_in_state(world, "dispatched", title="路灯不亮")
    Case.objects.filter(pk=dispatched.pk).update(due_at=timezone.now() - timedelta(hours=3))
    client = login("dispatcher_a")
    page = client.get("/cases/?tab=to_dispatch")
    assert page.status_code == 200
    html = page.content.decode()
    assert registered.number in html and "井盖缺失" in html and dispatched.number not in html
    counts = {t.key: n for t, n in page.context["counts"]}
    assert counts["to_dispatch"] == 1 and counts["overdue"] == 1
    overdue = client.get("/cases/?tab=overdue").content.decode()
    assert dispatched.number in overdue and 'class="clock red"' in overdue and "超期 3小时" in overdue
    handler = login("handler_cg").get("/cases/").content.decode()
    # The handler's first tab with something in it opens by default: to sign.
    assert 'data-tab="to_sign" class="tab current"' in handler and dispatched.number in handler


@pytest.mark.django_db
def test_extension_requests_tab_shows_the_request(login, world, cats):
    case = case_in_state(world, "pending")
    html = login("dispatcher_a").get("/cases/?tab=extension_requests").content.decode()
    assert case.number in html and "2 个工作日" in html and "需要采购材料" in html


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("dispatcher_a", "/cases/?tab=to_dispatch"),
        ("staff_a1", "/cases/?tab=to_register"),
        ("dispatcher_a", "/cases/list/"),
        ("dispatcher_a", "/cases/list/?q=垃圾&sort=due&overdue=0"),
    ],
)
def test_list_pages_take_the_same_queries_for_1_and_20_cases(login, world, cats, who, url):
    state = "registered" if "to_dispatch" in url else "received"
    case_in_state(world, state)
    client = login(who)
    one = _queries(client, url)
    for _ in range(19):
        case_in_state(world, state)
    client = login(who)
    assert _queries(client, url) == one


def _in_tab(world, tab: str) -> Case:
    """A new case that the tab lists."""
    u = world.users
    state = {
        "to_register": "received",
        "to_dispatch": "registered",
        "to_sign": "dispatched",
        "to_recheck": "fed_back",
        "extension_requests": "pending",
    }.get(tab, "signed")
    if tab in ("to_claim", "claimed"):
        case = actions.offer_case(case_in_state(world, "registered"), by=u["staff_a1"])
        return actions.claim_case(case, by=u["member_a1"]) if tab == "claimed" else case
    case = case_in_state(world, state)
    if tab == "returned":
        case = case_in_state(world, "dispatched")
        actions.return_case(case, by=u["handler_cg"], reason_code="not_our_duty", note="非本单位职能")
    if tab in ("due_soon", "overdue"):  # the clock moved on: due in 2 hours, or 2 hours ago
        hours = 2 if tab == "due_soon" else -2
        Case.objects.filter(pk=case.pk).update(due_at=timezone.now() + timedelta(hours=hours))
    return case


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tab", "who"),
    [
        ("to_register", "staff_a1"),
        ("to_dispatch", "dispatcher_a"),
        ("to_sign", "handler_cg"),
        ("in_progress", "handler_cg"),
        ("due_soon", "dispatcher_a"),
        ("overdue", "dispatcher_a"),
        ("to_recheck", "grid_a1"),
        ("returned", "dispatcher_a"),
        ("extension_requests", "dispatcher_a"),
        ("to_claim", "member_a1"),
        ("claimed", "member_a1"),  # a Party member's in_progress: what they claimed
    ],
)
def test_every_inbox_tab_takes_the_same_queries_for_1_and_20_cases(login, world, cats, tab, who):
    url = f"/cases/?tab={'in_progress' if tab == 'claimed' else tab}"
    first = _in_tab(world, tab)
    client = login(who)
    one = _queries(client, url)
    assert first.number in client.get(url).content.decode()
    more = [_in_tab(world, tab) for _ in range(19)]
    client = login(who)
    assert _queries(client, url) == one
    page = client.get(url).content.decode()
    assert all(case.number in page for case in [first, *more])


@pytest.mark.django_db
def test_inbox_queries_are_one_count_per_tab_plus_one_page(login, world, cats):
    for _ in range(3):
        case_in_state(world, "registered")
    client = login("dispatcher_a")
    client.get("/cases/")  # warm the session
    with CaptureQueriesContext(connection) as ctx:
        client.get("/cases/?tab=to_dispatch")
    case_queries = [q["sql"] for q in ctx.captured_queries if 'FROM "cases_case"' in q["sql"]]
    counts = [q for q in case_queries if "COUNT(" in q]
    assert len(counts) == 7  # the dispatcher's seven tabs
    assert len(case_queries) == 8  # and one page of rows with category and lead unit joined


@pytest.mark.django_db
def test_list_search_filters_sort_and_paging(login, world, cats):
    garbage = file_case(world, title="垃圾堆积", category=cats["garbage"])
    road = file_case(world, title="道路坑洼", description="路面塌陷", category=cats["road"])
    other = file_case(world, by="staff_a2", title="甲二的垃圾", category=cats["garbage"])
    closed = case_in_state(world, "closed", title="已结案的事")
    client = login("dispatcher_a")

    def numbers(query):
        response = client.get("/cases/list/" + query)
        assert response.status_code == 200, response.content.decode()[:500]
        return [c.number for c, _ in response.context["rows"]]

    assert set(numbers("")) == {garbage.number, road.number, other.number, closed.number}
    assert numbers("?q=塌陷") == [road.number]
    assert set(numbers(f"?category={cats['city'].pk}")) == {garbage.number, road.number, other.number}
    assert numbers(f"?unit={world.units['com_a2'].pk}") == [other.number]
    assert numbers("?status=closed") == [closed.number]
    assert closed.number not in numbers("?status=open")
    assert numbers(f"?unit={world.units['dept_cg'].pk}") == [closed.number]
    today = timezone.localdate().isoformat()
    assert len(numbers(f"?created_from={today}&created_to={today}")) == 4
    assert numbers("?created_to=2000-01-01") == []
    assert numbers("?sort=created")[0] == garbage.number
    assert numbers("?sort=-created")[0] == closed.number
    bad = client.get("/cases/list/?created_from=2026-02-02&created_to=2026-01-01")
    assert bad.status_code == 422 and "结束日期不能早于开始日期" in bad.content.decode()
    for query in ["?created_from=0001-01-01", "?created_to=9999-12-31"]:
        bad = client.get("/cases/list/" + query)
        assert bad.status_code == 422 and bad.context["form"].has_error(query[1:].split("=")[0]), query
    long = client.get("/cases/list/?q=" + "垃" * 101)
    assert (
        long.status_code == 422
        and 'class="error" role="alert">确保该变量包含不超过 100 字符' in long.content.decode()
    )
    # B's dispatcher sees none of A's cases, whatever the filter, and is told so.
    none = login("dispatcher_b").get("/cases/list/?q=垃圾")
    assert none.context["rows"] == [] and "没有符合条件的工单" in none.content.decode()


@pytest.mark.django_db
def test_list_pages(login, world, cats):
    for _ in range(23):
        file_case(world)
    client = login("staff_a1")
    first = client.get("/cases/list/?q=垃圾")
    assert len(first.context["rows"]) == 20 and "第 1 / 2 页，共 23 条" in first.content.decode()
    assert 'href="?q=%E5%9E%83%E5%9C%BE&amp;page=2"' in first.content.decode()
    assert len(client.get("/cases/list/?q=垃圾&page=2").context["rows"]) == 3
    # A search reads its page and total in one pass; bad and too-high page numbers behave as without q.
    for page, number, rows in [("9", 2, 3), ("x", 1, 20), ("-1", 1, 20), (str(10**20), 2, 3)]:
        response = client.get(f"/cases/list/?q=垃圾&page={page}")
        assert (response.context["page"].number, len(response.context["rows"])) == (number, rows)
        assert f"第 {number} / 2 页，共 23 条" in response.content.decode()
    oldest = client.get("/cases/list/?q=垃圾&sort=created&page=2").context["rows"]
    newest = client.get("/cases/list/?q=垃圾&sort=-created").context["rows"]
    assert [c for c, _ in oldest] == [c for c, _ in newest][:3][::-1]
    assert client.get("/cases/list/?q=没有这个词").context["page"].paginator.count == 0


@pytest.mark.django_db
def test_a_wide_search_pages_up_to_the_count_limit(login, world, cats, monkeypatch):
    """Past SEARCH_COUNT_LIMIT matches the pager says "more than" and offers pages up to the limit's."""
    monkeypatch.setattr(search, "SEARCH_COUNT_LIMIT", 21)
    for _ in range(23):
        file_case(world)
    client = login("staff_a1")
    for page, number, rows in [("1", 1, 20), ("2", 2, 3), ("9", 2, 3)]:
        response = client.get(f"/cases/list/?q=垃圾&page={page}")
        html = response.content.decode()
        assert (response.context["page"].number, len(response.context["rows"])) == (number, rows)
        assert f"第 {number} 页，超过 21 条" in html and "共 21 条" not in html
    assert 'href="?q=%E5%9E%83%E5%9C%BE&amp;page=2"' in client.get("/cases/list/?q=垃圾").content.decode()
    monkeypatch.setattr(search, "SEARCH_COUNT_LIMIT", 23)
    assert "第 1 / 2 页，共 23 条" in client.get("/cases/list/?q=垃圾").content.decode()


@pytest.mark.django_db
def test_case_page_shows_everything_and_masks_the_reporter(login, world, cats):
    case = case_in_state(world, "signed", category=cats["garbage"])
    html = login("dispatcher_a").get(f"/cases/{case.number}/").content.decode()
    for text in [case.number, "已签收", "承办单位已签收，正在办理", "市容环境 / 垃圾清运", "办理期限"]:
        assert text in html
    assert "测试县城市管理局" in html and "测试县市场监督管理局" in html  # lead and assisting
    assert "主办：测试县城市管理局；协办：测试县市场监督管理局" in html  # the dispatch step
    assert PHONE in html and "张三丰" in html  # the dispatcher calls back
    assert 'id="case-map-data"' in html and "甲一第1网格" in html  # pin on the grid's outline
    handler = login("handler_cg").get(f"/cases/{case.number}/").content.decode()
    assert PHONE not in handler and "138****5678" in handler and "张**" in handler
    buttons = login("handler_cg").get(f"/cases/{case.number}/").context["steps"]
    assert [s for s, _ in buttons] == ["arrive", "feedback", "return", "request_extension", "photos"]


@pytest.mark.django_db
@pytest.mark.parametrize("datum", ["wgs84", "gcj02"])
def test_the_case_map_uses_the_installations_tiles_in_their_datum(login, world, cats, settings, datum):
    from civicgrid.core import coords

    settings.CIVICGRID_MAP_TILE_URL = "https://tiles.example.gov.cn/{z}/{x}/{y}.png"
    settings.CIVICGRID_MAP_TILE_COORD = datum
    settings.CIVICGRID_MAP_ATTRIBUTION = "县自然资源局"
    case = case_in_state(world, "registered")
    shown = login("dispatcher_a").get(f"/cases/{case.number}/").context["map"]
    assert shown["tiles"] == settings.CIVICGRID_MAP_TILE_URL and shown["attribution"] == "县自然资源局"
    grid = next(a for a in shown["areas"] if a["kind"] == "grid")["geojson"]
    corner = json.loads(world.units["grid_a1"].polygon)["coordinates"][0][0]
    if datum == "wgs84":
        assert (shown["lat"], shown["lng"]) == (case.lat, case.lng) and grid["coordinates"][0][0] == corner
    else:  # shifted as the tiles are, by the few hundred metres of the GCJ-02 offset
        assert (shown["lat"], shown["lng"]) == pytest.approx(coords.wgs84_to_gcj02(case.lat, case.lng))
        lat, lng = coords.wgs84_to_gcj02(corner[1], corner[0])
        assert grid["coordinates"][0][0] == pytest.approx([lng, lat]) and abs(lng - corner[0]) > 0.001


@pytest.mark.django_db
def test_case_without_a_point_has_no_map(login, world, cats):
    case = file_case(world, lat=None, lng=None)
    response = login("staff_a1").get(f"/cases/{case.number}/")
    assert response.status_code == 200 and response.context["map"] is None
    assert "leaflet.js" not in response.content.decode()


@pytest.mark.django_db
def test_anonymous_goes_to_login(client, world, cats):
    case = case_in_state(world, "registered")
    for url in [f"/cases/{case.number}/", f"/cases/{case.number}/steps/dispatch/", "/cases/", "/cases/list/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    response = client.post(f"/cases/{case.number}/steps/dispatch/", {"lead_unit": "1"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    response = client.post(
        f"/cases/{case.number}/steps/sign/",
        headers={**HX, "HX-Current-URL": f"http://x/cases/{case.number}/"},
    )
    assert response.status_code == 401 and response["HX-Redirect"].startswith("/login/?next=%2Fcases%2F")


@pytest.mark.django_db
def test_other_unit_gets_404_for_the_case_and_its_steps(login, world, cats):
    case = case_in_state(world, "registered")
    for who in ["dispatcher_b", "staff_a2", "handler_cg"]:
        client = login(who)
        assert client.get(f"/cases/{case.number}/").status_code == 404
        assert client.get(f"/cases/{case.number}/steps/dispatch/").status_code == 404
        unit = world.units["dept_cg"].pk
        assert client.post(f"/cases/{case.number}/steps/dispatch/", {"lead_unit": unit}).status_code == 404
    assert Case.objects.get(pk=case.pk).status == "registered"
    assert login("dispatcher_a").get("/cases/CG20000101-9999/").status_code == 404


@pytest.mark.django_db
def test_wrong_role_gets_403_for_a_step(login, world, cats):
    case = case_in_state(world, "registered")
    client = login("grid_a1")
    assert client.get(f"/cases/{case.number}/").status_code == 200
    form = client.get(f"/cases/{case.number}/steps/dispatch/", headers=HX)
    assert form.status_code == 403 and "只有街道指挥中心或属地社区可以派遣" in form.content.decode()
    posted = client.post(f"/cases/{case.number}/steps/dispatch/", {"lead_unit": world.units["dept_cg"].pk})
    assert posted.status_code == 403
    assert Case.objects.get(pk=case.pk).status == "registered"
    # Not staff at all: no desk.
    assert login("resident").get("/cases/").status_code == 403


@pytest.mark.django_db
def test_dispatch_through_htmx_answers_the_panel(login, world, cats):
    case = case_in_state(world, "registered", category=cats["garbage"])
    client = login("dispatcher_a")
    form = client.get(f"/cases/{case.number}/steps/dispatch/", headers=HX)
    html = form.content.decode()
    assert form.status_code == 200 and 'hx-post="/cases/' in html and "<html" not in html
    # The category's default unit is chosen; only targets the dispatcher may use are offered.
    assert f'<option value="{world.units["dept_cg"].pk}" selected>' in html
    assert "乙一社区" not in html and "甲一社区" in html
    # Grouped by kind, each group in the order of its codes.
    groups = re.findall(
        r'<optgroup label="([^"]+)">(.*?)</optgroup>',
        html.split('id="id_lead_unit"')[1].split("</select>")[0],
        re.S,
    )
    assert [label for label, _ in groups] == ["职能部门", "街道内设机构", "社区/村", "网格"]
    assert re.findall(r">([^<]+)</option>", groups[0][1]) == ["测试县城市管理局", "测试县市场监督管理局"]
    # The grids of the case's own community only (甲二's grid is another community's).
    assert re.findall(r">([^<]+)</option>", groups[3][1]) == ["甲一第1网格"]
    response = client.post(
        f"/cases/{case.number}/steps/dispatch/",
        {
            "lead_unit": world.units["dept_cg"].pk,
            "assisting_units": [world.units["office_a"].pk],
            "note": "请尽快",
        },
        headers=HX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<div id="case-panel"') or 'id="case-panel"' in html[:200]
    assert "派遣：已完成" in html and "已派遣，等待承办单位签收" in html and "请尽快" in html
    case.refresh_from_db()
    assert case.status == "dispatched" and case.lead_unit == world.units["dept_cg"]


@pytest.mark.django_db
def test_steps_work_without_javascript(login, world, cats):
    case = case_in_state(world, "dispatched")
    client = login("handler_cg")
    page = client.get(f"/cases/{case.number}/steps/sign/")
    assert (
        page.status_code == 200
        and "<html" in page.content.decode()
        and "hx-post" not in page.content.decode()
    )
    response = client.post(f"/cases/{case.number}/steps/sign/", {"note": "收到"})
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.number}/"
    followed = client.get(response["Location"]).content.decode()
    assert "签收：已完成" in followed and "已签收" in followed


@pytest.mark.django_db
def test_refusals_come_back_in_the_form_with_their_status(login, world, cats):
    case = case_in_state(world, "received")
    client = login("staff_a1")
    missing = client.post(f"/cases/{case.number}/steps/reject/", {"reason": ""}, headers=HX)
    assert missing.status_code == 422 and "这个字段是必填项" in missing.content.decode()
    assert missing["HX-Retarget"] == "#step-form"
    client.post(f"/cases/{case.number}/steps/register/", {}, headers=HX)
    again = client.post(f"/cases/{case.number}/steps/register/", {}, headers=HX)
    assert again.status_code == 409 and "只有已受理的工单可以立案" in again.content.decode()
    # The case moved on: the fresh panel comes back (no 立案 button of the old state), not the form.
    assert "HX-Retarget" not in again and 'id="case-panel"' in again.content.decode()
    assert f"/cases/{case.number}/steps/register/" not in again.content.decode()
    # The action's own refusal (not foreseen by the form) also lands in the form.
    signed = case_in_state(world, "signed")
    recheck = login("handler_cg").post(
        f"/cases/{signed.number}/steps/request_extension/", {"working_days": 40, "reason": "x"}, headers=HX
    )
    assert recheck.status_code == 422
    merge = login("staff_a1").post(f"/cases/{case.number}/steps/merge/", {"into": case.number})
    assert merge.status_code == 422 and "不能合并到工单自身" in merge.content.decode()
    # A target that does not exist is the form's wrong input too (htmx shows 422 in the form, not 404).
    unknown = login("staff_a1").post(
        f"/cases/{case.number}/steps/merge/", {"into": "CG20990101-9999"}, headers=HX
    )
    assert unknown.status_code == 422 and "要合并到的工单不存在" in unknown.content.decode()
    assert unknown["HX-Retarget"] == "#step-form"


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/desk/", "/inbox/", "/measures/", "/password/", "/cases/"])
def test_every_page_header_links_the_desk_as_the_role_allows(login, world, cats, url):
    def header(who: str) -> str:
        html = login(who).get(url).content.decode()
        return html.split('<header class="top">')[1].split("</header>")[0]

    staff = header("dispatcher_a")
    assert 'href="/cases/"' in staff and 'href="/cases/list/"' in staff and 'href="/measures/"' in staff
    if url not in ("/measures/", "/cases/"):  # pages a Party member may open
        member = header("member_a1")
        assert 'href="/cases/"' in member and 'href="/measures/"' not in member
    if url in ("/desk/", "/inbox/", "/password/"):
        resident = header("resident")
        assert 'href="/cases/"' not in resident and 'href="/measures/"' not in resident
    # Each language in its own name.
    assert ">简体中文</option>" in staff and ">English</option>" in staff
    icon = re.search(r'<link rel="icon" href="([^"]+)"', login("dispatcher_a").get(url).content.decode())
    assert icon and login("dispatcher_a").get(icon.group(1)).status_code == 200


@pytest.mark.django_db
def test_desk_shows_the_case_inbox_counts_and_measures_link(login, world, cats):
    case_in_state(world, "registered")
    html = login("dispatcher_a").get("/desk/").content.decode()
    assert 'href="/cases/?tab=to_dispatch"' in html and "待派遣 <b>1</b>" in html
    assert 'href="/measures/"' in html
    assert "工单收件箱" not in login("resident").get("/desk/").content.decode()


@pytest.mark.django_db
def test_unknown_step_is_404(login, world, cats):
    case = case_in_state(world, "registered")
    assert login("dispatcher_a").get(f"/cases/{case.number}/steps/explode/").status_code == 404


@pytest.mark.django_db
def test_step_that_takes_the_case_out_of_scope_goes_back_to_the_inbox(login, world, cats):
    case = case_in_state(world, "dispatched")
    actions.sign_case(case, by=world.users["handler_cg"])
    response = login("handler_cg").post(
        f"/cases/{case.number}/steps/return/", {"reason_code": "not_our_duty"}, headers=HX
    )
    # The returning unit still sees the case (its assignment stays until the next dispatch).
    assert response.status_code == 200 and "退回：已完成" in response.content.decode()


CJK = re.compile(r"[\u3400-\u9fff]")


def without_data(html: str, case: Case) -> str:
    """The page without the data it shows (names, case texts, stored reasons): what is left is the UI."""
    data = [
        *Unit.objects.values_list("name", flat=True),
        *Category.objects.values_list("name", flat=True),
        *User.objects.values_list("display_name", flat=True),
        *ExtensionRequest.objects.values_list("reason", flat=True),
        *RoutingSuggestion.objects.values_list("wait_reason", flat=True),
        *RoutingSuggestion.objects.values_list("unit_reason", flat=True),
        case.title,
        case.description,
        case.address,
        "张三丰",
        "张**",
        "简体中文",  # the language switch names each language in itself
    ]
    for text in sorted({t for t in data if t}, key=len, reverse=True):
        html = html.replace(text, "")
    return html


@pytest.mark.django_db
def test_desk_pages_in_english(login, world, cats):
    case = case_in_state(world, "pending", category=cats["garbage"])
    client = login("dispatcher_a")
    client.cookies["django_language"] = "en"
    en = {"Accept-Language": "en"}
    inbox = client.get("/cases/?tab=extension_requests", headers=en).content.decode()
    page = client.get(f"/cases/{case.number}/", headers=en).content.decode()
    listing = client.get("/cases/list/", headers=en).content.decode()
    for text in ["Inbox", 'Extension requests <b class="count">1</b>', "2 working days", "Time left"]:
        assert text in inbox
    for text in [
        "Signed for by the handling unit; being handled",
        "Handling deadline",
        "Handling units",
        "Timeline",
        "Lead: 测试县城市管理局; assisting: 测试县市场监督管理局",
        "asks for 2 more working days",
        ">Approve the extension</a>",
        ">Defer</a>",
    ]:
        assert text in page
    for text in ["Filter and sort", "Received (newest first)", "Export to Excel", "1 case in all"]:
        assert text in listing
    for html in (inbox, page, listing):
        for chinese in ["收件箱", "办理期限", "承办单位", "办理记录", "延期申请", "剩余", "工作日", "未分类"]:
            assert chinese not in html
        assert not CJK.findall(without_data(html, case))
    # desk.js's texts (the arrive step's "use my position") come with the page, in its language.
    assert desk_messages(page) == {
        "locating": "Locating…",
        "located": "Located (accurate to about %(m)s m)",
        "locateFailed": "Could not get the location; please fill it in by hand",
    }
    client.cookies["django_language"] = "zh-hans"
    chinese = client.get(f"/cases/{case.number}/").content.decode()
    assert desk_messages(chinese) == {
        "locating": "正在定位…",
        "located": "已定位（精度约 %(m)s 米）",
        "locateFailed": "无法获取位置，请手动填写",
    }


def desk_messages(html: str) -> dict[str, str]:
    found = re.search(r'<script id="desk-messages" type="application/json">(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))


@pytest.mark.django_db
def test_the_lists_unit_filter_is_grouped_by_kind_in_the_order_of_codes(login, world, cats):
    html = login("dispatcher_a").get("/cases/list/").content.decode()
    select = html.split('id="id_unit"')[1].split("</select>")[0]
    groups = re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', select, re.S)
    assert [label for label, _ in groups][:2] == ["职能部门", "街道/镇"]
    departments = re.findall(r">([^<]+)</option>", groups[0][1])
    assert departments == ["测试县城市管理局", "测试县市场监督管理局"]  # D-CG before D-SC
