"""Closing the loop: recheck (核查), rate (回访评价), reopen (重办), urge (催办) and supervise (督办)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases import deadlines, queries, rules, transitions
from civicgrid.cases.actions._common import lock, require_status, require_text, snapshot, write_step
from civicgrid.cases.actions.handling import assign, resume
from civicgrid.cases.models import (
    AssignmentRole,
    Case,
    CaseAssignment,
    Satisfaction,
    Status,
    StepAction,
)
from civicgrid.cases.queries import active_assignments
from civicgrid.core.errors import Forbidden, InvalidInput, InvalidTransition
from civicgrid.core.models import Unit
from civicgrid.people.models import Role

if TYPE_CHECKING:
    from civicgrid.people.models import User


def rechecker(by: User, case: Case) -> Unit | None:
    """Grid workers of the case's community, its community staff, or the subdistrict's dispatcher."""
    if by.is_superuser:
        return None
    m = rules.membership_over(by, [Role.COMMUNITY_STAFF, Role.DISPATCHER], case.territory_path)
    if m is None and case.community_id and case.community:
        # A grid worker of any grid of the community checks on site, not only the worker of its grid.
        m = next(
            (
                g
                for g in rules.memberships_of(by)
                if g.role == Role.GRID_WORKER and g.unit.path.startswith(case.community.path)
            ),
            None,
        )
    if m is None:
        m = rules.membership_over(by, [Role.GRID_WORKER], case.territory_path)
    if m is None:
        raise Forbidden(_("只有属地网格员、社区或街道可以核查"))
    return m.unit


def require_independent(by: User, case: Case) -> None:
    """核查 checks somebody else's work: whoever gave the feedback may not pass or fail it (a grid
    worker whose grid led the case leaves the check to another worker, the community or the centre)."""
    if by.is_superuser:
        return
    feedback = [s for s in queries.timeline(case) if s.action == StepAction.FEEDBACK]
    if feedback and feedback[-1].actor_id == by.pk:
        raise Forbidden(_("不能核查自己反馈的办理结果"))


@transaction.atomic
def recheck_case(case: Case | str, *, by: User, passed: bool, note: str = "") -> Case:
    """On-site check of the feedback: passed closes the case (结案); not passed sends it back (返工)."""
    case = lock(case, by)
    unit = rechecker(by, case)
    require_status(case, transitions.RECHECKABLE, _("只有已反馈的工单可以核查"))
    require_independent(by, case)
    before = snapshot(case)
    now = timezone.now()
    case.recheck_by = None
    if passed:
        case.status = Status.CLOSED
        case.closed_at = now
        case.rate_by = deadlines.rate_by(now, case.category)
    else:
        require_text(note, "note", _("核查不通过时请说明原因"))
        # Rework stays with the lead unit on the original deadline (the unit already signed for it),
        # unless the case was deferred: see below.
        case.status = Status.SIGNED
        case.rework_count += 1
        case.feedback_result = ""
        case.fed_back_at = None
    write_step(
        case, StepAction.RECHECK, by=by, unit=unit, before=before, at=now, note=note, extra={"passed": passed}
    )
    if not passed and case.deferred:
        # Fed back from a deferral: its deadline was suspended and is long past. The rework resumes it
        # (恢复办理, a fresh limit) rather than turning it red, urged and escalated at once.
        resume(case, by=None, unit=None, now=now, note=f"核查未通过，返工：{note}"[:2000])
    return case


def reopened_lead(assignments: Iterable[CaseAssignment]) -> CaseAssignment:
    """The lead assignment a reopening goes back to; InvalidTransition when the case never had one."""
    lead = next((a for a in assignments if a.role == AssignmentRole.LEAD), None)
    if lead is None:
        raise InvalidTransition(_("该工单没有主办单位，不能重办"))
    return lead


def _reopen(case: Case, *, by: User, unit: Unit | None, now: datetime, note: str) -> None:
    """Back to the same lead (and assisting) units with fresh deadlines (重办)."""
    units = active_assignments(case)
    lead = reopened_lead(units).unit
    before = snapshot(case)
    assign(case, lead, [a.unit for a in units if a.role == AssignmentRole.ASSIST], by=by, now=now)
    case.reopen_count += 1
    write_step(case, StepAction.REOPEN, by=by, unit=unit, before=before, at=now, note=note)


def rater(by: User, case: Case) -> Unit | None:
    """The reporter (as no unit), or community staff or the dispatcher of its place after a callback."""
    if case.reporter_user_id and case.reporter_user_id == by.pk:
        return None
    return rules.require_over(
        by, [Role.COMMUNITY_STAFF, Role.DISPATCHER], case.territory_path, _("只有反映人或回访人员可以评价")
    )


def require_rating_open(case: Case, now: datetime) -> None:
    """Within the rating window, and once per closure (a reopened and closed case is rated again)."""
    if case.rate_by is not None and now > case.rate_by:
        raise InvalidTransition(_("已超过评价期限"))
    if case.rated_at is not None and case.closed_at is not None and case.rated_at >= case.closed_at:
        raise InvalidTransition(_("本次办理已评价"))


@transaction.atomic
def rate_case(case: Case | str, *, by: User, satisfaction: str, resolved: bool, comment: str = "") -> Case:
    """The reporter (or staff after a phone callback) rates a closed case within the rating window.

    Dissatisfied or unresolved reopens the case for re-handling by the same lead unit.
    """
    case = lock(case, by)
    unit = rater(by, case)
    return apply_rating(case, by=by, unit=unit, satisfaction=satisfaction, resolved=resolved, comment=comment)


def apply_rating(
    case: Case,
    *,
    by: User,
    unit: Unit | None,
    satisfaction: str,
    resolved: bool,
    comment: str,
    extra: dict | None = None,
) -> Case:
    """The rating itself, on a case already locked and whose rater is already checked.

    Closed, within the rating window, once per closure; dissatisfied or unsolved reopens it.
    """
    require_status(case, transitions.RATEABLE, _("只有已结案的工单可以评价"))
    if satisfaction not in Satisfaction.values:
        raise InvalidInput(_("请选择满意度"), details={"satisfaction": satisfaction})
    now = timezone.now()
    require_rating_open(case, now)
    before = snapshot(case)
    case.satisfaction = satisfaction
    case.resolved = resolved
    case.rating_comment = comment.strip()[:500]
    case.rated_at = now
    write_step(
        case,
        StepAction.RATE,
        by=by,
        unit=unit,
        before=before,
        at=now,
        note=case.rating_comment,
        extra={"satisfaction": satisfaction, "resolved": resolved, **(extra or {})},
    )
    if satisfaction == Satisfaction.DISSATISFIED or not resolved:
        _reopen(case, by=by, unit=unit, now=now, note="群众评价不满意或未解决，重新办理")
    return case


@transaction.atomic
def reopen_case(case: Case | str, *, by: User, reason: str) -> Case:
    """The dispatcher reopens a closed case for re-handling by the same lead unit."""
    case = lock(case, by)
    unit = rules.require_ruler(by, case, _("只有指挥中心可以重办"))
    require_status(case, transitions.REOPENABLE, _("只有已结案的工单可以重办"))
    require_text(reason, "reason", _("请填写重办理由"))
    _reopen(case, by=by, unit=unit, now=timezone.now(), note=reason)
    return case


# An urge reaches the handlers' phones (an urgent notice: cases.effects): one an hour is enough.
URGE_INTERVAL = timedelta(hours=1)


def require_urge_due(case: Case, now: datetime) -> None:
    """A case urged within the hour (by hand or by the worker) is not urged again yet."""
    if case.last_urged_at is not None and now - case.last_urged_at < URGE_INTERVAL:
        raise InvalidTransition(_("一小时内已催办过，请稍后再催办"))


def _oversee(case: Case | str, *, by: User, note: str, action: str) -> Case:
    case = lock(case, by)
    unit = rules.require_over(
        by, [Role.DISPATCHER, Role.LEADER], case.territory_path, _("只有指挥中心或领导可以督办、催办")
    )
    require_status(case, transitions.OVERSEEABLE, _("已办结的工单不能督办、催办"))
    before = snapshot(case)
    now = timezone.now()
    if action == StepAction.URGE:
        require_urge_due(case, now)
        case.urge_count += 1
        case.last_urged_at = now
    else:
        case.supervise_count += 1
    write_step(case, action, by=by, unit=unit, before=before, at=now, note=note)
    return case


@transaction.atomic
def urge_case(case: Case | str, *, by: User, note: str = "") -> Case:
    """催办: a reminder to the units on the case; no change of status."""
    return _oversee(case, by=by, note=note, action=StepAction.URGE)


@transaction.atomic
def supervise_case(case: Case | str, *, by: User, note: str = "") -> Case:
    """督办: a supervision instruction from the dispatcher or a leader; no change of status."""
    return _oversee(case, by=by, note=note, action=StepAction.SUPERVISE)
