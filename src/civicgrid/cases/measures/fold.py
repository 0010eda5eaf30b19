"""Folding the timeline into the daily rollups (MeasureDay, PersonMeasureDay).

The CaseStep rows are the source of truth. A periodic job (cases.jobs) reads the steps it has not
folded yet, in id order, replays each touched case's timeline from its first step to know the state
each new step acted on (deadlines, lead unit, the current handling round), and adds what the new steps
mean to one row per (unit, day) and (person, day). docs/measures.md defines every count.

Exactly once: the rollups and the cursor change in one transaction, under a row lock on the cursor
and a compare-and-set of its version, so a fold that crashed changed nothing and two folds never add
the same step twice. Ids are not committed in order on PostgreSQL (a transaction that took id 100 can
commit after one that took 101), so ids below the high-water mark that were not visible yet are kept
as gaps and folded when they appear (forgotten after GAP_SECONDS: a rolled-back step never appears).
Steps of one case are written under that case's row lock, so they become visible in id order and a
case's replay never misses an earlier step.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from civicgrid.cases.measure_models import SUM_COLUMNS, MeasureCursor, MeasureDay, PersonMeasureDay
from civicgrid.cases.measures import buckets
from civicgrid.cases.models import (
    CaseAssignment,
    CaseStep,
    Satisfaction,
    Status,
    StepAction,
)
from civicgrid.core.models import Unit, path_ids

logger = logging.getLogger(__name__)

CURSOR = "measures"
BATCH = 5000
# A step id still invisible this long after a later id was folded belongs to a rolled-back transaction.
GAP_SECONDS = 3600
MAX_GAPS = 10_000

# Case fields the replay follows, read from each step's `changes` ([before, after] pairs).
_DATETIME_FIELDS = ("sign_by", "due_at", "fed_back_at")
_ENDING = {Status.RETURNED, Status.REJECTED, Status.MERGED}


class ConcurrentFold(RuntimeError):
    """Another fold moved the cursor while this one ran; this one rolls back."""


@dataclass
class Round:
    """One handling round: from a dispatch (or reopening) to its closure, return or merge."""

    dispatched_at: datetime
    lead_id: int | None
    # Where the handling clock started: the dispatch, or a resumption (恢复办理) after a deferral.
    started_at: datetime | None = None
    deferred: bool = False
    extended: bool = False
    reworked: bool = False
    handler_id: int | None = None
    due_day: date | None = None
    counted_deferred: bool = False
    counted_extended: bool = False
    ended: bool = False


@dataclass
class Facts:
    """What a batch adds: unit facts keyed by (territory path, unit id), person facts by user id."""

    units: dict[tuple[str, int | None, date], Counter] = field(default_factory=lambda: defaultdict(Counter))
    people: dict[tuple[int, date], Counter] = field(default_factory=lambda: defaultdict(Counter))

    def unit(self, territory: str, unit_id: int | None, day: date, **counts: int) -> None:
        self.units[(territory, unit_id, day)].update(counts)

    def person(self, user_id: int | None, day: date, **counts: int) -> None:
        if user_id is not None:
            self.people[(user_id, day)].update(counts)


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment, timezone.get_default_timezone()).date()


def _parse(name: str, value: Any) -> Any:
    if name in _DATETIME_FIELDS and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _changed(changes: dict[str, Any], name: str) -> tuple[bool, Any]:
    """(True, new value) when the step changed the field; extras that are not pairs are skipped."""
    value = changes.get(name)
    if isinstance(value, list) and len(value) == 2:
        return True, _parse(name, value[1])
    return False, None


class CaseReplay:
    """The state of one case as its steps are replayed in order; `facts` collects the new steps' counts."""

    def __init__(self, territory: str, assignments: dict[datetime, list[int]], facts: Facts) -> None:
        self.territory = territory
        self.assignments = assignments
        self.facts = facts
        self.fields: dict[str, Any] = {
            "sign_by": None,
            "due_at": None,
            "fed_back_at": None,
            "lead_unit_id": None,
        }
        self.round: Round | None = None

    def step(self, s: dict[str, Any], new: bool) -> None:
        changes = s["changes"] or {}
        for name in self.fields:
            hit, value = _changed(changes, name)
            if hit:
                self.fields[name] = value
        handler = getattr(self, f"_on_{s['action']}", None)
        if handler is not None:
            handler(s, changes, new)
        if self.round is not None and s["to_status"] in _ENDING:
            self.round.ended = True

    # -- events -------------------------------------------------------------------------------------

    def _on_dispatch(self, s: dict[str, Any], changes: dict[str, Any], new: bool) -> None:
        at, lead = s["at"], self.fields["lead_unit_id"]
        self.round = Round(dispatched_at=at, lead_id=lead)
        if not new:
            return
        day = local_day(at)
        units = self.assignments.get(at) or ([lead] if lead else [])
        for unit_id in units:
            self.facts.unit(self.territory, unit_id, day, orders=1)
        self.facts.unit(self.territory, lead, day, rounds=1)

    _on_reopen = _on_dispatch

    def _on_claim(self, s: dict[str, Any], changes: dict[str, Any], new: bool) -> None:
        """A Party member's claim (actions/party.py): the round's dispatch and the lead's sign-for."""
        self._on_dispatch(s, changes, new)
        self._on_sign(s, changes, new)

    def _on_sign(self, s: dict[str, Any], changes: dict[str, Any], new: bool) -> None:
        r = self.round
        if r is None or r.ended or not new:
            return
        sign_by = self.fields["sign_by"]
        in_time = int(sign_by is not None and s["at"] <= sign_by)
        day = local_day(r.dispatched_at)
        self.facts.unit(self.territory, s["unit_id"], day, signed=1, signed_in_time=in_time)
        self.facts.person(s["actor_id"], day, signed=1, signed_in_time=in_time)

    def _on_return(self, s: dict[str, Any], changes: dict[str, Any], new: bool) -> None:
        r = self.round
        if r is None or r.ended:
            return
        r.ended = True
        if new:
            self.facts.unit(self.territory, r.lead_id, local_day(r.dispatched_at), returned=1)

    def _on_approve_extension(self, s: dict[str, Any], changes: dict[str, Any], new: bool) -> None:
        r = self.round
        if r is None or r.ended:
            return
        r.extended = True
        if r.due_day is not None and not r.counted_extended:
            r.counted_extended = True
            if new:
                self.facts.unit(self.territory, r.lead_id, r.due_day, extended=1)

    def _on_defer(self, s: dict[str, Any], changes: dict[str, Any], new: bool) -> None:
        r = self.round
        if r is None or r.ended:
            return
        r.deferred = True
        if r.due_day is not None and not r.counted_deferred:
            r.counted_deferred = True
            if new:
                self.facts.unit(self.territory, r.lead_id, r.due_day, deferred=1)

    def _on_resume(self, s: dict[str, Any], changes: dict[str, Any], new: bool) -> None:
        """Back on the clock with a fresh deadline: the round counts in the rates again, its handling
        time from here, unless it was already counted as due and deferred (red before the deferral)."""
        r = self.round
        if r is not None and not r.ended and r.due_day is None:
            r.deferred = False
            r.started_at = s["at"]

    def _on_feedback(self, s: dict[str, Any], changes: dict[str, Any], new: bool) -> None:
        if self.round is not None and not self.round.ended:
            self.round.handler_id = s["actor_id"]

    def _count_due(self, r: Round, day: date, new: bool) -> None:
        r.due_day = day
        r.counted_deferred, r.counted_extended = r.deferred, r.extended
        if new:
            self.facts.unit(
                self.territory, r.lead_id, day, due=1, deferred=int(r.deferred), extended=int(r.extended)
            )

    def _on_red(self, s: dict[str, Any], changes: dict[str, Any], new: bool) -> None:
        r, due_at = self.round, self.fields["due_at"]
        if r is None or r.ended or r.due_day is not None or due_at is None:
            return
        self._count_due(r, local_day(due_at), new)

    def _on_recheck(self, s: dict[str, Any], changes: dict[str, Any], new: bool) -> None:
        r = self.round
        if r is None or r.ended:
            return
        if not changes.get("passed"):
            r.reworked = True
            return
        closed_at, due_at, fed_back_at = s["at"], self.fields["due_at"], self.fields["fed_back_at"]
        if r.due_day is None:
            self._count_due(r, local_day(min(due_at, closed_at) if due_at else closed_at), new)
        r.ended = True
        if r.deferred or not new:
            return
        assert r.due_day is not None
        on_time = int(due_at is not None and fed_back_at is not None and fed_back_at <= due_at)
        started = r.started_at or r.dispatched_at
        seconds = max(0, round(((fed_back_at or closed_at) - started).total_seconds()))
        counts = {
            "closed": 1,
            "closed_on_time": on_time,
            "reworked": int(r.reworked),
            "handling_seconds": seconds,
            f"h{buckets.bucket(seconds):02d}": 1,
        }
        self.facts.unit(self.territory, r.lead_id, r.due_day, **counts)
        self.facts.person(r.handler_id, r.due_day, **counts)

    def _on_rate(self, s: dict[str, Any], changes: dict[str, Any], new: bool) -> None:
        r = self.round
        if r is None or not new:
            return
        satisfaction = changes.get("satisfaction")
        if isinstance(satisfaction, list):
            satisfaction = satisfaction[1] if len(satisfaction) == 2 else ""
        resolved = changes.get("resolved")
        if isinstance(resolved, list):
            resolved = resolved[1] if len(resolved) == 2 else None
        counts = {
            "rated": 1,
            "satisfied": int(satisfaction == Satisfaction.SATISFIED),
            "basically_satisfied": int(satisfaction == Satisfaction.BASICALLY_SATISFIED),
            "dissatisfied": int(satisfaction == Satisfaction.DISSATISFIED),
            "resolved": int(resolved is True),
        }
        day = local_day(s["at"])
        self.facts.unit(self.territory, r.lead_id, day, **counts)
        self.facts.person(r.handler_id, day, **counts)


