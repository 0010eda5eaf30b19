"""Categories, a case-filing helper and API shortcuts for the cases tests."""

from __future__ import annotations

from typing import Any

from civicgrid.cases import actions
from civicgrid.cases.models import Case, Category, LimitUnit

# A point inside grid_a1 (civicgrid.testing squares) and one inside community B1.
IN_GRID_A1 = {"lat": 25.705, "lng": 104.405}
IN_COM_B1 = {"lat": 25.705, "lng": 104.505}
PHONE = "13812345678"


def make_categories(world) -> dict[str, Category]:
    city = Category.objects.create(code="CS", name="市容环境")
    cats = {
        "city": city,
        "garbage": Category.objects.create(
            code="CS01",
            name="垃圾清运",
            parent=city,
            handle_limit=5,
            handle_limit_unit=LimitUnit.WORKING_DAYS,
            default_lead_unit=world.units["dept_cg"],
        ),
        "road": Category.objects.create(
            code="CS02",
            name="道路破损",
            parent=city,
            handle_limit=3,
            handle_limit_unit=LimitUnit.WORKING_DAYS,
            arrival_required=True,
        ),
        "water": Category.objects.create(
            code="SD01", name="停水停电", handle_limit=24, handle_limit_unit=LimitUnit.CLOCK_HOURS
        ),
        "named": Category.objects.create(code="JB01", name="实名举报", anonymous_allowed=False),
        "hidden": Category.objects.create(code="NB01", name="内部事项", public=False),
    }
    return cats


def file_case(world, by: str = "staff_a1", **fields: Any) -> Case:
    """Files a case through the action with a reporter; A personas file in grid A1, B personas in B1."""
    values: dict[str, Any] = {
        "description": "小区门口垃圾堆积三天无人清运",
        "title": "垃圾堆积",
        "reporter_name": "张三丰",
        "reporter_phone": PHONE,
    }
    if by in ("staff_a1", "grid_a1", "dispatcher_a", "resident"):
        values.update(IN_GRID_A1)
    elif by in ("staff_b1", "dispatcher_b"):
        values.update(IN_COM_B1)
    values.update(fields)
    return actions.create_case(by=world.users[by], **values)


def dispatched_case(world, lead: str = "dept_cg", **fields: Any) -> Case:
    case = file_case(world, **fields)
    actions.register_case(case, by=world.users["staff_a1"])
    return actions.dispatch_case(case, by=world.users["dispatcher_a"], lead_unit=world.units[lead])


def signed_case(world, **fields: Any) -> Case:
    case = dispatched_case(world, **fields)
    return actions.sign_case(case, by=world.users["handler_cg"])


class Api:
    """POSTs and GETs as one persona; returns (status, json)."""

    def __init__(self, client, world):
        self.client, self.world, self._headers = client, world, {}

    def headers(self, who: str) -> dict[str, str]:
        if who not in self._headers:
            self._headers[who] = self.world.bearer(who)
        return self._headers[who]

    def get(self, who: str, path: str, **params):
        r = self.client.get(f"/api/v1{path}", params, headers=self.headers(who))
        return r.status_code, r.json()

    def post(self, who: str, path: str, body: dict | None = None, **headers):
        r = self.client.post(
            f"/api/v1{path}",
            body or {},
            content_type="application/json",
            headers={**self.headers(who), **headers},
        )
        return r.status_code, r.json()

    def act(self, who: str, number: str, action: str, body: dict | None = None):
        return self.post(who, f"/cases/{number}/actions/{action}", body)


def case_in_state(world, state: str, **fields: Any) -> Case:
    """A case of community A1 brought to `state` through the actions (lead dept_cg, assisting dept_sc)."""
    u = world.users
    case = file_case(world, **fields)
    if state == "received":
        return case
    case = actions.register_case(case, by=u["staff_a1"])
    if state == "registered":
        return case
    if state == "escalated":
        return actions.whistle_case(case, by=u["staff_a1"])
    case = actions.dispatch_case(
        case, by=u["dispatcher_a"], lead_unit=world.units["dept_cg"], assisting_units=[world.units["dept_sc"]]
    )
    if state == "dispatched":
        return case
    case = actions.sign_case(case, by=u["handler_cg"])
    if state == "signed":
        return case
    if state == "pending":
        actions.request_extension(case, by=u["handler_cg"], working_days=2, reason="需要采购材料")
        return Case.objects.get(pk=case.pk)
    if state == "deferred":
        return actions.defer_case(case, by=u["dispatcher_a"], reason="资金未到位")
    case = actions.feedback_case(case, by=u["handler_cg"], result="已处理完毕")
    if state == "fed_back":
        return case
    case = actions.recheck_case(case, by=u["grid_a1"], passed=True)
    if state == "closed":
        return case
    raise ValueError(state)


# The header htmx sends with its requests: the desk answers fragments to it.
HX = {"HX-Request": "true"}


def jpeg() -> bytes:
    """A small real JPEG, as a phone's camera would upload."""
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (64, 48), (30, 160, 60)).save(out, format="JPEG")
    return out.getvalue()
