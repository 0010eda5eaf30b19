"""Handling: dispatch (派遣/分哨), sign (签收/应哨), return (退回), extension (延期), defer (缓办),
arrive (到场报到) and feedback (反馈)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases import deadlines, queries, rules, transitions
from civicgrid.cases.actions._common import (
    lock,
    require_status,
    require_text,
    snapshot,
    withdraw_pending_extension,
    write_step,
)
from civicgrid.cases.models import (
    AssignmentRole,
    Case,
    CaseAssignment,
    CasePhoto,
    CaseStep,
    ExtensionRequest,
    ExtensionStatus,
    ReturnReason,
    Status,
    StepAction,
    WarnLevel,
)
from civicgrid.core import coords, geo, rows
from civicgrid.core.errors import Forbidden, InvalidInput, InvalidTransition
from civicgrid.core.models import Unit, UnitKind
from civicgrid.people.models import Role

if TYPE_CHECKING:
    from civicgrid.people.models import User

MAX_EXTENSION_WORKING_DAYS = 30


def warn_level_at(case: Case, now: datetime) -> str:
    if case.due_at and now >= case.due_at:
        return WarnLevel.RED
    if case.yellow_at and now >= case.yellow_at:
        return WarnLevel.YELLOW
    return WarnLevel.NONE


def assign(
    case: Case,
    lead: Unit,
    assisting: Sequence[Unit],
    *,
    by: User,
    now: datetime,
    signed_by: User | None = None,
) -> None:
    """Retires the case's current units and gives it to new ones with fresh deadlines (a new round).

    Every dispatch, re-dispatch after a return and reopening starts the sign clock and the handling
    clock again; first_dispatched_at keeps the first round for whole-case measures. `signed_by` signs
    the lead's assignment as it is written (a Party member's claim is dispatch and sign-for at once).
    """
    if case.first_dispatched_at:  # units come with the first dispatch
        case.assignments.filter(active=True).update(active=False)
    # The new rows, lead first as queries read them, are the case's assignments for the rest of the step;
    # write_step writes them with the case and the step (the ORM's bulk INSERT cost 0.4 ms of Python to
    # build, and was a statement of its own).
    dispatcher = by if by.pk else None
    case.active_assignments = [  # type: ignore[attr-defined]
        CaseAssignment(
            case=case,
            unit=unit,
            unit_path=unit.path,
            role=AssignmentRole.LEAD if unit is lead else AssignmentRole.ASSIST,
            dispatched_at=now,
            dispatched_by=dispatcher,
            signed_at=now if signed_by and unit is lead else None,
            signed_by=signed_by if unit is lead else None,
        )
        for unit in [lead, *assisting]
    ]
    case.status = Status.DISPATCHED
    case.lead_unit = lead
    case.dispatched_at = now
    case.first_dispatched_at = case.first_dispatched_at or now
    case.answered_at = case.answered_at or now
    case.sign_by, case.due_at, case.yellow_at = deadlines.of_round(now, case.category, case.urgency)
    case.signed_at = case.fed_back_at = case.recheck_by = case.closed_at = case.rate_by = None
    case.feedback_result = ""
    case.return_reason = ""
    case.warn_level = WarnLevel.NONE
    case.deferred = False
    case.claimed_by = None  # a new round is the units' (claim_case claims again after assigning)


def _check_targets(lead: Unit, assisting: Sequence[Unit], within: str | None) -> None:
    """Lead and assisting units: distinct, active, handling kinds, under `within` unless departments."""
    seen: set[int] = set()
    for field, unit in [("lead_unit", lead)] + [("assisting_units", u) for u in assisting]:
        if unit.pk in seen:
            raise InvalidInput(_("同一单位不能重复派遣"), details={field: unit.code or unit.pk})
        seen.add(unit.pk)
        if unit.kind not in rules.DISPATCH_TARGET_KINDS or not unit.is_active:
            raise InvalidInput(
                _("只能派遣到职能部门、内设机构、社区或网格"), details={field: unit.code or unit.pk}
            )
        if within is not None and unit.kind != UnitKind.DEPARTMENT and not unit.path.startswith(within):
            raise InvalidInput(_("不能派遣到本辖区以外的单位"), details={field: unit.code or unit.pk})


def dispatching_unit(case: Case, by: User) -> tuple[Unit | None, bool]:
    """As which unit the user may dispatch the case now, and whether as its community (no query).

    The subdistrict's dispatcher (or a superuser, as no unit) dispatches what is registered, escalated
    or returned; community staff what is registered, or returned when the community rules on it.
    """
    dispatcher = rules.membership_over(by, [Role.DISPATCHER], case.territory_path)
    if by.is_superuser or dispatcher is not None:
        require_status(case, transitions.DISPATCHABLE, _("该工单当前不能派遣"))
        return (dispatcher.unit if dispatcher else None), False
    community = rules.membership_over(by, [Role.COMMUNITY_STAFF], case.territory_path)
    if community is None:
        raise Forbidden(_("只有街道指挥中心或属地社区可以派遣"))
    require_status(case, transitions.COMMUNITY_DISPATCHABLE, _("该工单当前不能由社区派遣"))
    if case.status == Status.RETURNED:
        rules.require_ruler(by, case, _("该工单由街道审定"))
    return community.unit, True


@transaction.atomic
def dispatch_case(
    case: Case | str, *, by: User, lead_unit: Unit, assisting_units: Sequence[Unit] = (), note: str = ""
) -> Case:
    """Gives the case to a lead unit and any assisting units (派遣/分哨).

    The subdistrict's dispatcher dispatches registered, escalated and returned cases to offices,
    communities and grids of the subdistrict or to departments. Community staff may dispatch registered
    cases (and those returned to them) only to their own community or its grids: "the community handles it".
    """
    case = lock(case, by)
    unit, as_community = dispatching_unit(case, by)
    if as_community and (
        lead_unit.kind == UnitKind.DEPARTMENT or any(u.kind == UnitKind.DEPARTMENT for u in assisting_units)
    ):
        raise InvalidInput(
            _("社区只能派给本社区或其网格，需部门办理请吹哨"), details={"lead_unit": lead_unit.code}
        )
    _check_targets(lead_unit, assisting_units, unit.path if unit else None)
    before = snapshot(case)
    now = timezone.now()
    withdraw_pending_extension(case, now)
    assign(case, lead_unit, assisting_units, by=by, now=now)
    write_step(
        case,
        StepAction.DISPATCH,
        by=by,
        unit=unit,
        before=before,
        at=now,
        note=note,
        extra={
            "lead_unit": lead_unit.code or lead_unit.pk,
            "assisting_units": [u.code or u.pk for u in assisting_units],
        },
    )
    return case


def held_among(assignments: Iterable[CaseAssignment], by: User) -> list[CaseAssignment]:
    """Those of `assignments` to units where the user holds a handling role, in their order (no query);
    for a Party member, the lead assignment signed by claiming the case (actions/party.py)."""
    return [
        a
        for a in assignments
        if by.is_superuser or rules.membership_over(by, rules.HANDLER_ROLES, a.unit_path) or _claimed(a, by)
    ]


def _claimed(assignment: CaseAssignment, by: User) -> bool:
    """The lead assignment the member signed by claiming (claim_case signs it as it assigns it)."""
    return (
        assignment.role == AssignmentRole.LEAD
        and assignment.signed_by_id == by.pk
        and rules.membership_over(by, rules.CLAIMER_ROLES, assignment.unit_path) is not None
    )


def lead_among(held: Iterable[CaseAssignment], message: str) -> CaseAssignment:
    """The lead unit's assignment among those the user holds; Forbidden(message) if none."""
    for a in held:
        if a.role == AssignmentRole.LEAD:
            return a
    raise Forbidden(message)


