"""Scoped reads of cases: `cases_visible_to(user)` and the inboxes of the desk.

Scope, as PRODUCT.md states it: staff see the cases in the territory of their units and below, and the
cases assigned to their units and below; departments only what is assigned to them; residents their
own (and the cases their own were merged into). Each part is an indexed prefix match or equality on
denormalised columns (Case.territory_path, CaseAssignment.unit_path, Case.reporter_user), so no query
walks the unit tree; see cases_visible_to for why the parts are ORed with an EXISTS, not UNIONed.
"""

from __future__ import annotations

import functools
import operator
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import Case as DbCase
from django.db.models import Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases import rules, transitions
from civicgrid.cases.models import (
    CLOCK_STATUSES,
    AssignmentRole,
    Case,
    CaseAssignment,
    CaseStep,
    Category,
    ExtensionRequest,
    ExtensionStatus,
    Status,
)
from civicgrid.cases.search import search
from civicgrid.core import crypto, rows
from civicgrid.core.errors import Forbidden, InvalidInput, NotFound
from civicgrid.core.expressions import AnyOf
from civicgrid.core.models import Unit
from civicgrid.core.queries import units_by_id
from civicgrid.people.models import Role
from civicgrid.people.queries import memberships_of

if TYPE_CHECKING:
    from civicgrid.people.models import User


def _top_paths(user: User, roles: frozenset[str] | set[str]) -> list[str]:
    """The unit paths of the user's memberships in `roles`, without those inside another one."""
    paths = {m.unit.path for m in memberships_of(user) if m.role in roles}
    return sorted(p for p in paths if not any(p != q and p.startswith(q) for q in paths))


def _prefix_q(field: str, paths: list[str]) -> Q:
    q = Q()
    for path in paths:
        q |= Q(**{f"{field}__startswith": path})
    return q


def in_territory_q(user: User, roles: frozenset[str] | set[str]) -> Q | None:
    """Cases whose territory lies under the user's units in `roles`; None when there are none."""
    paths = _top_paths(user, roles)
    return _prefix_q("territory_path", paths) if paths else None


def cases_visible_to(user: User) -> QuerySet[Case]:
    """Every case the user may read; the base of every other query here.

    One predicate on the case row: prefix matches on territory_path, the filer and reporter columns,
    the ids the user's own reports were merged into, the lead units under the user's and the cases
    they assist (three small subqueries, each computed once: core.expressions.AnyOf). Each part can be
    answered from an index, so PostgreSQL can intersect the whole scope with the bigram index of a text
    search (community staff searching 小区 at 1,000,000 cases: 460 → ~150 ms). Measured on PostgreSQL
    with 1,000,000 cases, this form lets the newest-first page stop after the first matching rows
    (7-120 ms for scopes of 20,000 to 1,000,000 cases) where a UNION of id sets must build and sort
    the whole scope first (0.5-2 s).
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Case.objects.none()
    if user.is_superuser:
        return Case.objects.all()
    merged_targets = Case.objects.filter(reporter_user=user, merged_into__isnull=False).values(
        "merged_into_id"
    )
    visible = Q(reporter_user=user) | Q(created_by=user) | Q(AnyOf("pk", merged_targets))
    territory = in_territory_q(user, rules.TERRITORY_ROLES)
    if territory is not None:
        visible |= territory
    paths = _top_paths(user, rules.ASSIGNMENT_ROLES)
    if paths:
        visible |= _assigned_q(paths)
    offered = _offered_q(user)
    if offered is not None:
        visible |= offered | Q(claimed_by=user)
    return Case.objects.filter(visible)


def _offered_q(user: User) -> Q | None:
    """Cases ever offered to the Party members of the user's communities (claimed or not: a member who
    lost a race to claim sees why); None for a user who is no Party member (no such part of the scope)."""
    paths = _top_paths(user, rules.CLAIMER_ROLES)
    if not paths:
        return None
    return _prefix_q("territory_path", paths) & Q(offered_at__isnull=False)


def _led_q(paths: list[str]) -> Q:
    """Cases with an active lead assignment to a unit under `paths`, read off the case row.

    assign() sets Case.lead_unit together with the active lead assignment, and only a merge retires
    that assignment without a new lead (test_queries checks the invariant), so this is an indexed
    column test instead of a look at the assignments: as an EXISTS over a department's assignments,
    PostgreSQL hashed 240,000 case ids per list request at 1M cases (0.1-0.25 s of every answer).
    """
    units = Unit.objects.filter(_prefix_q("path", paths)).values("pk")
    return Q(AnyOf("lead_unit_id", units)) & ~Q(status=Status.MERGED)


def _assigned_q(paths: list[str]) -> Q:
    """Cases with an active assignment to a unit under `paths`: led by it, or assisted (a small set)."""
    assisted = CaseAssignment.objects.filter(
        _prefix_q("unit_path", paths), active=True, role=AssignmentRole.ASSIST
    ).values("case_id")
    return _led_q(paths) | Q(AnyOf("pk", assisted))


def may_read(user: User, case: Case) -> bool:
    """The rule of cases_visible_to, for one case already in hand (no scan of the scope).

    A single-case read answers on the row found by its unique number: filtering that one row through
    the scope predicate made the planner weigh the whole OR/EXISTS (about 10 ms a step on PostgreSQL);
    this costs at most one indexed query on the case's assignments. Tested to agree with
    cases_visible_to for every persona and case.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser or user.pk in (case.reporter_user_id, case.created_by_id):
        return True
    if any(case.territory_path.startswith(p) for p in _top_paths(user, rules.TERRITORY_ROLES)):
        return True
    paths = _top_paths(user, rules.ASSIGNMENT_ROLES)
    if paths and _assigned_under(case, paths):
        return True
    if case.claimed_by_id is not None and case.claimed_by_id == user.pk:
        return True
    if case.offered_at is not None and any(
        case.territory_path.startswith(p) for p in _top_paths(user, rules.CLAIMER_ROLES)
    ):
        return True  # the rule of _offered_q
    return Case.objects.filter(reporter_user=user, merged_into=case).exists()


