"""Two people acting on one case at once: the row lock lets exactly one win (PostgreSQL)."""

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection

from civicgrid.cases import actions
from civicgrid.cases.models import Case, CaseAssignment, CaseStep
from civicgrid.core.errors import InvalidTransition
from civicgrid.people.actions import add_membership, create_user
from civicgrid.people.models import Role


def _until_waiting_for_a_lock(done: list[str]) -> None:
    """Returns once another connection waits for a lock (the step under test, in its thread)."""
    with connection.cursor() as cursor:
        for _ in range(200):
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else read once per transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    pytest.fail(f"the step never waited for the lock: {done}")


def _race(world, case, steps):
    barrier = threading.Barrier(len(steps))
    results: list[str] = []

    def run(step):
        try:
            barrier.wait()
            step(case.number)
            results.append("ok")
        except InvalidTransition:
            results.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(s,)) for s in steps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(results)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_racing_one_wins():
    from civicgrid.cases.tests.factories import case_in_state, make_categories
    from civicgrid.testing import build_world

    world = build_world()
    make_categories(world)
    second = create_user(username="dispatcher_a2", password=None)
    add_membership(second, world.units["sub_a"], Role.DISPATCHER)
    case = case_in_state(world, "registered")
    first = world.users["dispatcher_a"]
    results = _race(
        world,
        case,
        [
            lambda n: actions.dispatch_case(n, by=first, lead_unit=world.units["dept_cg"]),
            lambda n: actions.dispatch_case(n, by=second, lead_unit=world.units["dept_sc"]),
        ],
    )
    assert results == ["conflict", "ok"]
    row = Case.objects.get(pk=case.pk)
    assert row.status == "dispatched"
    assert CaseAssignment.objects.filter(case=row, active=True).count() == 1
    assert CaseStep.objects.filter(case=row, action="dispatch").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sign_and_return_racing_one_wins():
    from civicgrid.cases.tests.factories import case_in_state, make_categories
    from civicgrid.testing import build_world

    world = build_world()
    make_categories(world)
    other = create_user(username="handler_cg2", password=None)
    add_membership(other, world.units["dept_cg"], Role.DEPARTMENT_HANDLER)
    case = case_in_state(world, "dispatched")
    handler = world.users["handler_cg"]
    results = _race(
        world,
        case,
        [
            lambda n: actions.sign_case(n, by=handler),
            lambda n: actions.sign_case(n, by=other),
        ],
    )
    assert results == ["conflict", "ok"]
    assert CaseStep.objects.filter(case_id=case.pk, action="sign").count() == 1


def _waiting_on(hold: Callable[[], object], step: Callable[[], object]) -> list[object]:
    """Runs `step` in a thread while `hold` has taken the case's lock in a transaction; once the step
    waits for the lock, the holder commits. Returns what the step returned, or "conflict", or the
    error it raised."""
    from django.db import transaction

    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(step())
        except InvalidTransition:
            outcome.append("conflict")
        except Exception as error:  # shown by the caller's assertion
            outcome.append(repr(error))
        finally:
            connection.close()

    with transaction.atomic():
        hold()
        waiting = threading.Thread(target=run)
        waiting.start()
        _until_waiting_for_a_lock(outcome)
    waiting.join()
    return outcome


