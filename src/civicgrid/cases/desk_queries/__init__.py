"""Reads for the staff desk: the inbox tabs a user gets, deadlines as a row shows them, the list's
filters, what a timeline step changed, and (in .steps) the steps a user may take on a case now."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import BooleanField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext, ngettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from civicgrid.cases import deadlines, queries, rules, transitions
from civicgrid.cases.desk_queries.steps import (
    CHECKS,
    STEP_LABELS,
    StepContext,
    allowed_steps,
    check_step,
    dispatch_targets,
    in_list_order,
    step_context,
)
from civicgrid.cases.models import (
    CLOCK_STATUSES,
    FINAL_STATUSES,
    OPEN_STATUSES,
    Case,
    CaseStep,
    Category,
    ExtensionRequest,
    ExtensionStatus,
    ReturnReason,
    Satisfaction,
    Status,
    StepAction,
    WarnLevel,
)
from civicgrid.core.models import Unit, UnitKind
from civicgrid.people.models import Role
from civicgrid.people.queries import memberships_of, scope_q

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from civicgrid.people.models import User

__all__ = [
    "CHECKS",
    "STEP_LABELS",
    "StepContext",
    "allowed_steps",
    "check_step",
    "dispatch_targets",
    "step_context",
]

# --- inbox tabs ------------------------------------------------------------------------------------

STAFF_ROLES = rules.STAFF_ROLES | rules.TERRITORY_ROLES
RULER_ROLES = frozenset({Role.DISPATCHER, Role.COMMUNITY_STAFF})


@dataclass(frozen=True)
class Tab:
    key: str
    label: StrOrPromise
    roles: frozenset[str]
    hint: StrOrPromise


TABS = [
    Tab("to_register", _("待立案"), rules.INTAKE_ROLES, _("新受理的工单：立案、不予受理或吹哨")),
    Tab("to_dispatch", _("待派遣"), RULER_ROLES, _("已立案、已吹哨或被退回的工单，等待派遣")),
    Tab("to_sign", _("待签收"), rules.HANDLER_ROLES, _("派给本单位、还没有签收的工单")),
    Tab("to_claim", _("待认领"), rules.CLAIMER_ROLES, _("社区发布的群众点单，等待党员认领")),
    Tab(
        "in_progress",
        _("办理中"),
        rules.HANDLER_ROLES | rules.CLAIMER_ROLES,
        _("本单位主办或本人认领、已签收还未反馈的工单"),
    ),
    Tab("due_soon", _("即将到期"), STAFF_ROLES, _("24 小时内到办理期限的工单")),
    Tab("overdue", _("已超期"), STAFF_ROLES, _("已过办理期限还未反馈的工单")),
    Tab("to_recheck", _("待核查"), rules.INTAKE_ROLES, _("承办单位已反馈，等待现场核查")),
    Tab("returned", _("被退回"), RULER_ROLES, _("承办单位退回的工单，等待重新派遣或审定")),
    Tab(
        "extension_requests",
        pgettext_lazy("inbox tab", "延期申请"),
        RULER_ROLES,
        _("承办单位的延期申请，等待审批"),
    ),
]
TABS_BY_KEY = {t.key: t for t in TABS}


def tabs_for(user: User) -> list[Tab]:
    """The tabs that matter to the user's roles (all of them for a superuser)."""
    if user.is_superuser:
        return list(TABS)
    held = {m.role for m in memberships_of(user)}
    return [t for t in TABS if held & t.roles]


def inbox(user: User, key: str) -> QuerySet[Case]:
    """The cases of one tab with what a row shows (one query, whatever the page size)."""
    if key == "extension_requests":
        pending = ExtensionRequest.objects.filter(case=OuterRef("pk"), status=ExtensionStatus.PENDING)
        cases = (
            Case.objects.filter(pk__in=queries.extension_requests(user).values("case_id"))
            .annotate(
                pending_days=Subquery(pending.values("working_days")[:1]),
                pending_reason=Subquery(pending.values("reason")[:1]),
                pending_at=Subquery(pending.values("requested_at")[:1]),
            )
            .order_by("pending_at")
        )
    else:
        cases = queries.INBOXES[key](user)  # type: ignore[assignment]
    return cases.select_related("category", "lead_unit")


