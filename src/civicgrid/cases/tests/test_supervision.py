"""The supervision worker: yellow, red, urge, alert and reminders on the statutory calendar, once each."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from civicgrid.cases import actions
from civicgrid.cases.jobs import overdue_threshold, supervise_all, urge_threshold
from civicgrid.cases.models import Case, CaseStep, Category, LimitUnit, StepAction, WarnLevel
from civicgrid.cases.tests.factories import dispatched_case, file_case
from civicgrid.core import workcal
from civicgrid.notify.models import Notification

SH = ZoneInfo("Asia/Shanghai")
SUPERVISION = [
    StepAction.YELLOW,
    StepAction.RED,
    StepAction.AUTO_URGE,
    StepAction.ESCALATE_ALERT,
    StepAction.REMIND_SIGN,
    StepAction.REMIND_RATE,
    StepAction.REMIND_ANSWER,
    StepAction.REMIND_RECHECK,
]


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def sweep(moment: datetime) -> dict[str, int]:
    with time_machine.travel(moment, tick=False):
        return supervise_all(timezone.now())


def system_steps(case: Case) -> list[str]:
    return list(case.steps.filter(action__in=SUPERVISION).order_by("pk").values_list("action", flat=True))


def signed(world, moment: datetime, **fields) -> Case:
    with time_machine.travel(moment, tick=False):
        case = dispatched_case(world, **fields)
        return actions.sign_case(case, by=world.users["handler_cg"])


@pytest.mark.django_db
def test_national_day_holiday_does_not_count(world, cats):
    """Dispatched two working days before National Day 2025 with 3 working days: due after the holiday."""
    case = signed(world, at(2025, 9, 29, 10), category=cats["road"])
    case.refresh_from_db()
    assert case.due_at == at(2025, 10, 10, 10)  # Sep 29, 30, (Oct 1-8 off), Oct 9, Oct 10
    assert case.yellow_at == at(2025, 10, 9, 11, 45)  # 75 % of 21 working hours
    for day in range(1, 9):
        sweep(at(2025, 10, day, 12))
    sweep(at(2025, 10, 9, 11, 44))
    assert system_steps(case) == []
    sweep(at(2025, 10, 9, 11, 46))
    assert system_steps(case) == ["yellow"]
    sweep(at(2025, 10, 10, 9, 59))
    assert Case.objects.get(pk=case.pk).warn_level == WarnLevel.YELLOW
    sweep(at(2025, 10, 10, 10, 0))
    assert system_steps(case) == ["yellow", "red"]
    # The urge goes out when the next working day starts: Saturday 11 October 2025 is a working day.
    sweep(at(2025, 10, 10, 17))
    sweep(at(2025, 10, 11, 8, 29))
    assert system_steps(case) == ["yellow", "red"]
    sweep(at(2025, 10, 11, 8, 31))
    assert system_steps(case) == ["yellow", "red", "auto_urge"]
    # Five working days overdue: Oct 11, 13, 14, 15, 16 (the 12th is a Sunday).
    sweep(at(2025, 10, 16, 9, 59))
    assert system_steps(case) == ["yellow", "red", "auto_urge"]
    sweep(at(2025, 10, 16, 10, 1))
    sweep(at(2025, 10, 17, 10))
    assert system_steps(case) == ["yellow", "red", "auto_urge", "escalate_alert"]
    row = Case.objects.get(pk=case.pk)
    assert (
        row.warn_level == WarnLevel.RED
        and row.urge_count == 1
        and row.last_urged_at == at(2025, 10, 11, 8, 31)
    )


@pytest.mark.django_db
def test_due_just_before_the_holiday_is_urged_after_it(world, cats):
    four = Category.objects.create(
        code="FZ01", name="复杂事项", handle_limit=4, handle_limit_unit=LimitUnit.WORKING_DAYS
    )
    case = signed(world, at(2025, 9, 25, 10), category=four)
    assert Case.objects.get(pk=case.pk).due_at == at(2025, 9, 30, 10)  # Sep 26, 28 (a working Sunday), 29, 30
    sweep(at(2025, 9, 30, 10, 1))
    assert system_steps(case) == ["yellow", "red"] or system_steps(case) == ["red"]
    for day in range(1, 9):
        sweep(at(2025, 10, day, 9))
    assert "auto_urge" not in system_steps(case)
    sweep(at(2025, 10, 9, 8, 30))
    assert system_steps(case)[-1] == "auto_urge"
    # Five working days of working time after the deadline: Oct 9, 10, 11, 13, 14.
    assert overdue_threshold(at(2025, 10, 14, 10), 5) == at(2025, 9, 30, 10)
    sweep(at(2025, 10, 14, 9, 59))
    assert "escalate_alert" not in system_steps(case)
    sweep(at(2025, 10, 14, 10, 0, 1))
    assert system_steps(case)[-1] == "escalate_alert"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kind, hours",
    [("urgent", 120), ("clock_hours", 24)],  # 5 working days as clock hours; a water cut's 24 hours
)
def test_a_case_handled_round_the_clock_turns_yellow_and_red_in_the_holiday(world, cats, kind, hours):
    """Dispatched on 2 October 2025, in the National Day holiday: yellow at 75 % and red at the
    deadline, both in clock time while nobody works; the urge and the alert wait for working days."""
    fields = (
        {"category": cats["garbage"], "urgency": "urgent"}
        if kind == "urgent"
        else {"category": cats["water"]}
    )
    start = at(2025, 10, 2, 10)
    case = signed(world, start, **fields)
    due, yellow = start + timedelta(hours=hours), start + timedelta(hours=hours * 0.75)
    assert (case.due_at, case.yellow_at) == (due, yellow)
    sweep(yellow - timedelta(minutes=1))
    assert system_steps(case) == []
    sweep(yellow + timedelta(minutes=1))
    assert system_steps(case) == ["yellow"]
    sweep(due + timedelta(minutes=1))
    assert system_steps(case) == ["yellow", "red"]
    sweep(at(2025, 10, 8, 23))  # the holiday's last day: no urge yet
    assert system_steps(case) == ["yellow", "red"]
    sweep(at(2025, 10, 9, 8, 31))
    assert system_steps(case) == ["yellow", "red", "auto_urge"]


def test_thresholds_without_a_database(settings):
    settings.CIVICGRID_WORKING_HOURS = "08:30-12:00,14:00-17:30"
    cal = workcal.WorkingCalendar("08:30-12:00,14:00-17:30", {})
    original = workcal.calendar
    workcal.calendar = lambda: cal  # type: ignore[assignment]
    try:
        # Friday 17:00 → the urge of Friday's deadlines waits for Monday 08:30.
        assert urge_threshold(at(2025, 6, 13, 17)) == at(2025, 6, 13)
        assert urge_threshold(at(2025, 6, 14, 10)) == at(2025, 6, 13)
        assert urge_threshold(at(2025, 6, 16, 8, 29)) == at(2025, 6, 13)
        assert urge_threshold(at(2025, 6, 16, 8, 30)) == at(2025, 6, 16)
        # Dragon Boat Festival 2025: Monday 2 June off.
        assert urge_threshold(at(2025, 6, 2, 10)) == at(2025, 5, 30)
        threshold = overdue_threshold(at(2025, 6, 16, 10), 5)
        assert cal.working_seconds_between(threshold, at(2025, 6, 16, 10)) == 5 * 7 * 3600
    finally:
        workcal.calendar = original  # type: ignore[assignment]


@pytest.mark.django_db
def test_steps_are_the_systems_and_sweeps_are_idempotent(world, cats):
    case = signed(world, at(2025, 6, 9, 9))
    first = sweep(at(2025, 6, 16, 10))
    assert first["red"] == 1
    assert sweep(at(2025, 6, 16, 10, 1)) == dict.fromkeys(first, 0)
    red = case.steps.get(action=StepAction.RED)
    assert red.actor is None and red.unit is None and red.from_status == red.to_status == "signed"
    assert (
        red.changes["warn_level"] == ["none", "red"]
        and red.changes["deadline"] == "2025-06-16T09:00:00+08:00"
    )
    # The lead unit's handlers hear of it.
    assert Notification.objects.filter(
        recipient=world.users["handler_cg"], title__startswith="工单已超期（红牌）"
    ).exists()


@pytest.mark.django_db
def test_a_manual_urge_after_the_deadline_replaces_the_automatic_one(world, cats):
    case = signed(world, at(2025, 6, 9, 9))
    sweep(at(2025, 6, 16, 10))
    with time_machine.travel(at(2025, 6, 16, 11), tick=False):
        actions.urge_case(case, by=world.users["dispatcher_a"], note="请今日办结")
    sweep(at(2025, 6, 17, 9))
    assert "auto_urge" not in system_steps(case)
    assert Case.objects.get(pk=case.pk).urge_count == 1


@pytest.mark.django_db
def test_an_extension_moves_yellow_and_red(world, cats):
    case = signed(world, at(2025, 6, 9, 9))
    with time_machine.travel(at(2025, 6, 12, 10), tick=False):
        actions.request_extension(case, by=world.users["handler_cg"], working_days=3, reason="等待配件")
        actions.approve_extension(case, by=world.users["dispatcher_a"])
    sweep(at(2025, 6, 16, 10))
    assert "red" not in system_steps(case)
    sweep(at(2025, 6, 19, 9, 1))
    assert system_steps(case)[-1] == "red"


@pytest.mark.django_db
def test_red_cards_and_urges_press_every_unit_on_the_case_and_reach_a_mobile(world, cats):
    from civicgrid.notify.models import OutboxMessage
    from civicgrid.people.actions import set_phone

    u = world.users
    set_phone(u["handler_cg"], "13912345678")
    with time_machine.travel(at(2025, 6, 9, 9), tick=False):
        case = actions.register_case(file_case(world), by=u["staff_a1"])
        lead, assisting = world.units["dept_cg"], [world.units["dept_sc"]]
        case = actions.dispatch_case(case, by=u["dispatcher_a"], lead_unit=lead, assisting_units=assisting)
    sweep(at(2025, 6, 9, 10, 1))  # not signed for within the hour: urgent, by SMS too
    for who in ("handler_cg", "handler_sc"):
        with time_machine.travel(at(2025, 6, 9, 10, 5), tick=False):
            actions.sign_case(case, by=u[who])
    for moment in (at(2025, 6, 13, 10), at(2025, 6, 16, 10), at(2025, 6, 17, 9)):
        sweep(moment)
    assert system_steps(case) == ["remind_sign", "yellow", "red", "auto_urge"]

    def told(title: str) -> set[str]:
        rows = Notification.objects.filter(subject_ref=case.number, title__startswith=title)
        return {r.recipient.username for r in rows}

    assert told("工单即将超期") == {"handler_cg"}  # a warning: the lead unit's
    assert told("工单已超期（红牌）") == told("超期催办") == {"handler_cg", "handler_sc"}
    sms = OutboxMessage.objects.filter(channel="sms", address="13912345678").order_by("pk")
    texts = sms.values_list("payload__title", flat=True)
    assert [t.split("：")[0] for t in texts] == [
        "已超过签收期限，请尽快签收",
        "工单已超期（红牌）",
        "超期催办",
    ]


@pytest.mark.django_db
def test_sign_reminder_once_per_sign_by(world, cats):
    with time_machine.travel(at(2025, 6, 9, 9), tick=False):
        case = dispatched_case(world)
    sweep(at(2025, 6, 9, 9, 59))
    assert system_steps(case) == []
    sweep(at(2025, 6, 9, 10, 1))
    sweep(at(2025, 6, 9, 10, 2))
    assert system_steps(case) == ["remind_sign"]
    assert case.steps.get(action="remind_sign").changes["units"] == ["D-CG"]
    assert (
        Notification.objects.filter(
            recipient=world.users["handler_cg"], title__startswith="已超过签收期限"
        ).count()
        == 1
    )
    # Returned and dispatched again: a new sign-for deadline, a new reminder.
    with time_machine.travel(at(2025, 6, 9, 10, 30), tick=False):
        actions.return_case(case, by=world.users["handler_cg"], reason_code="not_our_duty")
        actions.dispatch_case(case, by=world.users["dispatcher_a"], lead_unit=world.units["dept_sc"])
    sweep(at(2025, 6, 9, 11, 31))
    assert system_steps(case) == ["remind_sign", "remind_sign"]
    assert (
        Notification.objects.filter(
            recipient=world.users["handler_sc"], title__startswith="已超过签收期限"
        ).count()
        == 1
    )


def notices(user, title: str) -> int:
    return Notification.objects.filter(recipient=user, title__startswith=title).count()


@pytest.mark.django_db
def test_a_request_without_a_first_answer_is_reminded_once(world, cats):
    """A resident's request received Monday 09:00 is due a first answer by 11:00 (2 working hours):
    the community's staff are reminded once after that; one answered in time never is."""
    u = world.users
    with time_machine.travel(at(2025, 6, 9, 9), tick=False):
        waiting = file_case(world, by="resident")
        answered = file_case(world, by="resident")
    assert waiting.status == "received" and waiting.answer_by == at(2025, 6, 9, 11)
    with time_machine.travel(at(2025, 6, 9, 10), tick=False):
        actions.register_case(answered, by=u["staff_a1"])
    sweep(at(2025, 6, 9, 10, 59))
    assert system_steps(waiting) == []
    sweep(at(2025, 6, 9, 11, 1))
    sweep(at(2025, 6, 9, 11, 2))
    assert system_steps(waiting) == ["remind_answer"] and system_steps(answered) == []
    assert notices(u["staff_a1"], "群众诉求已超过首次答复期限") == 1
    assert notices(u["staff_b1"], "群众诉求已超过首次答复期限") == 0  # another community
    with time_machine.travel(at(2025, 6, 9, 11, 30), tick=False):
        actions.register_case(waiting, by=u["staff_a1"])
    sweep(at(2025, 6, 10, 11))
    assert system_steps(waiting) == ["remind_answer"]


