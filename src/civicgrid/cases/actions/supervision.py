"""Supervision by the worker (督办/催办): yellow and red cards, the automatic urge, the supervisor's
alert, reminders to answer a resident, to sign for a case, to re-check it and to rate it, and deferred
cases resumed on their day.

Each function acts on one case for one moment and returns whether it did. It first claims the change
with a conditional UPDATE (the case's warn level or urge count as last seen, or the SupervisionMark
column set to the deadline it concerns; a resumption takes the case's row lock), so however many
workers run the same sweep, each transition and each reminder happens once; then it writes the
timeline step (actor None: the system) in the same transaction, and the step's notifications go out
through cases.effects.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from civicgrid.cases import queries
from civicgrid.cases.actions._common import snapshot, write_step
from civicgrid.cases.actions.handling import resume
from civicgrid.cases.measure_models import SupervisionMark
from civicgrid.cases.models import CLOCK_STATUSES, Case, CaseAssignment, Status, StepAction, WarnLevel

# Someone to remind to rate (cases.effects): the reporter's account; a reporter without one who left a
# phone (a web or app report, filed as intake's inactive account); or, for a case staff filed for a
# caller, the staff member, to call back. A case with none of them gets no reminder step.
RATE_REMINDABLE = (
    Q(reporter_user__is_active=True)
    | (Q(reporter_user__isnull=False) & ~Q(reporter_phone_enc=""))
    | Q(reporter_user__isnull=True, created_by__is_active=True)
)


def _reload(case_id: int) -> Case:
    return Case.objects.select_related(None).get(pk=case_id)


@transaction.atomic
def turn_yellow(case_id: int, *, seen: str, now: datetime) -> bool:
    """黄牌: 75 % of the handling time is used up (yellow_at passed, due_at not yet)."""
    if seen != WarnLevel.NONE:
        return False
    claimed = Case.objects.filter(
        pk=case_id, warn_level=seen, status__in=CLOCK_STATUSES, yellow_at__lte=now, due_at__gt=now
    ).update(warn_level=WarnLevel.YELLOW, updated_at=now)
    if claimed != 1:
        return False
    case = _reload(case_id)
    before = {**snapshot(case), "warn_level": seen}
    write_step(case, StepAction.YELLOW, by=None, unit=None, before=before, at=now, note="办理时限已过 75%")
    return True


@transaction.atomic
def turn_red(case_id: int, *, seen: str, now: datetime) -> bool:
    """红牌: the handling deadline has passed while the lead unit still holds the case."""
    if seen == WarnLevel.RED:
        return False
    claimed = Case.objects.filter(
        pk=case_id, warn_level=seen, status__in=CLOCK_STATUSES, due_at__lte=now
    ).update(warn_level=WarnLevel.RED, updated_at=now)
    if claimed != 1:
        return False
    case = _reload(case_id)
    before = {**snapshot(case), "warn_level": seen}
    assert case.due_at is not None
    write_step(
        case,
        StepAction.RED,
        by=None,
        unit=None,
        before=before,
        at=now,
        note="已超过办理期限",
        extra={"deadline": timezone.localtime(case.due_at).isoformat()},
    )
    return True


@transaction.atomic
def auto_urge(
    case_id: int, *, seen_count: int, seen_urged_at: datetime | None, before_due: datetime, now: datetime
) -> bool:
    """催办 the day after the deadline: once per deadline (not if somebody urged since it passed).

    `before_due` is the threshold the sweep computed: the case's deadline must lie before it. The urge
    count and last urge as the sweep saw them are the claim: a concurrent urge makes this one a no-op.
    """
    claimed = (
        Case.objects.filter(
            pk=case_id,
            urge_count=seen_count,
            last_urged_at=seen_urged_at,
            status__in=CLOCK_STATUSES,
            due_at__lt=before_due,
        )
        .filter(Q(last_urged_at__isnull=True) | Q(last_urged_at__lt=F("due_at")))
        .update(urge_count=seen_count + 1, last_urged_at=now, updated_at=now)
    )
    if claimed != 1:
        return False
    case = _reload(case_id)
    before = {**snapshot(case), "urge_count": seen_count, "last_urged_at": seen_urged_at}
    write_step(case, StepAction.AUTO_URGE, by=None, unit=None, before=before, at=now, note="超期自动催办")
    return True


def _mark(case_id: int, column: str, deadline: datetime) -> bool:
    """Claims the reminder about `deadline` in the case's SupervisionMark row; False if already taken."""
    SupervisionMark.objects.bulk_create([SupervisionMark(case_id=case_id)], ignore_conflicts=True)
    return (
        SupervisionMark.objects.filter(case_id=case_id)
        .exclude(**{column: deadline})
        .update(**{column: deadline})
        == 1
    )


