"""Each channel against something real: a local HTTP server, Django's mail outbox, the log."""

from __future__ import annotations

import logging
import smtplib
import socket
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from civicgrid.notify.actions import deliver_due, notify
from civicgrid.notify.channels import DeliveryError, HttpSmsGateway, SmsGateway, sms_gateway, wecom_body
from civicgrid.notify.models import OutboxMessage, OutboxStatus

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
PHONE = "13812345678"


class BrokenEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("mail server went away")


def queue(**kwargs) -> OutboxMessage:
    kwargs.setdefault("title", "工单 GD20260302001 已派遣")
    kwargs.setdefault("body", "请于 2 个工作日内签收")
    kwargs.setdefault("link", "/cases/GD20260302001/")
    kwargs.setdefault("subject_ref", "GD20260302001")
    with transaction.atomic():
        return notify([], channels=[], **kwargs).messages[0]


@pytest.fixture
def site(settings):
    settings.CIVICGRID_SITE_URL = "https://grid.example.gov.cn/"
    return settings


# --- WeChat Work group robot ---------------------------------------------------------------------


@pytest.fixture
def wecom(site, http_server):
    site.CIVICGRID_WECOM_WEBHOOK_URL = f"{http_server.url}/cgi-bin/webhook/send"
    site.CIVICGRID_WECOM_ROBOTS = {"sub_a": "robot-key-0001"}
    return http_server


def test_wecom_posts_the_documented_json_with_the_robot_key(db, wecom):
    message = queue(wecom=["sub_a"])
    assert deliver_due() == 1
    [request] = wecom.requests
    assert request["path"] == "/cgi-bin/webhook/send"
    assert request["query"] == {"key": "robot-key-0001"}
    assert request["headers"]["Content-Type"].startswith("application/json")
    body = request["json"]
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith("**工单 GD20260302001 已派遣**")
    assert "> 请于 2 个工作日内签收" in content
    assert "[查看详情](https://grid.example.gov.cn/cases/GD20260302001/)" in content
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT


def test_wecom_text_messages(db, wecom, settings):
    settings.CIVICGRID_WECOM_MSGTYPE = "text"
    queue(wecom=["a-raw-key-not-in-settings"])
    assert deliver_due() == 1
    [request] = wecom.requests
    assert request["query"] == {"key": "a-raw-key-not-in-settings"}
    assert request["json"] == {
        "msgtype": "text",
        "text": {
            "content": "工单 GD20260302001 已派遣（GD20260302001）\n请于 2 个工作日内签收\n"
            "https://grid.example.gov.cn/cases/GD20260302001/"
        },
    }


def test_wecom_errcode_is_a_failure_and_is_retried(db, wecom):
    wecom.answers = [
        (200, {"errcode": 45009, "errmsg": "api freq out of limit"}),
        (200, {"errcode": 0, "errmsg": "ok"}),
    ]
    with time_machine.travel(START, tick=False) as clock:
        message = queue(wecom=["sub_a"])
        assert deliver_due() == 1
        message.refresh_from_db()
        assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
        assert "errcode=45009" in message.last_error
        assert "robot-key" not in message.last_error
        clock.shift(timedelta(minutes=1))
        assert deliver_due() == 1
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert len(wecom.requests) == 2


def test_wecom_http_errors_and_a_dead_server_are_retried(db, wecom, site):
    wecom.answers = [(502, {"error": "bad gateway"})]
    message = queue(wecom=["sub_a"])
    deliver_due()
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING and "HTTP 502" in message.last_error

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    site.CIVICGRID_WECOM_WEBHOOK_URL = f"http://127.0.0.1:{port}/send"
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=5), tick=False):
        deliver_due()
    message.refresh_from_db()
    assert message.attempts == 2 and "连接失败" in message.last_error
    assert "robot-key" not in message.last_error


def test_wecom_content_is_cut_to_the_documented_limit():
    body = wecom_body({"title": "标题", "body": "很长" * 2000}, "markdown")
    assert len(body["markdown"]["content"].encode()) <= 4096
    body = wecom_body({"title": "标题", "body": "很长" * 2000}, "text")
    assert len(body["text"]["content"].encode()) <= 2048


# --- e-mail --------------------------------------------------------------------------------------


def test_email_goes_through_django_mail(db, site):
    message = queue(emails=["dispatch@example.org"])
    assert deliver_due() == 1
    [sent] = mail.outbox
    assert sent.to == ["dispatch@example.org"]
    assert sent.subject == "[Civic Grid] 工单 GD20260302001 已派遣"
    assert "请于 2 个工作日内签收" in sent.body
    assert "https://grid.example.gov.cn/cases/GD20260302001/" in sent.body
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT


def test_email_without_a_site_address_leaves_out_the_relative_link(db):
    queue(emails=["dispatch@example.org"])
    deliver_due()
    assert "/cases/" not in mail.outbox[0].body


def test_a_broken_mail_server_means_retry(db, settings):
    settings.EMAIL_BACKEND = "civicgrid.notify.tests.test_channels.BrokenEmailBackend"
    message = queue(emails=["dispatch@example.org"])
    deliver_due()
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING
    assert "mail server went away" in message.last_error


# --- SMS -----------------------------------------------------------------------------------------


def test_console_sms_never_logs_the_full_phone_number(db, caplog):
    caplog.set_level(logging.DEBUG)
    message = queue(phones=[PHONE], body=f"居民 {PHONE} 反映楼道堵塞")
    assert deliver_due() == 1
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert "138****5678" in caplog.text
    assert PHONE not in caplog.text
    assert PHONE not in str(message)
    assert str(message) == "短信 → 138****5678 (已发送)"


def test_failures_on_sms_are_logged_masked(db, caplog, settings, http_server):
    caplog.set_level(logging.DEBUG)
    settings.CIVICGRID_SMS_BACKEND = "civicgrid.notify.channels.HttpSmsGateway"
    settings.CIVICGRID_SMS_GATEWAY_URL = f"{http_server.url}/sms/send"
    settings.CIVICGRID_SMS_GATEWAY_TOKEN = "gateway-token"
    http_server.answers = [(200, {"ok": False, "message": f"number {PHONE} is blocked"})]
    message = queue(phones=[PHONE])
    deliver_due()
    [request] = http_server.requests
    assert request["json"] == {"phone": PHONE, "text": "工单 GD20260302001 已派遣：请于 2 个工作日内签收"}
    assert request["headers"]["Authorization"] == "Bearer gateway-token"
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING
    assert "138****5678" in message.last_error and PHONE not in message.last_error
    assert PHONE not in caplog.text


def test_http_sms_gateway_accepts_2xx(http_server):
    HttpSmsGateway(url=f"{http_server.url}/sms").send(PHONE, "测试")
    http_server.answers = [(500, {"ok": False})]
    with pytest.raises(DeliveryError, match="HTTP 500"):
        HttpSmsGateway(url=f"{http_server.url}/sms").send(PHONE, "测试")
    with pytest.raises(DeliveryError, match="未配置"):
        HttpSmsGateway(url="").send(PHONE, "测试")


def test_the_sms_backend_is_chosen_by_setting(settings):
    assert isinstance(sms_gateway(), SmsGateway)
    settings.CIVICGRID_SMS_BACKEND = "civicgrid.notify.channels.HttpSmsGateway"
    assert isinstance(sms_gateway(), HttpSmsGateway)