@pytest.mark.django_db
def test_a_recheck_past_its_deadline_is_reminded_once_per_feedback(world, cats):
    """Fed back Monday 10:00: the re-check is due Tuesday 10:00 (1 working day); the grid's workers
    and the community's staff are reminded once; a rework and a new feedback arm it again."""
    u = world.users
    case = signed(world, at(2025, 6, 9, 9))
    with time_machine.travel(at(2025, 6, 9, 10), tick=False):
        case = actions.feedback_case(case, by=u["handler_cg"], result="已清运")
    assert case.recheck_by == at(2025, 6, 10, 10)
    sweep(at(2025, 6, 10, 9, 59))
    assert "remind_recheck" not in system_steps(case)
    sweep(at(2025, 6, 10, 10, 1))
    sweep(at(2025, 6, 10, 10, 2))
    assert system_steps(case).count("remind_recheck") == 1
    assert notices(u["grid_a1"], "已超过核查期限") == 1 and notices(u["staff_a1"], "已超过核查期限") == 1
    with time_machine.travel(at(2025, 6, 10, 11), tick=False):
        case = actions.recheck_case(case, by=u["grid_a1"], passed=False, note="仍有垃圾")
        case = actions.feedback_case(case, by=u["handler_cg"], result="已全部清运")
    sweep(at(2025, 6, 11, 11, 1))
    assert system_steps(case).count("remind_recheck") == 2


