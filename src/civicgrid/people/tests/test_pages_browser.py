"""The login page and the desk in a real browser."""

import pytest

from civicgrid.testing import PASSWORD, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_then_desk_on_a_phone(phone, world):
    world.users["staff_a1"].display_name = "欧阳晓梅（社区）"  # a name as long as the demo's
    world.users["staff_a1"].save(update_fields=["display_name"])
    phone.goto(phone.base + "/desk/")
    assert phone.url.startswith(phone.base + "/login/")
    assert phone.locator("h1").inner_text() == "登录"
    screenshot(phone, "login-phone")
    phone.fill("#id_username", "staff_a1")
    phone.fill("#id_password", "wrong password")
    phone.click("button.primary")
    assert "用户名或密码错误" in phone.locator("[role=alert]").inner_text()
    phone.fill("#id_username", "staff_a1")
    phone.fill("#id_password", PASSWORD)
    phone.click("button.primary")
    phone.wait_for_url(phone.base + "/desk/")
    card = phone.locator(".desk-unit").first
    assert "社区工作者 · 甲一社区" in card.inner_text()
    # The page fits a phone: nothing wider than the screen, and a header of at most two lines.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "desk-phone")
    assert phone.locator("header.top").bounding_box()["height"] <= 90
    assert not phone.locator("header nav a.home").is_visible()  # the brand leads to the desk instead
    # The account's links and the language are behind the user's name; signing out is two taps.
    logout = phone.locator("header .account button", has_text="退出")
    assert not logout.is_visible()
    phone.locator("header .account summary").click()
    assert phone.locator("header .account a", has_text="修改密码").is_visible()
    assert phone.locator("header .account select[name=language]").is_visible()
    screenshot(phone, "account-menu-phone")
    # 通知设置: which notices also come by SMS and e-mail, chosen on the phone.
    phone.locator("header .account a", has_text="通知设置").click()
    phone.wait_for_url(phone.base + "/notice-settings/")
    assert "按系统默认（仅紧急事项）" in phone.locator("#id_sms").inner_text()
    assert "账号未登记手机号" in phone.locator("#id_sms_helptext").inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    phone.select_option("#id_sms", "all")
    phone.click("button.primary")
    assert "通知设置已保存" in phone.locator(".flash").inner_text()
    assert phone.locator("#id_sms").input_value() == "all"
    screenshot(phone, "notice-settings-phone")
    phone.locator("header .account summary").click()
    logout.click()
    phone.wait_for_url(phone.base + "/**")
    assert phone.locator("header a", has_text="工作人员登录").is_visible()


def test_language_switch_to_english(page, world):
    page.goto(page.base + "/login/")
    with page.expect_navigation():
        page.select_option("select[name=language]", "en")
    assert page.locator("html").get_attribute("lang") == "en"
