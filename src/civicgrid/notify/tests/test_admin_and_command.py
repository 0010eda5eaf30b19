"""The read-only outbox admin with its retry action, and the delivery command."""

from __future__ import annotations

import os
import signal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from civicgrid.notify import actions
from civicgrid.notify.actions import DeliveryReport, notify
from civicgrid.notify.models import OutboxMessage, OutboxStatus
from civicgrid.notify.tests.helpers import Recorder, down

PHONE = "13812345678"


@pytest.fixture
def operator(db, client):
    user = get_user_model().objects.create_superuser("operator", "op@example.org", "operator-pass-2026")
    client.force_login(user)
    return user


def queue_sms() -> OutboxMessage:
    with transaction.atomic():
        return notify([], title="催办", body=f"请回电 {PHONE}", channels=[], phones=[PHONE]).messages[0]


def test_outbox_admin_masks_phones_and_is_read_only(operator, client):
    message = queue_sms()
    listing = client.get(reverse("admin:notify_outboxmessage_changelist"))
    assert listing.status_code == 200
    assert "138****5678" in listing.content.decode() and PHONE not in listing.content.decode()
    detail = client.get(reverse("admin:notify_outboxmessage_change", args=[message.pk]))
    assert detail.status_code == 200
    assert "138****5678" in detail.content.decode() and PHONE not in detail.content.decode()
    assert 'name="_save"' not in detail.content.decode()
    assert client.get(reverse("admin:notify_outboxmessage_add")).status_code == 403


def test_admin_retry_now(operator, client, monkeypatch, settings):
    settings.CIVICGRID_NOTIFY_MAX_ATTEMPTS = 1
    recorder = Recorder()
    recorder.fail = down()
    monkeypatch.setattr(actions, "get_channel", recorder)
    message = queue_sms()
    actions.deliver_due()
    message.refresh_from_db()
    assert message.status == OutboxStatus.FAILED
    response = client.post(
        reverse("admin:notify_outboxmessage_changelist"),
        {"action": "retry_now", "_selected_action": [message.pk]},
        follow=True,
    )
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING
    recorder.fail = None
    assert actions.deliver_due() == 1


def test_notification_admin_lists(operator, client):
    with transaction.atomic():
        notify([operator], title="站内消息一")
    assert "站内消息一" in client.get(reverse("admin:notify_notification_changelist")).content.decode()


def test_the_command_delivers_what_is_due(db, capsys, monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(actions, "get_channel", recorder)
    queue_sms()
    call_command("deliver_notifications")
    assert "sent 1, retrying 0, failed 0" in capsys.readouterr().out
    assert len(recorder.sent) == 1


def test_the_loop_stops_on_sigterm(db, monkeypatch, capsys):
    calls = []

    def fake_report(limit: int) -> DeliveryReport:
        calls.append(limit)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return DeliveryReport()

    monkeypatch.setattr(
        "civicgrid.notify.management.commands.deliver_notifications.deliver_due_report", fake_report
    )
    before = signal.getsignal(signal.SIGTERM)
    call_command("deliver_notifications", "--loop", "--interval", "0.01", "--limit", "5")
    assert calls == [5, 5]
    assert signal.getsignal(signal.SIGTERM) == before