def _case(world, state: str) -> Case:
    from civicgrid.cases.tests.factories import case_in_state, make_categories

    make_categories(world)
    return case_in_state(world, state)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_step_that_waited_for_the_lock_sees_what_the_holder_added():
    """The lock's read answers from the moment it began, before the lock was granted: an extension
    request made while feedback waited must still be withdrawn by it (a flag in that read had said
    there was none)."""
    from civicgrid.cases.models import ExtensionRequest
    from civicgrid.testing import build_world

    world = build_world()
    case, handler = _case(world, "signed"), world.users["handler_cg"]
    [reply] = _waiting_on(
        lambda: actions.request_extension(case.number, by=handler, working_days=2, reason="需要采购配件"),
        lambda: actions.feedback_case(case.number, by=handler, result="已修复"),
    )
    assert isinstance(reply, Case), reply
    assert Case.objects.get(pk=case.pk).status == "fed_back"
    assert list(ExtensionRequest.objects.filter(case_id=case.pk).values_list("status", flat=True)) == [
        "withdrawn"
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_step_that_waited_for_the_lock_reads_the_case_as_the_holder_left_it():
    """The lock's read brings the assignments and the timeline with the case row; a step that waited
    for a holder who signed the case must decide on, and reply with, the signed assignment and the
    holder's step, not the ones its read began with."""
    from civicgrid.testing import build_world

    world = build_world()
    case, handler = _case(world, "dispatched"), world.users["handler_cg"]
    [reply] = _waiting_on(
        lambda: actions.sign_case(case.number, by=handler),
        lambda: actions.feedback_case(case.number, by=handler, result="已修复"),
    )
    assert isinstance(reply, Case), reply
    assert reply.status == "fed_back"
    lead = reply.active_assignments[0]
    assert lead.role == "lead" and lead.signed_at is not None
    assert [s.action for s in reply.held_steps][-2:] == ["sign", "feedback"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_lock_read_tells_a_wait_for_a_holder_that_changed_the_case():
    """`lock_waited` is what case_for_update re-reads on: false without a wait, true after waiting
    for a holder who wrote the case row."""
    from django.db import transaction

    from civicgrid.cases import queries
    from civicgrid.testing import build_world

    world = build_world()
    case = _case(world, "dispatched")

    def locked_read() -> bool:
        with transaction.atomic():
            return queries._case_by_number(case.number, lock=True).lock_waited

    assert locked_read() is False
    waited = _waiting_on(
        lambda: actions.urge_case(case.number, by=world.users["dispatcher_a"], note="请尽快签收"), locked_read
    )
    assert waited == [True]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_step_that_changes_no_field_of_the_case_still_tells_a_waiting_step():
    """An assisting unit's signature changes its assignment and no field of the case; the step still
    writes the case row, so a second handler of that unit who waited sees the signature and is
    refused, instead of signing again on the assignment its read began with."""
    from civicgrid.testing import build_world

    world = build_world()
    other = create_user(username="handler_sc2", password=None)
    add_membership(other, world.units["dept_sc"], Role.DEPARTMENT_HANDLER)
    case = _case(world, "dispatched")
    outcome = _waiting_on(
        lambda: actions.sign_case(case.number, by=world.users["handler_sc"]),
        lambda: actions.sign_case(case.number, by=other),
    )
    assert outcome == ["conflict"]
    assert CaseStep.objects.filter(case_id=case.pk, action="sign").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_step_that_waited_for_photos_being_added_replies_with_them():
    """Adding photos writes the case row too, so a step that waited for it knows the case has some."""
    from civicgrid.cases.tests.test_photos import png
    from civicgrid.testing import build_world

    world = build_world()
    case = _case(world, "signed")
    [reply] = _waiting_on(
        lambda: actions.add_photos(case.number, by=world.users["handler_cg"], files=[("a.png", png())]),
        lambda: actions.urge_case(case.number, by=world.users["dispatcher_a"], note="请加快"),
    )
    assert isinstance(reply, Case), reply
    assert reply.has_photos is True


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_worker_waiting_on_a_dispatchers_resumption_resumes_nothing():
    from django.utils import timezone

    from civicgrid.cases.actions.supervision import resume_deferred
    from civicgrid.testing import build_world

    world = build_world()
    case = _case(world, "deferred")
    Case.objects.filter(pk=case.pk).update(resume_on=timezone.localdate())  # its day has come
    dispatcher = world.users["dispatcher_a"]
    outcome = _waiting_on(
        lambda: actions.resume_case(case.number, by=dispatcher, note="资金已到位"),
        lambda: resume_deferred(case.number, day=timezone.localdate(), now=timezone.now()),
    )
    assert outcome == [False]
    assert list(
        CaseStep.objects.filter(case_id=case.pk, action="resume").values_list("actor", flat=True)
    ) == [dispatcher.pk]
