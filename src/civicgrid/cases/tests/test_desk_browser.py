"""The desk in a real browser: a dispatcher dispatches through the htmx form, the handler signs on a phone."""

from datetime import timedelta

import pytest
from django.utils import timezone

from civicgrid.cases.actions import add_photos
from civicgrid.cases.models import Case
from civicgrid.cases.tests.factories import case_in_state, jpeg
from civicgrid.testing import PASSWORD, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MARKER = "window.__deskMarker"


def sign_in(tab, username, next_path):
    tab.goto(f"{tab.base}/login/?next={next_path}")
    tab.fill("#id_username", username)
    tab.fill("#id_password", PASSWORD)
    tab.click("button.primary")
    tab.wait_for_url(tab.base + next_path + "*")


def test_dispatch_then_sign_without_reloading(page, phone, world, cats):
    case = case_in_state(
        world, "registered", category=cats["road"], title="人行道地砖破损", address="幸福路 12 号"
    )
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # The dispatcher's inbox: the case waits to be dispatched.
    sign_in(page, "dispatcher_a", "/cases/")
    current = page.locator(".tabs .tab.current")
    assert "待派遣" in current.inner_text() and "1" in current.inner_text()
    row = page.locator("table.cases tr.case-row", has_text=case.number)
    assert "人行道地砖破损" in row.inner_text()
    screenshot(page, "desk-inbox")

    # The case page, with the pin on the grid's outline (no tiles).
    row.locator("a.number").click()
    page.wait_for_url(f"{page.base}/cases/{case.number}/")
    page.locator(".leaflet-marker-icon").wait_for()
    assert page.locator(".case-map path.leaflet-interactive").count() == 2  # community and grid outlines
    page.evaluate(f"{MARKER} = 'kept'")

    # Dispatch through the htmx form: the panel changes, the page does not reload.
    page.click("a[data-step=dispatch]")
    page.locator("#step-form form[data-step=dispatch]").wait_for()
    page.select_option("#id_lead_unit", label="测试县城市管理局")
    # The 协办 list narrows as a name is typed above it.
    page.fill("#step-form input.select-filter", "市场")
    shown = page.locator("#id_assisting_units option:not([hidden])")
    assert shown.all_inner_texts() == ["测试县市场监督管理局"]
    page.select_option("#id_assisting_units", label="测试县市场监督管理局")
    page.fill("#id_note", "请两日内修复")
    page.click("#step-form button[type=submit]")
    page.locator("#case-panel .flash", has_text="派遣：已完成").wait_for()
    assert page.locator("#case-panel .status-line .status").inner_text() == "已派遣"
    assert "主办：测试县城市管理局；协办：测试县市场监督管理局" in page.locator(".timeline").inner_text()
    assert page.evaluate(MARKER) == "kept"
    page.locator(".leaflet-marker-icon").wait_for()  # the swapped panel draws its map again
    screenshot(page, "desk-case")

    # The department handler signs on a phone.
    sign_in(phone, "handler_cg", "/cases/")
    assert "待签收" in phone.locator(".tabs .tab.current").inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    # Every tab in sight on the phone, 已超期 too (they wrap; no row scrolled sideways out of view).
    rights = "[...document.querySelectorAll('.tabs .tab')].map(t => t.getBoundingClientRect().right)"
    assert max(phone.evaluate(rights)) <= 360
    screenshot(phone, "desk-inbox-phone")
    phone.locator("table.cases a.number", has_text=case.number).click()
    phone.wait_for_url(f"{phone.base}/cases/{case.number}/")
    phone.evaluate(f"{MARKER} = 'kept'")

    phone.click("a[data-step=sign]")
    phone.locator("#step-form form[data-step=sign]").wait_for()
    phone.click("#step-form button[type=submit]")
    phone.locator("#case-panel .flash", has_text="签收：已完成").wait_for()
    assert phone.locator("#case-panel .status-line .status").inner_text() == "已签收"
    phone.click("a[data-step=return]")
    phone.locator("#step-form form[data-step=return]").wait_for()
    # A refusal (no reason chosen; the browser's own check switched off) comes back inside the form.
    phone.evaluate("document.querySelector('#step-form form').noValidate = true")
    phone.click("#step-form button[type=submit]")
    phone.locator("#step-form .field-reason_code .error").wait_for()
    assert phone.evaluate(MARKER) == "kept"
    assert phone.locator("#case-panel .flash").count() == 0  # the sign's 已完成 went with the new step
    phone.click("#step-form [data-cancel]")
    assert phone.locator("#step-form").inner_html().strip() == ""
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "desk-case-phone")

    assert Case.objects.get(pk=case.pk).status == "signed"
    assert not errors