def first_unsigned(held: Sequence[CaseAssignment]) -> CaseAssignment:
    """What the user's sign-for signs (the lead's first); InvalidTransition when all are signed."""
    for a in held:
        if a.signed_at is None:
            return a
    raise InvalidTransition(_("已签收，无需重复签收"))


def first_signed(held: Sequence[CaseAssignment]) -> CaseAssignment:
    """What the user's check-in is for (the lead's first); InvalidTransition before any sign-for."""
    for a in held:
        if a.signed_at is not None:
            return a
    raise InvalidTransition(_("请先签收再到场报到"))


def require_before_due(case: Case, now: datetime) -> None:
    """An extension is asked for before the handling deadline."""
    if case.due_at is None or now >= case.due_at:
        raise InvalidTransition(_("已超过办理期限，不能再申请延期"))


def require_arrival(case: Case, lead: CaseAssignment) -> None:
    """Categories that require arrival (需到场报到) are fed back only after the lead unit checked in."""
    if case.category_id and case.category and case.category.arrival_required and lead.arrived_at is None:
        raise InvalidTransition(_("该类事项须先到场报到再反馈"))


def _held(case: Case, by: User) -> list[CaseAssignment]:
    """The case's active assignments to units where the user holds a handling role (lead first)."""
    return held_among(queries.active_assignments(case), by)


