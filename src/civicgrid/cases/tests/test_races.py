"""Two people acting on one case at once: the row lock lets exactly one win (PostgreSQL)."""

import threading

import pytest
from django.db import connection

from civicgrid.cases import actions
from civicgrid.cases.models import Case, CaseAssignment, CaseStep
from civicgrid.core.errors import InvalidTransition
from civicgrid.people.actions import add_membership, create_user
from civicgrid.people.models import Role


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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_step_that_waited_for_the_lock_sees_what_the_holder_added():
    """The lock's read answers from the moment it began, before the lock was granted: an extension
    request made while feedback waited must still be withdrawn by it (a flag in that read had said
    there was none)."""
    import time

    from django.db import transaction

    from civicgrid.cases.models import ExtensionRequest
    from civicgrid.cases.tests.factories import case_in_state, make_categories
    from civicgrid.testing import build_world

    world = build_world()
    make_categories(world)
    case = case_in_state(world, "signed")
    handler = world.users["handler_cg"]
    done: list[str] = []

    def feedback() -> None:
        try:
            actions.feedback_case(case.number, by=handler, result="已修复")
            done.append("ok")
        except Exception as error:  # shown by the assertion below
            done.append(repr(error))
        finally:
            connection.close()

    with transaction.atomic():
        actions.request_extension(case.number, by=handler, working_days=2, reason="需要采购配件")
        waiting = threading.Thread(target=feedback)
        waiting.start()
        with connection.cursor() as cursor:
            for _ in range(200):  # until the feedback waits for the case's lock
                cursor.execute("SELECT pg_stat_clear_snapshot()")  # else read once per transaction
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.02)
            else:
                pytest.fail(f"the feedback never waited for the lock: {done}")
    waiting.join()
    assert done == ["ok"]
    assert Case.objects.get(pk=case.pk).status == "fed_back"
    assert list(ExtensionRequest.objects.filter(case_id=case.pk).values_list("status", flat=True)) == [
        "withdrawn"
    ]