def closed(world, case: Case, moment: datetime) -> Case:
    u = world.users
    with time_machine.travel(moment, tick=False):
        case = actions.register_case(case, by=u["staff_a1"])
        case = actions.dispatch_case(case, by=u["dispatcher_a"], lead_unit=world.units["dept_cg"])
        case = actions.sign_case(case, by=u["handler_cg"])
        case = actions.feedback_case(case, by=u["handler_cg"], result="已清运")
        return actions.recheck_case(case, by=u["grid_a1"], passed=True)


@pytest.mark.django_db
def test_rating_reminder_for_the_reporter(world, cats):
    u = world.users
    with time_machine.travel(at(2025, 6, 9, 9), tick=False):
        case = file_case(world, by="resident")
        actions.register_case(case, by=u["staff_a1"])
        actions.dispatch_case(case, by=u["dispatcher_a"], lead_unit=world.units["dept_cg"])
        actions.sign_case(case, by=u["handler_cg"])
    with time_machine.travel(at(2025, 6, 10, 10), tick=False):
        actions.feedback_case(case, by=u["handler_cg"], result="已清运")
        actions.recheck_case(case, by=u["grid_a1"], passed=True)
    sweep(at(2025, 6, 15, 9, 59))
    assert system_steps(case) == []
    sweep(at(2025, 6, 15, 10, 1))
    sweep(at(2025, 6, 16, 10))
    assert system_steps(case) == ["remind_rate"]
    assert (
        Notification.objects.filter(
            recipient=u["resident"], title__startswith="请对已办结的问题进行评价"
        ).count()
        == 1
    )
    sweep(at(2025, 6, 17, 10, 1))  # the window has closed: nothing more
    assert system_steps(case) == ["remind_rate"]