def _lead_held(case: Case, by: User, message: str) -> CaseAssignment:
    return lead_among(_held(case, by), message)


@transaction.atomic
def sign_case(case: Case | str, *, by: User, note: str = "") -> Case:
    """A lead or assisting unit signs for the case (签收/应哨); the lead's signature makes it signed."""
    case = lock(case, by)
    held = _held(case, by)
    if not held:
        raise Forbidden(_("只有承办单位可以签收"))
    require_status(case, transitions.SIGNABLE, _("该工单当前不能签收"))
    assignment = first_unsigned(held)
    before = snapshot(case)
    now = timezone.now()
    assignment.signed_at, assignment.signed_by = now, by
    if assignment.role == AssignmentRole.LEAD:
        case.status = Status.SIGNED
        case.signed_at = now
    write_step(
        case,
        StepAction.SIGN,
        by=by,
        unit=assignment.unit,
        before=before,
        at=now,
        note=note,
        extra={"role": assignment.role},
        updates=[(assignment, ["signed_at", "signed_by"])],
    )
    return case


@transaction.atomic
def return_case(case: Case | str, *, by: User, reason_code: str, note: str = "") -> Case:
    """The lead unit sends a misrouted case back to the dispatcher (退回), who rules by dispatching again."""
    case = lock(case, by)
    lead = _lead_held(case, by, _("只有主办单位可以退回"))
    require_status(case, transitions.RETURNABLE, _("该工单当前不能退回"))
    if reason_code not in ReturnReason.values:
        raise InvalidInput(_("退回原因有误"), details={"reason_code": reason_code})
    before = snapshot(case)
    now = timezone.now()
    withdraw_pending_extension(case, now)
    case.status = Status.RETURNED
    case.return_count += 1
    case.return_reason = reason_code
    # The clock stops while the dispatcher rules; the next dispatch sets new deadlines.
    case.sign_by = case.due_at = case.yellow_at = None
    case.warn_level = WarnLevel.NONE
    write_step(
        case,
        StepAction.RETURN,
        by=by,
        unit=lead.unit,
        before=before,
        at=now,
        note=note,
        extra={"reason_code": reason_code},
    )
    return case


@transaction.atomic
def request_extension(case: Case | str, *, by: User, working_days: int, reason: str) -> ExtensionRequest:
    """The lead unit asks for more working days, before the deadline, one request at a time."""
    case = lock(case, by)
    lead = _lead_held(case, by, _("只有主办单位可以申请延期"))
    require_status(case, transitions.EXTENDABLE, _("只有已签收、办理中的工单可以申请延期"))
    if not 1 <= working_days <= MAX_EXTENSION_WORKING_DAYS:
        raise InvalidInput(
            _("延期天数须在 1 到 %(max)s 个工作日之间") % {"max": MAX_EXTENSION_WORKING_DAYS},
            details={"working_days": working_days},
        )
    require_text(reason, "reason", _("请填写延期理由"))
    now = timezone.now()
    require_before_due(case, now)
    if ExtensionRequest.objects.filter(case=case, status=ExtensionStatus.PENDING).exists():
        raise InvalidTransition(_("已有待审批的延期申请"))
    request = ExtensionRequest.objects.create(
        case=case,
        unit=lead.unit,
        requested_by=by,
        requested_at=now,
        working_days=working_days,
        reason=reason.strip()[:500],
        old_due_at=case.due_at,
    )
    case.has_pending_extension = True  # type: ignore[attr-defined]  # read by the lock (queries.case_for_update)
    write_step(
        case,
        StepAction.REQUEST_EXTENSION,
        by=by,
        unit=lead.unit,
        before=snapshot(case),
        at=now,
        note=reason,
        extra={"working_days": working_days},
    )
    return request


def _pending(case: Case) -> ExtensionRequest:
    request = queries.pending_extension(case)
    if request is None:
        raise InvalidTransition(_("没有待审批的延期申请"))
    return request


def clock_start(case: Case) -> datetime:
    """Where the handling clock now running started: the round's dispatch, or a resumption after it
    (恢复办理 starts a fresh limit; the yellow card falls at 75 % of it, also after an extension)."""
    assert case.dispatched_at is not None  # set by every dispatch
    resumed = [
        s.at for s in queries.timeline(case) if s.action == StepAction.RESUME and s.at >= case.dispatched_at
    ]
    return max(resumed, default=case.dispatched_at)