def _assigned_under(case: Case, paths: list[str]) -> bool:
    """An active assignment of the case to a unit under `paths`, from the ones in hand if loaded."""
    held: list[CaseAssignment] | None = getattr(case, "active_assignments", None)
    if held is not None:
        return any(a.unit_path.startswith(p) for a in held for p in paths)
    # The lead unit on the case row is its active lead assignment (see _led_q), so a lead unit in hand
    # answers for the lead without a query; only an assisting unit needs the assignments.
    cached = Case._meta.get_field("lead_unit").is_cached(case)  # type: ignore[union-attr]
    lead = case.lead_unit if case.lead_unit_id and cached else None
    if lead is not None and case.status != Status.MERGED and any(lead.path.startswith(p) for p in paths):
        return True
    return CaseAssignment.objects.filter(_prefix_q("unit_path", paths), case=case, active=True).exists()


_CASE_UNITS = ("grid", "community", "subdistrict", "territory", "lead_unit")

# What a case page and a step reply read besides the case, written out: the ORM spent about 0.4 ms
# of Python building each query, more than PostgreSQL spent answering it, and a step reply made five
# (docs/performance.md, "api-lifecycle"). The units come without their polygons.
_ACTIVE_ASSIGNMENTS_SQL = (
    "SELECT * FROM cases_caseassignment WHERE case_id = %s AND active ORDER BY role DESC, id"
)
_STEP_COLUMNS = ("id", "case_id", "action", "actor_id", "unit_id", "at", "note", "from_status", "to_status")
_TIMELINE_VALUES = {
    **{name: f"s.{name}" for name in _STEP_COLUMNS},
    "actor_display_name": "u.display_name",
    "actor_username": "u.username",
    "unit_name": "n.name",
}
_TIMELINE_FROM = (
    "cases_casestep s LEFT JOIN people_user u ON u.id = s.actor_id LEFT JOIN core_unit n ON n.id = s.unit_id"
)
_TIMELINE_SQL = (
    f"SELECT {', '.join(f'{sql} AS {name}' for name, sql in _TIMELINE_VALUES.items())}"
    f" FROM {_TIMELINE_FROM} WHERE s.case_id = %s ORDER BY s.at, s.id"
)


def case_for_update(number: str) -> Case | None:
    """The case with this number, its category, units, active assignments and timeline, the case row
    locked to the end of the transaction (on PostgreSQL; SQLite's write transaction already keeps
    other writers out).

    One written-out read: the checks, the deadlines, the notices and the reply all read these. A read
    answers as of its start, though, and a step that waited for the lock would get the case row as
    the holder left it but the rest as it was before the holder's step. So the read also says whether
    the row it locked is the one it saw (`lock_waited`: the locked version's xmin against the one in
    its snapshot), and when not, the case is read again, now that the holder has committed. That
    rests on every transaction that changes what this read brings while holding the lock also
    updating the case row: every step does (write_step), and so does adding photos (test_races)."""
    case = _case_by_number(number, lock=True)
    if case is not None and getattr(case, "lock_waited", False):
        case = _case_by_number(number, lock=False)  # the lock is held: nobody changes it from here
    return case