@pytest.mark.django_db
def test_rating_reminders_reach_whoever_can_rate_and_only_then_are_recorded(world, cats):
    """A web report's reporter has no account (intake files it as its inactive one): an SMS to the
    tracking page. A case staff filed for a caller: the filer, to call back. Neither phone nor anyone:
    no step claiming a reminder went out."""
    from civicgrid.cases.tests.factories import IN_GRID_A1, PHONE
    from civicgrid.intake.actions.filing import web_account
    from civicgrid.notify.models import OutboxMessage

    web = dict(description="路灯不亮", **IN_GRID_A1)
    with time_machine.travel(at(2025, 6, 9, 9), tick=False):
        by_web = actions.create_case(by=web_account(), reporter_phone=PHONE, **web)
        anonymous = actions.create_case(by=web_account(), anonymous=True, **web)
        for_a_caller = file_case(world)  # staff_a1 files it, with the caller's phone
    for case in (by_web, anonymous, for_a_caller):
        closed(world, case, at(2025, 6, 10, 10))
    sweep(at(2025, 6, 16, 10))
    assert [system_steps(c) for c in (by_web, anonymous, for_a_caller)] == [
        ["remind_rate"],
        [],
        ["remind_rate"],
    ]
    sms = OutboxMessage.objects.get(channel="sms", payload__title__startswith="请对已办结的问题进行评价")
    assert sms.address == PHONE and sms.payload["link"] == "/track/" and sms.subject_ref == by_web.number
    callback = Notification.objects.get(title__startswith="请回访反映人并登记评价")
    assert callback.recipient == world.users["staff_a1"] and callback.subject_ref == for_a_caller.number