@transaction.atomic
def approve_extension(case: Case | str, *, by: User, note: str = "") -> Case:
    """The dispatcher grants the pending request: due_at moves by its working days."""
    case = lock(case, by)
    unit = rules.require_ruler(by, case, _("只有指挥中心可以审批延期"))
    require_status(case, transitions.EXTENSION_RULED, _("该工单当前不能审批延期"))
    request = _pending(case)
    before = snapshot(case)
    now = timezone.now()
    assert case.due_at is not None
    case.due_at = deadlines.extended(case.due_at, request.working_days, case.category, case.urgency)
    clock_time = deadlines.around_the_clock(case.category, case.urgency)
    case.yellow_at = deadlines.yellow_at(clock_start(case), case.due_at, clock_time=clock_time)
    case.warn_level = warn_level_at(case, now)
    case.extension_count += 1
    request.status, request.decided_by, request.decided_at = ExtensionStatus.APPROVED, by, now
    request.decision_note, request.new_due_at = note[:500], case.due_at
    request.save()
    case.has_pending_extension = False  # type: ignore[attr-defined]
    write_step(
        case,
        StepAction.APPROVE_EXTENSION,
        by=by,
        unit=unit,
        before=before,
        at=now,
        note=note,
        extra={"working_days": request.working_days},
    )
    return case


@transaction.atomic
def deny_extension(case: Case | str, *, by: User, reason: str) -> Case:
    case = lock(case, by)
    unit = rules.require_ruler(by, case, _("只有指挥中心可以审批延期"))
    require_status(case, transitions.EXTENSION_RULED, _("该工单当前不能审批延期"))
    reason = require_text(reason, "reason", _("请填写不同意延期的理由"))
    request = _pending(case)
    now = timezone.now()
    request.status, request.decided_by, request.decided_at = ExtensionStatus.DENIED, by, now
    request.decision_note = reason[:500]
    request.save()
    case.has_pending_extension = False  # type: ignore[attr-defined]
    write_step(
        case,
        StepAction.DENY_EXTENSION,
        by=by,
        unit=unit,
        before=snapshot(case),
        at=now,
        note=reason,
        extra={"working_days": request.working_days},
    )
    return case


# A deferral names the day the case comes back (恢复办理); by default a month on, at most a year.
DEFER_DEFAULT_DAYS = 30
DEFER_MAX_DAYS = 365


def resume_day(resume_on: date | None, now: datetime) -> date:
    """The day a deferral ends: the one given, which must lie after today and within a year."""
    today = timezone.localdate(now)
    if resume_on is None:
        return today + timedelta(days=DEFER_DEFAULT_DAYS)
    if resume_on <= today:
        raise InvalidInput(_("恢复办理日期须在今天之后"), details={"resume_on": resume_on.isoformat()})
    if resume_on > today + timedelta(days=DEFER_MAX_DAYS):
        raise InvalidInput(_("恢复办理日期最多在一年之内"), details={"resume_on": resume_on.isoformat()})
    return resume_on


def check_defer(by: User, case: Case) -> Unit | None:
    """Whether `by` may defer the case now (the action and the desk's button ask alike)."""
    unit = rules.require_ruler(by, case, _("只有指挥中心可以缓办"))
    require_status(case, transitions.DEFERRABLE, _("只有已签收或缓办中的工单可以缓办"))
    return unit


def check_resume(by: User, case: Case) -> Unit | None:
    unit = rules.require_ruler(by, case, _("只有指挥中心可以恢复办理"))
    require_status(case, transitions.RESUMABLE, _("只有缓办的工单可以恢复办理"))
    return unit


@transaction.atomic
def defer_case(case: Case | str, *, by: User, reason: str, resume_on: date | None = None) -> Case:
    """The dispatcher defers a case that cannot be solved now (缓办/挂账) until `resume_on`; it counts
    apart in the rates and its clock stops. Deferring a deferred case again moves the day.

    Only the ruling dispatcher (or the community that handles the case itself) defers: a lead unit that
    wants it asks them, so the decision and its reason are the dispatcher's step on the timeline.
    """
    case = lock(case, by)
    unit = check_defer(by, case)
    require_text(reason, "reason", _("请填写缓办理由"))
    now = timezone.now()
    day = resume_day(resume_on, now)
    before = snapshot(case)
    case.status = Status.DEFERRED
    case.deferred = True
    case.resume_on = day
    write_step(case, StepAction.DEFER, by=by, unit=unit, before=before, at=now, note=reason)
    return case


