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
def test_urgent_case_counts_holidays(world, cats):
    case = case_in_state(world, "registered", category=cats["garbage"], urgency=Urgency.URGENT)
    with time_machine.travel(at(2026, 9, 30, 17, 0), tick=False):
        case = actions.dispatch_case(case, by=world.users["dispatcher_a"], lead_unit=world.units["dept_cg"])
    assert case.sign_by == at(2026, 9, 30, 17, 30)
    assert case.due_at == at(2026, 10, 5, 17, 0)


@pytest.mark.django_db
def test_clock_hour_category_ignores_the_calendar(world, cats):
    case = case_in_state(world, "registered", category=cats["water"])
    with time_machine.travel(at(2026, 9, 30, 17, 0), tick=False):
        case = actions.dispatch_case(case, by=world.users["dispatcher_a"], lead_unit=world.units["dept_cg"])
    assert case.due_at == at(2026, 10, 1, 17, 0)


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
