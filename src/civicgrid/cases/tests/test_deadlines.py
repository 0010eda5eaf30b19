"""Time limits on the statutory calendar, with a frozen clock (2026 National Day: 1–7 October off,
Saturday 10 October worked)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from civicgrid.cases import actions, deadlines
from civicgrid.cases.models import Case, Category, LimitUnit, Urgency
from civicgrid.cases.tests.factories import case_in_state, file_case

SH = ZoneInfo("Asia/Shanghai")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def test_urgent_limits_run_round_the_clock():
    days = Category(handle_limit=5, handle_limit_unit=LimitUnit.WORKING_DAYS)
    hours = Category(handle_limit=8, handle_limit_unit=LimitUnit.WORKING_HOURS)
    assert deadlines.handle_limit(days, Urgency.NORMAL) == (5, "working_days")
    assert deadlines.handle_limit(days, Urgency.URGENT) == (120, "clock_hours")
    assert deadlines.handle_limit(hours, Urgency.URGENT) == (8, "clock_hours")
    assert deadlines.handle_limit(None, Urgency.NORMAL) == (5, "working_days")


@pytest.mark.django_db
def test_dispatch_before_national_day_sets_deadlines_after_it(world, cats):
    case = case_in_state(world, "registered", category=cats["garbage"])
    with time_machine.travel(at(2026, 9, 30, 17, 0), tick=False):
        case = actions.dispatch_case(case, by=world.users["dispatcher_a"], lead_unit=world.units["dept_cg"])
    # Half an hour is left on 30 September; the other half runs from 08:30 on 8 October.
    assert case.sign_by == at(2026, 10, 8, 9, 0)
    # Five working days: 8, 9, 10 (adjusted Saturday), 12, 13 October.
    assert case.due_at == at(2026, 10, 13, 17, 0)
    assert case.dispatched_at < case.yellow_at < case.due_at
    assert case.first_dispatched_at == at(2026, 9, 30, 17, 0)


@pytest.mark.django_db
def test_a_categorys_own_limits_replace_the_defaults_at_every_step(world, cats):
    """Sign, first answer, recheck and rating window as the category sets them (PRODUCT.md: "every one
    configurable per category"), counted on the calendar across National Day."""
    u, garbage = world.users, cats["garbage"]
    Category.objects.filter(pk=garbage.pk).update(
        sign_limit_hours=3,
        urgent_sign_limit_minutes=10,
        answer_limit_hours=4,
        recheck_limit_days=2,
        rating_window_days=3,
    )
    garbage.refresh_from_db()
    with time_machine.travel(at(2026, 9, 29, 9, 0), tick=False):
        case = file_case(world, category=garbage)
        urgent = file_case(world, category=garbage, urgency=Urgency.URGENT)
        plain = file_case(world, category=cats["water"])  # sets none: the defaults
    assert case.answer_by == at(2026, 9, 29, 15, 0)  # 3 hours before noon, 1 after 14:00
    assert plain.answer_by == at(2026, 9, 29, 11, 0)
    with time_machine.travel(at(2026, 9, 29, 16, 0), tick=False):
        case = actions.register_case(case, by=u["staff_a1"])
        case = actions.dispatch_case(case, by=u["dispatcher_a"], lead_unit=world.units["dept_cg"])
        urgent = actions.register_case(urgent, by=u["staff_a1"])
        urgent = actions.dispatch_case(urgent, by=u["dispatcher_a"], lead_unit=world.units["dept_cg"])
    assert case.sign_by == at(2026, 9, 30, 10, 0)  # 1.5 hours that day, 1.5 the next morning
    assert urgent.sign_by == at(2026, 9, 29, 16, 10)
    with time_machine.travel(at(2026, 9, 30, 17, 0), tick=False):
        case = actions.sign_case(case, by=u["handler_cg"])
        case = actions.feedback_case(case, by=u["handler_cg"], result="已清运")
    assert case.recheck_by == at(2026, 10, 9, 17, 0)  # 8 and 9 October: the holiday does not count
    with time_machine.travel(at(2026, 10, 9, 10, 0), tick=False):
        case = actions.recheck_case(case, by=u["grid_a1"], passed=True)
    assert case.rate_by == at(2026, 10, 12, 10, 0)  # calendar days
    assert Case.objects.get(pk=case.pk).rate_by == case.rate_by


def test_a_limit_of_nothing_is_refused_by_the_form_and_the_database():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        Category(code="X1", name="x", sign_limit_hours=0, rating_window_days=0).clean_fields()
    assert set(refused.value.message_dict) == {"sign_limit_hours", "rating_window_days"}


@pytest.mark.django_db
def test_the_database_refuses_a_limit_of_nothing(cats):
    from django.db import IntegrityError, transaction

    for field in ("handle_limit", "sign_limit_hours", "recheck_limit_days"):
        with pytest.raises(IntegrityError), transaction.atomic():
            Category.objects.filter(pk=cats["garbage"].pk).update(**{field: 0})


@pytest.mark.django_db
def test_urgent_case_counts_holidays(world, cats):
    case = case_in_state(world, "registered", category=cats["garbage"], urgency=Urgency.URGENT)
    with time_machine.travel(at(2026, 9, 30, 17, 0), tick=False):
        case = actions.dispatch_case(case, by=world.users["dispatcher_a"], lead_unit=world.units["dept_cg"])
    assert case.sign_by == at(2026, 9, 30, 17, 30)
    assert case.due_at == at(2026, 10, 5, 17, 0)


@pytest.mark.django_db
def test_clock_hour_category_ignores_the_calendar(world, cats):
    """A limit in clock hours (a water cut) runs round the clock for every deadline of the round: the
    sign-for hour, the yellow card at 75 % and an extension's days, as for an urgent case."""
    case = case_in_state(world, "registered", category=cats["water"])
    with time_machine.travel(at(2026, 9, 30, 17, 0), tick=False):
        case = actions.dispatch_case(case, by=world.users["dispatcher_a"], lead_unit=world.units["dept_cg"])
    assert case.due_at == at(2026, 10, 1, 17, 0)
    # In working time the hour would end on 8 October and the card come at once (the evening's
    # half hour of working time is 75 % of the 0.5 working hours left before the holiday).
    assert case.sign_by == at(2026, 9, 30, 18, 0)
    assert case.yellow_at == at(2026, 10, 1, 11, 0)
    with time_machine.travel(at(2026, 9, 30, 17, 30), tick=False):
        case = actions.sign_case(case, by=world.users["handler_cg"])
        actions.request_extension(case, by=world.users["handler_cg"], working_days=2, reason="管网抢修")
        case = actions.approve_extension(case, by=world.users["dispatcher_a"])
    assert case.due_at == at(2026, 10, 3, 17, 0)  # two days of 24 hours, National Day or not
    assert case.yellow_at == at(2026, 10, 2, 23, 0)  # 75 % of the 72 hours from the dispatch


@pytest.mark.django_db
def test_the_sign_for_deadline_never_falls_after_the_handling_deadline(world, cats):
    water = cats["water"]
    Category.objects.filter(pk=water.pk).update(handle_limit=2, sign_limit_hours=3)
    water.refresh_from_db()
    case = case_in_state(world, "registered", category=water)
    with time_machine.travel(at(2026, 10, 3, 10, 0), tick=False):  # a Saturday in the holiday
        case = actions.dispatch_case(case, by=world.users["dispatcher_a"], lead_unit=world.units["dept_cg"])
    assert (case.sign_by, case.due_at) == (at(2026, 10, 3, 12, 0), at(2026, 10, 3, 12, 0))


@pytest.mark.django_db
def test_extension_approved_moves_due_at_by_working_days(api, world, cats):
    case = case_in_state(world, "registered", category=cats["garbage"])
    with time_machine.travel(at(2026, 9, 30, 17, 0), tick=False):
        case = actions.dispatch_case(case, by=world.users["dispatcher_a"], lead_unit=world.units["dept_cg"])
        actions.sign_case(case, by=world.users["handler_cg"])
    with time_machine.travel(at(2026, 10, 9, 10, 0), tick=False):
        status, data = api.act(
            "handler_cg", case.number, "request_extension", {"working_days": 2, "reason": "材料未到"}
        )
        assert status == 200 and data["pending_extension"]["working_days"] == 2
        status, data = api.act(
            "handler_cg", case.number, "request_extension", {"working_days": 1, "reason": "再延"}
        )
        assert status == 409  # one pending at a time
        status, data = api.act("dispatcher_a", case.number, "approve_extension", {})
        assert status == 200 and data["pending_extension"] is None
    row = Case.objects.get(pk=case.pk)
    assert row.due_at == at(2026, 10, 15, 17, 0)  # 13 → 14, 15 October
    assert row.extension_count == 1


@pytest.mark.django_db
def test_extension_denied_keeps_due_at_and_allows_a_new_request(api, world, cats):
    case = case_in_state(world, "signed")
    due = case.due_at
    api.act("handler_cg", case.number, "request_extension", {"working_days": 3, "reason": "需协调"})
    status, _data = api.act("dispatcher_a", case.number, "deny_extension", {"reason": "可以按期完成"})
    assert status == 200
    row = Case.objects.get(pk=case.pk)
    assert row.due_at == due and row.extension_count == 0
    assert (
        api.act("handler_cg", case.number, "request_extension", {"working_days": 1, "reason": "确需"})[0]
        == 200
    )


@pytest.mark.django_db
def test_extension_must_be_asked_before_the_deadline(api, world, cats):
    case = case_in_state(world, "signed")
    with time_machine.travel(case.due_at + timedelta(minutes=1), tick=False):
        status, _data = api.act(
            "handler_cg", case.number, "request_extension", {"working_days": 1, "reason": "晚了"}
        )
    assert status == 409


@pytest.mark.django_db
def test_overdue_flag_and_filter(api, world, cats):
    case = case_in_state(world, "signed")
    file_case(world)
    with time_machine.travel(case.due_at + timedelta(hours=1), tick=False):
        _status, data = api.get("dispatcher_a", "/cases", overdue="true")
        assert [c["number"] for c in data["items"]] == [case.number]
        assert data["items"][0]["overdue"] is True


@pytest.mark.django_db
def test_an_urgent_request_is_answered_round_the_clock(world, cats):
    """PRODUCT.md: urgent limits run around the clock, the first answer's too (a gas leak reported on
    Friday evening is not answered on Monday)."""
    with time_machine.travel(at(2026, 11, 27, 18, 42), tick=False):  # a Friday, after hours
        urgent = file_case(world, category=cats["garbage"], urgency=Urgency.URGENT)
        normal = file_case(world, category=cats["garbage"])
    assert urgent.answer_by == at(2026, 11, 27, 20, 42)
    assert normal.answer_by > at(2026, 11, 30, 8, 0)  # Monday, in working hours