@pytest.mark.django_db
def test_a_categorys_rating_window_times_its_reminder(world, cats):
    Category.objects.filter(pk=cats["garbage"].pk).update(rating_window_days=3)
    with time_machine.travel(at(2025, 6, 9, 9), tick=False):
        short = file_case(world, by="resident", category=Category.objects.get(pk=cats["garbage"].pk))
        usual = file_case(world, by="resident", category=cats["water"])
    short, usual = closed(world, short, at(2025, 6, 10, 10)), closed(world, usual, at(2025, 6, 10, 10))
    assert (short.rate_by, usual.rate_by) == (at(2025, 6, 13, 10), at(2025, 6, 17, 10))
    sweep(at(2025, 6, 11, 9, 59))
    assert system_steps(short) == []
    sweep(at(2025, 6, 11, 10, 1))  # two days before its window closes
    assert (system_steps(short), system_steps(usual)) == (["remind_rate"], [])
    sweep(at(2025, 6, 15, 10, 1))
    assert (system_steps(short), system_steps(usual)) == (["remind_rate"], ["remind_rate"])


@pytest.mark.django_db
def test_no_reminder_once_rated(world, cats):
    u = world.users
    with time_machine.travel(at(2025, 6, 9, 9), tick=False):
        case = file_case(world, by="resident")
        actions.register_case(case, by=u["staff_a1"])
        actions.dispatch_case(case, by=u["dispatcher_a"], lead_unit=world.units["dept_cg"])
        actions.sign_case(case, by=u["handler_cg"])
        actions.feedback_case(case, by=u["handler_cg"], result="已清运")
        actions.recheck_case(case, by=u["grid_a1"], passed=True)
        actions.rate_case(case, by=u["resident"], satisfaction="satisfied", resolved=True)
    sweep(at(2025, 6, 14, 10))
    assert system_steps(case) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_sweeping_at_once_act_once_per_case():
    from civicgrid.cases.tests.factories import make_categories
    from civicgrid.testing import build_world

    world = build_world()
    make_categories(world)
    cases = [signed(world, at(2025, 6, 9, 9, i)) for i in range(6)]
    with time_machine.travel(at(2025, 6, 9, 9, 30), tick=False):
        unsigned = [dispatched_case(world) for _ in range(3)]
    moment = at(2025, 6, 23, 10, 30)  # red, urged and five working days overdue at once
    barrier = threading.Barrier(2)
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(supervise_all(moment))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    total = Counter()
    for r in results:
        total.update(r)
    assert total["red"] == 9 and total["urge"] == 9 and total["escalate"] == 9 and total["remind_sign"] == 3
    ids = [c.pk for c in cases + unsigned]
    per_case = Counter(
        CaseStep.objects.filter(case_id__in=ids, action__in=SUPERVISION).values_list("case_id", "action")
    )
    assert set(per_case.values()) == {1}
    assert len(per_case) == 9 * 3 + 3
    assert set(Case.objects.filter(pk__in=ids).values_list("urge_count", flat=True)) == {1}
    # One notice per step and recipient: the red card reached handler_cg once per case.
    reds = Notification.objects.filter(
        recipient=world.users["handler_cg"], title__startswith="工单已超期（红牌）"
    )
    assert reds.count() == 9 and len(set(reds.values_list("subject_ref", flat=True))) == 9
    assert timedelta(0) < moment - Case.objects.get(pk=ids[0]).due_at


