"""Near-duplicates: same category, within 300 m and 14 days, similar text; intake's function uses them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from civicgrid.cases.models import Case, Status
from civicgrid.intake import queries as intake_queries
from civicgrid.routing import duplicates
from civicgrid.routing.tests.factories import FAR_A1, IN_GRID_A1, NEAR_A1, file_case

pytestmark = pytest.mark.django_db

TEXT = "小区门口垃圾堆积三天无人清运，气味很大"


def test_grams_and_cosine():
    a = duplicates.grams("垃圾堆积无人清运")
    assert a["垃"] == 1 and a["垃圾"] == 1
    assert duplicates.cosine(a, a) == pytest.approx(1.0)
    assert duplicates.cosine(a, duplicates.grams("路灯不亮")) == 0.0
    # Words every complaint uses do not make two complaints alike.
    assert duplicates.cosine(duplicates.grams("社区反映问题"), duplicates.grams("社区问题反映")) == 0.0


def test_near_recent_similar_same_category_is_found_and_the_rest_is_not(world, cats):
    garbage = cats["garbage"]
    near = file_case(world, description="小区门口的垃圾堆了好几天没人清运", category=garbage, **NEAR_A1)
    far = file_case(world, description=TEXT, category=garbage, **FAR_A1)
    other_text = file_case(world, description="路灯晚上不亮，出行不便", category=garbage, **IN_GRID_A1)
    other_category = file_case(world, description=TEXT, category=cats["stalls"], **IN_GRID_A1)
    old = file_case(world, description=TEXT, category=garbage, **IN_GRID_A1)
    Case.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=15))
    closed = file_case(world, description=TEXT, category=garbage, **IN_GRID_A1)
    Case.objects.filter(pk=closed.pk).update(status=Status.CLOSED)

    found = duplicates.find(garbage, IN_GRID_A1["lat"], IN_GRID_A1["lng"], TEXT)
    assert [d.case for d in found] == [near]
    d = found[0]
    assert 200 < d.distance_m < 300
    assert d.similarity >= duplicates.SIMILARITY_MIN and 0 < d.score <= 1
    numbers = {d.case.number for d in found}
    assert not numbers & {far.number, other_text.number, other_category.number, old.number, closed.number}


def test_without_text_place_and_time_decide_nearest_first(world, cats):
    garbage = cats["garbage"]
    near = file_case(world, description="路灯晚上不亮", category=garbage, **NEAR_A1)
    here = file_case(world, description=TEXT, category=garbage, **IN_GRID_A1)
    found = duplicates.find(garbage, IN_GRID_A1["lat"], IN_GRID_A1["lng"], "")
    assert [d.case for d in found] == [here, near]
    assert all(d.similarity == 0.0 for d in found)


def test_more_similar_text_ranks_first(world, cats):
    garbage = cats["garbage"]
    loose = file_case(world, description="门口垃圾有点多，清运不及时", category=garbage, **IN_GRID_A1)
    close = file_case(world, description="小区门口垃圾堆积三天无人清运", category=garbage, **IN_GRID_A1)
    found = duplicates.find(garbage, IN_GRID_A1["lat"], IN_GRID_A1["lng"], TEXT)
    assert [d.case for d in found] == [close, loose]


def test_a_filed_case_leaves_itself_out(world, cats):
    garbage = cats["garbage"]
    first = file_case(world, description=TEXT, category=garbage)
    second = file_case(world, description="小区门口垃圾堆积好几天了", category=garbage)
    assert [d.case for d in duplicates.of_case(second)] == [first]
    assert [d.case for d in duplicates.of_case(first)] == [second]


def test_intake_similar_open_cases_is_routings(world, cats):
    garbage = cats["garbage"]
    case = file_case(world, description=TEXT, category=garbage)
    file_case(world, description="路灯晚上不亮", category=garbage)
    found = intake_queries.similar_open_cases(garbage, IN_GRID_A1["lat"], IN_GRID_A1["lng"], TEXT, limit=5)
    assert [s.case for s in found] == [case]
    assert isinstance(found[0], intake_queries.Similar) and found[0].distance_m < 1
    assert intake_queries.similar_open_cases(None, 1.0, 1.0, TEXT) == []
