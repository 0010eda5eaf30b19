"""The outbox: written with the caller's step, delivered after commit, retried with back-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import transaction

from civicgrid.notify import actions
from civicgrid.notify.actions import backoff, deliver_due, notify, retry_now
from civicgrid.notify.models import Notification, OutboxMessage, OutboxStatus
from civicgrid.notify.tests.helpers import Recorder, down
from civicgrid.people.models import User

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class Boom(Exception):
    pass


@pytest.fixture
def alice(db) -> User:
    return User.objects.create(username="alice", display_name="爱丽丝", email="alice@example.org")


@pytest.fixture
def bob(db) -> User:
    return User.objects.create(username="bob", email="bob@example.org")


@pytest.fixture
def recorder(monkeypatch) -> Recorder:
    rec = Recorder()
    monkeypatch.setattr(actions, "get_channel", rec)
    return rec


def queue_one(**kwargs) -> OutboxMessage:
    with transaction.atomic():
        result = notify([], title="新工单待签收", channels=[], emails=["ops@example.org"], **kwargs)
    return result.messages[0]


@pytest.mark.django_db(transaction=True)
def test_notify_outside_a_transaction_is_refused(alice):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        notify([alice], title="x")


@pytest.mark.django_db(transaction=True)
def test_rows_roll_back_with_the_step_and_nothing_is_sent(alice):
    with pytest.raises(Boom), transaction.atomic():
        notify([alice], title="工单已派遣", body="请签收", channels=["inapp", "email"], subject_ref="GD-1")
        assert OutboxMessage.objects.count() == 1  # the e-mail; the inbox row is the in-app delivery
        assert Notification.objects.count() == 1
        raise Boom
    assert OutboxMessage.objects.count() == 0
    assert Notification.objects.count() == 0
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_delivery_happens_after_commit_only(alice, bob):
    with transaction.atomic():
        result = notify(
            [alice, bob, alice],
            title="工单已派遣",
            body="请签收",
            link="/cases/GD-1/",
            channels=["inapp", "email"],
            subject_ref="GD-1",
        )
        assert len(result.notifications) == 2  # alice once
        assert [m.channel for m in result.messages] == ["email", "email"]
        assert mail.outbox == []  # nothing goes out while the step may still roll back
        assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.PENDING}
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.org", "bob@example.org"]
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}
    assert Notification.objects.filter(recipient=alice, subject_ref="GD-1", read_at__isnull=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_delivery_on_commit_can_be_left_to_the_worker(alice, settings):
    settings.CIVICGRID_NOTIFY_ON_COMMIT = "none"
    with transaction.atomic():
        notify([alice], title="x", channels=["email"])
    assert mail.outbox == []
    assert deliver_due() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_delivery_on_commit_can_go_through_the_task_queue(alice, settings):
    settings.CIVICGRID_NOTIFY_ON_COMMIT = "enqueue"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with transaction.atomic():
        notify([alice], title="x", channels=["email"])
        assert mail.outbox == []
    assert len(mail.outbox) == 1


def test_the_periodic_job_empties_the_outbox(db, recorder, monkeypatch):
    from civicgrid.core import jobs as core_jobs
    from civicgrid.notify import jobs

    monkeypatch.setattr(jobs, "BATCH", 2)
    for _ in range(5):
        queue_one()
    assert core_jobs.discover()["notify.deliver"].run is jobs.deliver
    report = jobs.deliver()
    assert (report.sent, report.attempted) == (5, 5)
    assert len(recorder.sent) == 5


@pytest.mark.django_db(transaction=True)
def test_a_failing_channel_after_commit_does_not_break_the_step(alice, recorder):
    recorder.fail = RuntimeError("surprise")
    with transaction.atomic():
        notify([alice], title="x", channels=["email"])
    row = OutboxMessage.objects.get()
    assert row.status == OutboxStatus.PENDING and row.attempts == 1
    assert "RuntimeError: surprise" in row.last_error


def test_retries_back_off_under_a_frozen_clock_then_succeed(db, recorder):
    with time_machine.travel(START, tick=False) as clock:
        message = queue_one()
        recorder.fail = down()

        assert deliver_due() == 1
        message.refresh_from_db()
        assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
        assert message.next_attempt_at == START + timedelta(minutes=1)
        assert message.locked_until is None
        assert "channel is down" in message.last_error

        assert deliver_due() == 0  # not due yet
        clock.shift(timedelta(seconds=59))
        assert deliver_due() == 0
        clock.shift(timedelta(seconds=1))
        assert deliver_due() == 1
        message.refresh_from_db()
        assert message.attempts == 2
        assert message.next_attempt_at == START + timedelta(minutes=1 + 2)

        clock.shift(timedelta(minutes=2))
        recorder.fail = None
        assert deliver_due() == 1
        message.refresh_from_db()
        assert message.status == OutboxStatus.SENT
        assert message.sent_at == START + timedelta(minutes=3)
        assert message.last_error == ""
        assert recorder.sent == [message.pk]
        assert deliver_due() == 0


def test_backoff_doubles_and_is_capped(settings):
    settings.CIVICGRID_NOTIFY_RETRY_BASE_SECONDS = 60
    settings.CIVICGRID_NOTIFY_RETRY_MAX_SECONDS = 3600
    assert [int(backoff(n).total_seconds() // 60) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_failed_after_max_attempts_and_kept_for_a_retry(db, recorder, settings):
    settings.CIVICGRID_NOTIFY_MAX_ATTEMPTS = 3
    recorder.fail = down()
    with time_machine.travel(START, tick=False) as clock:
        message = queue_one()
        for attempt in range(1, 4):
            assert deliver_due() == 1
            clock.shift(backoff(attempt))
        message.refresh_from_db()
        assert (message.status, message.attempts) == (OutboxStatus.FAILED, 3)
        clock.shift(timedelta(days=1))
        assert deliver_due() == 0  # a dead message stays put, visible in the admin

        # An operator fixes the channel and retries: the message is not lost.
        recorder.fail = None
        assert retry_now([message.pk]) == 1
        assert deliver_due() == 1
        message.refresh_from_db()
        assert message.status == OutboxStatus.SENT
        assert recorder.sent == [message.pk]


def test_a_second_claim_of_the_same_row_loses(db, recorder):
    message = queue_one()
    first = actions._claim(message.pk, 0)
    second = actions._claim(message.pk, 0)  # another worker that read the same row
    assert first is not None and first.attempts == 1
    assert second is None
    assert deliver_due() == 0  # leased: not due for anybody else


def test_a_lease_left_by_a_dead_worker_expires(db, recorder):
    with time_machine.travel(START, tick=False) as clock:
        message = queue_one()
        assert actions._claim(message.pk, 0) is not None  # the worker dies here, before sending
        assert deliver_due() == 0
        clock.shift(timedelta(seconds=301))
        assert deliver_due() == 1
        message.refresh_from_db()
        assert (message.status, message.attempts) == (OutboxStatus.SENT, 2)


def test_retry_now_leaves_messages_in_flight_and_sent_ones_alone(db, recorder):
    in_flight = queue_one()
    actions._claim(in_flight.pk, 0)
    sent = queue_one()
    deliver_due()
    assert retry_now([in_flight.pk, sent.pk]) == 0


def test_notify_checks_its_input(db, alice, caplog):
    with transaction.atomic():
        with pytest.raises(ValueError, match="link"):
            notify([alice], title="x", link="javascript:alert(1)")
        with pytest.raises(ValueError, match="wecom"):
            notify([alice], title="x", channels=["wecom"])
        with pytest.raises(ValueError, match="title"):
            notify([alice], title="  ")
        result = notify(
            [alice],
            title="x",
            channels=[],
            phones=["138-1234-5678", "13812345678", "12ab"],
            emails=["not-an-address", "a@example.org"],
            wecom=["sub_a", "sub_a"],
        )
    assert sorted((m.channel, m.address) for m in result.messages) == [
        ("email", "a@example.org"),
        ("sms", "13812345678"),
        ("wecom", "sub_a"),
    ]


def test_inactive_users_and_users_without_email_are_skipped(db, alice):
    alice.is_active = False
    alice.save()
    carol = User.objects.create(username="carol")
    with transaction.atomic():
        result = notify([alice, carol], title="x", channels=["inapp", "email"])
    assert [n.recipient for n in result.notifications] == [carol]
    assert result.messages == []  # carol has no e-mail; in-app needs no outbox row


def test_long_titles_are_shortened(db, alice):
    with transaction.atomic():
        result = notify([alice], title="长" * 300)
    assert len(result.notifications[0].title) == 200


def test_outbox_status_is_constrained(db):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        OutboxMessage.objects.create(channel="email", address="a@example.org", status="lost")


def test_mark_read_touches_only_the_users_own_rows(db, alice, bob):
    with transaction.atomic():
        mine = notify([alice], title="a1").notifications[0]
        notify([alice], title="a2")
        theirs = notify([bob], title="b1").notifications[0]
    assert actions.mark_read(alice, [mine.pk, theirs.pk]) == 1
    assert actions.mark_read(alice, [mine.pk]) == 0  # already read
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert actions.mark_read(alice, "all") == 1
    assert Notification.objects.filter(recipient=alice, read_at__isnull=True).count() == 0
