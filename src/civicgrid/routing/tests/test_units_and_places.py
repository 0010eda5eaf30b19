"""Unit rules (facilities owner first, events place first, fallbacks) and the address matcher."""

from __future__ import annotations

import pytest

from civicgrid.core.actions import create_unit
from civicgrid.core.models import Unit, UnitKind
from civicgrid.routing import places
from civicgrid.routing.models import KnownPlace, LeadPlace, RoutingSuggestion, UnitRule
from civicgrid.routing.rules import choose_unit
from civicgrid.routing.tests.factories import GARBAGE_SURE, file_case, model

pytestmark = pytest.mark.django_db


def test_facilities_take_the_owner_first_then_the_place(world, cats):
    u = world.units
    # A rule for the exact 小类 anywhere, and one for its 大类 in community A1.
    UnitRule.objects.create(category=cats["lamp"], lead_unit=u["dept_sc"])
    UnitRule.objects.create(
        category=cats["works"], territory=u["com_a1"], lead_unit=u["office_a"], priority=9
    )
    choice = choose_unit(cats["lamp"], u["grid_a1"])
    assert choice.unit == u["dept_sc"]


def test_events_take_the_place_first_then_the_owner(world, cats):
    u = world.units
    UnitRule.objects.create(category=cats["garbage"], lead_unit=u["dept_sc"], priority=9)
    UnitRule.objects.create(category=cats["city"], territory=u["com_a1"], lead_place=LeadPlace.COMMUNITY)
    assert choose_unit(cats["garbage"], u["grid_a1"]).unit == u["com_a1"]
    # Elsewhere the place rule does not apply, and the owner's rule does.
    assert choose_unit(cats["garbage"], u["grid_b1"]).unit == u["dept_sc"]


def test_the_deeper_place_and_then_priority_win(world, cats):
    u = world.units
    UnitRule.objects.create(
        category=cats["garbage"], territory=u["sub_a"], lead_unit=u["office_a"], priority=5
    )
    UnitRule.objects.create(category=cats["garbage"], territory=u["com_a1"], lead_place=LeadPlace.GRID)
    assert choose_unit(cats["garbage"], u["grid_a1"]).unit == u["grid_a1"]
    assert choose_unit(cats["garbage"], u["grid_a2"]).unit == u["office_a"]
    UnitRule.objects.create(
        category=cats["garbage"], territory=u["sub_a"], lead_unit=u["dept_sc"], priority=6
    )
    assert choose_unit(cats["garbage"], u["grid_a2"]).unit == u["dept_sc"]


def test_fallbacks_are_the_category_default_then_its_big_category(world, cats):
    u = world.units
    assert choose_unit(cats["garbage"], u["grid_a1"]).reason == "分类默认主办单位"
    manhole = choose_unit(cats["manhole"], u["grid_a1"])
    assert manhole.unit == u["dept_sc"] and manhole.reason == "大类默认主办单位"
    cats["works"].default_lead_unit = None
    cats["works"].save()
    cats["manhole"].refresh_from_db()
    assert choose_unit(cats["manhole"], u["grid_a1"]).unit is None


def test_inactive_rules_and_units_are_skipped(world, cats):
    u = world.units
    UnitRule.objects.create(category=cats["garbage"], lead_unit=u["office_a"], is_active=False)
    assert choose_unit(cats["garbage"], u["grid_a1"]).unit == u["dept_cg"]


def test_name_variants_drop_the_demo_mark_and_suffixes():
    assert places.name_variants("亦资社区（演示）", UnitKind.COMMUNITY) == {"亦资社区", "亦资"}
    assert places.name_variants("亦资街道（演示）", UnitKind.SUBDISTRICT) == {"亦资街道", "亦资"}
    assert places.name_variants("新村", UnitKind.COMMUNITY) == {"新村"}  # "新" alone is too short


def test_the_longest_name_in_the_address_wins(world):
    u = world.units
    assert places.match_address("甲一社区门口") == u["com_a1"]
    assert places.match_address("甲一第1网格菜市场") == u["grid_a1"]
    assert places.match_address("甲二社区附近") == u["com_a2"]
    assert places.match_address("不知道在哪里") is None


def test_buildings_route_like_their_grid_and_known_places_count(world):
    u = world.units
    create_unit(kind=UnitKind.BUILDING, name="幸福家园3栋", code="B-1", parent=u["grid_a2"])
    assert places.match_address("幸福家园3栋楼下") == u["grid_a2"]
    KnownPlace.objects.create(name="人民医院", unit=u["grid_b1"])
    assert places.match_address("人民医院对面垃圾") == u["grid_b1"]


def test_a_building_and_its_grid_are_read_in_one_query(world, django_assert_num_queries):
    u = world.units
    building = create_unit(kind=UnitKind.BUILDING, name="幸福家园3栋", code="B-1", parent=u["grid_a2"])
    places.names()
    with django_assert_num_queries(2):  # the names' fingerprint, then the building with its grid
        assert places.match_address("幸福家园3栋楼下") == u["grid_a2"]
    # Moved without its change time (so the names are not read again): its new grid still counts.
    Unit.objects.filter(pk=building.pk).update(parent=u["grid_a1"])
    assert places.match_address("幸福家园3栋楼下") == u["grid_a1"]


def test_a_case_without_a_point_is_placed_by_its_address(world, cats):
    u = world.units
    UnitRule.objects.create(category=cats["city"], lead_place=LeadPlace.COMMUNITY)
    # The dispatcher files from the subdistrict without a point: create_case puts it at sub_a.
    with model(GARBAGE_SURE):
        case = file_case(world, by="dispatcher_a", lat=None, lng=None, address="甲二社区幸福路口")
    s = RoutingSuggestion.objects.get(case=case)
    assert case.territory == u["sub_a"]
    assert s.place == u["com_a2"] and s.place_method == "address"
    assert s.lead_unit == u["com_a2"]
    assert case.lead_unit == u["com_a2"]


def test_a_point_wins_over_the_address(world, cats):
    with model(GARBAGE_SURE):
        case = file_case(world, address="甲二社区幸福路口")
    s = RoutingSuggestion.objects.get(case=case)
    assert s.place == world.units["grid_a1"] and s.place_method == "point"
