"""A fortnight of realistic cases driven through the actions, and the measures computed by brute force.

`play(world, cats)` files and works 16 cases between Monday 2025-06-09 and Tuesday 2025-06-24
(Asia/Shanghai, no holidays in between) with the clock frozen at each step, running the supervision
sweeps at fixed moments as a worker would. `brute_force()` then computes every rollup count straight
from the cases, their assignments, approved extensions and steps, independently of the fold, so the
tests can check that the fold's rows equal it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from django.utils import timezone

from civicgrid.cases import actions
from civicgrid.cases.jobs import supervise_all
from civicgrid.cases.measures import buckets
from civicgrid.cases.models import Case, ExtensionRequest, ExtensionStatus, Urgency
from civicgrid.cases.tests.factories import IN_COM_B1, file_case
from civicgrid.core.models import Unit
from civicgrid.people.actions import add_membership, create_user
from civicgrid.people.models import Role

SH = ZoneInfo("Asia/Shanghai")


def T(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute, tzinfo=SH)


SWEEPS = [
    T(9, 13),
    T(9, 14, 30),
    T(10, 12),
    T(15, 12),
    T(16, 9, 30),
    T(16, 12),
    T(17, 9),
    T(23, 10, 30),
    T(24, 9),
]


def play(world, cats) -> dict[str, str]:
    """Runs the fortnight; returns the case numbers by name (c1 … c16)."""
    u, units = world.users, world.units
    if "handler_cg2" not in u:
        u["handler_cg2"] = create_user(
            username="handler_cg2", password="persona-pass-2026", display_name="城管二", validate=False
        )
        add_membership(u["handler_cg2"], units["dept_cg"], Role.DEPARTMENT_HANDLER)
    numbers: dict[str, str] = {}
    events: list[tuple[datetime, int, Callable[[], Any]]] = []

    def at(moment: datetime, run: Callable[[], Any]) -> None:
        events.append((moment, len(events), run))

    def file(key: str, moment: datetime, by: str = "staff_a1", **fields: Any) -> None:
        def run() -> None:
            fields.setdefault("category", cats["garbage"])
            numbers[key] = file_case(world, by=by, **fields).number

        at(moment, run)

    def act(moment: datetime, name: str, key: str, by: str, **kwargs: Any) -> None:
        at(moment, lambda: getattr(actions, name)(numbers[key], by=u[by], **kwargs))

    def dispatch(moment: datetime, key: str, lead: str, assist=(), by: str = "dispatcher_a") -> None:
        at(
            moment,
            lambda: actions.dispatch_case(
                numbers[key], by=u[by], lead_unit=units[lead], assisting_units=[units[a] for a in assist]
            ),
        )

    def open_case(key: str, day: int, hour: int, minute: int, lead: str = "dept_cg", **fields: Any) -> None:
        """Filed at hh:mm, registered a minute later, dispatched five minutes after filing."""
        by = fields.pop("by", "staff_a1")
        file(key, T(day, hour, minute), by=by, **fields)
        act(T(day, hour, minute + 1), "register_case", key, "staff_b1" if by == "staff_b1" else "staff_a1")
        dispatch(
            T(day, hour, minute + 5), key, lead, by="dispatcher_b" if by == "staff_b1" else "dispatcher_a"
        )

    # c1: on time all the way, rated satisfied by the community after a phone call.
    open_case("c1", 9, 9, 0)
    act(T(9, 9, 20), "sign_case", "c1", "handler_cg")
    act(T(11, 10), "feedback_case", "c1", "handler_cg", result="已清运")
    act(T(11, 14, 30), "recheck_case", "c1", "grid_a1", passed=True)
    act(T(12, 10), "rate_case", "c1", "staff_a1", satisfaction="satisfied", resolved=True)
    # c2: signed late, red on the deadline, closed late, basically satisfied.
    open_case("c2", 9, 9, 10)
    act(T(9, 11, 40), "sign_case", "c2", "handler_cg")
    act(T(17, 10), "feedback_case", "c2", "handler_cg", result="已清运")
    act(T(17, 15), "recheck_case", "c2", "grid_a1", passed=True)
    act(T(18, 9), "rate_case", "c2", "staff_a1", satisfaction="basically_satisfied", resolved=True)
    # c3: a resident's case, returned, re-dispatched, rated dissatisfied, reopened, closed again.
    file("c3", T(9, 9, 30), by="resident", description="楼下餐馆油烟扰民")
    act(T(9, 9, 31), "register_case", "c3", "staff_a1")
    dispatch(T(9, 9, 35), "c3", "dept_cg")
    act(T(9, 10), "return_case", "c3", "handler_cg", reason_code="not_our_duty")
    dispatch(T(9, 10, 30), "c3", "dept_sc")
    act(T(9, 10, 45), "sign_case", "c3", "handler_sc")
    act(T(10, 15), "feedback_case", "c3", "handler_sc", result="已约谈")
    act(T(10, 16), "recheck_case", "c3", "staff_a1", passed=True)
    act(T(11, 9), "rate_case", "c3", "resident", satisfaction="dissatisfied", resolved=False)
    act(T(11, 9, 30), "sign_case", "c3", "handler_sc")
    act(T(12, 10), "feedback_case", "c3", "handler_sc", result="已加装净化器")
    act(T(12, 11), "recheck_case", "c3", "grid_a1", passed=True)
    act(T(13, 9), "rate_case", "c3", "resident", satisfaction="satisfied", resolved=True)
    # c4: extension of 3 working days, fed back after the first deadline but before the new one.
    open_case("c4", 9, 9, 40)
    act(T(9, 9, 50), "sign_case", "c4", "handler_cg")
    act(T(12, 10), "request_extension", "c4", "handler_cg", working_days=3, reason="需要协调环卫车辆")
    act(T(12, 11), "approve_extension", "c4", "dispatcher_a")
    act(T(18, 10), "feedback_case", "c4", "handler_cg", result="已清运")
    act(T(18, 14), "recheck_case", "c4", "grid_a1", passed=True)
    # c5: deferred, then fed back and closed long after its deadline (counts apart).
    open_case("c5", 9, 9, 50)
    act(T(9, 10, 5), "sign_case", "c5", "handler_cg")
    act(T(10, 10), "defer_case", "c5", "dispatcher_a", reason="待年度资金")
    act(T(20, 10), "feedback_case", "c5", "handler_cg", result="资金到位已处理")
    act(T(20, 15), "recheck_case", "c5", "grid_a1", passed=True)
    # c6: sent back for rework once; the second handler closes it.
    open_case("c6", 9, 10, 0)
    act(T(9, 10, 10), "sign_case", "c6", "handler_cg2")
    act(T(10, 11), "feedback_case", "c6", "handler_cg", result="已清运")
    act(T(11, 9), "recheck_case", "c6", "grid_a1", passed=False, note="垃圾仍在")
    act(T(12, 9), "feedback_case", "c6", "handler_cg2", result="已彻底清运")
    act(T(13, 10), "recheck_case", "c6", "grid_a1", passed=True)
    # c7: signed, never fed back: red, urged, supervisor alerted after five working days.
    open_case("c7", 9, 10, 10)
    act(T(9, 10, 30), "sign_case", "c7", "handler_cg")
    # c8: the community handles it itself (lead = its grid): territory and lead chains overlap.
    file("c8", T(9, 10, 20))
    act(T(9, 10, 21), "register_case", "c8", "staff_a1")
    dispatch(T(9, 10, 25), "c8", "grid_a1", by="staff_a1")
    act(T(9, 10, 40), "sign_case", "c8", "grid_a1")
    act(T(10, 9), "feedback_case", "c8", "grid_a1", result="已处理")
    act(T(10, 10), "recheck_case", "c8", "staff_a1", passed=True)
    # c9: subdistrict B, signed late, closed on time.
    open_case("c9", 9, 10, 30, by="staff_b1", **IN_COM_B1)
    act(T(9, 12), "sign_case", "c9", "handler_cg")
    act(T(13, 10), "feedback_case", "c9", "handler_cg", result="已清运")
    act(T(13, 11), "recheck_case", "c9", "staff_b1", passed=True)
    # c10: lead and assisting unit; the assisting unit signs late.
    file("c10", T(9, 10, 40))
    act(T(9, 10, 41), "register_case", "c10", "staff_a1")
    dispatch(T(9, 10, 45), "c10", "dept_cg", assist=["dept_sc"])
    act(T(9, 10, 50), "sign_case", "c10", "handler_cg")
    act(T(9, 15), "sign_case", "c10", "handler_sc")
    act(T(11, 10), "feedback_case", "c10", "handler_cg", result="已清运")
    act(T(11, 11), "recheck_case", "c10", "grid_a1", passed=True)
    # c11: urgent, 24 clock hours: red the next day, closed late.
    open_case("c11", 9, 11, 0, category=cats["water"], urgency=Urgency.URGENT)
    act(T(9, 11, 20), "sign_case", "c11", "handler_cg")
    act(T(10, 17), "feedback_case", "c11", "handler_cg", result="已恢复供水")
    act(T(11, 9), "recheck_case", "c11", "grid_a1", passed=True)
    # c12: returned and left with the dispatcher (no due round); a sign reminder before the return.
    open_case("c12", 9, 11, 10, lead="dept_sc")
    act(T(9, 16), "return_case", "c12", "handler_sc", reason_code="ownership_unclear")
    # c13: red first, deferred afterwards (counted as due and deferred).
    open_case("c13", 9, 11, 20)
    act(T(9, 11, 30), "sign_case", "c13", "handler_cg")
    act(T(17, 10), "defer_case", "c13", "dispatcher_a", reason="涉及拆迁")
    # c14: fed back on time, re-checked after the deadline: on time, due on its deadline's day.
    open_case("c14", 9, 11, 30)
    act(T(9, 11, 40), "sign_case", "c14", "handler_cg")
    act(T(13, 16), "feedback_case", "c14", "handler_cg", result="已清运")
    act(T(17, 9), "recheck_case", "c14", "grid_a1", passed=True)
    # c15: dispatched late in the fortnight, still open and not yet due.
    open_case("c15", 20, 10, 0)
    act(T(20, 10, 30), "sign_case", "c15", "handler_cg")
    # c16: a resident's case closed quickly and never rated (rating reminder).
    file("c16", T(9, 11, 40), by="resident", description="路灯不亮")
    act(T(9, 11, 41), "register_case", "c16", "staff_a1")
    dispatch(T(9, 11, 45), "c16", "dept_cg")
    act(T(9, 11, 50), "sign_case", "c16", "handler_cg")
    act(T(10, 10), "feedback_case", "c16", "handler_cg", result="已修复")
    act(T(10, 11), "recheck_case", "c16", "grid_a1", passed=True)

    for moment in SWEEPS:
        at(moment, lambda: supervise_all(timezone.now()))
    for moment, _order, run in sorted(events, key=lambda e: (e[0], e[1])):
        with time_machine.travel(moment, tick=False):
            run()
    return numbers


# -- brute force ----------------------------------------------------------------------------------


def _ids(path: str) -> list[int]:
    return [int(p) for p in path.strip("/").split("/") if p]


def _day(moment: datetime) -> date:
    return moment.astimezone(SH).date()


def _pair(step: Any, name: str) -> Any:
    value = (step.changes or {}).get(name)
    if isinstance(value, list) and len(value) == 2:
        after = value[1]
        return datetime.fromisoformat(after) if isinstance(after, str) else after
    return None


def brute_force() -> tuple[dict[tuple[int, date], Counter], dict[tuple[int, date], Counter]]:
    """Every rollup count per (unit, day) and (user, day), straight from cases, assignments and steps."""
    units: dict[tuple[int, date], Counter] = defaultdict(Counter)
    people: dict[tuple[int, date], Counter] = defaultdict(Counter)
    paths = {unit.pk: _ids(unit.path) for unit in Unit.objects.all()}

    def to_units(case: Case, unit_id: int | None, day: date, **counts: int) -> None:
        for target in set(_ids(case.territory_path)) | set(paths.get(unit_id, []) if unit_id else []):
            units[(target, day)].update(counts)

    for case in Case.objects.order_by("pk"):
        steps = list(case.steps.order_by("pk"))
        assignments = list(case.assignments.order_by("-role", "pk"))
        approvals = [
            e.decided_at
            for e in ExtensionRequest.objects.filter(case=case, status=ExtensionStatus.APPROVED)
            if e.decided_at is not None
        ]
        starts = [i for i, s in enumerate(steps) if s.action in ("dispatch", "reopen")]
        for n, i in enumerate(starts):
            start = steps[i]
            segment = steps[i : starts[n + 1] if n + 1 < len(starts) else len(steps)]
            end = next(
                (
                    j
                    for j, s in enumerate(segment)
                    if j > 0
                    and (
                        s.action in ("return", "merge", "reject")
                        or (s.action == "recheck" and (s.changes or {}).get("passed"))
                    )
                ),
                None,
            )
            body = segment if end is None else segment[: end + 1]
            after = [] if end is None else segment[end + 1 :]
            day0 = _day(start.at)
            round_units = [a for a in assignments if a.dispatched_at == start.at]
            lead = next(a.unit_id for a in round_units if a.role == "lead")
            sign_by = _pair(start, "sign_by")
            for a in round_units:
                to_units(case, a.unit_id, day0, orders=1)
                if a.signed_at is not None:
                    in_time = int(a.signed_at <= sign_by)
                    to_units(case, a.unit_id, day0, signed=1, signed_in_time=in_time)
                    people[(a.signed_by_id, day0)].update(signed=1, signed_in_time=in_time)
            to_units(case, lead, day0, rounds=1)
            last = body[-1]
            if last.action == "return":
                to_units(case, lead, day0, returned=1)
                continue

            def due_at_moment(moment: datetime, body=body) -> datetime:
                values = [(s.at, _pair(s, "due_at")) for s in body if _pair(s, "due_at") is not None]
                return [v for at, v in values if at <= moment][-1]

            closure = last if last.action == "recheck" else None
            red = next((s for s in body if s.action == "red"), None)
            until = last.at if end is not None else datetime.max.replace(tzinfo=SH)
            deferred = any(s.action == "defer" for s in body)
            extended = any(start.at <= at <= until for at in approvals)
            reworked = any(s.action == "recheck" and not s.changes.get("passed") for s in body)
            if red is not None:
                due_day = _day(due_at_moment(red.at))
            elif closure is not None:
                due_day = _day(min(due_at_moment(closure.at), closure.at))
            else:
                continue
            to_units(case, lead, due_day, due=1, deferred=int(deferred), extended=int(extended))
            if closure is None or deferred:
                continue
            feedback = [s for s in body if s.action == "feedback"][-1]
            seconds = round((feedback.at - start.at).total_seconds())
            counts = {
                "closed": 1,
                "closed_on_time": int(feedback.at <= due_at_moment(closure.at)),
                "reworked": int(reworked),
                "handling_seconds": seconds,
                f"h{buckets.bucket(seconds):02d}": 1,
            }
            to_units(case, lead, due_day, **counts)
            people[(feedback.actor_id, due_day)].update(counts)
            for rating in (s for s in after if s.action == "rate"):
                satisfaction, resolved = rating.changes["satisfaction"], rating.changes["resolved"]
                counts = {
                    "rated": 1,
                    "satisfied": int(satisfaction == "satisfied"),
                    "basically_satisfied": int(satisfaction == "basically_satisfied"),
                    "dissatisfied": int(satisfaction == "dissatisfied"),
                    "resolved": int(resolved is True),
                }
                to_units(case, lead, _day(rating.at), **counts)
                people[(feedback.actor_id, _day(rating.at))].update(counts)
    return _clean(units), _clean(people)


def _clean(rows: dict[tuple[int, date], Counter]) -> dict[tuple[int, date], Counter]:
    out = {}
    for key, counts in rows.items():
        kept = Counter({k: v for k, v in counts.items() if v})
        if kept:
            out[key] = kept
    return out


def folded() -> tuple[dict[tuple[int, date], Counter], dict[tuple[int, date], Counter]]:
    """The fold's rollup rows in the same shape as brute_force()."""
    from civicgrid.cases.measure_models import SUM_COLUMNS, MeasureDay, PersonMeasureDay

    units = {
        (r.unit_id, r.day): Counter({c: getattr(r, c) for c in SUM_COLUMNS}) for r in MeasureDay.objects.all()
    }
    people = {
        (r.user_id, r.day): Counter({c: getattr(r, c) for c in SUM_COLUMNS})
        for r in PersonMeasureDay.objects.all()
    }
    return _clean(units), _clean(people)