def _case_by_number(number: str, *, lock: bool) -> Case | None:
    sql = _case_sql(connection.vendor, lock and connection.features.has_select_for_update_of)
    case = next(iter(rows.fetch(Case, sql, [number])), None)
    if case is not None:
        fields = _category_fields()
        case.category = rows.related(case, Category, "category__", fields)
        if case.category is not None:
            case.category.parent = rows.related(case, Category, "category__parent__", fields)
        read = rows.from_json(Unit, case.units__json, case._state.db)  # type: ignore[attr-defined]
        units = {unit.pk: unit for unit in read}
        for name in _CASE_UNITS:
            setattr(case, name, units.get(getattr(case, f"{name}_id")))
        steps = rows.from_json(CaseStep, case.steps__json, case._state.db)  # type: ignore[attr-defined]
        case.held_steps = _named(sorted(steps, key=lambda step: (step.at, step.pk)))  # type: ignore[attr-defined]
        held = rows.from_json(CaseAssignment, case.assignments__json, case._state.db)  # type: ignore[attr-defined]
        held.sort(key=lambda a: (a.role != AssignmentRole.LEAD, a.pk))  # as _ACTIVE_ASSIGNMENTS_SQL
        case.active_assignments = held  # type: ignore[attr-defined]  # their units: with_units
    return case


def _category_fields() -> list[str]:
    return [f.attname for f in Category._meta.concrete_fields]


def _assignment_fields() -> list[str]:
    return [f.attname for f in CaseAssignment._meta.concrete_fields]


@functools.cache
def _case_sql(vendor: str, lock: bool) -> str:
    selected = [
        rows.columns("g", "category__", _category_fields()),
        rows.columns("gp", "category__parent__", _category_fields()),
        # The units in one subquery, not a join each: PostgreSQL started a nine-table plan on every
        # run, which cost more than the rest of the read (docs/performance.md, "api-lifecycle").
        f"(SELECT {rows.json_objects(vendor, {f: f'u.{f}' for f in rows.UNIT_FIELDS})} FROM core_unit u"
        f" WHERE u.id IN ({', '.join(f'c.{name}_id' for name in _CASE_UNITS)})) AS units__json",
        # The timeline too: steps are only ever appended, all by write_step, which also appends each
        # to the list read here (`timeline`).
        f"(SELECT {rows.json_objects(vendor, _TIMELINE_VALUES)} FROM {_TIMELINE_FROM} WHERE s.case_id = c.id)"
        " AS steps__json",
        # The active assignments: who handles the case (scope, checks, notices, the reply).
        f"(SELECT {rows.json_objects(vendor, {f: f'a.{f}' for f in _assignment_fields()})}"
        " FROM cases_caseassignment a WHERE a.case_id = c.id AND a.active) AS assignments__json",
        # Whether the case has photos and a pending extension request: a reply, a page and a step skip
        # the reads and writes of what is not there. Both are added only by steps on the locked case
        # (add_photos, request_extension), which keep the flags true for the rest of the step.
        "EXISTS (SELECT 1 FROM cases_casephoto p WHERE p.case_id = c.id) AS has_photos",
        "EXISTS (SELECT 1 FROM cases_extensionrequest e"
        f" WHERE e.case_id = c.id AND e.status = '{ExtensionStatus.PENDING.value}') AS has_pending_extension",
    ]
    joins = (
        " LEFT JOIN cases_category g ON g.id = c.category_id"
        " LEFT JOIN cases_category gp ON gp.id = g.parent_id"
    )
    if lock and vendor == "postgresql":  # see case_for_update
        selected.append(
            "(SELECT s.xmin FROM cases_case s WHERE s.id = c.id) IS DISTINCT FROM c.xmin AS lock_waited"
        )
    for_update = " FOR UPDATE OF c" if lock else ""
    return f"SELECT c.*, {', '.join(selected)} FROM cases_case c{joins} WHERE c.number = %s{for_update}"


def active_category(code: str) -> Category | None:
    """The category a filing or a recategorisation names by its code, if it is in use."""
    sql = "SELECT * FROM cases_category WHERE code = %s AND is_active"
    return next(iter(rows.fetch(Category, sql, [code])), None)


