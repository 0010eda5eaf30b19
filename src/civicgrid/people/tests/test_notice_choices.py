"""A person's choice of what reaches them by SMS and e-mail: their page, the API, the admin."""

from __future__ import annotations

import pytest
from django.db import transaction

from civicgrid.core.errors import InvalidInput
from civicgrid.core.models import AuditEntry
from civicgrid.notify.actions import channels_for, notify
from civicgrid.notify.models import OutboxMessage
from civicgrid.people import actions
from civicgrid.people.models import User
from civicgrid.people.tests.test_admin import form as admin_form

MOBILE = "13912345678"
URL = "/notice-settings/"


def choices(user: User) -> tuple[str, str]:
    user.refresh_from_db()
    return user.sms_notices, user.email_notices


@pytest.mark.parametrize(
    ("sms", "email", "urgent", "expected"),
    [
        ("", "", False, {"inapp"}),  # the site's defaults: every notice in the inbox…
        ("", "", True, {"inapp", "sms"}),  # …and the urgent ones by SMS too
        ("none", "", True, {"inapp"}),
        ("urgent", "urgent", False, {"inapp"}),
        ("urgent", "urgent", True, {"inapp", "sms", "email"}),
        ("all", "all", False, {"inapp", "sms", "email"}),
    ],
)
def test_the_channels_of_a_notice_follow_the_person_then_the_site(sms, email, urgent, expected):
    assert channels_for(User(sms_notices=sms, email_notices=email), urgent=urgent) == expected


def test_the_sites_defaults_are_its_settings(settings):
    settings.CIVICGRID_NOTIFY_USER_CHANNELS = ["inapp", "email"]
    settings.CIVICGRID_NOTIFY_URGENT_CHANNELS = ["inapp"]
    assert channels_for(User(), urgent=True) == {"inapp", "email"}
    assert channels_for(User(sms_notices="urgent"), urgent=True) == {"inapp", "email", "sms"}


@pytest.mark.django_db
def test_an_urgent_notice_reaches_the_mobile_of_someone_who_keeps_the_default(world):
    handler = world.users["handler_cg"]
    actions.set_phone(handler, MOBILE)
    with transaction.atomic():
        notify([handler], title="一般事项", subject_ref="CG-1")
        notify([handler], title="紧急事项", subject_ref="CG-2", urgent=True)
    assert list(OutboxMessage.objects.values_list("subject_ref", "address")) == [("CG-2", MOBILE)]


@pytest.mark.django_db
def test_the_page_needs_a_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert client.post(URL, {"sms": "all", "email": "all"}).status_code == 302


@pytest.mark.django_db
def test_a_person_sets_their_own_choices_on_the_page(client, world):
    handler = world.users["handler_cg"]
    client.force_login(handler)
    page = client.get(URL).content.decode()
    assert "按系统默认（仅紧急事项）" in page and "按系统默认（不接收）" in page
    assert "账号未登记手机号" in page
    actions.set_phone(handler, MOBILE)
    page = client.get(URL).content.decode()
    assert "发往 139****5678" in page and MOBILE not in page

    response = client.post(URL, {"sms": "all", "email": "none"})
    assert response.status_code == 302 and response.url == URL
    assert choices(handler) == ("all", "none")
    entry = AuditEntry.objects.get(action="user.set_notice_choices")
    assert entry.actor == handler and entry.before == {"sms_notices": "", "email_notices": ""}
    assert entry.after == {"sms_notices": "all", "email_notices": "none"}
    assert "通知设置已保存" in client.get(URL).content.decode()
    assert client.post(URL, {"sms": "", "email": "urgent"}).status_code == 302  # back to the default
    assert choices(handler) == ("", "urgent")


@pytest.mark.django_db
def test_a_bad_choice_is_refused_in_chinese_and_changes_nothing(client, world):
    handler = world.users["handler_cg"]
    client.force_login(handler)
    response = client.post(URL, {"sms": "sometimes", "email": "all"})
    assert response.status_code == 422
    assert "选择一个有效的选项" in response.content.decode()
    assert choices(handler) == ("", "")
    assert not AuditEntry.objects.filter(action="user.set_notice_choices").exists()
    with pytest.raises(InvalidInput) as refused:
        actions.set_notice_choices(handler, sms="all", email="daily")
    assert refused.value.details == {"email": "invalid"} and choices(handler) == ("", "")


@pytest.mark.django_db
def test_the_api_reads_and_writes_the_callers_own_choices(client, world):
    handler = world.users["handler_cg"]
    actions.set_phone(handler, MOBILE)
    assert client.get("/api/v1/me/notices").status_code == 401
    headers = world.bearer("handler_cg")
    got = client.get("/api/v1/me/notices", headers=headers).json()
    assert got == {
        "sms": "",
        "email": "",
        "defaults": {"sms": "urgent", "email": "none"},
        "mobile": "139****5678",
        "email_address": handler.email,
    }
    put = client.put(
        "/api/v1/me/notices", {"sms": "none", "email": "urgent"}, content_type="application/json"
    )
    assert put.status_code == 401
    put = client.put(
        "/api/v1/me/notices",
        {"sms": "none", "email": "urgent"},
        content_type="application/json",
        headers=headers,
    )
    assert put.status_code == 200 and put.json()["sms"] == "none" and put.json()["email"] == "urgent"
    assert choices(handler) == ("none", "urgent")
    assert AuditEntry.objects.get(action="user.set_notice_choices").after == {
        "sms_notices": "none",
        "email_notices": "urgent",
    }
    # Another person's choices are untouched: the endpoint has only the caller's.
    assert choices(world.users["handler_sc"]) == ("", "")

    bad = client.put("/api/v1/me/notices", {"sms": "often"}, content_type="application/json", headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"
    assert bad.json()["error"]["details"] == [
        {"field": "sms", "message": "应为 '', 'none', 'urgent', 'all' 之一"},
        {"field": "email", "message": "必填"},
    ]
    assert choices(handler) == ("none", "urgent")


@pytest.mark.django_db
def test_an_administrator_sets_them_in_the_admin_audited(client, world):
    handler = world.users["handler_cg"]
    client.force_login(world.users["admin"])
    url = f"/admin/people/user/{handler.pk}/change/"
    assert client.post(url, admin_form(handler, notices_sms="urgent", notices_email="")).status_code == 302
    assert choices(handler) == ("urgent", "")
    assert AuditEntry.objects.get(action="user.set_notice_choices").actor == world.users["admin"]
    assert client.post(url, admin_form(handler, notices_sms="urgent")).status_code == 302  # unchanged
    assert AuditEntry.objects.filter(action="user.set_notice_choices").count() == 1  # nothing to audit
    refused = client.post(url, admin_form(handler, notices_sms="sometimes"))
    assert refused.status_code == 200 and "notices_sms" in refused.context["adminform"].form.errors
    assert choices(handler) == ("urgent", "")