# -- reading a batch ------------------------------------------------------------------------------

_STEP_FIELDS = ("id", "case_id", "action", "at", "unit_id", "actor_id", "changes", "to_status")
_ROUND_STARTS = (StepAction.DISPATCH, StepAction.REOPEN, StepAction.CLAIM)


def facts_for(new_ids: set[int], case_ids: Iterable[int], upto: int) -> Facts:
    """Replays the cases' steps up to id `upto`, collecting the facts of the steps in `new_ids`."""
    from civicgrid.cases.models import Case

    case_ids = sorted(set(case_ids))
    territories = dict(Case.objects.filter(pk__in=case_ids).values_list("pk", "territory_path"))
    steps = (
        CaseStep.objects.filter(case_id__in=case_ids, pk__lte=upto)
        .order_by("case_id", "pk")
        .values(*_STEP_FIELDS)
    )
    dispatched: dict[int, set[datetime]] = defaultdict(set)
    by_case: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for s in steps:
        by_case[s["case_id"]].append(s)
        if s["action"] in _ROUND_STARTS and s["id"] in new_ids:
            dispatched[s["case_id"]].add(s["at"])
    rounds: dict[int, dict[datetime, list[int]]] = defaultdict(lambda: defaultdict(list))
    if dispatched:
        rows = (
            CaseAssignment.objects.filter(case_id__in=list(dispatched))
            .order_by("case_id", "-role", "id")  # lead before assist
            .values_list("case_id", "dispatched_at", "unit_id")
        )
        for case_id, at, unit_id in rows:
            if at in dispatched[case_id]:
                rounds[case_id][at].append(unit_id)
    facts = Facts()
    for case_id, case_steps in by_case.items():
        replay = CaseReplay(territories.get(case_id, ""), rounds.get(case_id, {}), facts)
        for s in case_steps:
            replay.step(s, s["id"] in new_ids)
    return facts


