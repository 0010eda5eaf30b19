"""The decision: sure → the system registers and dispatches with its scores; unsure → waits with three."""

from __future__ import annotations

import pytest

from civicgrid.cases import schemas
from civicgrid.cases.models import Case, CaseStep, Channel, Status, StepAction
from civicgrid.routing import engine, registry
from civicgrid.routing.models import KeywordRule, RoutingSuggestion, Source, UnitRule
from civicgrid.routing.tests.factories import GARBAGE_SURE, GARBAGE_UNSURE, file_case, model

pytestmark = pytest.mark.django_db


def steps(case: Case) -> list[CaseStep]:
    return list(case.steps.order_by("at", "id"))


def test_a_sure_case_is_registered_and_dispatched_by_the_system_with_its_scores(world, cats):
    with model(GARBAGE_SURE, version=4):
        case = file_case(world)
    assert case.status == Status.DISPATCHED
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED
    assert case.category == cats["garbage"]
    assert case.lead_unit == world.units["dept_cg"]
    assert case.registered_at is not None and case.due_at is not None
    create, dispatch = steps(case)
    assert (create.action, dispatch.action) == ("create", "dispatch")
    assert (dispatch.from_status, dispatch.to_status) == ("received", "dispatched")
    assert dispatch.changes["registered_at"][0] is None and dispatch.changes["registered_at"][1]
    assert dispatch.actor is None
    assert dispatch.changes["automatic"] is True
    assert dispatch.changes["source"] == Source.MODEL
    assert dispatch.changes["model_version"] == 4
    assert [s["category"] for s in dispatch.changes["scores"]] == ["CS01", "CS02", "SZ01"]
    assert dispatch.changes["scores"][0]["score"] == pytest.approx(0.97)
    assert dispatch.changes["category_id"] == [None, cats["garbage"].pk]
    assert "系统自动立案并派遣" in dispatch.note and "97%" in dispatch.note and "阈值 90%" in dispatch.note
    assert case.assignments.get(active=True).unit == world.units["dept_cg"]
    s = RoutingSuggestion.objects.get(case=case)
    assert s.decided_automatically and s.model_version == 4 and s.wait_reason == ""
    assert s.lead_unit == world.units["dept_cg"] and s.place == world.units["grid_a1"]


def test_the_timeline_names_the_system_and_shows_the_scores(world, cats):
    with model(GARBAGE_SURE):
        case = file_case(world)
    detail = schemas.case_detail(Case.objects.get(pk=case.pk), world.users["dispatcher_a"])
    dispatch = next(s for s in detail["timeline"] if s["action"] == "dispatch")
    assert dispatch["actor"] == "系统"
    assert "垃圾清运 97%" in dispatch["note"]


def test_an_unsure_case_waits_for_a_dispatcher_with_the_top_three(world, cats):
    with model(GARBAGE_UNSURE):
        case = file_case(world)
    case.refresh_from_db()
    assert case.status == Status.RECEIVED
    assert case.category is None and case.lead_unit is None
    assert [s.action for s in steps(case)] == ["create"]
    s = RoutingSuggestion.objects.get(case=case)
    assert not s.decided_automatically
    assert [row["category"] for row in s.scores] == ["CS01", "CS02", "SZ01"]
    assert [row["score"] for row in s.scores] == [0.55, 0.3, 0.1]
    assert s.category == cats["garbage"] and s.lead_unit == world.units["dept_cg"]
    assert "低于阈值" in s.wait_reason


def test_without_a_model_rules_suggest_and_every_case_waits(world, cats):
    KeywordRule.objects.create(phrase="垃圾", category=cats["garbage"])
    with registry.pinned(None):
        case = file_case(world)
    case.refresh_from_db()
    assert case.status == Status.RECEIVED
    s = RoutingSuggestion.objects.get(case=case)
    assert s.source == Source.RULE and s.category == cats["garbage"] and s.model_version is None
    assert s.wait_reason == "尚无分类模型，由人工派遣"


def test_a_fresh_install_without_any_model_row_waits(world, cats):
    case = file_case(world)
    s = RoutingSuggestion.objects.get(case=case)
    assert s.source == Source.NONE and not s.decided_automatically
    assert case.status == Status.RECEIVED


def test_a_keyword_rule_overrides_the_model(world, cats):
    KeywordRule.objects.create(phrase="井盖", category=cats["manhole"], priority=1)
    with model(GARBAGE_SURE):
        case = file_case(world, description="井盖旁边垃圾堆积，井盖也不见了")
    case.refresh_from_db()
    assert case.category == cats["manhole"]
    # 井盖缺失 has no default lead unit: its 大类 市政设施's (dept_sc).
    assert case.lead_unit == world.units["dept_sc"]
    dispatch = case.steps.get(action=StepAction.DISPATCH)
    assert dispatch.changes["source"] == Source.RULE
    assert [s["category"] for s in dispatch.changes["scores"]] == ["SZ02", "CS01", "CS02"]
    assert "关键词规则" in dispatch.note