def resume(case: Case, *, by: User | None, unit: Unit | None, now: datetime, note: str) -> None:
    """Back to the lead unit, which signed for it before the deferral, with a fresh handling limit
    from now (as 重办 gives one): the case counts in the rates again. A request for more time made
    before lapses: it asked for more of the old limit."""
    before = snapshot(case)
    withdraw_pending_extension(case, now)
    _, case.due_at, case.yellow_at = deadlines.of_round(now, case.category, case.urgency)
    case.status = Status.SIGNED
    case.deferred = False
    case.resume_on = None
    case.warn_level = warn_level_at(case, now)
    write_step(case, StepAction.RESUME, by=by, unit=unit, before=before, at=now, note=note)


@transaction.atomic
def resume_case(case: Case | str, *, by: User, note: str = "") -> Case:
    """恢复办理 before the day the deferral named, by whoever may defer."""
    case = lock(case, by)
    unit = check_resume(by, case)
    resume(case, by=by, unit=unit, now=timezone.now(), note=note)
    return case


@transaction.atomic
def arrive_case(
    case: Case | str,
    *,
    by: User,
    lat: float,
    lng: float,
    coord: str = "wgs84",
    note: str = "",
    photo_ids: Sequence[int] = (),
) -> Case:
    """A lead or assisting unit checks in at the site (到场报到: time, place and photos uploaded
    before), after signing for the case."""
    case = lock(case, by)
    held = _held(case, by)
    if not held:
        raise Forbidden(_("只有承办单位可以到场报到"))
    require_status(case, transitions.ARRIVABLE, _("该工单当前不能到场报到"))
    assignment = first_signed(held)
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidInput(_("坐标超出范围"), details={"lat": lat, "lng": lng})
    if coord == "gcj02":
        lat, lng = coords.gcj02_to_wgs84(lat, lng)
    photos = _unattached_photos(case, photo_ids)
    now = timezone.now()
    assignment.arrived_at = assignment.arrived_at or now
    assignment.arrived_by = assignment.arrived_by or by
    assignment.arrived_lat, assignment.arrived_lng = lat, lng
    rows.update(assignment, ["arrived_at", "arrived_by", "arrived_lat", "arrived_lng"])
    extra: dict[str, Any] = {"lat": round(lat, 6), "lng": round(lng, 6), "role": assignment.role}
    if case.lat is not None and case.lng is not None:
        # How far from the case's place the check-in was made: shown with it (a check-in far away is
        # flagged, not refused: a phone's fix indoors, or the estate office next door, can be off).
        extra["distance_m"] = round(geo.haversine_m(lat, lng, case.lat, case.lng))
    if photos:
        extra["photos"] = [p.pk for p in photos]
    step = write_step(
        case,
        StepAction.ARRIVE,
        by=by,
        unit=assignment.unit,
        before=snapshot(case),
        at=now,
        note=note,
        extra=extra,
    )
    _attach(photos, step)
    return case


def _unattached_photos(case: Case, photo_ids: Sequence[int]) -> list[CasePhoto]:
    """The case's photos uploaded for the step about to be written (add_photos: on no step yet)."""
    # No query without photos: the ORM spent 0.7 ms building one that could find nothing.
    wanted = set(photo_ids)
    photos = list(CasePhoto.objects.filter(case=case, pk__in=wanted, step__isnull=True)) if wanted else []
    if len(photos) != len(wanted):
        raise InvalidInput(_("照片不存在或已使用"), details={"photo_ids": list(photo_ids)})
    return photos


def _attach(photos: list[CasePhoto], step: CaseStep) -> None:
    if photos:
        CasePhoto.objects.filter(pk__in=[p.pk for p in photos]).update(step=step)


@transaction.atomic
def feedback_case(case: Case | str, *, by: User, result: str, photo_ids: Sequence[int] = ()) -> Case:
    """The lead unit reports the result (反馈) with photos uploaded before; the case waits for recheck."""
    case = lock(case, by)
    lead = _lead_held(case, by, _("只有主办单位可以反馈"))
    require_status(case, transitions.FEEDBACKABLE, _("只有已签收的工单可以反馈"))
    require_arrival(case, lead)
    require_text(result, "result", _("请填写办理结果"))
    photos = _unattached_photos(case, photo_ids)
    before = snapshot(case)
    now = timezone.now()
    withdraw_pending_extension(case, now)
    case.status = Status.FED_BACK
    case.fed_back_at = now
    case.resume_on = None  # a deferred case fed back has nothing left to resume
    case.feedback_result = result.strip()
    case.recheck_by = deadlines.recheck_by(now, case.category)
    step = write_step(
        case,
        StepAction.FEEDBACK,
        by=by,
        unit=lead.unit,
        before=before,
        at=now,
        note=result,
        extra={"photos": [p.pk for p in photos]} if photos else None,
    )
    _attach(photos, step)
    return case
