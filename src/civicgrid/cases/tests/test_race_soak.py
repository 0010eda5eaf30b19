"""Many people taking random steps on a few cases at once (PostgreSQL): whatever wins, every case's
record stays whole — each step starts from the status the previous one left, the case says what its
last step says, one lead at a time, the counters agree with the steps. test_races pins the single
races down; this looks for the ones nobody thought of."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from itertools import pairwise

import pytest
from django.db import connection

from civicgrid.cases import actions
from civicgrid.cases.models import Case, CaseAssignment, CaseStep, ExtensionRequest, ExtensionStatus
from civicgrid.core.errors import DomainError

ROUNDS = 60  # steps tried by each thread
THREADS = 4


def _steps(world) -> list[tuple[str, Callable[[str], object]]]:
    u, units = world.users, world.units
    return [
        ("register", lambda n: actions.register_case(n, by=u["staff_a1"])),
        ("whistle", lambda n: actions.whistle_case(n, by=u["staff_a1"], note="需要部门")),
        ("dispatch", lambda n: actions.dispatch_case(n, by=u["dispatcher_a"], lead_unit=units["dept_cg"])),
        (
            "dispatch with assistance",
            lambda n: actions.dispatch_case(
                n, by=u["dispatcher_a"], lead_unit=units["dept_sc"], assisting_units=[units["dept_cg"]]
            ),
        ),
        ("sign", lambda n: actions.sign_case(n, by=u["handler_cg"])),
        ("sign", lambda n: actions.sign_case(n, by=u["handler_sc"])),
        ("return", lambda n: actions.return_case(n, by=u["handler_cg"], reason_code="not_our_duty")),
        (
            "extension",
            lambda n: actions.request_extension(n, by=u["handler_cg"], working_days=2, reason="配件"),
        ),
        ("approve", lambda n: actions.approve_extension(n, by=u["dispatcher_a"])),
        ("deny", lambda n: actions.deny_extension(n, by=u["dispatcher_a"], reason="时限足够")),
        ("defer", lambda n: actions.defer_case(n, by=u["handler_cg"], reason="汛期后施工")),
        ("feedback", lambda n: actions.feedback_case(n, by=u["handler_cg"], result="已修复")),
        ("feedback", lambda n: actions.feedback_case(n, by=u["handler_sc"], result="已处理")),
        ("recheck", lambda n: actions.recheck_case(n, by=u["grid_a1"], passed=True)),
        ("rework", lambda n: actions.recheck_case(n, by=u["grid_a1"], passed=False, note="未修好")),
        ("rate", lambda n: actions.rate_case(n, by=u["staff_a1"], satisfaction="satisfied", resolved=True)),
        ("reopen", lambda n: actions.reopen_case(n, by=u["dispatcher_a"], reason="问题复发")),
        ("urge", lambda n: actions.urge_case(n, by=u["dispatcher_a"])),
        ("supervise", lambda n: actions.supervise_case(n, by=u["leader"], note="督办")),
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_random_steps_at_once_leave_every_case_whole():
    from civicgrid.cases.tests.factories import case_in_state, make_categories
    from civicgrid.testing import build_world

    world = build_world()
    make_categories(world)
    numbers = [case_in_state(world, "registered").number for _ in range(3)]
    steps = _steps(world)
    barrier = threading.Barrier(THREADS)
    taken: list[str] = []
    failures: list[BaseException] = []

    def run(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            barrier.wait()
            for _ in range(ROUNDS):
                name, step = rnd.choice(steps)
                try:
                    step(rnd.choice(numbers))
                    taken.append(name)
                except DomainError:  # refused: not now, not by this person; the record is unchanged
                    pass
        except BaseException as exc:  # anything else is a defect, reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[0]
    assert len(set(taken)) >= 8, taken  # the cases went round the lifecycle, not one step over and over

    for case in Case.objects.filter(number__in=numbers):
        story = list(CaseStep.objects.filter(case=case).order_by("id"))
        for before, after in pairwise(story):
            assert after.from_status == before.to_status, (case.number, before.action, after.action)
        assert case.status == story[-1].to_status, case.number
        leads = CaseAssignment.objects.filter(case=case, active=True, role="lead")
        assert leads.count() <= 1, case.number
        if leads:
            assert case.lead_unit_id == leads[0].unit_id, case.number
        actions_taken = [s.action for s in story]
        assert case.return_count == actions_taken.count("return")
        assert case.reopen_count == actions_taken.count("reopen")
        assert case.rework_count == sum(1 for s in story if s.action == "recheck" and s.to_status == "signed")
        approved = ExtensionRequest.objects.filter(case=case, status=ExtensionStatus.APPROVED).count()
        assert case.extension_count == approved
        assert ExtensionRequest.objects.filter(case=case, status=ExtensionStatus.PENDING).count() <= 1
