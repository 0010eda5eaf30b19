"""Case numbers, the append-only timeline and the side-effect hook."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction

from civicgrid.cases import effects
from civicgrid.cases.models import CaseStep
from civicgrid.cases.tests.factories import case_in_state, file_case

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.django_db
def test_numbers_follow_the_local_day(world, cats):
    # 23:30 on 26 November in Shanghai is already the 27th's number: the day is the local one.
    with time_machine.travel(datetime(2026, 11, 26, 23, 30, tzinfo=SH), tick=False):
        first = file_case(world).number
        second = file_case(world).number
    with time_machine.travel(datetime(2026, 11, 27, 0, 5, tzinfo=SH), tick=False):
        third = file_case(world).number
    assert (first, second, third) == ("CG20261126-0001", "CG20261126-0002", "CG20261127-0001")
    assert re.fullmatch(r"CG\d{8}-\d{4}", first)


@pytest.mark.django_db
def test_steps_are_append_only(world, cats):
    step = CaseStep.objects.filter(case=file_case(world)).get()
    step.note = "changed"
    with pytest.raises(ValueError):
        step.save()
    with pytest.raises(ValueError):
        step.delete()


@pytest.mark.django_db
def test_after_step_hook_runs_inside_the_transaction(world, cats, monkeypatch):
    seen = []

    def hook(caused, case, step):
        seen.append((step.action, transaction.get_connection().in_atomic_block, step.pk is not None))

    monkeypatch.setattr(effects.Caused, "written", hook)
    case_in_state(world, "signed")
    assert [s[0] for s in seen] == ["create", "register", "dispatch", "sign"]
    assert all(inside and saved for _, inside, saved in seen)


@pytest.mark.django_db
def test_steps_record_changed_fields_without_the_reporter(world, cats):
    case = case_in_state(world, "signed")
    steps = {s.action: s for s in CaseStep.objects.filter(case=case)}
    dispatch = steps["dispatch"]
    assert (dispatch.from_status, dispatch.to_status) == ("registered", "dispatched")
    assert dispatch.actor == world.users["dispatcher_a"] and dispatch.unit == world.units["sub_a"]
    assert {"sign_by", "due_at", "lead_unit_id"} <= set(dispatch.changes)
    assert dispatch.changes["lead_unit"] == "D-CG"
    assert steps["sign"].unit == world.units["dept_cg"]
    assert "13812345678" not in str([s.changes for s in steps.values()])


@pytest.mark.django_db
def test_a_rolled_back_case_gives_its_number_back(world, cats):
    from civicgrid.cases.numbering import next_number

    at = datetime(2026, 11, 27, 9, 0, tzinfo=SH)
    with transaction.atomic():
        assert next_number(at) == "CG20261127-0001"
    try:
        with transaction.atomic():
            assert next_number(at) == "CG20261127-0002"
            raise RuntimeError("the case failed to save")
    except RuntimeError:
        pass
    with transaction.atomic():
        assert next_number(at) == "CG20261127-0002"


def test_numbers_are_taken_only_inside_a_transaction():
    from civicgrid.cases.numbering import next_number

    with pytest.raises(RuntimeError):
        next_number()
