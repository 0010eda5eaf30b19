import json

import pytest

from civicgrid.core.actions import create_unit, update_unit
from civicgrid.core.errors import InvalidInput
from civicgrid.core.models import AuditEntry, Unit, UnitKind
from civicgrid.testing import square


def test_paths_and_bbox(world):
    grid = world.units["grid_a1"]
    assert grid.path == f"{world.units['com_a1'].path}{grid.pk}/"
    assert grid.depth == 4
    assert (grid.min_lng, grid.min_lat) == pytest.approx((104.40, 25.70))
    assert grid.max_lat == pytest.approx(25.71)


def test_move_rewrites_paths_below(world):
    com = world.units["com_a1"]
    update_unit(com, parent=world.units["sub_b"])
    grid = Unit.objects.get(pk=world.units["grid_a1"].pk)
    assert grid.path.startswith(world.units["sub_b"].path)
    entry = AuditEntry.objects.filter(action="unit.update", object_id=str(com.pk)).get()
    assert (
        entry.before["parent"] == world.units["sub_a"].pk and entry.after["parent"] == world.units["sub_b"].pk
    )


def test_cannot_move_under_own_child(world):
    with pytest.raises(InvalidInput):
        update_unit(world.units["sub_a"], parent=world.units["com_a1"])
    assert Unit.objects.get(pk=world.units["sub_a"].pk).parent_id == world.units["county"].pk


@pytest.mark.parametrize(
    "polygon",
    [
        "not json",
        json.dumps({"type": "Point", "coordinates": [1, 2]}),
        json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}),
    ],
)
def test_bad_polygon_is_refused_and_nothing_written(db, polygon):
    with pytest.raises(InvalidInput) as err:
        create_unit(kind=UnitKind.GRID, name="坏网格", polygon=polygon)
    assert "多边形" in err.value.message
    assert not Unit.objects.exists() and not AuditEntry.objects.exists()


def test_audit_is_append_only(world):
    entry = AuditEntry.objects.first()
    entry.action = "changed"
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()


def test_units_api_filters(client, world):
    headers = world.bearer("dispatcher_a")
    grids = client.get("/api/v1/units?kind=grid", headers=headers).json()
    assert {u["name"] for u in grids["items"]} == {"甲一第1网格", "甲二第1网格"}
    children = client.get(f"/api/v1/units?parent={world.units['com_a1'].code}", headers=headers).json()
    assert [u["name"] for u in children["items"]] == ["甲一第1网格"]
    bad = client.get("/api/v1/units?kind=planet", headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"
    for query, field in (("page_size=5000", "page_size"), ("page=0", "page")):
        refused = client.get(f"/api/v1/units?{query}", headers=headers)
        assert refused.status_code == 422  # naming the wrong parameter only
        assert [d["field"] for d in refused.json()["error"]["details"]] == [field]
    assert client.get(f"/api/v1/units?page={10**20}", headers=headers).status_code == 422


def test_department_sees_itself_only(client, world):
    names = {
        u["name"] for u in client.get("/api/v1/units", headers=world.bearer("handler_cg")).json()["items"]
    }
    assert names == {"测试县城市管理局"}


def test_new_polygon_sets_bbox(world):
    unit = update_unit(world.units["grid_b1"], polygon=square(104.6, 25.8, 0.02))
    assert unit.max_lng == pytest.approx(104.62)


def test_audit_api_for_administrators_only(client, world):
    ok = client.get("/api/v1/audit?action=unit.create", headers=world.bearer("admin"))
    assert ok.status_code == 200 and ok.json()["count"] == len(world.units)
    assert client.get(f"/api/v1/audit?page={10**20}", headers=world.bearer("admin")).status_code == 422
    assert client.get("/api/v1/audit", headers=world.bearer("dispatcher_a")).status_code == 403


def test_audit_admin_is_read_only_and_filterable(client, world):
    client.force_login(world.users["admin"])
    page = client.get("/admin/core/auditentry/?action=unit.create")
    assert page.status_code == 200 and "甲一社区" in page.content.decode()
    assert client.get("/admin/core/auditentry/add/").status_code == 403
