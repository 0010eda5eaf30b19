"""Measures at scale: a synthetic year of one subdistrict's cases, the fold's throughput, the API's time.

`civicgrid measures bench --cases 1000000` (PostgreSQL; on an empty database made for it) writes a
county with one subdistrict of 30 communities × 10 grids and 40 departments, then `--cases` cases over
2025 with their assignments and timeline steps in the shapes the actions write (dispatch, sign on time
or late, return and re-dispatch, extension, deferral, feedback, rework, closure, red, rating), in time
order as a live installation would have written them (COPY, ids in time order). Then it folds the whole
timeline, folds a small increment, and times the report for the subdistrict (30 days, a year, by person)
in-process and through the API. Figures go to docs/measures.md.
"""

from __future__ import annotations

import heapq
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection, models, transaction

from civicgrid.cases.measure_models import MeasureDay
from civicgrid.cases.measures.fold import fold
from civicgrid.cases.measures.report import period, report
from civicgrid.cases.models import Case, CaseAssignment, CaseStep
from civicgrid.core.actions import create_unit
from civicgrid.core.models import Unit, UnitKind
from civicgrid.people.actions import add_membership, create_token, create_user
from civicgrid.people.models import Role, User

Say = Callable[[str], None]
START = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 365
COMMUNITIES, GRIDS, DEPARTMENTS = 30, 10, 40


def _world(say: Say) -> dict[str, Any]:
    city = create_unit(kind=UnitKind.CITY, name="基准市", code="B520200")
    county = create_unit(kind=UnitKind.COUNTY, name="基准县", code="B520281", parent=city)
    sub = create_unit(kind=UnitKind.SUBDISTRICT, name="基准街道", code="B520281001", parent=county)
    grids: list[Unit] = []
    communities = []
    for c in range(COMMUNITIES):
        com = create_unit(kind=UnitKind.COMMUNITY, name=f"社区{c:02d}", code=f"B520281001{c:03d}", parent=sub)
        communities.append(com)
        grids += [
            create_unit(
                kind=UnitKind.GRID, name=f"网格{c:02d}-{g}", code=f"B520281001{c:03d}{g:03d}", parent=com
            )
            for g in range(GRIDS)
        ]
    depts = [
        create_unit(kind=UnitKind.DEPARTMENT, name=f"部门{d:02d}", code=f"BD{d:02d}", parent=county)
        for d in range(DEPARTMENTS)
    ]
    handlers = {}
    for d in depts:
        user = create_user(username=f"bench_{d.code}", password=None, validate=False)
        add_membership(user, d, Role.DEPARTMENT_HANDLER)
        handlers[d.pk] = [user.pk]
    for com in communities:
        user = create_user(username=f"bench_{com.code}", password=None, validate=False)
        add_membership(user, com, Role.COMMUNITY_STAFF)
        handlers[com.pk] = [user.pk]
    dispatcher = create_user(username="bench_dispatcher", password=None, validate=False)
    add_membership(dispatcher, sub, Role.DISPATCHER)
    paths = dict(Unit.objects.values_list("pk", "path"))
    say(f"units: 1 subdistrict, {COMMUNITIES} communities, {len(grids)} grids, {DEPARTMENTS} departments")
    return {
        "sub": sub,
        "grids": grids,
        "depts": depts,
        "handlers": handlers,
        "dispatcher": dispatcher,
        "paths": paths,
    }


def _iso(t: datetime) -> str:
    return t.isoformat()