def timeline(case: Case) -> list[CaseStep]:
    """The case's steps in order, each with `actor_name` and `unit_name` (no User or Unit rows built):
    the ones its read brought (`case.held_steps`, kept whole by write_step), else read now."""
    held: list[CaseStep] | None = getattr(case, "held_steps", None)
    if held is not None:
        return held
    return _named(rows.fetch(CaseStep, _TIMELINE_SQL, [case.pk]))


def _named(steps: list[CaseStep]) -> list[CaseStep]:
    for step in steps:
        # As User.__str__: the display name, else the username.
        step.actor_name = step.actor_display_name or step.actor_username or ""  # type: ignore[attr-defined]
    return steps


def append_to_timeline(case: Case, step: CaseStep) -> None:
    """Adds a step just written to the timeline the case was read with, as a read would give it."""
    held: list[CaseStep] | None = getattr(case, "held_steps", None)
    if held is None:
        return
    actor, unit = step.actor, step.unit
    step.actor_display_name = actor.display_name if actor else None  # type: ignore[attr-defined]
    step.actor_username = actor.username if actor else None  # type: ignore[attr-defined]
    step.unit_name = unit.name if unit else None  # type: ignore[attr-defined]
    held.extend(_named([step]))


def pending_extension(case: Case) -> ExtensionRequest | None:
    """The case's pending extension request (at most one), with its unit's name as `unit_name`."""
    sql = (
        "SELECT e.*, n.name AS unit_name FROM cases_extensionrequest e"
        " LEFT JOIN core_unit n ON n.id = e.unit_id WHERE e.case_id = %s AND e.status = %s ORDER BY e.id"
    )
    return next(iter(rows.fetch(ExtensionRequest, sql, [case.pk, ExtensionStatus.PENDING])), None)


def get_case_for(user: User, number: str) -> Case:
    """The case with this number if the user may read it; NotFound both when missing and when forbidden.

    The lock's read without the lock: the case with its category (and parent), units, active
    assignments and timeline in one written-out statement (with_units adds an assisting unit). Every
    case page and API read of a case comes here: the ORM's select_related cost 0.5 ms of Python to
    build.
    """
    found = _case_by_number(number, lock=False)
    if found is None or not may_read(user, with_units(found)):
        raise NotFound(_("工单不存在"))
    return found


def case_after_step(user: User, case: Case) -> Case:
    """The case an action returned, for the reply to the actor: NotFound if the step took it out of sight.

    The action's own (locked, saved) row: reading the case again after the step cost a step reply
    three more queries on PostgreSQL. Its assignments are the ones the action held, if it read them
    (the actions that change them keep `case.active_assignments` true), else read now.
    """
    if not may_read(user, with_units(case)):
        raise NotFound(_("工单不存在"))
    return case


def _active_assignment_rows(case: Case) -> list[CaseAssignment]:
    return rows.fetch(CaseAssignment, _ACTIVE_ASSIGNMENTS_SQL, [case.pk])


def active_assignments(case: Case) -> list[CaseAssignment]:
    """The case's active assignments, lead first, with their units (with_units)."""
    return with_units(case).active_assignments  # type: ignore[attr-defined,no-any-return]


def with_units(case: Case) -> Case:
    """Sets the case's units and `case.active_assignments` (with their units), leaving units in hand.

    Assignments already on the case are kept: read once per step, then changed only by the actions
    (assign, merge), which set the list themselves. None are read before the first dispatch: units
    come with it.
    """
    held: list[CaseAssignment] | None = getattr(case, "active_assignments", None)
    if held is None:
        held = _active_assignment_rows(case) if case.first_dispatched_at else []
    fields = {name: Case._meta.get_field(name) for name in _CASE_UNITS}
    missing = [name for name, f in fields.items() if not f.is_cached(case)]  # type: ignore[union-attr]
    in_hand = {
        unit.pk: unit
        for name in _CASE_UNITS
        if name not in missing and (unit := getattr(case, name)) is not None
    }
    wanted = [getattr(case, f"{name}_id") for name in missing] + [a.unit_id for a in held]
    units = {**in_hand, **units_by_id(pk for pk in wanted if pk not in in_hand)}
    for name in missing:
        setattr(case, name, units.get(getattr(case, f"{name}_id")))
    for assignment in held:
        assignment.unit = units[assignment.unit_id]
    case.active_assignments = held  # type: ignore[attr-defined]
    return case


