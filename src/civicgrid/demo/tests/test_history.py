"""The demo's year of cases keeps the lifecycle's invariants and coexists with new cases."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest
from django.db import transaction
from django.db.models import Sum

from civicgrid.cases import actions
from civicgrid.cases.measure_models import MeasureDay
from civicgrid.cases.measures.fold import fold
from civicgrid.cases.models import AssignmentRole, Case, CaseStep, ExtensionStatus, Status
from civicgrid.core.models import Unit, UnitKind
from civicgrid.demo.history import load_history
from civicgrid.demo.load import load_world
from civicgrid.people.models import User


@pytest.fixture(scope="module")
def history(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        load_world()
        made = load_history(days=40, per_weekday=20, seed=7)
        yield made
        transaction.set_rollback(True)


@pytest.fixture
def cases(history, db):
    return list(Case.objects.prefetch_related("steps", "assignments", "extension_requests"))


def test_loads_once(history, db):
    assert history > 300
    assert load_history(days=5) == 0  # never mixed into existing cases


def test_status_is_the_last_steps(cases):
    for case in cases:
        steps = sorted(case.steps.all(), key=lambda s: (s.at, s.pk))
        assert steps[0].action == "create" and steps[0].at == case.created_at
        assert steps[-1].to_status == case.status, case.number
        for before, after in pairwise(steps):
            assert before.to_status == after.from_status, (case.number, before.action, after.action)
            assert before.at <= after.at


def test_assignments_and_counters_agree_with_the_steps(cases):
    for case in cases:
        steps = Counter(s.action for s in case.steps.all())
        leads = [a for a in case.assignments.all() if a.active and a.role == AssignmentRole.LEAD]
        if case.status in {Status.DISPATCHED, Status.SIGNED, Status.FED_BACK, Status.CLOSED, Status.DEFERRED}:
            assert len(leads) == 1 and leads[0].unit_id == case.lead_unit_id, case.number
        failed = sum(1 for s in case.steps.all() if s.action == "recheck" and not s.changes.get("passed"))
        assert case.rework_count == failed
        assert case.reopen_count == steps["reopen"]
        assert case.return_count == steps["return"]
        approved = [e for e in case.extension_requests.all() if e.status == ExtensionStatus.APPROVED]
        assert case.extension_count == len(approved) == steps["approve_extension"]
        assert (case.closed_at is not None) == (case.status == Status.CLOSED)
        if case.due_at and case.dispatched_at:
            assert case.sign_by > case.dispatched_at and case.due_at > case.dispatched_at
        # The current round's times follow its dispatch (a reopening starts a round afresh).
        for moment in (case.signed_at, case.fed_back_at, case.closed_at):
            assert moment is None or case.dispatched_at is None or moment >= case.dispatched_at, case.number


def test_every_channel_and_type_has_cases(cases):
    from civicgrid.cases.models import CaseType, Channel

    assert {c.channel for c in cases} == set(Channel.values)
    assert {c.type for c in cases} == set(CaseType.values)


def test_inboxes_have_work_waiting(cases):
    statuses = Counter(c.status for c in cases)
    assert statuses[Status.CLOSED] > len(cases) * 0.7
    assert statuses[Status.RECEIVED] + statuses[Status.REGISTERED] + statuses[Status.SIGNED] > 0


def test_party_members_claimed_resident_requests_and_some_wait(cases):
    from civicgrid.cases import queries

    member = User.objects.get(username="member1")
    claimed = [c for c in cases if c.claimed_by_id == member.pk]
    assert claimed and all(c.lead_unit_id == c.community_id for c in claimed)
    for case in claimed:
        steps = [s.action for s in sorted(case.steps.all(), key=lambda s: (s.at, s.pk))]
        assert steps[steps.index("offer") + 1] == "claim", case.number
        lead = next(a for a in case.assignments.all() if a.active and a.role == AssignmentRole.LEAD)
        assert lead.signed_by_id == member.pk
    assert queries.to_claim(member).exists()  # this week's offers still wait


def test_a_new_case_today_takes_the_next_number(cases):
    staff = User.objects.get(username="community1")
    new = actions.create_case(by=staff, description="演示历史之后新建的工单", title="新工单")
    assert new.number not in {c.number for c in cases}
    assert CaseStep.objects.filter(case=new).count() == 1


def test_history_case_reads_through_the_api(cases, client):
    from civicgrid.people.actions import create_token

    closed = next(c for c in cases if c.status == Status.CLOSED and c.lead_unit_id)
    token = create_token(User.objects.get(username="dispatcher1"))[1]
    response = client.get(f"/api/v1/cases/{closed.number}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "closed" and body["timeline"][0]["action"] == "create"


def test_steps_record_changes_as_the_actions_do_so_the_measures_count_them(history, db):
    dispatch = CaseStep.objects.filter(action="dispatch").first()
    assert dispatch is not None
    for name in ("lead_unit_id", "sign_by", "due_at", "dispatched_at"):
        assert isinstance(dispatch.changes[name], list) and len(dispatch.changes[name]) == 2, name
    assert "status" not in dispatch.changes and "lead_unit" in dispatch.changes
    fold(max_seconds=None)
    unit = Unit.objects.get(kind=UnitKind.SUBDISTRICT)
    totals = MeasureDay.objects.filter(unit=unit).aggregate(
        **{
            name: Sum(name)
            for name in ("signed", "signed_in_time", "closed", "closed_on_time", "rated", "resolved")
        }
    )
    # The history's odds: nine in ten sign in time, most close in time, most ratings say resolved.
    assert totals["signed_in_time"] > 0.7 * totals["signed"], totals
    assert totals["closed_on_time"] > 0.6 * totals["closed"], totals
    assert totals["resolved"] > 0.7 * totals["rated"], totals


def test_open_rounds_carry_the_cards_the_worker_would_have_given(history, db):
    """An open case past its deadline is red with its red step, as the worker leaves it: the measures
    count the round due by that step, and the worker skips a case already red."""
    from django.db.models import Max

    from civicgrid.cases.jobs import sweep_red
    from civicgrid.cases.models import CLOCK_STATUSES, WarnLevel

    # Overdue when the history stopped: before its last step (the module's tests run minutes later,
    # when more of its open cases have passed their deadline).
    stopped = CaseStep.objects.aggregate(last=Max("at"))["last"]
    overdue = list(Case.objects.filter(status__in=CLOCK_STATUSES, due_at__lte=stopped))
    assert len(overdue) >= 3
    for case in overdue:
        red = list(case.steps.filter(action="red"))
        assert case.warn_level == WarnLevel.RED and len(red) == 1, case.number
        assert red[0].at >= case.due_at and red[0].changes["warn_level"][1] == WarnLevel.RED
    assert sweep_red(stopped) == 0