def test_a_party_member_claims_an_offered_request_on_a_phone(phone, world, cats):
    from civicgrid.cases import actions

    case = case_in_state(world, "registered", title="独居老人需要代买药品", address="幸福路 8 号")
    actions.offer_case(case, by=world.users["staff_a1"], note="请在职党员认领")
    errors = []
    phone.on("pageerror", lambda exc: errors.append(str(exc)))

    sign_in(phone, "member_a1", "/cases/")
    current = phone.locator(".tabs .tab.current")
    assert "待认领" in current.inner_text() and "1" in current.inner_text()
    assert phone.locator("nav a[href='/measures/']").count() == 0
    phone.locator("table.cases a.number", has_text=case.number).click()
    phone.wait_for_url(f"{phone.base}/cases/{case.number}/")
    phone.evaluate(f"{MARKER} = 'kept'")
    assert phone.locator("a[data-step=dispatch]").count() == 0  # only the member's own steps

    phone.click("a[data-step=claim]")
    phone.locator("#step-form form[data-step=claim]").wait_for()
    phone.fill("#id_note", "下班后送过去")
    phone.click("#step-form button[type=submit]")
    phone.locator("#case-panel .flash", has_text="认领：已完成").wait_for()
    assert phone.locator("#case-panel .status-line .status").inner_text() == "已签收"
    assert "党员认领" in phone.locator(".timeline").inner_text()
    assert phone.locator("a[data-step=feedback]").count() == 1  # the member handles it now
    assert phone.evaluate(MARKER) == "kept"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "desk-claim-phone")
    assert Case.objects.get(pk=case.pk).claimed_by == world.users["member_a1"]
    assert errors == []


def test_a_case_photo_shows_through_its_signed_link(page, world, cats):
    case = case_in_state(world, "registered", category=cats["road"], title="井盖缺失")
    add_photos(case.number, by=world.users["staff_a1"], files=[("a.jpg", jpeg())])
    sign_in(page, "dispatcher_a", f"/cases/{case.number}/")
    thumb = page.locator(".case-photos img").first
    thumb.wait_for()
    page.wait_for_function("document.querySelector('.case-photos img').complete")
    assert thumb.evaluate("img => img.naturalWidth") > 0
    link = thumb.locator("xpath=..").get_attribute("href")
    assert link.startswith(f"/photos/cases/{case.number}/") and "&s=" in link
    statuses = page.evaluate(
        """async (link) => [
            (await fetch(link)).status,
            (await fetch(link.split('?')[0])).status,
            (await fetch(link.slice(0, -3) + 'abc')).status,
        ]""",
        link,
    )
    assert statuses == [200, 404, 404]  # the link, the path alone, a changed signature


def test_defer_to_a_day_and_resume_on_a_phone(phone, world, cats):
    case = case_in_state(world, "signed", category=cats["garbage"], title="小区垃圾站改造")
    sign_in(phone, "dispatcher_a", f"/cases/{case.number}/")
    phone.click("a[data-step=defer]")
    form = phone.locator("#step-form form[data-step=defer]")
    form.wait_for()
    picker = form.locator("input[type=date][name=resume_on]")
    assert picker.input_value() == str(timezone.localdate() + timedelta(days=30))
    day = timezone.localdate() + timedelta(days=12)
    picker.fill(day.isoformat())
    form.locator("textarea[name=reason]").fill("待年度资金到位")
    form.locator("button[type=submit]").click()
    phone.locator("#case-panel .flash", has_text="缓办：已完成").wait_for()
    clock = phone.locator("#case-panel .clocks .clock", has_text="恢复办理")
    assert day.strftime("%Y-%m-%d") in clock.inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "desk-deferred-phone")
    phone.click("a[data-step=resume]")
    phone.locator("#step-form form[data-step=resume] button[type=submit]").click()
    phone.locator("#case-panel .flash", has_text="恢复办理：已完成").wait_for()
    assert phone.locator("#case-panel .status-line .status").inner_text() == "已签收"
    assert "恢复办理" in phone.locator(".timeline").inner_text()


def test_a_step_someone_else_took_first_shows_the_case_as_it_now_is(page, world, cats):
    """Two staff on one case: the second one's 立案 answers 409, and the panel shows the case as it is
    now (registered, no 立案 button) with the reason, without reloading the page."""
    from civicgrid.cases.actions import register_case

    case = case_in_state(world, "received", category=cats["road"])
    sign_in(page, "staff_a1", f"/cases/{case.number}/")
    page.evaluate(f"{MARKER} = 'kept'")
    page.click("a[data-step=register]")
    page.locator("#step-form form[data-step=register]").wait_for()
    register_case(case.number, by=world.users["grid_a1"])  # a colleague is quicker
    page.click("#step-form button[type=submit]")
    page.locator("#case-panel .flash.error", has_text="只有已受理的工单可以立案").wait_for()
    assert page.locator("#case-panel .status-line .status").inner_text() == "已立案"
    assert page.locator("a[data-step=register]").count() == 0
    assert page.evaluate(MARKER) == "kept"


def test_the_check_in_form_takes_the_phones_position_as_it_opens(phone, world, cats):
    case = case_in_state(world, "signed", category=cats["road"])
    phone.context.grant_permissions(["geolocation"], origin=phone.base)
    phone.context.set_geolocation({"latitude": 25.7051, "longitude": 104.4052, "accuracy": 12})
    sign_in(phone, "handler_cg", f"/cases/{case.number}/")
    phone.click("a[data-step=arrive]")
    phone.locator("#step-form form[data-step=arrive]").wait_for()
    lat = phone.locator("#step-form [name=lat]")
    phone.wait_for_function("document.querySelector('#step-form [name=lat]').value !== ''")
    assert lat.input_value() == "25.705100"
    assert phone.locator("#step-form [name=lng]").input_value() == "104.405200"
    assert "12" in phone.locator("[data-locate-status]").inner_text()