def tab_counts(user: User, tabs: Sequence[Tab] | None = None) -> list[tuple[Tab, int]]:
    """Each of the user's tabs with its count (one COUNT per tab)."""
    return [(t, inbox(user, t.key).count()) for t in (tabs if tabs is not None else tabs_for(user))]


# --- deadlines as a row shows them ---------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """The deadline that matters in the case's current status, its colour and the time left."""

    label: str
    at: datetime
    level: str  # "", "yellow" or "red"
    left: str


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        if hours:
            return gettext("%(days)s天%(hours)s小时") % {"days": days, "hours": hours}
        return gettext("%(days)s天") % {"days": days}
    if hours:
        if mins:
            return gettext("%(hours)s小时%(mins)s分") % {"hours": hours, "mins": mins}
        return gettext("%(hours)s小时") % {"hours": hours}
    return gettext("%(mins)s分钟") % {"mins": mins}


def _clock(
    label: str,
    at: datetime,
    start: datetime | None,
    now: datetime,
    yellow: bool | None = None,
    *,
    clock_time: bool = True,
) -> Clock:
    """`yellow` as the case's columns say it (handling clock); else at 75 % of the time from `start`,
    counted in clock or working time as the limit runs."""
    if now >= at:
        return Clock(label, at, "red", gettext("超期 %(span)s") % {"span": _span(now - at)})
    if yellow is None:
        yellow = (
            start is not None and at > start and now >= deadlines.yellow_at(start, at, clock_time=clock_time)
        )
    left = gettext("剩 %(span)s") % {"span": _span(at - now)}
    return Clock(label, at, "yellow" if yellow else "", left)


def _sign_clock(case: Case, now: datetime) -> Clock:
    assert case.sign_by is not None
    clock_time = deadlines.around_the_clock(case.category, case.urgency)
    return _clock(gettext("签收期限"), case.sign_by, case.dispatched_at, now, clock_time=clock_time)


def _resume_clock(case: Case, now: datetime) -> Clock:
    """When a deferred case comes back (the worker resumes it then): a date, never yellow nor red."""
    assert case.resume_on is not None
    at = deadlines.resumes_at(case.resume_on)
    label = pgettext("clock", "恢复办理")
    if now >= at:  # the worker has not come by yet
        return Clock(label, at, "", gettext("即将恢复"))
    return _clock(label, at, None, now, yellow=False)


def _recheck_clock(case: Case, now: datetime) -> Clock:
    assert case.recheck_by is not None
    return _clock(gettext("核查期限"), case.recheck_by, case.fed_back_at, now, clock_time=False)


def _answer_clock(case: Case, now: datetime) -> Clock:
    assert case.answer_by is not None
    return _clock(gettext("答复期限"), case.answer_by, case.created_at, now, clock_time=False)


def clock_of(case: Case, now: datetime | None = None, *, sign: bool = False) -> Clock | None:
    """The deadline a list row shows; `sign` prefers the sign-for deadline (the to-sign inbox)."""
    now = now or timezone.now()
    if sign and case.status == Status.DISPATCHED and case.sign_by:
        return _sign_clock(case, now)
    if case.status in CLOCK_STATUSES and case.due_at:
        # The worker's yellow card, or yellow_at passed (deadlines.of_round: 75 % in the limit's clock).
        yellow = case.warn_level == WarnLevel.YELLOW or bool(case.yellow_at and now >= case.yellow_at)
        return _clock(gettext("办理期限"), case.due_at, case.dispatched_at, now, yellow=yellow)
    if case.status == Status.FED_BACK and case.recheck_by:
        return _recheck_clock(case, now)
    if case.status == Status.DEFERRED and case.resume_on:
        return _resume_clock(case, now)
    if case.status == Status.RECEIVED and case.answer_by and case.answered_at is None:
        return _answer_clock(case, now)
    return None