@transaction.atomic
def escalate_alert(case_id: int, *, due_at: datetime, now: datetime) -> bool:
    """Alerts the supervisor once a case is five working days overdue (the sweep decides the moment)."""
    case = (
        Case.objects.select_for_update().filter(pk=case_id, status__in=CLOCK_STATUSES, due_at=due_at).first()
    )
    if case is None or not _mark(case_id, "alerted_for", due_at):
        return False
    write_step(
        case,
        StepAction.ESCALATE_ALERT,
        by=None,
        unit=None,
        before=snapshot(case),
        at=now,
        note="超期 5 个工作日，提请督办",
        extra={"deadline": timezone.localtime(due_at).isoformat()},
    )
    return True


def _claim_reminder(case_id: int, column: str, deadline: datetime, **still: Any) -> Case | None:
    """The case, locked, if it is `still` as the sweep found it and the reminder about `deadline` in
    SupervisionMark's `column` was not taken yet; else None."""
    case = Case.objects.select_for_update().filter(pk=case_id, **still).first()
    if case is None or not _mark(case_id, column, deadline):
        return None
    return case


@transaction.atomic
def remind_answer(case_id: int, *, answer_by: datetime, now: datetime) -> bool:
    """Reminds the community's staff that a received request has had no first answer (受理, 不予受理,
    派遣…) by its deadline."""
    case = _claim_reminder(
        case_id,
        "answer_reminded_for",
        answer_by,
        status=Status.RECEIVED,
        answered_at__isnull=True,
        answer_by=answer_by,
        answer_by__lte=now,
    )
    if case is None:
        return False
    note = "已超过首次答复期限，请尽快受理或答复反映人"
    write_step(case, StepAction.REMIND_ANSWER, by=None, unit=None, before=snapshot(case), at=now, note=note)
    return True


@transaction.atomic
def remind_recheck(case_id: int, *, recheck_by: datetime, now: datetime) -> bool:
    """Reminds those who re-check that a fed-back case has waited past its re-check deadline."""
    case = _claim_reminder(
        case_id,
        "recheck_reminded_for",
        recheck_by,
        status=Status.FED_BACK,
        recheck_by=recheck_by,
        recheck_by__lte=now,
    )
    if case is None:
        return False
    note = "已超过核查期限，请尽快现场核查"
    write_step(case, StepAction.REMIND_RECHECK, by=None, unit=None, before=snapshot(case), at=now, note=note)
    return True


@transaction.atomic
def remind_sign(case_id: int, *, sign_by: datetime, now: datetime) -> bool:
    """Reminds the units that have not signed for a case once its sign-for deadline has passed."""
    case = _claim_reminder(
        case_id, "sign_reminded_for", sign_by, status=Status.DISPATCHED, sign_by=sign_by, sign_by__lte=now
    )
    if case is None:
        return False
    units = list(
        CaseAssignment.objects.filter(case=case, active=True, signed_at__isnull=True)
        .order_by("-role", "id")
        .values_list("unit__code", "unit_id")
    )
    write_step(
        case,
        StepAction.REMIND_SIGN,
        by=None,
        unit=None,
        before=snapshot(case),
        at=now,
        note="已超过签收期限，请尽快签收",
        extra={"units": [code or pk for code, pk in units]},
    )
    return True


@transaction.atomic
def remind_rate(case_id: int, *, rate_by: datetime, now: datetime) -> bool:
    """Reminds the reporter to rate a closed case before the rating window closes (or the staff who
    filed it for a caller to call back): see RATE_REMINDABLE."""
    # Only the case row is locked: RATE_REMINDABLE joins the users, on the nullable side of outer joins.
    case = (
        Case.objects.select_for_update(of=("self",))
        .filter(RATE_REMINDABLE, pk=case_id, status=Status.CLOSED, rate_by=rate_by, rate_by__gt=now)
        .filter(Q(rated_at__isnull=True) | Q(rated_at__lt=F("closed_at")))
        .first()
    )
    if case is None or not _mark(case_id, "rate_reminded_for", rate_by):
        return False
    write_step(
        case,
        StepAction.REMIND_RATE,
        by=None,
        unit=None,
        before=snapshot(case),
        at=now,
        note="请在评价期限内对办理结果进行评价",
        extra={"rate_by": timezone.localtime(rate_by).isoformat()},
    )
    return True


@transaction.atomic
def resume_deferred(number: str, *, day: date, now: datetime) -> bool:
    """恢复办理 of a case whose deferral named `day` or earlier, when nobody resumed it before. The lock
    is the claim: a second worker waits for it and then finds the case no longer deferred."""
    case = queries.case_for_update(number)
    if case is None or case.status != Status.DEFERRED or case.resume_on is None or case.resume_on > day:
        return False
    resume(case, by=None, unit=None, now=now, note="缓办期满，恢复办理")
    return True
