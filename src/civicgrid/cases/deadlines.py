"""The time limits of a case (PRODUCT.md, "Time limits"): sign, answer, handle, recheck, rating window.

Each is the case's category's own limit where the category sets one, else the default below.
Working time comes from the installation's working calendar (core.workcal); urgent limits run around
the clock. Each function is pure given the calendar, so tests freeze the clock and need no case.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from civicgrid.cases.models import Category, LimitUnit, Urgency
from civicgrid.core import workcal

SIGN_LIMIT_WORKING_HOURS = 1
URGENT_SIGN_LIMIT_MINUTES = 30
ANSWER_LIMIT_WORKING_HOURS = 2
RECHECK_LIMIT_WORKING_DAYS = 1
RATING_WINDOW_DAYS = 7
# Without a category a case gets the general limit.
DEFAULT_HANDLE_LIMIT = (5, LimitUnit.WORKING_DAYS.value)
# A case turns yellow when this share of its handling time is used up (the worker reads yellow_at).
YELLOW_SHARE = 0.75


def deadline(start: datetime, amount: int | float, unit: str) -> datetime:
    # The installation's calendar (cached per process; overrides re-read every few seconds).
    return workcal.calendar().deadline(start, amount, unit)


def limits(category: Category | None) -> dict[str, int]:
    """The limits besides handling in force for a case of the category: its own, else the defaults.
    Keyed as the category's fields (the API's GET /categories shows them so)."""

    def own(field: str) -> int | None:
        return getattr(category, field) if category is not None else None

    return {
        "sign_limit_hours": own("sign_limit_hours") or SIGN_LIMIT_WORKING_HOURS,
        "urgent_sign_limit_minutes": own("urgent_sign_limit_minutes") or URGENT_SIGN_LIMIT_MINUTES,
        "answer_limit_hours": own("answer_limit_hours") or ANSWER_LIMIT_WORKING_HOURS,
        "recheck_limit_days": own("recheck_limit_days") or RECHECK_LIMIT_WORKING_DAYS,
        "rating_window_days": own("rating_window_days") or RATING_WINDOW_DAYS,
    }


def sign_by(
    start: datetime, due: datetime, category: Category | None, urgency: str, *, clock_time: bool
) -> datetime:
    """The sign-for deadline of a round dispatched at `start` and due at `due`.

    A case whose handling runs round the clock (`clock_time`: urgent, or a category limited in clock
    hours: an emergency, a water or power cut) is signed for round the clock too; a limit in working
    hours would let one dispatched on Saturday wait until Monday while its handling deadline passed on
    Saturday. Never after `due`.
    """
    if urgency == Urgency.URGENT:
        at = start + timedelta(minutes=limits(category)["urgent_sign_limit_minutes"])
    elif clock_time:
        at = start + timedelta(hours=limits(category)["sign_limit_hours"])
    else:
        at = deadline(start, limits(category)["sign_limit_hours"], LimitUnit.WORKING_HOURS)
    return min(at, due)


def answer_by(start: datetime, category: Category | None, urgency: str = Urgency.NORMAL) -> datetime:
    """The first answer's deadline: in working hours, but round the clock for a case whose handling
    runs so (urgent, or an emergency's category): a gas leak reported on Friday evening is not
    answered on Monday."""
    hours = limits(category)["answer_limit_hours"]
    if around_the_clock(category, urgency):
        return start + timedelta(hours=hours)
    return deadline(start, hours, LimitUnit.WORKING_HOURS)


def handle_limit(category: Category | None, urgency: str) -> tuple[int | float, str]:
    """The handling limit as (amount, unit); urgent cases count the same amount round the clock."""
    amount, unit = (category.handle_limit, category.handle_limit_unit) if category else DEFAULT_HANDLE_LIMIT
    if urgency == Urgency.URGENT:
        if unit == LimitUnit.WORKING_DAYS:
            return amount * 24, LimitUnit.CLOCK_HOURS.value
        return amount, LimitUnit.CLOCK_HOURS.value
    return amount, str(unit)


def around_the_clock(category: Category | None, urgency: str) -> bool:
    """Whether the case's handling limit runs round the clock rather than in working time."""
    return handle_limit(category, urgency)[1] == LimitUnit.CLOCK_HOURS


def yellow_at(start: datetime, due: datetime, *, clock_time: bool) -> datetime:
    """The moment YELLOW_SHARE of the time between start and due is used: in clock time, or in working
    time (a case's handling limit: `around_the_clock`)."""
    if clock_time:
        return start + (due - start) * YELLOW_SHARE
    cal = workcal.calendar()
    seconds = cal.working_seconds_between(start, due) * YELLOW_SHARE
    return cal.add_working_time(start, timedelta(seconds=round(seconds)))


def of_round(start: datetime, category: Category | None, urgency: str) -> tuple[datetime, datetime, datetime]:
    """A handling round's (sign_by, due_at, yellow_at) when it is dispatched at `start`."""
    amount, unit = handle_limit(category, urgency)
    due = deadline(start, amount, unit)
    clock_time = unit == LimitUnit.CLOCK_HOURS
    sign = sign_by(start, due, category, urgency, clock_time=clock_time)
    return sign, due, yellow_at(start, due, clock_time=clock_time)


def recheck_by(start: datetime, category: Category | None) -> datetime:
    return deadline(start, limits(category)["recheck_limit_days"], LimitUnit.WORKING_DAYS)


def rating_window(category: Category | None) -> timedelta:
    return timedelta(days=limits(category)["rating_window_days"])


def rate_by(closed_at: datetime, category: Category | None) -> datetime:
    return closed_at + rating_window(category)


def extended(due: datetime, working_days: int, category: Category | None, urgency: str) -> datetime:
    """The deadline after an extension of `working_days`: on a limit that runs round the clock each day
    is 24 hours, as handle_limit counts an urgent case's working days."""
    if around_the_clock(category, urgency):
        return due + timedelta(days=working_days)
    return deadline(due, working_days, LimitUnit.WORKING_DAYS)


def resumes_at(day: date) -> datetime:
    """When a deferral that names `day` ends: the opening of the first working day on or after it
    (cases.jobs.sweep_resume resumes it then)."""
    cal = workcal.calendar()
    for _ in range(366):
        if cal.is_workday(day):
            break
        day += timedelta(days=1)
    return datetime.combine(day, cal.spans[0][0], tzinfo=cal.tz)