def with_list_relations(cases: QuerySet[Case]) -> QuerySet[Case]:
    """What a list row shows, fetched in a constant number of queries whatever the page size."""
    from django.db.models import Prefetch

    return cases.select_related("category", "lead_unit", "territory", "merged_into").prefetch_related(
        Prefetch(
            "assignments",
            queryset=CaseAssignment.objects.filter(active=True).select_related("unit"),
            to_attr="active_assignments",
        )
    )


def overdue_q(now=None) -> Q:
    return Q(status__in=CLOCK_STATUSES, due_at__lt=now or timezone.now())


# The dates the list filters accept: wide enough for any case, narrow enough that the day's bounds stay
# representable (0001-01-01 in local time is before datetime.min in UTC; 9999-12-31 has no next day).
FILTER_DATES = (date(2000, 1, 1), date(2099, 12, 31))


def filter_cases(
    cases: QuerySet[Case],
    *,
    statuses: list[str] | None = None,
    unit: Unit | None = None,
    category: Category | None = None,
    overdue: bool | None = None,
    text: str = "",
    created_from: date | None = None,
    created_to: date | None = None,
) -> QuerySet[Case]:
    """The list filters the API and the desk share (inputs already parsed and checked)."""
    if statuses:
        cases = cases.filter(status__in=statuses)
    if unit is not None:
        assigned = CaseAssignment.objects.filter(unit_path__startswith=unit.path, active=True)
        cases = cases.filter(Q(territory_path__startswith=unit.path) | Q(pk__in=assigned.values("case_id")))
    if category is not None:
        # Ids, not a join on the parent: an IN list can use the (category, created_at) index.
        ids = [category.pk, *Category.objects.filter(parent=category).values_list("pk", flat=True)]
        cases = cases.filter(category_id__in=ids)
    if overdue is not None:
        cases = cases.filter(overdue_q()) if overdue else cases.exclude(overdue_q())
    if text.strip():
        cases = search(cases, text)
    tz = timezone.get_current_timezone()
    if created_from:
        cases = cases.filter(created_at__gte=datetime.combine(created_from, time.min, tz))
    if created_to:
        cases = cases.filter(created_at__lt=datetime.combine(created_to + timedelta(days=1), time.min, tz))
    return cases


def reported_from(cases: QuerySet[Case], user: User, phone: str) -> QuerySet[Case]:
    """The cases a caller reported from `phone` (12345 practice: a repeat caller's earlier cases), among
    those whose reporter the user may see: a dispatcher's or community's territory (rules.REPORTER_ROLES).
    Matched on the phone's blind index; an anonymous case keeps none and is never found."""
    if not (user.is_superuser or rules.has_role(user, rules.REPORTER_ROLES)):
        raise Forbidden(_("只有指挥中心和社区工作人员可以按来电号码查询"))
    number = crypto.plain_phone(phone)
    if not crypto.is_phone(number):
        raise InvalidInput(_("电话号码格式不正确"), details={"phone": "invalid"})
    cases = cases.filter(reporter_phone_index=crypto.blind_index(number))
    territory = None if user.is_superuser else in_territory_q(user, rules.REPORTER_ROLES)
    return cases if territory is None else cases.filter(territory)


# --- inboxes: what waits for the user ------------------------------------------------------------
# Each returns a queryset of cases (oldest deadline first where there is one); the desk counts and lists.


def _visible_in(user: User, roles: frozenset[str] | set[str]) -> QuerySet[Case]:
    if user.is_superuser:
        return Case.objects.all()
    territory = in_territory_q(user, roles)
    return Case.objects.filter(territory) if territory is not None else Case.objects.none()


def to_register(user: User) -> QuerySet[Case]:
    """Received cases in the territory of the user's intake roles."""
    return _visible_in(user, rules.INTAKE_ROLES).filter(status=Status.RECEIVED).order_by("created_at")


def to_dispatch(user: User) -> QuerySet[Case]:
    """Registered or returned cases (and, for dispatchers, escalated ones) waiting for a dispatch."""
    cases = Case.objects.none()
    if user.is_superuser or rules.has_role(user, [Role.DISPATCHER]):
        cases = _visible_in(user, {Role.DISPATCHER}).filter(status__in=transitions.DISPATCHABLE)
    if not user.is_superuser:
        for path in _top_paths(user, {Role.COMMUNITY_STAFF}):
            # A community rules only on returns from units it dispatched to itself (rules.ruler_of).
            cases = cases | Case.objects.filter(territory_path__startswith=path).filter(
                Q(status=Status.REGISTERED) | Q(status=Status.RETURNED, lead_unit__path__startswith=path)
            )
    return cases.order_by("created_at")


