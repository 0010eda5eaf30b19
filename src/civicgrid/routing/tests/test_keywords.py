"""Keywords per case: jieba without stop words or place names, filled by the worker's job, counted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from civicgrid.core import jobs
from civicgrid.routing import keywords
from civicgrid.routing.models import CaseKeywords
from civicgrid.routing.tests.factories import file_case

pytestmark = pytest.mark.django_db


def test_extract_keeps_what_the_case_is_about(world, cats):
    words = keywords.extract("甲一社区菜市场旁垃圾桶满了三天没人清运，气味很大，希望尽快处理")
    assert "垃圾桶" in words and "清运" in words
    assert not set(words) & {"社区", "希望", "尽快", "处理", "三天"}
    assert len(words) <= keywords.TOP_K


def test_place_names_and_category_names(world, cats):
    # The category name is one word to jieba; the community's name is not a keyword.
    words = keywords.extract("甲一社区门口垃圾清运不及时", exclude=keywords._place_words())
    assert "垃圾清运" in words
    assert not any("甲一" in w for w in words)


def test_the_job_fills_new_cases_once(world, cats):
    first = file_case(world, description="小区门口垃圾堆积三天无人清运")
    second = file_case(world, description="路灯晚上不亮，出行不便")
    assert keywords.fill() == 2
    assert "路灯" in keywords.for_case(second)
    row = CaseKeywords.objects.get(case=first)
    assert row.territory_path == first.territory_path and row.case_created_at == first.created_at
    assert keywords.fill() == 0
    third = file_case(world, description="井盖缺失晚上很危险")
    assert keywords.fill() == 1
    assert any("井盖" in w for w in keywords.for_case(third))


def test_the_job_is_registered_with_the_worker(world, cats):
    file_case(world, description="小区门口垃圾堆积三天无人清运")
    registry = jobs.discover()
    assert "routing.keywords" in registry and "routing.retrain" in registry
    assert registry["routing.retrain"].every == timedelta(days=1)
    ran = jobs.run_due({"routing.keywords": registry["routing.keywords"]})
    assert ran == ["routing.keywords"] and CaseKeywords.objects.count() == 1


def test_top_keywords_by_period_place_and_category(world, cats):
    file_case(world, description="小区门口垃圾堆积无人清运", category=cats["garbage"])
    file_case(world, description="垃圾桶旁边垃圾堆积", category=cats["garbage"])
    file_case(world, by="staff_b1", description="路灯不亮，垃圾堆积", category=cats["lamp"])
    keywords.fill()
    top = dict(keywords.top_keywords(since=timezone.now() - timedelta(days=1)))
    assert top["堆积"] == 3
    a_only = dict(keywords.top_keywords(territory_path=world.units["sub_a"].path))
    assert a_only["堆积"] == 2
    lamps = dict(keywords.top_keywords(category=cats["lamp"]))
    assert "路灯不亮" in lamps and lamps.get("堆积") == 1
