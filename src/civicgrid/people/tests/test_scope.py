import pytest

from civicgrid.core.errors import NotFound
from civicgrid.people.queries import get_unit_for, units_visible_to


def test_member_sees_own_unit_and_below_only(world):
    visible = set(units_visible_to(world.users["staff_a1"]).values_list("name", flat=True))
    assert visible == {"甲一社区", "甲一第1网格"}


def test_other_community_is_not_found(world):
    with pytest.raises(NotFound):
        get_unit_for(world.users["staff_a1"], pk=world.units["com_a2"].pk)


def test_api_units_scoped(world, client):
    response = client.get("/api/v1/units", headers=world.bearer("dispatcher_a"))
    assert response.status_code == 200
    names = {u["name"] for u in response.json()["items"]}
    assert "甲一社区" in names and "乙一社区" not in names
    other = client.get(
        f"/api/v1/units?parent={world.units['com_b1'].code}", headers=world.bearer("dispatcher_a")
    )
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_found"
