"""The working calendar: statutory holidays, working periods, overrides, unknown years, the cache."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import chinese_calendar
import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured

from civicgrid.core import checks, workcal
from civicgrid.core.workcal import SHANGHAI, WorkingCalendar, WorkingHoursError

HOURS = "08:30-12:00,14:00-17:30"
H = 3600


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.fixture
def cal() -> WorkingCalendar:
    return WorkingCalendar(HOURS)


@pytest.fixture(autouse=True)
def _fresh_warnings():
    # The unknown-year warning is once per process; each test starts as a new process would.
    workcal._warned_years.clear()
    yield
    workcal._warned_years.clear()


# The statutory calendar, as chinese_calendar has it (the tests below rely on these facts).


def test_spring_festival_2026_per_chinese_calendar():
    holiday = [dt.date(2026, 2, d) for d in range(15, 24)]
    assert not any(chinese_calendar.is_workday(d) for d in holiday)
    # Both adjusted working days of the 2026 Spring Festival are Saturdays.
    for d in (dt.date(2026, 2, 14), dt.date(2026, 2, 28)):
        assert d.weekday() == 5 and chinese_calendar.is_workday(d)
    assert chinese_calendar.is_workday(dt.date(2026, 2, 24))


def test_national_day_per_chinese_calendar():
    assert not any(chinese_calendar.is_workday(dt.date(2025, 10, d)) for d in range(1, 9))
    assert chinese_calendar.is_workday(dt.date(2025, 9, 28))  # Sunday
    assert chinese_calendar.is_workday(dt.date(2025, 10, 11))  # Saturday
    assert not any(chinese_calendar.is_workday(dt.date(2026, 10, d)) for d in range(1, 8))
    assert chinese_calendar.is_workday(dt.date(2026, 9, 20))  # Sunday
    assert chinese_calendar.is_workday(dt.date(2026, 10, 10))  # Saturday


# Working spans


def test_spans_parse_and_daily_total(cal):
    assert cal.spans == ((dt.time(8, 30), dt.time(12)), (dt.time(14), dt.time(17, 30)))
    assert cal.daily_seconds == 7 * H
    assert WorkingCalendar(" 9:00 - 17:00 ").daily_seconds == 8 * H


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("08:30-12:00;14:00-17:30", "is not HH:MM-HH:MM"),
        ("8-12", "is not HH:MM-HH:MM"),
        ("08:30-25:00", "not a time of day"),
        ("08:30-12:60", "not a time of day"),
        ("12:00-08:30", "does not end after it starts"),
        ("22:00-02:00", "cannot cross midnight"),
        ("08:30-12:00,11:00-17:30", "overlaps"),
        ("14:00-17:30,08:30-12:00", "in order of the day"),
        ("08:30-12:00,", "is not HH:MM-HH:MM"),
    ],
)
def test_bad_spans_raise_a_clear_error(text, fragment):
    with pytest.raises(WorkingHoursError, match=fragment):
        WorkingCalendar(text)


def test_bad_spans_setting_is_improperly_configured(settings, db):
    settings.CIVICGRID_WORKING_HOURS = "08:30-12:00 14:00-17:30"
    with pytest.raises(ImproperlyConfigured, match="CIVICGRID_WORKING_HOURS"):
        workcal.calendar()


# Working hours


def test_lunch_break(cal):
    assert cal.add_working_hours(at(2026, 11, 26, 11), 1) == at(2026, 11, 26, 12)  # end, not 14:00
    assert cal.add_working_hours(at(2026, 11, 26, 11), 2) == at(2026, 11, 26, 15)
    assert cal.add_working_hours(at(2026, 11, 26, 12, 30), 1) == at(2026, 11, 26, 15)
    assert cal.add_working_time(at(2026, 11, 26, 11, 59), 120) == at(2026, 11, 26, 14, 1)


def test_starting_at_night_counts_from_the_next_working_period(cal):
    assert cal.add_working_hours(at(2026, 11, 26, 20), 1) == at(2026, 11, 27, 9, 30)  # Thu night
    assert cal.add_working_hours(at(2026, 11, 26, 3), 1) == at(2026, 11, 26, 9, 30)  # before opening
    assert cal.add_working_hours(at(2026, 11, 27, 17, 30), 1) == at(2026, 11, 30, 9, 30)  # Fri close → Mon


def test_starting_on_a_holiday(cal):
    assert cal.add_working_hours(at(2026, 10, 3, 10), 1) == at(2026, 10, 8, 9, 30)
    assert cal.add_working_hours(at(2025, 10, 1, 0), 2) == at(2025, 10, 9, 10, 30)


def test_across_spring_festival_2026(cal):
    # Friday 13 Feb, one hour left; Saturday 14 Feb is an adjusted working day; 15–23 Feb are off.
    assert cal.add_working_hours(at(2026, 2, 13, 16, 30), 2) == at(2026, 2, 14, 9, 30)
    assert cal.add_working_hours(at(2026, 2, 14, 16, 30), 2) == at(2026, 2, 24, 9, 30)
    assert cal.add_working_days(at(2026, 2, 13, 10), 1) == at(2026, 2, 14, 10)
    assert cal.add_working_days(at(2026, 2, 13, 10), 2) == at(2026, 2, 24, 10)
    assert cal.add_working_days(at(2026, 2, 12, 15), 5) == at(2026, 2, 26, 15)
    assert cal.working_seconds_between(at(2026, 2, 14, 17), at(2026, 2, 24, 9)) == H


def test_national_day_and_adjusted_weekends(cal):
    # Sun 28 Sep 2025 is a working day; 1–8 Oct off; Sat 11 Oct a working day.
    assert cal.is_workday(dt.date(2025, 9, 28)) and not cal.is_workday(dt.date(2025, 9, 27))
    assert cal.add_working_days(at(2025, 9, 26, 9), 1) == at(2025, 9, 28, 9)
    assert cal.add_working_days(at(2025, 9, 30, 9), 1) == at(2025, 10, 9, 9)
    assert cal.add_working_days(at(2025, 10, 10, 9), 1) == at(2025, 10, 11, 9)
    assert cal.add_working_days(at(2025, 10, 10, 9), 2) == at(2025, 10, 13, 9)
    # 2026: Sun 20 Sep working, 25 Sep (Mid-Autumn) and 1–7 Oct off, Sat 10 Oct working.
    assert cal.add_working_days(at(2026, 9, 19, 10), 1) == at(2026, 9, 20, 17, 30)  # from a Saturday
    assert cal.add_working_days(at(2026, 9, 30, 16), 1) == at(2026, 10, 8, 16)
    assert cal.add_working_days(at(2026, 10, 9, 16), 1) == at(2026, 10, 10, 16)


def test_working_days_from_outside_working_periods(cal):
    thu = (2026, 11, 26)
    # From the lunch break: N x 7 working hours later, i.e. the end of a morning.
    assert cal.add_working_days(at(*thu, 13), 1) == at(2026, 11, 27, 12)
    # Before opening: that whole day is the first working day.
    assert cal.add_working_days(at(*thu, 7), 1) == at(*thu, 17, 30)
    # After closing or on a rest day: the end of the N-th following working day.
    assert cal.add_working_days(at(*thu, 20), 1) == at(2026, 11, 27, 17, 30)
    assert cal.add_working_days(at(2026, 11, 28, 10), 1) == at(2026, 11, 30, 17, 30)
    # Exactly at the end of a period: same time of day again.
    assert cal.add_working_days(at(*thu, 12), 1) == at(2026, 11, 27, 12)
    assert cal.add_working_days(at(*thu, 17, 30), 3) == at(2026, 12, 1, 17, 30)
    # Exactly at the start of a period counts as inside it.
    assert cal.add_working_days(at(*thu, 14), 1) == at(2026, 11, 27, 14)


def test_working_days_keep_seconds_and_check_input(cal):
    assert cal.add_working_days(at(2026, 11, 26, 9, 1, 2), 1) == at(2026, 11, 27, 9, 1, 2)
    assert cal.add_working_days(at(2026, 11, 28, 10), 0) == at(2026, 11, 28, 10)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            cal.add_working_days(at(2026, 11, 26, 9), bad)


def test_results_are_aware_shanghai_time_whatever_the_input_zone(cal):
    start_utc = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
    result = cal.add_working_hours(start_utc, 1)
    assert result == at(2026, 11, 26, 10) and result.utcoffset() == dt.timedelta(hours=8)
    with pytest.raises(ValueError, match="naive"):
        cal.add_working_hours(dt.datetime(2026, 11, 26, 9), 1)
    with pytest.raises(ValueError, match="negative"):
        cal.add_working_hours(at(2026, 11, 26, 9), -1)


def test_zero_time_returns_the_start(cal):
    assert cal.add_working_time(at(2026, 11, 28, 10), 0) == at(2026, 11, 28, 10)


def test_working_seconds_between_sign_and_lunch(cal):
    a, b = at(2026, 11, 26, 11), at(2026, 11, 26, 15)
    assert cal.working_seconds_between(a, b) == 2 * H
    assert cal.working_seconds_between(b, a) == -2 * H
    assert cal.working_seconds_between(a, a) == 0
    assert cal.working_seconds_between(at(2026, 11, 28, 9), at(2026, 11, 29, 18)) == 0  # weekend


def test_working_seconds_between_is_the_inverse_of_add_working_time(cal):
    # Starts every 47 minutes across Spring Festival and its adjusted Saturdays, many amounts.
    start = at(2026, 2, 10, 0, 7)
    amounts: list[float | Decimal] = [
        1,
        59,
        30 * 60,
        H,
        3.5 * H,
        7 * H,
        7 * H + 1,
        15 * 7 * H,
        Decimal("5400.5"),
    ]
    for i in range(500):
        a = start + dt.timedelta(minutes=47 * i)
        for seconds in amounts:
            b = cal.add_working_time(a, seconds)
            assert cal.working_seconds_between(a, b) == float(seconds), (a, seconds, b)
            assert cal.is_working_time(b - dt.timedelta(microseconds=1)), (a, seconds, b)
        for days in (1, 3, 15):
            b = cal.add_working_days(a, days)
            assert cal.working_seconds_between(a, b) == days * 7 * H, (a, days, b)


def test_add_working_time_of_the_measured_gap_reaches_the_same_working_moment(cal):
    a = at(2026, 2, 13, 10)
    for hours in range(0, 24 * 20, 5):
        b = a + dt.timedelta(hours=hours)
        gap = cal.working_seconds_between(a, b)
        c = cal.add_working_time(a, gap)
        assert c <= b and cal.working_seconds_between(c, b) == 0


# Overrides


def test_overrides_turn_a_weekday_off_and_a_sunday_on():
    thu, sun = dt.date(2026, 11, 26), dt.date(2026, 11, 29)
    cal = WorkingCalendar(HOURS, {thu: False, sun: True})
    assert not cal.is_workday(thu) and cal.is_workday(sun)
    assert cal.add_working_hours(at(2026, 11, 25, 17), 1) == at(2026, 11, 27, 9)
    assert cal.add_working_days(at(2026, 11, 27, 10), 1) == at(2026, 11, 29, 10)
    assert cal.working_seconds_between(at(2026, 11, 26, 0), at(2026, 11, 27, 0)) == 0


def test_overrides_beat_chinese_calendar_on_a_statutory_day():
    cal = WorkingCalendar(HOURS, {dt.date(2026, 2, 14): False})
    assert cal.add_working_hours(at(2026, 2, 13, 16, 30), 2) == at(2026, 2, 24, 9, 30)


# Unknown years


def test_unknown_year_falls_back_to_weekdays_and_warns_once(cal, caplog):
    assert not workcal.calendar_knows_year(2031)
    with caplog.at_level(logging.WARNING, logger="civicgrid.core.workcal"):
        assert cal.is_workday(dt.date(2031, 1, 1))  # Wednesday (New Year's Day in reality)
        assert not cal.is_workday(dt.date(2031, 1, 4))  # Saturday
        assert cal.add_working_days(at(2031, 1, 3, 10), 1) == at(2031, 1, 6, 10)
        WorkingCalendar(HOURS).is_workday(dt.date(2031, 6, 1))  # a rebuilt calendar does not repeat it
    warnings = [r for r in caplog.records if "2031" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "/admin/core/calendaroverride/" in warnings[0].getMessage()


def test_unknown_year_with_overrides_is_silent(caplog):
    cal = WorkingCalendar(HOURS, {dt.date(2031, 1, 1): False})
    with caplog.at_level(logging.WARNING, logger="civicgrid.core.workcal"):
        assert not cal.is_workday(dt.date(2031, 1, 1))
        assert cal.is_workday(dt.date(2031, 1, 2))
    assert not caplog.records


def test_long_limits_reach_into_unknown_years_without_crashing(cal):
    assert cal.add_working_days(at(2026, 11, 26, 10), 600) > at(2029, 1, 1)


# Urgent limits and deadline()


def test_clock_hours_ignore_holidays_and_nights(cal):
    assert cal.add_clock_hours(at(2026, 10, 1, 10), 2) == at(2026, 10, 1, 12)
    assert cal.add_clock_hours(at(2026, 2, 16, 23, 45), 0.5) == at(2026, 2, 17, 0, 15)
    assert cal.add_clock_hours(at(2026, 2, 15, 8), 24) == at(2026, 2, 16, 8)


def test_deadline_accepts_limit_unit_values_and_plain_strings(cal):
    from civicgrid.cases.models import LimitUnit

    start = at(2026, 11, 26, 16)
    assert cal.deadline(start, 2, LimitUnit.CLOCK_HOURS) == at(2026, 11, 26, 18)
    assert cal.deadline(start, 2, "working_hours") == at(2026, 11, 27, 9)
    assert cal.deadline(start, 5, LimitUnit.WORKING_DAYS) == at(2026, 12, 3, 16)
    assert {u.value for u in LimitUnit} == set(workcal.UNITS)
    with pytest.raises(ValueError, match="unknown time-limit unit"):
        cal.deadline(start, 1, "days")


# The installation's calendar (database)


@pytest.fixture
def fresh_cache(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(workcal, "_clock", lambda: clock[0])
    workcal.invalidate()
    yield clock
    workcal.invalidate()


@pytest.mark.django_db
def test_calendar_picks_up_a_new_override(fresh_cache):
    from civicgrid.core.models import CalendarOverride

    thu = dt.date(2026, 11, 26)
    assert workcal.calendar().is_workday(thu)
    CalendarOverride.objects.create(date=thu, is_workday=False, note="停电")  # signal: at once
    assert not workcal.calendar().is_workday(thu)


@pytest.mark.django_db
def test_changes_from_other_processes_show_after_the_recheck_interval(fresh_cache, django_assert_num_queries):
    from civicgrid.core.models import CalendarOverride

    sun = dt.date(2026, 11, 29)
    row = CalendarOverride.objects.create(date=sun, is_workday=True)
    first = workcal.calendar()
    assert first.is_workday(sun)
    # .update() sends no signal, like an edit made by another process.
    CalendarOverride.objects.filter(pk=row.pk).update(is_workday=False)
    with django_assert_num_queries(0):
        for _ in range(1000):
            assert workcal.calendar() is first
    fresh_cache[0] += workcal.RECHECK_SECONDS
    with django_assert_num_queries(1):
        assert not workcal.calendar().is_workday(sun)
    fresh_cache[0] += workcal.RECHECK_SECONDS
    with django_assert_num_queries(1):
        same = workcal.calendar()
    assert same is workcal.calendar()  # unchanged rows: the built calendar (and its tables) is kept
    workcal.invalidate()
    assert workcal.calendar() is not same


@pytest.mark.django_db
def test_calendar_follows_the_working_hours_setting(fresh_cache, settings):
    settings.CIVICGRID_WORKING_HOURS = "09:00-17:00"
    assert workcal.calendar().daily_seconds == 8 * H
    assert workcal.calendar().tz == SHANGHAI


# System checks (the current year comes from a frozen clock)


@pytest.mark.django_db
def test_check_warns_about_an_unknown_next_year_until_overrides_exist():
    from civicgrid.core.models import CalendarOverride

    with time_machine.travel(at(2030, 6, 1, 12), tick=False):
        messages = checks.check_calendar_years(None)
        assert [m.id for m in messages] == ["core.W101", "core.W101"]
        assert "2030" in messages[0].msg and "2031" in messages[1].msg
        CalendarOverride.objects.create(date=dt.date(2031, 1, 1), is_workday=False, note="元旦")
        assert [m.msg for m in checks.check_calendar_years(None)] == [messages[0].msg]


@pytest.mark.django_db
def test_check_is_quiet_while_both_years_are_known():
    with time_machine.travel(at(2025, 6, 1, 12), tick=False):
        assert checks.check_calendar_years(None) == []


def test_check_reports_bad_working_hours(settings):
    settings.CIVICGRID_WORKING_HOURS = "8:30 to 12:00"
    assert [m.id for m in checks.check_working_hours(None)] == ["core.E101"]
    settings.CIVICGRID_WORKING_HOURS = HOURS
    assert checks.check_working_hours(None) == []
