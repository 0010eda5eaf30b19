"""Deadlines as the desk shows them (frozen clock; working-time clocks read the calendar's overrides) and
the case page's query count."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from civicgrid.cases import actions, desk_queries
from civicgrid.cases.models import Case, Status, WarnLevel
from civicgrid.cases.tests.factories import case_in_state

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def case(**fields):
    return Case(number="CG20261127-0001", description="x", **fields)


def test_handling_deadline_turns_yellow_then_red():
    start = NOW - timedelta(days=3)
    due = NOW + timedelta(days=1)
    fresh = case(status=Status.SIGNED, dispatched_at=start, due_at=due, yellow_at=NOW + timedelta(hours=1))
    clock = desk_queries.clock_of(fresh, NOW)
    assert clock is not None and (clock.label, clock.level, clock.left) == ("办理期限", "", "剩 1天")
    # The worker's warn level or yellow_at having passed both make it yellow.
    warned = case(status=Status.SIGNED, dispatched_at=start, due_at=due, warn_level=WarnLevel.YELLOW)
    assert desk_queries.clock_of(warned, NOW).level == "yellow"
    late = case(status=Status.DISPATCHED, dispatched_at=start, due_at=NOW - timedelta(hours=2, minutes=5))
    clock = desk_queries.clock_of(late, NOW)
    assert clock.level == "red" and clock.left == "超期 2小时5分"


@pytest.mark.django_db  # the working calendar's overrides
def test_the_to_sign_inbox_shows_the_sign_deadline():
    dispatched = case(
        status=Status.DISPATCHED,
        dispatched_at=NOW - timedelta(minutes=50),
        sign_by=NOW + timedelta(minutes=10),
        due_at=NOW + timedelta(days=5),
    )
    clock = desk_queries.clock_of(dispatched, NOW, sign=True)
    assert (clock.label, clock.level, clock.left) == ("签收期限", "yellow", "剩 10分钟")
    assert desk_queries.clock_of(dispatched, NOW).label == "办理期限"


@pytest.mark.django_db  # the working calendar's overrides
def test_a_working_time_clock_turns_yellow_at_75_percent_of_its_working_time():
    """Dispatched Friday 17:00 with one working hour to sign (half an hour that day, half on Monday
    until 09:00): 75 % of the clock time would be Sunday evening; of the working time it is Monday
    08:45. A recheck by Monday 17:00 (7 working hours) likewise at 15:15, not on Sunday night."""
    friday = NOW.replace(hour=17)
    monday = friday + timedelta(days=3)
    dispatched = case(
        status=Status.DISPATCHED,
        dispatched_at=friday,
        sign_by=monday.replace(hour=9),
        due_at=friday + timedelta(days=7),
    )
    assert desk_queries.clock_of(dispatched, monday.replace(hour=7), sign=True).level == ""
    assert desk_queries.clock_of(dispatched, monday.replace(hour=8, minute=44), sign=True).level == ""
    assert desk_queries.clock_of(dispatched, monday.replace(hour=8, minute=45), sign=True).level == "yellow"
    fed_back = case(status=Status.FED_BACK, fed_back_at=friday, recheck_by=monday.replace(hour=17))
    assert desk_queries.clock_of(fed_back, monday.replace(hour=7)).level == ""
    assert desk_queries.clock_of(fed_back, monday.replace(hour=15, minute=14)).level == ""
    assert desk_queries.clock_of(fed_back, monday.replace(hour=15, minute=15)).level == "yellow"


@pytest.mark.django_db  # the working calendar's overrides (recheck and answer clocks)
def test_other_statuses():
    fed_back = case(status=Status.FED_BACK, fed_back_at=NOW, recheck_by=NOW + timedelta(hours=8))
    assert desk_queries.clock_of(fed_back, NOW).label == "核查期限"
    received = case(status=Status.RECEIVED, created_at=NOW, answer_by=NOW + timedelta(hours=2))
    assert desk_queries.clock_of(received, NOW).label == "答复期限"
    assert desk_queries.clock_of(case(status=Status.REGISTERED, answered_at=NOW), NOW) is None
    deferred = case(status=Status.DEFERRED, due_at=NOW - timedelta(days=1), deferred=True)
    assert desk_queries.clock_of(deferred, NOW) is None  # deferred cases are never overdue
    closed = case(status=Status.CLOSED, closed_at=NOW, rate_by=NOW + timedelta(days=7), answered_at=NOW)
    assert [c.label for c in desk_queries.case_clocks(closed, NOW)] == ["评价期限"]


@pytest.mark.django_db
def test_case_page_queries_do_not_grow_with_its_timeline(client, world, cats):
    client.force_login(world.users["dispatcher_a"])
    short = case_in_state(world, "signed")
    long = case_in_state(world, "signed")
    for _ in range(10):
        actions.supervise_case(long, by=world.users["dispatcher_a"], note="请抓紧")

    def queries(number):
        client.get(f"/cases/{number}/")  # the session, once
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/cases/{number}/").status_code == 200
        return len(ctx.captured_queries)

    assert queries(long.number) == queries(short.number)


@pytest.mark.django_db
def test_by_deadline_the_running_cases_come_before_the_deferred_ones(world, cats):
    """A deferred case keeps the deadline its clock stopped at; the list shows the day it comes back."""
    deferred = case_in_state(world, "deferred")
    running = case_in_state(world, "signed")
    Case.objects.filter(pk=deferred.pk).update(due_at=running.due_at - timedelta(days=3))
    user = world.users["dispatcher_a"]
    listed = desk_queries.filter_cases(user, desk_queries.CaseFilters(status="open", sort="due"))
    assert [c.pk for c in listed] == [running.pk, deferred.pk]
    backwards = desk_queries.filter_cases(user, desk_queries.CaseFilters(status="open", sort="-due"))
    assert [c.pk for c in backwards] == [deferred.pk, running.pk]
