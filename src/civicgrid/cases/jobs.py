"""The cases app's periodic jobs, run by `civicgrid worker` (docs/worker.md).

- cases.supervise: deferred cases back to handling on the day their deferral named, yellow and
  red cards, the automatic urge the day after the deadline, the supervisor's alert at five working
  days overdue, reminders of a first answer, a sign-for and a
  re-check gone past their deadlines, and of the rating window closing. Each sweep finds
  its cases with one indexed query and hands each to a function of cases.actions.supervision, which
  claims it with a conditional UPDATE, so a case is never processed twice even when the same sweep
  runs in two workers at once.
- cases.measures: folds new timeline steps into the measures rollups (cases.measures.fold).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from civicgrid.cases import deadlines
from civicgrid.cases.actions import supervision
from civicgrid.cases.measure_models import SupervisionMark
from civicgrid.cases.measures.fold import FoldReport, fold
from civicgrid.cases.models import CLOCK_STATUSES, Case, CaseStep, Category, Status, StepAction, WarnLevel
from civicgrid.core import workcal
from civicgrid.core.jobs import periodic

# Cases handled per sweep and run; the next run (30 s later) takes the rest.
SWEEP_LIMIT = 500
# The supervisor is alerted when a case is this many working days overdue (PRODUCT.md, 督办/催办).
ESCALATE_AFTER_WORKING_DAYS = 5
# The reporter is reminded to rate this long before the rating window closes.
RATE_REMINDER_BEFORE = timedelta(days=2)


def urge_threshold(now: datetime) -> datetime:
    """Deadlines before this moment get their urge now: local midnight of the latest working day whose
    working hours have begun, i.e. the urge goes out when the first working day after the deadline's
    day starts (a deadline on Friday is urged on Monday at 08:30, or after a holiday when it ends)."""
    cal = workcal.calendar()
    local = timezone.localtime(now, cal.tz)
    day = local.date()
    opens = cal.spans[0][0]
    if not (cal.is_workday(day) and local.time() >= opens):
        day -= timedelta(days=1)
        for _ in range(366):
            if cal.is_workday(day):
                break
            day -= timedelta(days=1)
    return datetime.combine(day, time.min, tzinfo=cal.tz)


def overdue_threshold(now: datetime, working_days: int) -> datetime:
    """The latest moment from which `working_days` of working time have passed by `now`."""
    cal = workcal.calendar()
    target = working_days * cal.daily_seconds
    lo, hi = now - timedelta(days=30 + 3 * working_days), now
    while cal.working_seconds_between(lo, now) < target:
        lo -= timedelta(days=30)
    # working_seconds_between(t, now) falls as t grows: find the last t where it still reaches target
    # (to the microsecond, about 45 halvings).
    while (hi - lo) > timedelta(microseconds=1):
        mid = lo + (hi - lo) / 2
        if cal.working_seconds_between(mid, now) >= target:
            lo = mid
        else:
            hi = mid
    return lo


def sweep_red(now: datetime) -> int:
    rows = (
        Case.objects.filter(status__in=CLOCK_STATUSES, due_at__lte=now)
        .exclude(warn_level=WarnLevel.RED)
        .order_by("due_at")
        .values_list("pk", "warn_level")[:SWEEP_LIMIT]
    )
    return sum(supervision.turn_red(pk, seen=level, now=now) for pk, level in rows)


def sweep_yellow(now: datetime) -> int:
    ids = (
        Case.objects.filter(
            status__in=CLOCK_STATUSES, warn_level=WarnLevel.NONE, yellow_at__lte=now, due_at__gt=now
        )
        .order_by("yellow_at")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    return sum(supervision.turn_yellow(pk, seen=WarnLevel.NONE, now=now) for pk in ids)


def sweep_urge(now: datetime) -> int:
    threshold = urge_threshold(now)
    rows = (
        Case.objects.filter(status__in=CLOCK_STATUSES, due_at__lt=threshold)
        .filter(Q(last_urged_at__isnull=True) | Q(last_urged_at__lt=F("due_at")))
        .order_by("due_at")
        .values_list("pk", "urge_count", "last_urged_at")[:SWEEP_LIMIT]
    )
    return sum(
        supervision.auto_urge(pk, seen_count=n, seen_urged_at=last, before_due=threshold, now=now)
        for pk, n, last in rows
    )


def sweep_escalate(now: datetime) -> int:
    threshold = overdue_threshold(now, ESCALATE_AFTER_WORKING_DAYS)
    alerted = SupervisionMark.objects.filter(case=OuterRef("pk"), alerted_for=OuterRef("due_at"))
    rows = (
        Case.objects.filter(status__in=CLOCK_STATUSES, due_at__lte=threshold)
        .exclude(Exists(alerted))
        .order_by("due_at")
        .values_list("pk", "due_at")[:SWEEP_LIMIT]
    )
    return sum(supervision.escalate_alert(pk, due_at=due, now=now) for pk, due in rows if due is not None)


def _sweep_reminders(
    now: datetime, deadline: str, column: str, remind: Callable[..., bool], **still: Any
) -> int:
    """Cases `still` as given whose `deadline` (a Case field) has passed and whose reminder about it
    (SupervisionMark's `column`) nobody has taken; `remind` takes each."""
    reminded = SupervisionMark.objects.filter(case=OuterRef("pk"), **{column: OuterRef(deadline)})
    rows = (
        Case.objects.filter(**still, **{f"{deadline}__lte": now})
        .exclude(Exists(reminded))
        .order_by(deadline)
        .values_list("pk", deadline)[:SWEEP_LIMIT]
    )
    return sum(remind(pk, **{deadline: at}, now=now) for pk, at in rows if at is not None)


def sweep_sign(now: datetime) -> int:
    return _sweep_reminders(
        now, "sign_by", "sign_reminded_for", supervision.remind_sign, status=Status.DISPATCHED
    )


def sweep_answer(now: datetime) -> int:
    return _sweep_reminders(
        now,
        "answer_by",
        "answer_reminded_for",
        supervision.remind_answer,
        status=Status.RECEIVED,
        answered_at__isnull=True,
    )


def sweep_recheck(now: datetime) -> int:
    return _sweep_reminders(
        now, "recheck_by", "recheck_reminded_for", supervision.remind_recheck, status=Status.FED_BACK
    )


def sweep_rate(now: datetime) -> int:
    # Closures are found through the timeline's (action, at) index: rate_by is closed_at + the window,
    # which categories may set, so the closures of every window in use are read and rate_by decides.
    days = Category.objects.exclude(rating_window_days=None).values_list("rating_window_days", flat=True)
    windows = {timedelta(days=d) for d in [deadlines.RATING_WINDOW_DAYS, *days.distinct()]}
    closures = CaseStep.objects.filter(
        action=StepAction.RECHECK,
        at__gt=now - max(windows),
        at__lte=now - min(windows) + RATE_REMINDER_BEFORE,
    ).values("case_id")
    reminded = SupervisionMark.objects.filter(case=OuterRef("pk"), rate_reminded_for=OuterRef("rate_by"))
    rows = (
        Case.objects.filter(
            supervision.RATE_REMINDABLE,
            pk__in=closures,
            status=Status.CLOSED,
            rate_by__gt=now,
            rate_by__lte=now + RATE_REMINDER_BEFORE,
        )
        .filter(Q(rated_at__isnull=True) | Q(rated_at__lt=F("closed_at")))
        .exclude(Exists(reminded))
        .order_by("rate_by")
        .values_list("pk", "rate_by")[:SWEEP_LIMIT]
    )
    return sum(supervision.remind_rate(pk, rate_by=by, now=now) for pk, by in rows if by is not None)


def sweep_resume(now: datetime) -> int:
    """A deferral ends when the first working day on or after its day opens (08:30): the fresh limit
    would only start counting then, and the notices do not go out at midnight or on a Sunday."""
    day = urge_threshold(now).date()  # the latest working day whose working hours have begun
    numbers = (
        Case.objects.filter(status=Status.DEFERRED, resume_on__lte=day)
        .order_by("resume_on")
        .values_list("number", flat=True)[:SWEEP_LIMIT]
    )
    return sum(supervision.resume_deferred(number, day=day, now=now) for number in numbers)


# Red before yellow: a case found past its deadline goes straight to red.
SWEEPS = {
    "resume": sweep_resume,
    "red": sweep_red,
    "yellow": sweep_yellow,
    "urge": sweep_urge,
    "escalate": sweep_escalate,
    "remind_answer": sweep_answer,
    "remind_sign": sweep_sign,
    "remind_recheck": sweep_recheck,
    "remind_rate": sweep_rate,
}


def supervise_all(now: datetime | None = None) -> dict[str, int]:
    """Runs every sweep once for the moment `now`; returns how many cases each one acted on."""
    now = now or timezone.now()
    return {name: sweep(now) for name, sweep in SWEEPS.items()}


@periodic("cases.supervise", every_seconds=30)
def supervise() -> dict[str, int]:
    return supervise_all()


@periodic("cases.measures", every_seconds=30)
def fold_measures() -> FoldReport:
    # A minute per run, well inside the five-minute lease; a backlog continues in the next run.
    return fold(max_seconds=60)