def to_sign(user: User) -> QuerySet[Case]:
    """Cases with an unsigned active assignment to one of the user's handling units."""
    if user.is_superuser:
        return Case.objects.filter(status=Status.DISPATCHED).order_by("sign_by")
    paths = _top_paths(user, rules.HANDLER_ROLES)
    if not paths:
        return Case.objects.none()
    ids = CaseAssignment.objects.filter(_prefix_q("unit_path", paths), active=True, signed_at__isnull=True)
    return Case.objects.filter(pk__in=ids.values("case_id"), status__in=transitions.SIGNABLE).order_by(
        "sign_by", "created_at"
    )


def in_progress(user: User) -> QuerySet[Case]:
    """Cases the user's units lead, or the Party member claimed, signed for and not yet fed back."""
    if user.is_superuser:
        led = Case.objects.all()
    else:
        paths = _top_paths(user, rules.HANDLER_ROLES)
        parts = [_led_q(paths)] if paths else []
        if rules.has_role(user, rules.CLAIMER_ROLES):
            parts.append(Q(claimed_by=user))
        led = Case.objects.filter(functools.reduce(operator.or_, parts)) if parts else Case.objects.none()
    # Deferred cases (缓办) last: their deadline is suspended, and the tab is read from the top.
    deferred_last = DbCase(When(status=Status.DEFERRED, then=Value(1)), default=Value(0))
    # Deferred ones by the day they come back (their due_at is suspended); resume_on is null for the rest.
    return led.filter(status__in=transitions.FEEDBACKABLE).order_by(
        deferred_last, "resume_on", "due_at", "id"
    )


def to_claim(user: User) -> QuerySet[Case]:
    """Cases the user's communities offer to their Party members, waiting for one to claim them."""
    waiting = Case.objects.filter(status__in=transitions.CLAIMABLE, offered_at__isnull=False)
    if not user.is_superuser:
        offered = _offered_q(user)
        waiting = waiting.filter(offered) if offered is not None else Case.objects.none()
    return waiting.order_by("offered_at")


def due_soon(user: User, within: timedelta = timedelta(hours=24)) -> QuerySet[Case]:
    """Cases led by the user's units, or in their territory, whose deadline falls within `within`."""
    now = timezone.now()
    return (
        cases_visible_to(user)
        .filter(status__in=CLOCK_STATUSES, due_at__gte=now, due_at__lt=now + within)
        .order_by("due_at")
    )


def overdue(user: User) -> QuerySet[Case]:
    return cases_visible_to(user).filter(overdue_q()).order_by("due_at")


def to_recheck(user: User) -> QuerySet[Case]:
    """Fed-back cases in the territory of grid workers, community staff and dispatchers."""
    return _visible_in(user, rules.INTAKE_ROLES).filter(status=Status.FED_BACK).order_by("recheck_by")


def returned(user: User) -> QuerySet[Case]:
    """Returned cases waiting for the dispatcher's ruling."""
    return to_dispatch(user).filter(status=Status.RETURNED)


def extension_requests(user: User) -> QuerySet[ExtensionRequest]:
    """Pending extension requests on cases the user rules (dispatcher of the territory)."""
    pending = ExtensionRequest.objects.filter(status=ExtensionStatus.PENDING).select_related("case", "unit")
    if user.is_superuser:
        return pending.order_by("requested_at")
    ruled = Q(pk__in=[])
    for path in _top_paths(user, {Role.DISPATCHER}):
        ruled |= Q(territory_path__startswith=path)
    for path in _top_paths(user, {Role.COMMUNITY_STAFF}):
        ruled |= Q(territory_path__startswith=path, lead_unit__path__startswith=path)
    ids = Case.objects.filter(ruled).values("id")
    return pending.filter(case_id__in=ids).order_by("requested_at")


INBOXES = {
    "to_register": to_register,
    "to_dispatch": to_dispatch,
    "to_sign": to_sign,
    "to_claim": to_claim,
    "in_progress": in_progress,
    "due_soon": due_soon,
    "overdue": overdue,
    "to_recheck": to_recheck,
    "returned": returned,
    "extension_requests": extension_requests,
}


def inbox_counts(user: User) -> dict[str, int]:
    """How many items wait in each inbox (one COUNT per inbox)."""
    return {name: query(user).count() for name, query in INBOXES.items()}  # type: ignore[operator]