def test_the_model_does_not_overrule_the_filers_category(world, cats):
    with model(GARBAGE_SURE):
        case = file_case(world, category=cats["food"])
    case.refresh_from_db()
    assert case.status == Status.RECEIVED and case.category == cats["food"]
    s = RoutingSuggestion.objects.get(case=case)
    assert s.category == cats["garbage"] and s.wait_reason == "与提交人所选分类不一致"
    # The unit is suggested for the filer's category until a person decides.
    assert s.lead_unit == world.units["dept_sc"]


def test_a_filers_big_category_is_refined_to_the_models_small_one(world, cats):
    with model(GARBAGE_SURE):
        case = file_case(world, category=cats["city"])
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED and case.category == cats["garbage"]


def test_a_label_that_never_reached_the_precision_target_never_dispatches(world, cats):
    with model(GARBAGE_SURE, thresholds={"CS01": None, "CS02": 0.9}):
        case = file_case(world)
    assert case.status == Status.RECEIVED
    assert RoutingSuggestion.objects.get(case=case).wait_reason == "该分类的模型准确率不足以自动派遣"


def test_the_global_minimum_is_the_floor_of_every_threshold(world, cats, settings):
    settings.CIVICGRID_ROUTING_MIN_CONFIDENCE = 0.98
    with model(GARBAGE_SURE, thresholds={"CS01": 0.5}):
        case = file_case(world)
    s = RoutingSuggestion.objects.get(case=case)
    assert case.status == Status.RECEIVED and s.threshold == 0.98


def test_a_model_without_thresholds_uses_the_default(world, cats, settings):
    settings.CIVICGRID_ROUTING_DEFAULT_THRESHOLD = 0.99
    with model(GARBAGE_SURE, thresholds={}):
        case = file_case(world)
    assert case.status == Status.RECEIVED
    assert RoutingSuggestion.objects.get(case=case).threshold == 0.99


def test_switched_off_or_a_channel_that_must_be_registered_by_a_person_waits(world, cats, settings):
    settings.CIVICGRID_ROUTING_AUTO_CHANNELS = [Channel.GRID_PATROL]
    with model(GARBAGE_SURE):
        resident = file_case(world)
        patrol = file_case(world, by="grid_a1")
    assert resident.status == Status.RECEIVED
    assert RoutingSuggestion.objects.get(case=resident).wait_reason == "该渠道的工单须人工受理"
    # The grid worker's own finding is registered on filing; the system only dispatches it.
    assert patrol.status == Status.DISPATCHED
    assert [s.action for s in steps(patrol)] == ["create", "dispatch"]
    settings.CIVICGRID_ROUTING_AUTO = "off"
    with model(GARBAGE_SURE):
        off = file_case(world)
    assert off.status == Status.RECEIVED
    assert RoutingSuggestion.objects.get(case=off).wait_reason == "自动派遣已关闭"


def test_a_unit_outside_the_subdistrict_is_only_suggested(world, cats):
    UnitRule.objects.create(category=cats["garbage"], lead_unit=world.units["grid_b1"])
    with model(GARBAGE_SURE):
        case = file_case(world)
    s = RoutingSuggestion.objects.get(case=case)
    assert case.status == Status.RECEIVED
    assert s.lead_unit == world.units["grid_b1"] and s.wait_reason == "建议的主办单位不在本辖区"


def test_a_routing_failure_never_loses_the_filing(world, cats, monkeypatch):
    def broken(case):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "decide", broken)
    with model(GARBAGE_SURE):
        case = file_case(world)
    case.refresh_from_db()
    assert case.status == Status.RECEIVED
    assert not RoutingSuggestion.objects.filter(case=case).exists()


def test_a_failure_half_way_through_the_dispatch_rolls_the_routing_back(world, cats, monkeypatch):
    from civicgrid.cases.actions import routing as routing_steps

    real = routing_steps.write_step

    def fail_on_dispatch(case, action, **kwargs):
        if action == StepAction.DISPATCH:
            raise RuntimeError("boom")
        return real(case, action, **kwargs)

    monkeypatch.setattr(routing_steps, "write_step", fail_on_dispatch)
    with model(GARBAGE_SURE):
        case = file_case(world)
    assert case.status == Status.RECEIVED and case.lead_unit is None and case.category is None
    case.refresh_from_db()
    assert case.status == Status.RECEIVED and case.registered_at is None
    assert [s.action for s in steps(case)] == ["create"]
    assert not RoutingSuggestion.objects.filter(case=case).exists()


def test_rerouting_a_waiting_case_updates_its_suggestion(world, cats):
    from django.db import transaction

    with model(GARBAGE_UNSURE):
        case = file_case(world)
    with model(GARBAGE_SURE, version=5), transaction.atomic():
        engine.route(Case.objects.select_for_update().get(pk=case.pk), new=False)
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED
    assert RoutingSuggestion.objects.get(case=case).model_version == 5
