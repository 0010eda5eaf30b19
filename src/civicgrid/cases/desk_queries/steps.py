"""The steps a user may take on a case now: a dry run of the actions' checks, and dispatch targets.

Each check asks what its action asks, in the same order, raising the same Forbidden/InvalidTransition:
the role rules of cases.rules, the statuses of cases.transitions (the actions read the same sets), and
the actions' own pure helpers where they exist. What differs is where the facts come from: the case's
active assignments and whether an extension waits are loaded once (StepContext) instead of under the
action's lock. tests/test_desk_steps.py runs every action for every persona and state and fails when
"shown" and "succeeds" part ways.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from civicgrid.cases import rules, transitions
from civicgrid.cases.actions import closing, handling, intake, party, photos
from civicgrid.cases.actions._common import require_status
from civicgrid.cases.models import (
    Case,
    CaseAssignment,
    ExtensionRequest,
    ExtensionStatus,
)
from civicgrid.core.errors import DomainError, Forbidden, InvalidTransition
from civicgrid.core.models import Unit, UnitKind
from civicgrid.people.models import Role

if TYPE_CHECKING:
    from civicgrid.people.models import User


STEP_LABELS = {
    "register": pgettext_lazy("case step button", "立案"),
    "whistle": pgettext_lazy("case step button", "吹哨"),
    "dispatch": pgettext_lazy("case step button", "派遣"),
    "offer": pgettext_lazy("case step button", "发布党员认领"),
    "claim": pgettext_lazy("case step button", "认领"),
    "sign": pgettext_lazy("case step button", "签收"),
    "arrive": pgettext_lazy("case step button", "到场报到"),
    "feedback": pgettext_lazy("case step button", "反馈"),
    "recheck": pgettext_lazy("case step button", "核查"),
    "rate": pgettext_lazy("case step button", "回访评价"),
    "return": pgettext_lazy("case step button", "退回"),
    "request_extension": pgettext_lazy("case step button", "申请延期"),
    "approve_extension": pgettext_lazy("case step button", "同意延期"),
    "deny_extension": pgettext_lazy("case step button", "不同意延期"),
    "defer": pgettext_lazy("case step button", "缓办"),
    "resume": pgettext_lazy("case step button", "恢复办理"),
    "reopen": pgettext_lazy("case step button", "重办"),
    "urge": pgettext_lazy("case step button", "催办"),
    "supervise": pgettext_lazy("case step button", "督办"),
    "merge": pgettext_lazy("case step button", "合并"),
    "reject": pgettext_lazy("case step button", "不予受理"),
    "photos": pgettext_lazy("case step button", "上传照片"),
}


@dataclass
class StepContext:
    """What the checks read besides the case: its active assignments and whether an extension waits."""

    case: Case
    user: User
    assignments: list[CaseAssignment]
    has_pending: bool
    now: datetime

    def held(self) -> list[CaseAssignment]:
        """Active assignments to units where the user holds a handling role, lead first (as the actions)."""
        return handling.held_among(self.assignments, self.user)

    def lead_held(self, message: str) -> CaseAssignment:
        return handling.lead_among(self.held(), message)


def _over(ctx: StepContext, roles: Sequence[str] | frozenset[str], message: str) -> None:
    rules.require_over(ctx.user, roles, ctx.case.territory_path, message)


def _register(ctx: StepContext) -> None:
    _over(ctx, rules.INTAKE_ROLES, _("只有属地的网格员、社区或街道可以立案"))
    require_status(ctx.case, transitions.REGISTRABLE, _("只有已受理的工单可以立案"))


def _reject(ctx: StepContext) -> None:
    intake.rejecting_unit(ctx.case, ctx.user)


def _whistle(ctx: StepContext) -> None:
    _over(ctx, [Role.COMMUNITY_STAFF], _("只有属地社区可以吹哨"))
    require_status(ctx.case, transitions.WHISTLEABLE, _("只有已受理或已立案的工单可以吹哨"))


def _merge(ctx: StepContext) -> None:
    _over(ctx, [Role.DISPATCHER, Role.COMMUNITY_STAFF], _("只有属地社区或街道可以合并工单"))
    require_status(ctx.case, transitions.MERGEABLE, _("该工单当前不能合并"))


def _dispatch(ctx: StepContext) -> None:
    handling.dispatching_unit(ctx.case, ctx.user)


def _offer(ctx: StepContext) -> None:
    party.offering_unit(ctx.case, ctx.user)


def _claim(ctx: StepContext) -> None:
    party.claiming_unit(ctx.case, ctx.user)


def _sign(ctx: StepContext) -> None:
    held = ctx.held()
    if not held:
        raise Forbidden(_("只有承办单位可以签收"))
    require_status(ctx.case, transitions.SIGNABLE, _("该工单当前不能签收"))
    handling.first_unsigned(held)


def _return(ctx: StepContext) -> None:
    ctx.lead_held(_("只有主办单位可以退回"))
    require_status(ctx.case, transitions.RETURNABLE, _("该工单当前不能退回"))


def _request_extension(ctx: StepContext) -> None:
    ctx.lead_held(_("只有主办单位可以申请延期"))
    require_status(ctx.case, transitions.EXTENDABLE, _("只有已签收、办理中的工单可以申请延期"))
    handling.require_before_due(ctx.case, ctx.now)
    if ctx.has_pending:
        raise InvalidTransition(_("已有待审批的延期申请"))


def _decide_extension(ctx: StepContext) -> None:
    rules.require_ruler(ctx.user, ctx.case, _("只有指挥中心可以审批延期"))
    require_status(ctx.case, transitions.EXTENSION_RULED, _("该工单当前不能审批延期"))
    if not ctx.has_pending:
        raise InvalidTransition(_("没有待审批的延期申请"))


def _defer(ctx: StepContext) -> None:
    handling.check_defer(ctx.user, ctx.case)


def _resume(ctx: StepContext) -> None:
    handling.check_resume(ctx.user, ctx.case)


def _arrive(ctx: StepContext) -> None:
    held = ctx.held()
    if not held:
        raise Forbidden(_("只有承办单位可以到场报到"))
    require_status(ctx.case, transitions.ARRIVABLE, _("该工单当前不能到场报到"))
    handling.first_signed(held)


def _feedback(ctx: StepContext) -> None:
    lead = ctx.lead_held(_("只有主办单位可以反馈"))
    require_status(ctx.case, transitions.FEEDBACKABLE, _("只有已签收的工单可以反馈"))
    handling.require_arrival(ctx.case, lead)


def _photos(ctx: StepContext) -> None:
    photos.check_may_upload(ctx.case, ctx.user, ctx.assignments)


def _recheck(ctx: StepContext) -> None:
    closing.rechecker(ctx.user, ctx.case)
    closing.require_independent(ctx.user, ctx.case)
    require_status(ctx.case, transitions.RECHECKABLE, _("只有已反馈的工单可以核查"))


def _rate(ctx: StepContext) -> None:
    closing.rater(ctx.user, ctx.case)
    require_status(ctx.case, transitions.RATEABLE, _("只有已结案的工单可以评价"))
    closing.require_rating_open(ctx.case, ctx.now)


def _reopen(ctx: StepContext) -> None:
    rules.require_ruler(ctx.user, ctx.case, _("只有指挥中心可以重办"))
    require_status(ctx.case, transitions.REOPENABLE, _("只有已结案的工单可以重办"))
    closing.reopened_lead(ctx.assignments)


def _oversee(ctx: StepContext) -> None:
    _over(ctx, [Role.DISPATCHER, Role.LEADER], _("只有指挥中心或领导可以督办、催办"))
    require_status(ctx.case, transitions.OVERSEEABLE, _("已办结的工单不能督办、催办"))


def _urge(ctx: StepContext) -> None:
    _oversee(ctx)
    closing.require_urge_due(ctx.case, ctx.now)


CHECKS: dict[str, Callable[[StepContext], None]] = {
    "register": _register,
    "reject": _reject,
    "whistle": _whistle,
    "merge": _merge,
    "dispatch": _dispatch,
    "offer": _offer,
    "claim": _claim,
    "sign": _sign,
    "return": _return,
    "request_extension": _request_extension,
    "approve_extension": _decide_extension,
    "deny_extension": _decide_extension,
    "defer": _defer,
    "resume": _resume,
    "arrive": _arrive,
    "feedback": _feedback,
    "photos": _photos,
    "recheck": _recheck,
    "rate": _rate,
    "reopen": _reopen,
    "urge": _urge,
    "supervise": _oversee,
}


def step_context(
    case: Case,
    user: User,
    *,
    assignments: list[CaseAssignment] | None = None,
    has_pending: bool | None = None,
    now: datetime | None = None,
) -> StepContext:
    """Loads what the checks need (two small queries unless the caller has them already)."""
    if assignments is None:
        assignments = list(case.assignments.filter(active=True).order_by("-role", "id"))
    if has_pending is None:
        has_pending = ExtensionRequest.objects.filter(case=case, status=ExtensionStatus.PENDING).exists()
    return StepContext(case, user, assignments, has_pending, now or timezone.now())


def check_step(ctx: StepContext, step: str) -> None:
    """Raises what the action would raise for this user now (Forbidden, InvalidTransition), else None."""
    CHECKS[step](ctx)


def allowed_steps(ctx: StepContext) -> list[str]:
    """The steps the user may take on the case now, in button order (the case must be visible to them)."""
    allowed = []
    for step in STEP_LABELS:
        try:
            check_step(ctx, step)
        except DomainError:
            continue
        allowed.append(step)
    return allowed


# Units offered in a list (派遣's targets, the list's unit filter) by kind in this order, then by code.
UNIT_ORDER = {
    UnitKind.DEPARTMENT: 0,
    UnitKind.SUBDISTRICT: 1,
    UnitKind.OFFICE: 2,
    UnitKind.COMMUNITY: 3,
    UnitKind.GRID: 4,
}


def in_list_order(units: list[Unit]) -> list[Unit]:
    # A path orders by the ids in it ("/1/2/10" before "/1/2/3"), which put the 23rd department first
    # and a community's grids 08–12 before 01–07.
    return sorted(units, key=lambda u: (UNIT_ORDER.get(UnitKind(u.kind), 9), u.code or "", u.name))


def dispatch_targets(case: Case, user: User) -> list[Unit]:
    """Units this user may dispatch the case to (what actions.dispatch_case accepts from them)."""
    dispatcher = rules.membership_over(user, [Role.DISPATCHER], case.territory_path)
    if user.is_superuser or dispatcher is not None:
        if dispatcher is not None:
            within = dispatcher.unit.path
        else:
            within = case.subdistrict.path if case.subdistrict_id and case.subdistrict else ""
        # The grids of the case's own community only: a subdistrict has hundreds, and another
        # community's grid is not where a case goes (the API still takes any unit the action does).
        grids = case.community.path if case.community_id and case.community else within
        q = (
            Q(kind=UnitKind.DEPARTMENT)
            | Q(kind__in=[UnitKind.OFFICE, UnitKind.COMMUNITY], path__startswith=within)
            | Q(kind=UnitKind.GRID, path__startswith=grids)
        )
    else:
        community = rules.membership_over(user, [Role.COMMUNITY_STAFF], case.territory_path)
        if community is None:
            return []
        q = Q(kind__in=[UnitKind.COMMUNITY, UnitKind.GRID], path__startswith=community.unit.path)
    return in_list_order(list(Unit.objects.filter(q, is_active=True).order_by("path")[:2000]))