def _lives(n: int, w: dict[str, Any], rng: random.Random) -> Iterator[tuple[dict[str, Any], list, list]]:
    """Yields (case row, assignments, steps) per case, cases in order of filing."""
    grids, depts, handlers = w["grids"], w["depts"], w["handlers"]
    dispatcher = w["dispatcher"].pk
    end = START + timedelta(days=DAYS + 20)
    for i in range(n):
        t0 = START + timedelta(seconds=i * DAYS * 86400 / n)  # filed evenly over the year
        grid = rng.choice(grids)
        community = grid.parent_id
        steps: list[tuple] = []
        assignments: list[tuple] = []

        def step(
            at: datetime,
            action: str,
            unit: int | None,
            actor: int | None,
            changes: dict,
            to: str,
            steps: list[tuple] = steps,
        ) -> None:
            steps.append((at, action, unit, actor, changes, to))

        step(t0, "create", None, None, {}, "received")
        step(
            t0 + timedelta(minutes=10),
            "register",
            None,
            None,
            {"registered_at": [None, _iso(t0)]},
            "registered",
        )
        status, lead_before = "registered", None

        def dispatch(at: datetime, lead: int, assist: list[int], assignments=assignments) -> dict[str, Any]:
            nonlocal lead_before
            sign_by, due = at + timedelta(hours=1), at + timedelta(days=5)
            step(
                at,
                "dispatch",
                w["sub"].pk,
                dispatcher,
                {
                    "lead_unit_id": [lead_before, lead],
                    "sign_by": [None, _iso(sign_by)],
                    "due_at": [None, _iso(due)],
                    "dispatched_at": [None, _iso(at)],
                },
                "dispatched",
            )
            lead_before = lead
            for old in assignments:
                old[3] = False  # a new round retires the units of the last one
            assignments.append([lead, "lead", at, True])
            for a in assist:
                assignments.append([a, "assist", at, True])
            return {"at": at, "lead": lead, "due": due}

        roll = rng.random()
        lead = rng.choice(depts).pk if roll < 0.6 else community if roll < 0.9 else grid.pk
        assist = [rng.choice([d.pk for d in depts if d.pk != lead])] if rng.random() < 0.2 else []
        r = dispatch(t0 + timedelta(minutes=20), lead, assist)
        who = handlers.get(lead, [None])[0]
        if rng.random() < 0.05:
            step(r["at"] + timedelta(minutes=20), "return", lead, who, {"return_count": [0, 1]}, "returned")
            lead = rng.choice(depts).pk
            r = dispatch(r["at"] + timedelta(hours=2), lead, [])
            who = handlers.get(lead, [None])[0]
        late_sign = rng.random() < 0.1
        signed_at = r["at"] + timedelta(hours=3 if late_sign else 0.5)
        step(signed_at, "sign", lead, who, {"signed_at": [None, _iso(signed_at)]}, "signed")
        for a in assist:
            step(r["at"] + timedelta(hours=1.5), "sign", a, handlers[a][0], {}, "signed")
        due = r["due"]
        if rng.random() < 0.05:
            step(r["at"] + timedelta(days=2), "request_extension", lead, who, {}, "signed")
            new_due = due + timedelta(days=3)
            step(
                r["at"] + timedelta(days=2, hours=1),
                "approve_extension",
                None,
                dispatcher,
                {"due_at": [_iso(due), _iso(new_due)]},
                "signed",
            )
            due = new_due
        deferred = rng.random() < 0.02
        if deferred:
            step(
                r["at"] + timedelta(days=1),
                "defer",
                None,
                dispatcher,
                {"deferred": [False, True]},
                "deferred",
            )
        outcome = rng.random()
        if outcome < 0.08:
            fed = None
        elif outcome < 0.2:
            fed = due + timedelta(days=rng.uniform(1, 5))
        else:
            fed = r["at"] + timedelta(days=rng.uniform(0.2, 4.5))
        if not deferred and (fed is None or fed > due):
            step(due + timedelta(seconds=30), "red", None, None, {"warn_level": ["yellow", "red"]}, "signed")
        status = "signed"
        if fed is not None and fed < end:
            step(fed, "feedback", lead, who, {"fed_back_at": [None, _iso(fed)]}, "fed_back")
            close = fed + timedelta(hours=4)
            if rng.random() < 0.05:
                step(
                    close,
                    "recheck",
                    community,
                    None,
                    {"passed": False, "fed_back_at": [_iso(fed), None]},
                    "signed",
                )
                fed = close + timedelta(days=1)
                step(fed, "feedback", lead, who, {"fed_back_at": [None, _iso(fed)]}, "fed_back")
                close = fed + timedelta(hours=4)
            step(
                close,
                "recheck",
                community,
                None,
                {"passed": True, "closed_at": [None, _iso(close)]},
                "closed",
            )
            status = "closed"
            if rng.random() < 0.3:
                sat = rng.choices(["satisfied", "basically_satisfied", "dissatisfied"], [7, 2, 1])[0]
                step(
                    close + timedelta(days=1),
                    "rate",
                    None,
                    None,
                    {"satisfaction": sat, "resolved": rng.random() < 0.9},
                    "closed",
                )
        case = {
            "created_at": t0,
            "updated_at": t0,
            "grid_id": grid.pk,
            "community_id": community,
            "territory_path": grid.path,
            "lead_unit_id": lead,
            "status": status,
        }
        yield case, assignments, steps


