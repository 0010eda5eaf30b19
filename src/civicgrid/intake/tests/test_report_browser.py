"""The resident's path on a phone: report with a photo, follow with the code, rate after closing."""

import pytest
from PIL import Image

from civicgrid.cases import actions as case_actions
from civicgrid.cases.models import Case, Category, Status
from civicgrid.testing import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "13912345678"


@pytest.fixture
def category(world):
    parent = Category.objects.create(code="SR", name="市容环境")
    return Category.objects.create(
        code="SR01", name="垃圾清运", parent=parent, default_lead_unit=world.units["dept_cg"]
    )


def _photo(tmp_path):
    path = tmp_path / "snap.jpg"
    Image.new("RGB", (800, 600), (90, 140, 60)).save(path, format="JPEG", quality=85)
    return str(path)


def _fill_report(phone, tmp_path):
    phone.context.grant_permissions(["geolocation"], origin=phone.base)
    phone.context.set_geolocation({"latitude": 25.705, "longitude": 104.405})
    phone.goto(phone.base + "/report/")
    phone.wait_for_function("window.L && document.querySelector('#map .leaflet-interactive')")
    screenshot(phone, "intake-1-report-empty")
    phone.set_input_files("#photos", _photo(tmp_path))
    phone.wait_for_selector("#previews img")
    phone.click("#locate")
    phone.wait_for_function("document.getElementById('place-text').textContent.indexOf('当前位置') === 0")
    phone.fill("#cat-search", "垃圾")
    phone.click("#cat-list button[data-code=SR01]")
    phone.fill("#description", "3 号楼东侧垃圾堆积三天没人清运")
    phone.fill("#name", "王小二")
    phone.fill("#phone", PHONE)


def test_report_follow_and_rate_on_a_phone(phone, world, category, tmp_path):
    _fill_report(phone, tmp_path)
    screenshot(phone, "intake-2-report-filled")
    phone.click("#submit")
    phone.wait_for_selector("#step-done:not([hidden])")
    code = phone.locator("#done-code").inner_text()
    number = phone.locator("#done-number").inner_text()
    assert len(code) == 11
    screenshot(phone, "intake-3-submitted")
    case = Case.objects.get(number=number)
    assert case.photos.count() == 1 and case.grid == world.units["grid_a1"]
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360

    # Staff handle and close it through the actions.
    u = world.users
    case_actions.register_case(number, by=u["staff_a1"])
    case_actions.dispatch_case(number, by=u["dispatcher_a"], lead_unit=world.units["dept_cg"])
    case_actions.sign_case(number, by=u["handler_cg"])
    case_actions.feedback_case(number, by=u["handler_cg"], result="已安排环卫车清运完毕")
    case_actions.recheck_case(number, by=u["grid_a1"], passed=True)

    # A fresh browser session follows it with the code and the phone's last four digits.
    phone.context.clear_cookies()
    phone.goto(phone.base + "/track/")
    phone.fill("#id_code", code)
    phone.fill("#id_digits", "0000")
    phone.click("button.primary")
    assert "不正确" in phone.locator("[role=alert]").inner_text()
    screenshot(phone, "intake-4-track-form")
    phone.fill("#id_code", code)
    phone.fill("#id_digits", PHONE[-4:])
    phone.click("button.primary")
    phone.wait_for_selector("#case-status")
    assert "已办结" in phone.locator(".status-big").first.inner_text()
    assert "已安排环卫车清运完毕" in phone.locator("#answer").inner_text()
    body = phone.locator("main").inner_text()
    assert "handler_cg" not in body and PHONE not in body and "王小二" not in body
    screenshot(phone, "intake-5-case-closed")

    phone.check("input[name=satisfaction][value=dissatisfied]")
    phone.check("input[name=resolved][value=no]")
    phone.fill("#id_comment", "东侧还有一堆")
    phone.click("#rate button.primary")
    phone.wait_for_selector(".flash")
    assert "重新办理" in phone.locator("main").inner_text()
    screenshot(phone, "intake-6-rated-reopened")
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED and case.reopen_count == 1


def test_offline_report_is_kept_and_sent_when_back_online(phone, world, category, tmp_path):
    _fill_report(phone, tmp_path)
    phone.context.set_offline(True)
    phone.click("#submit")
    phone.wait_for_function("document.getElementById('form-error').textContent.indexOf('已保存在本机') >= 0")
    assert phone.evaluate("JSON.parse(localStorage.getItem('cg-pending')).length") == 1
    assert Case.objects.count() == 0
    screenshot(phone, "intake-7-offline-saved")
    phone.context.set_offline(False)
    phone.evaluate("window.dispatchEvent(new Event('online'))")
    phone.wait_for_function("JSON.parse(localStorage.getItem('cg-pending') || '[]').length === 0")
    assert Case.objects.count() == 1
    # Sending it once more (a second online event) does not file it twice.
    phone.evaluate("window.dispatchEvent(new Event('online'))")
    assert Case.objects.count() == 1
