"""Where a new case is: the located unit and the grid, community and subdistrict above it."""

import pytest

from civicgrid.cases.actions import intake
from civicgrid.cases.models import Case
from civicgrid.cases.tests.factories import IN_GRID_A1
from civicgrid.core import geo
from civicgrid.core.actions import update_unit


def _places(case):
    return case.territory, case.grid, case.community, case.subdistrict, case.territory_path


@pytest.mark.django_db
def test_a_point_places_the_case_in_one_query(world, django_assert_num_queries):
    u = world.units
    geo.locate(IN_GRID_A1["lat"], IN_GRID_A1["lng"])  # the index is built once per process
    case = Case()
    with django_assert_num_queries(1):
        intake._locate(case, world.users["staff_a1"], IN_GRID_A1["lat"], IN_GRID_A1["lng"], "wgs84")
    assert _places(case) == (u["grid_a1"], u["grid_a1"], u["com_a1"], u["sub_a"], u["grid_a1"].path)
    assert case.locate_method == "grid"


@pytest.mark.django_db
def test_an_index_older_than_the_tree_places_by_the_unit_s_own_path(world):
    u = world.units
    stale = geo.load_index()
    moved = update_unit(u["grid_a1"], parent=u["com_a2"])
    with geo.pinned_index(stale):
        case = intake.create_case(by=world.users["dispatcher_a"], description="x", **IN_GRID_A1)
    assert _places(case) == (moved, moved, u["com_a2"], u["sub_a"], moved.path)