@pytest.mark.django_db
def test_the_worker_runs_both_jobs(world, cats):
    from civicgrid.cases.measure_models import MeasureDay
    from civicgrid.core import jobs

    case = signed(world, at(2025, 6, 9, 9))
    registry = jobs.discover()
    assert {"cases.supervise", "cases.measures"} <= set(registry)
    with time_machine.travel(at(2025, 6, 16, 10), tick=False):
        ran = jobs.run_due({name: registry[name] for name in ("cases.supervise", "cases.measures")})
    assert ran == ["cases.supervise", "cases.measures"]
    assert system_steps(case) == ["yellow", "red"] or system_steps(case) == ["red"]
    assert MeasureDay.objects.filter(unit=world.units["dept_cg"], due=1).exists()


@pytest.mark.django_db
def test_a_case_is_urged_at_most_once_an_hour(world, cats, client):
    """Each urge reaches the handlers' phones (an urgent notice): a second within the hour is refused,
    and the desk offers no 催办 button until the hour is up."""
    from civicgrid.core.errors import InvalidTransition

    case = signed(world, at(2025, 6, 9, 9))
    dispatcher = world.users["dispatcher_a"]
    with time_machine.travel(at(2025, 6, 10, 10), tick=False):
        actions.urge_case(case, by=dispatcher, note="请今日办结")
    client.force_login(dispatcher)
    with time_machine.travel(at(2025, 6, 10, 10, 59), tick=False):
        with pytest.raises(InvalidTransition, match="一小时内已催办过"):
            actions.urge_case(case, by=dispatcher, note="再催")
        assert 'data-step="urge"' not in client.get(f"/cases/{case.number}/").content.decode()
    with time_machine.travel(at(2025, 6, 10, 11), tick=False):
        assert 'data-step="urge"' in client.get(f"/cases/{case.number}/").content.decode()
        assert actions.urge_case(case, by=dispatcher, note="再催").urge_count == 2