# -- writing --------------------------------------------------------------------------------------


def unit_rows(facts: Facts) -> dict[tuple[int, date], Counter]:
    """Unit facts spread over the territory's chain and the acting unit's chain, each unit once."""
    wanted = {unit_id for _t, unit_id, _d in facts.units if unit_id is not None}
    paths = dict(Unit.objects.filter(pk__in=wanted).values_list("pk", "path")) if wanted else {}
    rows: dict[tuple[int, date], Counter] = defaultdict(Counter)
    for (territory, unit_id, day), counts in facts.units.items():
        chain = set(path_ids(territory))
        if unit_id is not None:
            chain.update(path_ids(paths.get(unit_id, "")) or [unit_id])
        for target in chain:
            rows[(target, day)].update(counts)
    return rows


def _upsert(model: type[models.Model], key: str, rows: dict[tuple[int, date], Counter]) -> None:
    """Adds the counts to the rows, inserting missing ones (INSERT … ON CONFLICT DO UPDATE).

    On PostgreSQL the whole batch is one statement reading a JSON array of the non-zero counts; on
    SQLite (in process, no network) one statement per row.
    """
    if not rows:
        return
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    columns = [f"{key}_id", "day", *SUM_COLUMNS]
    names = ", ".join(qn(c) for c in columns)
    conflict = f"ON CONFLICT ({qn(key + '_id')}, {qn('day')}) DO UPDATE SET " + ", ".join(
        f"{qn(c)} = {table}.{qn(c)} + EXCLUDED.{qn(c)}" for c in SUM_COLUMNS
    )
    items = sorted(rows.items())
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # One JSON parameter with only the non-zero counts: cheap to send, unpacked by the server.
            payload = json.dumps(
                [
                    {"o": owner, "d": day.isoformat(), **{c: v for c, v in counts.items() if v}}
                    for (owner, day), counts in items
                ]
            )
            shape = ", ".join(["o bigint", "d date", *(f"{qn(c)} bigint" for c in SUM_COLUMNS)])
            values = ", ".join(["x.o", "x.d", *(f"COALESCE(x.{qn(c)}, 0)" for c in SUM_COLUMNS)])
            cur.execute(
                f"INSERT INTO {table} ({names}) SELECT {values} "
                f"FROM jsonb_to_recordset(%s::jsonb) AS x({shape}) {conflict}",
                [payload],
            )
            return
        cur.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))}) {conflict}",
            [
                [owner, connection.ops.adapt_datefield_value(day), *(counts.get(c, 0) for c in SUM_COLUMNS)]
                for (owner, day), counts in items
            ],
        )