def case_clocks(case: Case, now: datetime | None = None) -> list[Clock]:
    """Every deadline of the current round, for the case page's header."""
    now = now or timezone.now()
    found: list[Clock] = []
    if case.answer_by and case.answered_at is None and case.status not in FINAL_STATUSES:
        found.append(_answer_clock(case, now))
    if case.status == Status.DISPATCHED and case.sign_by:
        found.append(_sign_clock(case, now))
    if case.status in CLOCK_STATUSES and case.due_at:
        found.append(clock_of(case, now) or _clock(gettext("办理期限"), case.due_at, None, now))
    if case.status == Status.FED_BACK and case.recheck_by:
        found.append(_recheck_clock(case, now))
    if case.status == Status.DEFERRED and case.resume_on:
        found.append(_resume_clock(case, now))
    if case.status == Status.CLOSED and case.rate_by and case.rated_at is None:
        found.append(_clock(gettext("评价期限"), case.rate_by, case.closed_at, now))
    return found


STATUS_HINTS: dict[str, StrOrPromise] = {
    Status.RECEIVED: _("已受理，等待立案"),
    Status.REGISTERED: _("已立案，等待派遣"),
    Status.REJECTED: _("不予受理，已告知反映人理由"),
    Status.ESCALATED: _("社区已吹哨，等待街道派遣"),
    Status.DISPATCHED: _("已派遣，等待承办单位签收"),
    Status.RETURNED: _("承办单位已退回，等待重新派遣或审定"),
    Status.SIGNED: _("承办单位已签收，正在办理"),
    Status.DEFERRED: _("缓办（挂账），到恢复办理日期重新计时"),
    Status.FED_BACK: _("承办单位已反馈，等待现场核查"),
    Status.CLOSED: _("已结案"),
    Status.MERGED: _("已合并到另一工单"),
}


def status_hint(case: Case) -> StrOrPromise:
    if case.offered_at and case.status in transitions.CLAIMABLE:
        return _("已发布党员认领，等待社区党员认领")
    return STATUS_HINTS.get(case.status, "")


# --- the list: search, filters, sort ----------------------------------------------------------------

# A deferred case keeps the deadline its clock stopped at, and the list shows the day it comes back
# instead: by deadline, deferred cases come after the running ones (first, from the farthest).
_DEFERRED = ExpressionWrapper(Q(status=Status.DEFERRED), output_field=BooleanField())
SORTS: dict[str, tuple[Any, ...]] = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "due": (_DEFERRED.asc(), F("due_at").asc(nulls_last=True), "-id"),
    "-due": (_DEFERRED.desc(), F("due_at").desc(nulls_last=True), "-id"),
}
OPEN = "open"


@dataclass(frozen=True)
class CaseFilters:
    q: str = ""
    status: str = ""  # a Status value, "open", or "" for all
    category: Category | None = None
    unit: Unit | None = None
    overdue: bool | None = None
    created_from: date | None = None
    created_to: date | None = None
    phone: str = ""  # the reporter's (queries.reported_from)
    sort: str = "-created"


def filter_cases(user: User, f: CaseFilters) -> QuerySet[Case]:
    """The cases the user may read that pass the filters, sorted (the API's list filters, shared)."""
    statuses = [str(s) for s in OPEN_STATUSES] if f.status == OPEN else [f.status] if f.status else None
    cases = queries.filter_cases(
        queries.cases_visible_to(user),
        statuses=statuses,
        unit=f.unit,
        category=f.category,
        overdue=f.overdue,
        text=f.q,
        created_from=f.created_from,
        created_to=f.created_to,
    )
    if f.phone:
        cases = queries.reported_from(cases, user, f.phone)
    return cases.order_by(*SORTS.get(f.sort, SORTS["-created"]))


FILTER_UNIT_KINDS = (UnitKind.SUBDISTRICT, UnitKind.COMMUNITY, UnitKind.GRID, UnitKind.OFFICE)


def filter_units(user: User) -> list[Unit]:
    """Units to filter by: the user's territory down to grids, and the departments (cases go to them)."""
    units = Unit.objects.filter(
        Q(scope_q(user), kind__in=FILTER_UNIT_KINDS) | Q(kind=UnitKind.DEPARTMENT), is_active=True
    )
    return in_list_order(list(units.order_by("kind", "path")[:1000]))