def _columns(model: type[models.Model], given: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """All concrete columns (pk included) with the given values, model defaults for the rest."""
    names: list[str] = []
    values: list[Any] = []
    for f in model._meta.concrete_fields:
        names.append(str(f.column))
        values.append(given[f.attname] if f.attname in given else f.get_default())
    return names, values


def _copy(model: type[models.Model], rows: list[dict[str, Any]]) -> None:
    from psycopg.types.json import Jsonb

    if not rows:
        return
    names, _ = _columns(model, rows[0])
    json_columns = {f.column for f in model._meta.concrete_fields if isinstance(f, models.JSONField)}
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        raw = cur.cursor  # psycopg's own cursor, for COPY
        sql = f"COPY {qn(model._meta.db_table)} ({', '.join(qn(n) for n in names)}) FROM STDIN"
        with raw.copy(sql) as copy:
            for row in rows:
                _names, values = _columns(model, row)
                copy.write_row(
                    [Jsonb(v) if n in json_columns else v for n, v in zip(names, values, strict=True)]
                )


def generate(n: int, say: Say, seed: int = 12345) -> dict[str, Any]:
    """Writes the world and n cases with their timelines (ids in time order, as a live system would)."""
    rng = random.Random(seed)
    w = _world(say)
    started = time.perf_counter()
    heap: list[tuple] = []
    case_rows: list[dict[str, Any]] = []
    assignment_rows: list[dict[str, Any]] = []
    pending_steps: list[dict[str, Any]] = []
    step_id = CaseStep.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    case_id = Case.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    assignment_id = CaseAssignment.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    written = 0

    def flush(upto: datetime | None) -> None:
        nonlocal step_id, written
        while heap and (upto is None or heap[0][0] < upto):
            at, _seq, cid, action, unit, actor, changes, to = heapq.heappop(heap)
            step_id += 1
            pending_steps.append(
                {
                    "id": step_id,
                    "case_id": cid,
                    "action": action,
                    "actor_id": actor,
                    "unit_id": unit,
                    "at": at,
                    "note": "",
                    "from_status": "",
                    "to_status": to,
                    "changes": changes,
                }
            )
        with transaction.atomic():
            _copy(Case, case_rows)
            _copy(CaseAssignment, assignment_rows)
            _copy(CaseStep, pending_steps)
        written += len(pending_steps)
        case_rows.clear()
        assignment_rows.clear()
        pending_steps.clear()

    seq = 0
    next_flush = START + timedelta(days=1)
    for case, assignments, steps in _lives(n, w, rng):
        if case["created_at"] >= next_flush:
            flush(next_flush)
            next_flush += timedelta(days=1)
        case_id += 1
        case_rows.append(
            {
                "id": case_id,
                "number": f"B{case_id:09d}",
                "channel": "resident",
                "description": "bench",
                **case,
                "subdistrict_id": w["sub"].pk,
                "territory_id": case["grid_id"],
            }
        )
        for unit, role, at, active in assignments:
            assignment_id += 1
            assignment_rows.append(
                {
                    "id": assignment_id,
                    "case_id": case_id,
                    "unit_id": unit,
                    "unit_path": w["paths"][unit],
                    "role": role,
                    "active": active,
                    "dispatched_at": at,
                }
            )
        for at, action, unit, actor, changes, to in steps:
            seq += 1
            heapq.heappush(heap, (at, seq, case_id, action, unit, actor, changes, to))
    flush(None)
    with connection.cursor() as cur:
        for model in (Case, CaseAssignment, CaseStep):
            table = model._meta.db_table
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        cur.execute("ANALYZE")
    say(f"generated {n:,} cases and {written:,} steps in {time.perf_counter() - started:,.0f} s")
    return w


def _median_ms(fn: Callable[[], Any], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(cases: int, say: Say) -> dict[str, float | int | str]:
    if connection.vendor != "postgresql":
        raise RuntimeError("the measures benchmark needs PostgreSQL (DATABASE_URL=postgres://…)")
    if Case.objects.exists():
        raise RuntimeError("the measures benchmark needs an empty, migrated database of its own")
    figures: dict[str, float | int | str] = {"cases": cases}
    w = generate(cases, say)
    figures["steps"] = CaseStep.objects.count()
    started = time.perf_counter()
    report_ = fold(max_seconds=None)
    seconds = time.perf_counter() - started
    figures["fold_seconds"] = round(seconds, 1)
    figures["fold_steps_per_second"] = round(report_.steps / seconds)
    figures["rollup_rows"] = MeasureDay.objects.count()
    say(f"fold: {report_.steps:,} steps in {seconds:,.1f} s ({report_.steps / seconds:,.0f} steps/s)")
    say(f"rollup rows (units × days): {figures['rollup_rows']:,}")
    user: User = w["dispatcher"]
    sub: Unit = w["sub"]
    code = str(sub.code)
    for span, start, end in [
        ("30 days", date(2025, 12, 2), date(2025, 12, 31)),
        ("a year", date(2025, 1, 1), date(2025, 12, 31)),
    ]:

        def one(s: date = start, e: date = end) -> None:
            report(user, unit_code=code, start=s, end=e)

        ms = _median_ms(one)
        figures[f"report_ms_{span.replace(' ', '_')}"] = round(ms, 1)
        say(f"report(subdistrict + {COMMUNITIES} communities, {span}): median {ms:.1f} ms")

    def by_person() -> None:
        report(user, unit_code=code, start=date(2025, 1, 1), end=date(2025, 12, 31), by_person=True)

    ms = _median_ms(by_person)
    figures["report_ms_year_by_person"] = round(ms, 1)
    say(f"report(… a year, by person): median {ms:.1f} ms")
    # An increment: ratings of 1,000 cases closed long ago (each fold replays the whole timeline).
    closures = list(
        CaseStep.objects.filter(action="recheck", changes__passed=True)
        .order_by("?")
        .values_list("case_id", "at")[:1000]
    )
    with transaction.atomic():
        CaseStep.objects.bulk_create(
            CaseStep(
                case_id=case_id,
                action="rate",
                at=at + timedelta(days=2),
                to_status="closed",
                changes={"satisfaction": "satisfied", "resolved": True},
            )
            for case_id, at in closures
        )
    started = time.perf_counter()
    increment = fold(max_seconds=None)
    figures["fold_1000_ratings_ms"] = round((time.perf_counter() - started) * 1000, 1)
    say(f"fold of {increment.steps:,} new ratings: {figures['fold_1000_ratings_ms']} ms")
    figures["idle_fold_ms"] = round(_median_ms(lambda: fold(max_seconds=None), runs=5), 1)
    from django.test import Client

    token = create_token(user, name="bench")[1]
    client = Client()
    headers = {"Authorization": f"Bearer {token}"}
    query = {"unit": code, "from": "2025-01-01", "to": "2025-12-31"}
    assert client.get("/api/v1/measures", query, headers=headers).status_code == 200
    ms = _median_ms(lambda: client.get("/api/v1/measures", query, headers=headers))
    figures["api_ms_year"] = round(ms, 1)
    say(f"GET /api/v1/measures (a year, through Django and the token check): median {ms:.1f} ms")
    p = period(date(2025, 1, 1), date(2025, 12, 31))
    with connection.cursor() as cur:
        ids = [sub.pk, *Unit.objects.filter(parent=sub).values_list("pk", flat=True)]
        cur.execute(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT unit_id, sum(due), sum(closed) "
            f"FROM {MeasureDay._meta.db_table} "
            "WHERE unit_id = ANY(%s) AND day BETWEEN %s AND %s GROUP BY unit_id",
            [ids, p.start, p.end],
        )
        plan = "\n".join(r[0] for r in cur.fetchall())
    say(plan)
    figures["plan"] = plan.splitlines()[-1]
    return figures
