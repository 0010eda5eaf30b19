"""Dispatcher corrections are kept; training learns from closed cases and corrections; versions roll back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from civicgrid.cases import actions
from civicgrid.cases.models import Case, Status
from civicgrid.core.errors import Forbidden, InvalidInput, InvalidTransition, NotFound
from civicgrid.routing import registry, training
from civicgrid.routing.models import RoutingCorrection, RoutingModel, RoutingSuggestion
from civicgrid.routing.tests.factories import (
    GARBAGE_SURE,
    GARBAGE_UNSURE,
    FakeModel,
    closed_case,
    file_case,
    model,
)

pytestmark = pytest.mark.django_db


def waiting_case(world, **fields):
    with model(GARBAGE_UNSURE):
        case = file_case(world, **fields)
    actions.register_case(case.number, by=world.users["staff_a1"])
    return case


def test_dispatching_elsewhere_than_suggested_is_a_correction(world, cats):
    case = waiting_case(world)
    actions.dispatch_case(case.number, by=world.users["dispatcher_a"], lead_unit=world.units["dept_sc"])
    c = RoutingCorrection.objects.get(case=case)
    assert (
        c.unit_changed
        and c.suggested_unit == world.units["dept_cg"]
        and c.final_unit == world.units["dept_sc"]
    )
    assert c.by == world.users["dispatcher_a"] and c.model_version == 3 and not c.was_automatic
    # The case kept no category, while the suggestion had one: that counts as a category change too.
    assert c.category_changed and c.final_category is None


def test_following_the_suggestion_is_no_correction(world, cats):
    case = waiting_case(world, category=cats["garbage"])
    actions.dispatch_case(case.number, by=world.users["dispatcher_a"], lead_unit=world.units["dept_cg"])
    assert not RoutingCorrection.objects.exists()


def test_recategorize_then_dispatch_records_the_category_once(world, cats):
    case = waiting_case(world, category=cats["garbage"])
    actions.recategorize(case.number, by=world.users["staff_a1"], category=cats["stalls"], note="是占道经营")
    step = case.steps.get(action="recategorize")
    assert step.changes["category"] == ["CS01", "CS02"]
    assert step.changes["category_id"] == [cats["garbage"].pk, cats["stalls"].pk]
    first = RoutingCorrection.objects.get()
    assert first.category_changed and not first.unit_changed and first.final_category == cats["stalls"]
    actions.dispatch_case(case.number, by=world.users["dispatcher_a"], lead_unit=world.units["dept_cg"])
    assert RoutingCorrection.objects.count() == 1
    actions.return_case(
        case.number, by=world.users["handler_cg"], reason_code="not_our_duty", note="不归我们"
    )
    actions.dispatch_case(case.number, by=world.users["dispatcher_a"], lead_unit=world.units["dept_sc"])
    second = RoutingCorrection.objects.order_by("id").last()
    assert second.unit_changed and not second.category_changed


def test_an_automatic_dispatch_returned_and_redispatched_is_a_correction(world, cats):
    with model(GARBAGE_SURE):
        case = file_case(world)
    actions.return_case(
        case.number, by=world.users["handler_cg"], reason_code="not_our_duty", note="不归我们"
    )
    actions.dispatch_case(case.number, by=world.users["dispatcher_a"], lead_unit=world.units["office_a"])
    c = RoutingCorrection.objects.get()
    assert c.was_automatic and c.unit_changed and c.final_unit == world.units["office_a"]


def test_recategorize_rules(world, cats):
    case = waiting_case(world, category=cats["garbage"])
    with pytest.raises(NotFound):
        actions.recategorize(case.number, by=world.users["staff_b1"], category=cats["stalls"])
    with pytest.raises(Forbidden):
        actions.recategorize(case.number, by=world.users["grid_a1"], category=cats["stalls"])
    with pytest.raises(InvalidInput):
        actions.recategorize(case.number, by=world.users["staff_a1"], category=cats["garbage"])
    actions.dispatch_case(case.number, by=world.users["dispatcher_a"], lead_unit=world.units["dept_cg"])
    with pytest.raises(InvalidTransition):
        actions.recategorize(case.number, by=world.users["dispatcher_a"], category=cats["stalls"])


# --- the registry (a fake model file; no classifier needed) -----------------------------------------


@pytest.fixture
def fake_files(monkeypatch):
    def load(path):
        return FakeModel(json.loads(Path(path).read_text(encoding="utf-8"))["table"])

    monkeypatch.setattr(registry, "load_file", load)


def register(table, **kwargs):
    return registry.register(
        FakeModel(table), data_size=10, labels=["CS01"], scores={}, thresholds={"CS01": 0.9}, **kwargs
    )


def test_register_activate_roll_back_and_reload(world, cats, fake_files, settings):
    v1 = register(GARBAGE_UNSURE)
    assert v1.version == 1 and v1.is_active
    assert Path(settings.CIVICGRID_ROUTING_MODEL_DIR, v1.path).exists()
    assert registry.active().version == 1
    v2 = register(GARBAGE_SURE, by=world.users["admin"])
    assert v2.version == 2
    assert list(RoutingModel.objects.filter(is_active=True).values_list("version", flat=True)) == [2]
    assert registry.active().version == 2
    assert file_case(world).status == Status.DISPATCHED
    back = registry.rollback(by=world.users["admin"])
    assert back.version == 1 and registry.active().version == 1
    assert file_case(world).status == Status.RECEIVED
    with pytest.raises(InvalidTransition):
        registry.rollback()
    registry.activate(2)
    assert registry.active().version == 2
    registry.deactivate()
    assert registry.active() is None


def test_a_version_whose_file_is_gone_is_skipped_on_rollback(world, cats, fake_files, settings):
    v1 = register(GARBAGE_UNSURE)
    v2 = register(GARBAGE_UNSURE)
    register(GARBAGE_SURE)
    Path(settings.CIVICGRID_ROUTING_MODEL_DIR, v2.path).unlink()
    assert registry.rollback().version == v1.version
    with pytest.raises(InvalidTransition):
        registry.activate(v2.version)


def test_a_broken_model_file_means_rules_only(world, cats, fake_files, settings):
    v1 = register(GARBAGE_SURE)
    Path(settings.CIVICGRID_ROUTING_MODEL_DIR, v1.path).write_text("not json")
    registry.invalidate()
    case = file_case(world)
    assert case.status == Status.RECEIVED
    assert RoutingSuggestion.objects.get(case=case).wait_reason == "尚无分类模型，由人工派遣"


# --- training data and the real classifier ---------------------------------------------------------

TEXTS = {
    "garbage": ["垃圾桶满了没人清运", "垃圾堆积气味很大", "门口垃圾好几天没人收", "垃圾收集点散落垃圾"],
    "stalls": ["摊贩占道经营堵住人行道", "水果摊摆到马路上", "早市占道摆摊", "夜市摊位占用道路"],
    "lamp": ["路灯晚上不亮", "一排路灯都坏了", "路灯坏了半个月", "路灯不亮出行不便"],
}
PLACES = ["小区门口", "菜市场旁", "学校门口", "公交站台", "广场东侧", "人民路口"]


def history(world, cats, per_label: int = 12):
    for key, texts in TEXTS.items():
        for i in range(per_label):
            closed_case(world, cats[key], f"{PLACES[i % len(PLACES)]}{texts[i % len(texts)]}")


def test_training_data_is_closed_cases_and_corrections(world, cats):
    history(world, cats, per_label=4)
    open_case = file_case(world, description="门口有人摆摊卖菜", category=cats["garbage"])
    rejected = file_case(world, description="路灯不亮", category=cats["lamp"])
    Case.objects.filter(pk=rejected.pk).update(status=Status.REJECTED)
    data = training.training_data()
    assert len(data) == 12 and data.corrections == 0
    actions.recategorize(open_case.number, by=world.users["staff_a1"], category=cats["stalls"])
    data = training.training_data()
    assert len(data) == 13 and data.corrections == 1
    assert data.labels[data.texts.index("\n门口有人摆摊卖菜")] == "CS02"
    # Too rare to learn: left out and reported.
    closed_case(world, cats["food"], "小吃店卫生差")
    assert training.training_data().dropped_labels == {"SC01": 1}


def test_not_enough_data(world, cats):
    history(world, cats, per_label=2)
    with pytest.raises(training.NotEnoughData):
        training.train_from_cases(min_examples=100)
    assert training.retrain_due() == (False, "样本 6 个，少于 100 个")


def test_retraining_is_due_after_enough_new_examples(world, cats, settings, fake_files):
    settings.CIVICGRID_ROUTING_MIN_TRAINING = 10
    settings.CIVICGRID_ROUTING_RETRAIN_MIN_NEW = 3
    history(world, cats, per_label=4)
    assert training.retrain_due()[0]
    register(GARBAGE_SURE)
    RoutingModel.objects.update(data_size=12)
    assert not training.retrain_due()[0]
    closed_case(world, cats["lamp"], "路灯不亮")
    closed_case(world, cats["lamp"], "路灯坏了")
    assert not training.retrain_due()[0]
    case = file_case(world, description="门口有人摆摊", category=cats["garbage"])
    actions.recategorize(case.number, by=world.users["staff_a1"], category=cats["stalls"])
    due, why = training.retrain_due()
    assert due and "纠正" in why


def test_training_picks_up_corrections_in_a_second_version_and_rolls_back(world, cats, settings):
    pytest.importorskip("civicgrid.routing.classifier")
    settings.CIVICGRID_ROUTING_MIN_TRAINING = 10
    history(world, cats)
    v1 = training.train_from_cases()
    assert v1.version == 1 and v1.is_active and v1.data_size == 36 and v1.corrections == 0
    assert sorted(v1.labels) == ["CS01", "CS02", "SZ01"]
    assert set(v1.thresholds) <= {"CS01", "CS02", "SZ01"}
    assert registry.active().version == 1
    # A dispatcher corrects two cases; the nightly job trains version 2 with them.
    settings.CIVICGRID_ROUTING_RETRAIN_MIN_NEW = 2
    settings.CIVICGRID_ROUTING_AUTO = "off"
    for text in ["垃圾清运车占道停放", "垃圾车停在人行道上"]:
        case = file_case(world, description=text)
        suggested = RoutingSuggestion.objects.get(case=case).category
        assert suggested is not None
        other = cats["stalls"] if suggested != cats["stalls"] else cats["garbage"]
        actions.recategorize(case.number, by=world.users["staff_a1"], category=other)
    assert RoutingCorrection.objects.filter(category_changed=True).count() == 2
    settings.CIVICGRID_ROUTING_AUTO = "on"
    from civicgrid.routing import jobs

    v2 = jobs.retrain()
    assert v2 is not None and v2.version == 2 and v2.corrections == 2 and v2.data_size == 38
    assert registry.active().version == 2
    assert not RoutingModel.objects.get(version=1).is_active
    case = file_case(world, description="小区门口垃圾桶满了没人清运")
    s = RoutingSuggestion.objects.get(case=case)
    assert s.model_version == 2 and s.scores[0]["category"] == "CS01"
    assert registry.rollback().version == 1
    assert registry.active().version == 1


def test_the_routing_train_command(world, cats, settings):
    from io import StringIO

    from django.core.management import call_command

    pytest.importorskip("civicgrid.routing.classifier")
    history(world, cats, per_label=6)
    out = StringIO()
    settings.CIVICGRID_ROUTING_MIN_TRAINING = 1000
    call_command("routing_train", "--if-due", stdout=out)
    assert "无需训练" in out.getvalue() and not RoutingModel.objects.exists()
    call_command("routing", "train", "--min", "10", "--note", "手动", stdout=out)
    assert "模型 v1：18 个样本" in out.getvalue() and "已启用" in out.getvalue()
    assert RoutingModel.objects.get().note == "手动"


def test_the_demo_rules_are_seeded_once(world, cats):
    from civicgrid.cases.models import Category
    from civicgrid.routing import demo
    from civicgrid.routing.models import KeywordRule, UnitRule

    Category.objects.create(code="0703", name="燃气泄漏")
    Category.objects.create(code="0901", name="邻里矛盾")
    assert demo.setup(train=False) == {"rules": 2, "model": None}
    assert demo.seed_rules() == 0
    assert KeywordRule.objects.get().phrase == "燃气"
    assert UnitRule.objects.get().lead_place == "community"