# --- timeline details ----------------------------------------------------------------------------------


def _names(codes: set[Any]) -> dict[Any, str]:
    if not codes:
        return {}
    text = {c for c in codes if isinstance(c, str)}
    ids = {c for c in codes if isinstance(c, int)}
    rows = Unit.objects.filter(Q(code__in=text) | Q(pk__in=ids)).values_list("pk", "code", "name")
    found: dict[Any, str] = {}
    for pk, code, name in rows:
        found[pk] = name
        if code:
            found[code] = name
    return found


# A check-in farther than this from the case's place is flagged on its timeline line.
ARRIVAL_FAR_M = 500


def _arrival_line(metres: int) -> str:
    far = metres > ARRIVAL_FAR_M
    if metres >= 1000:
        where = gettext("距工单位置约 %(km)s 公里") % {"km": f"{metres / 1000:,.1f}"}
    else:
        where = gettext("距工单位置约 %(m)s 米") % {"m": metres}
    return where + gettext("（偏离工单位置，请核实）") if far else where


def step_details(case: Case) -> dict[int, str]:
    """A line per step saying what changed that the note does not: units, reasons, verdicts (2 queries)."""
    rows = list(
        CaseStep.objects.filter(
            case=case,
            action__in=[
                StepAction.DISPATCH,
                StepAction.RETURN,
                StepAction.RECHECK,
                StepAction.RATE,
                StepAction.REQUEST_EXTENSION,
                StepAction.APPROVE_EXTENSION,
                StepAction.MERGE,
                StepAction.ARRIVE,
                StepAction.DEFER,
            ],
        ).values_list("pk", "action", "changes")
    )
    codes: set[Any] = set()
    for _pk, action, changes in rows:
        if action == StepAction.DISPATCH:
            codes.add(changes.get("lead_unit"))
            codes.update(changes.get("assisting_units") or [])
    names = _names({c for c in codes if c is not None})
    details: dict[int, str] = {}
    for pk, action, changes in rows:
        line = ""
        if action == StepAction.DISPATCH:
            lead = changes.get("lead_unit")
            line = gettext("主办：%(unit)s") % {"unit": names.get(lead, lead)}
            assisting = [names.get(c, c) for c in changes.get("assisting_units") or []]
            if assisting:
                separator = pgettext("between names in a list", "、")
                line += gettext("；协办：%(units)s") % {"units": separator.join(str(a) for a in assisting)}
        elif action == StepAction.RETURN:
            code = changes.get("reason_code", "")
            reason = ReturnReason(code).label if code in ReturnReason.values else str(code)
            line = gettext("退回原因：%(reason)s") % {"reason": reason}
        elif action == StepAction.RECHECK:
            line = gettext("核查通过，结案") if changes.get("passed") else gettext("核查不通过，返工")
        elif action == StepAction.RATE:
            code = changes.get("satisfaction", "")
            label = Satisfaction(code).label if code in Satisfaction.values else str(code)
            resolved = gettext("已解决") if changes.get("resolved") else gettext("未解决")
            line = gettext("%(satisfaction)s，%(resolved)s") % {"satisfaction": label, "resolved": resolved}
        elif action in (StepAction.REQUEST_EXTENSION, StepAction.APPROVE_EXTENSION):
            days = changes.get("working_days")
            line = ngettext(
                "延期 %(days)s 个工作日", "延期 %(days)s 个工作日", days if isinstance(days, int) else 0
            ) % {"days": days}
        elif action == StepAction.MERGE:
            line = gettext("合并到 %(number)s") % {"number": changes.get("into")}
        elif action == StepAction.ARRIVE and isinstance(changes.get("distance_m"), int):
            line = _arrival_line(changes["distance_m"])
        elif action == StepAction.DEFER and isinstance(changes.get("resume_on"), list):
            line = gettext("%(day)s 恢复办理") % {"day": changes["resume_on"][1]}
        details[pk] = str(line)
    return details
