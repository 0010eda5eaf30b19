"""Personas shared by every test: a small world with one user per role and unit.

Two subdistricts (A, B) so that "other unit" is always at hand: staff of community A1 must not
see community A2 or anything of subdistrict B.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from civicgrid.core.actions import create_unit
from civicgrid.core.models import Unit, UnitKind
from civicgrid.people.actions import add_membership, create_token, create_user
from civicgrid.people.models import Role, User

PASSWORD = "persona-pass-2026"


def square(lng: float, lat: float, size: float = 0.01) -> str:
    """A GeoJSON square polygon with its south-west corner at (lng, lat)."""
    ring = [[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


@dataclass
class World:
    units: dict[str, Unit] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)

    def token(self, username: str) -> str:
        return create_token(self.users[username], name="test")[1]

    def bearer(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}


def build_world() -> World:
    w = World()
    u = w.units
    u["city"] = create_unit(kind=UnitKind.CITY, name="测试市", code="520200")
    u["county"] = create_unit(kind=UnitKind.COUNTY, name="测试县", code="520281", parent=u["city"])
    u["sub_a"] = create_unit(
        kind=UnitKind.SUBDISTRICT,
        name="甲街道",
        code="520281001",
        parent=u["county"],
        polygon=square(104.40, 25.70, 0.04),
    )
    u["sub_b"] = create_unit(
        kind=UnitKind.SUBDISTRICT,
        name="乙街道",
        code="520281002",
        parent=u["county"],
        polygon=square(104.50, 25.70, 0.04),
    )
    u["com_a1"] = create_unit(
        kind=UnitKind.COMMUNITY,
        name="甲一社区",
        code="520281001001",
        parent=u["sub_a"],
        polygon=square(104.40, 25.70, 0.02),
    )
    u["com_a2"] = create_unit(
        kind=UnitKind.COMMUNITY,
        name="甲二社区",
        code="520281001002",
        parent=u["sub_a"],
        polygon=square(104.42, 25.70, 0.02),
    )
    u["com_b1"] = create_unit(
        kind=UnitKind.COMMUNITY,
        name="乙一社区",
        code="520281002001",
        parent=u["sub_b"],
        polygon=square(104.50, 25.70, 0.02),
    )
    u["grid_a1"] = create_unit(
        kind=UnitKind.GRID,
        name="甲一第1网格",
        code="520281001001001",
        parent=u["com_a1"],
        polygon=square(104.40, 25.70, 0.01),
    )
    u["grid_a2"] = create_unit(
        kind=UnitKind.GRID,
        name="甲二第1网格",
        code="520281001002001",
        parent=u["com_a2"],
        polygon=square(104.42, 25.70, 0.01),
    )
    u["grid_b1"] = create_unit(
        kind=UnitKind.GRID,
        name="乙一第1网格",
        code="520281002001001",
        parent=u["com_b1"],
        polygon=square(104.50, 25.70, 0.01),
    )
    u["dept_cg"] = create_unit(
        kind=UnitKind.DEPARTMENT, name="测试县城市管理局", code="D-CG", parent=u["county"]
    )
    u["dept_sc"] = create_unit(
        kind=UnitKind.DEPARTMENT, name="测试县市场监督管理局", code="D-SC", parent=u["county"]
    )
    u["office_a"] = create_unit(kind=UnitKind.OFFICE, name="甲街道城建办", code="O-A-CJ", parent=u["sub_a"])

    def person(username: str, role: Role | None, unit: str | None, **extra) -> User:
        user = create_user(
            username=username, password=PASSWORD, display_name=username, validate=False, **extra
        )
        if role and unit:
            add_membership(user, u[unit], role)
        w.users[username] = user
        return user

    person("admin", Role.ADMINISTRATOR, "city", is_staff=True, is_superuser=True)
    person("resident", Role.RESIDENT, "com_a1")
    person("grid_a1", Role.GRID_WORKER, "grid_a1")
    person("staff_a1", Role.COMMUNITY_STAFF, "com_a1")
    person("staff_a2", Role.COMMUNITY_STAFF, "com_a2")
    person("staff_b1", Role.COMMUNITY_STAFF, "com_b1")
    person("dispatcher_a", Role.DISPATCHER, "sub_a")
    person("dispatcher_b", Role.DISPATCHER, "sub_b")
    person("handler_cg", Role.DEPARTMENT_HANDLER, "dept_cg")
    person("handler_sc", Role.DEPARTMENT_HANDLER, "dept_sc")
    person("leader", Role.LEADER, "county")
    person("member_a1", Role.PARTY_MEMBER, "com_a1")  # 在职党员, registered with 甲一社区
    person("member_a2", Role.PARTY_MEMBER, "com_a2")
    person("nobody", None, None)
    return w


def screenshot(tab, name: str) -> str:
    """Saves a full-page screenshot under test-output/screenshots/ and returns its path."""
    folder = os.path.join(os.getcwd(), "test-output", "screenshots")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}.png")
    tab.screenshot(path=path, full_page=True)
    return path