# -- the cursor -----------------------------------------------------------------------------------


@dataclass
class FoldReport:
    steps: int = 0
    batches: int = 0
    gaps: int = 0
    seconds: float = 0.0


def _missing(old_high: int, seen: list[int]) -> list[int]:
    """Ids above old_high and below the highest seen one that were not seen (at most MAX_GAPS)."""
    out: list[int] = []
    previous = old_high
    for pk in seen:
        if pk > previous + 1:
            out.extend(range(max(previous + 1, pk - MAX_GAPS), pk))
        previous = max(previous, pk)
    return out[-MAX_GAPS:]


def fold_batch(batch_size: int = BATCH) -> tuple[int, int]:
    """Folds up to `batch_size` new steps in one transaction; returns (steps folded, open gaps)."""
    MeasureCursor.objects.get_or_create(name=CURSOR)
    with transaction.atomic():
        cursor = MeasureCursor.objects.select_for_update().get(name=CURSOR)
        now = timezone.now()
        gaps = {int(k): v for k, v in (cursor.gaps or {}).items()}
        if cursor.high == 0 and not gaps:
            # A fresh start reads from the first step there is, not from id 1: ids below it are not gaps.
            first = CaseStep.objects.order_by("pk").values_list("pk", flat=True).first()
            cursor.high = max(0, (first or 1) - 1)
        wanted = Q(pk__gt=cursor.high)
        if gaps:
            wanted |= Q(pk__in=list(gaps))
        batch = list(CaseStep.objects.filter(wanted).order_by("pk").values_list("pk", "case_id")[:batch_size])
        expired = [
            pk
            for pk, first in gaps.items()
            if now - datetime.fromisoformat(first) > timedelta(seconds=GAP_SECONDS)
        ]
        if not batch and not expired:
            return 0, len(gaps)
        new_ids = {pk for pk, _case in batch}
        high = max([cursor.high, *new_ids])
        if batch:
            facts = facts_for(new_ids, (case_id for _pk, case_id in batch), high)
            _upsert(MeasureDay, "unit", unit_rows(facts))
            _upsert(PersonMeasureDay, "user", facts.people)
        for pk in new_ids:
            gaps.pop(pk, None)
        for pk in expired:
            if gaps.pop(pk, None) is not None:
                logger.info("measures: step id %s never appeared; assuming its transaction rolled back", pk)
        stamp = now.isoformat()
        above = sorted(pk for pk in new_ids if pk > cursor.high)
        for pk in _missing(cursor.high, above):
            gaps.setdefault(pk, stamp)
        if len(gaps) > MAX_GAPS:
            logger.warning("measures: %s unseen step ids; keeping the newest %s", len(gaps), MAX_GAPS)
            gaps = dict(sorted(gaps.items())[-MAX_GAPS:])
        moved = MeasureCursor.objects.filter(name=CURSOR, version=cursor.version).update(
            high=high,
            gaps={str(k): v for k, v in sorted(gaps.items())},
            folded=F("folded") + len(new_ids),
            version=cursor.version + 1,
            updated_at=now,
        )
        if moved != 1:
            raise ConcurrentFold("the measures cursor moved during the fold")
        return len(new_ids), len(gaps)


def fold(*, batch_size: int = BATCH, max_seconds: float | None = 50.0) -> FoldReport:
    """Folds new steps batch by batch until none is left or `max_seconds` have passed."""
    report = FoldReport()
    started = time.monotonic()
    while True:
        steps, gaps = fold_batch(batch_size)
        report.steps += steps
        report.gaps = gaps
        report.batches += 1 if steps else 0
        if steps < batch_size or (max_seconds is not None and time.monotonic() - started > max_seconds):
            break
    report.seconds = time.monotonic() - started
    return report


def rebuild(*, batch_size: int = BATCH) -> FoldReport:
    """Forgets every rollup and folds the whole timeline again (after a change of definitions)."""
    with transaction.atomic():
        MeasureCursor.objects.select_for_update().filter(name=CURSOR).first()
        MeasureDay.objects.all().delete()
        PersonMeasureDay.objects.all().delete()
        MeasureCursor.objects.get_or_create(name=CURSOR)
        MeasureCursor.objects.filter(name=CURSOR).update(
            high=0, gaps={}, folded=0, version=F("version") + 1, updated_at=timezone.now()
        )
    return fold(batch_size=batch_size, max_seconds=None)
