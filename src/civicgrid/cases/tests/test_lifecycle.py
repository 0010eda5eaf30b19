"""The closed loop through the API, end to end, and the whistle path."""

import pytest

from civicgrid.cases.models import Case, CaseStep, Status
from civicgrid.cases.tests.factories import IN_GRID_A1, PHONE


@pytest.mark.django_db
def test_full_lifecycle_through_the_api(api, world, cats):
    status, case = api.post(
        "resident",
        "/cases",
        {
            "description": "楼下路灯坏了一周",
            "title": "路灯不亮",
            "category": "CS01",
            **IN_GRID_A1,
            "reporter_name": "李四",
            "reporter_phone": PHONE,
        },
    )
    assert status == 201, case
    number = case["number"]
    assert number.startswith("CG") and case["status"] == "received"
    assert case["channel"] == "resident"
    assert case["territory"]["code"] == world.units["grid_a1"].code

    assert api.act("staff_a1", number, "register")[0] == 200
    status, case = api.act(
        "dispatcher_a", number, "dispatch", {"lead_unit": "D-CG", "assisting_units": ["D-SC"]}
    )
    assert status == 200, case
    assert case["status"] == "dispatched" and case["lead_unit"]["code"] == "D-CG"
    assert [u["code"] for u in case["assisting_units"]] == ["D-SC"]
    assert case["sign_by"] and case["due_at"]

    status, case = api.act("handler_sc", number, "sign")
    assert status == 200 and case["status"] == "dispatched"  # only the lead's signature counts
    status, case = api.act("handler_cg", number, "sign")
    assert status == 200 and case["status"] == "signed"
    status, case = api.act("handler_cg", number, "feedback", {"result": "已更换灯泡"})
    assert status == 200 and case["status"] == "fed_back"
    status, case = api.act("grid_a1", number, "recheck", {"passed": True, "note": "现场已亮"})
    assert status == 200 and case["status"] == "closed"
    status, case = api.act("resident", number, "rate", {"satisfaction": "satisfied", "resolved": True})
    assert status == 200 and case["status"] == "closed" and case["satisfaction"] == "satisfied"

    actions = [s["action"] for s in case["timeline"]]
    assert actions == ["create", "register", "dispatch", "sign", "sign", "feedback", "recheck", "rate"]
    row = Case.objects.get(number=number)
    assert row.closed_at and row.fed_back_at and row.signed_at and row.first_dispatched_at
    assert CaseStep.objects.filter(case=row).count() == 8


@pytest.mark.django_db
def test_whistle_path_community_to_subdistrict_to_department(api, world, cats):
    status, case = api.post("staff_a1", "/cases", {"description": "小区违建影响消防通道", "category": "CS01"})
    number = case["number"]
    assert api.act("staff_a1", number, "register")[0] == 200
    # The community cannot give it to a department itself…
    status, _ = api.act("staff_a1", number, "dispatch", {"lead_unit": "D-CG"})
    assert status == 422
    # …so it blows the whistle and the subdistrict distributes it.
    status, case = api.act("staff_a1", number, "whistle", {"note": "社区无执法权"})
    assert status == 200 and case["status"] == "escalated"
    status, _ = api.act("staff_a1", number, "dispatch", {"lead_unit": "520281001001001"})
    assert status == 409  # escalated cases wait for the subdistrict
    status, case = api.act("dispatcher_a", number, "dispatch", {"lead_unit": "D-CG"})
    assert status == 200 and case["status"] == "dispatched"
    assert api.act("handler_cg", number, "sign")[1]["status"] == "signed"
    # Every step is visible to the community that blew the whistle.
    status, seen = api.get("staff_a1", f"/cases/{number}")
    assert [s["action"] for s in seen["timeline"]] == ["create", "register", "whistle", "dispatch", "sign"]


@pytest.mark.django_db
def test_community_handles_it_itself(api, world, cats):
    status, case = api.post("staff_a1", "/cases", {"description": "楼道堆物"})
    number = case["number"]
    api.act("staff_a1", number, "register")
    status, case = api.act("staff_a1", number, "dispatch", {"lead_unit": world.units["grid_a1"].code})
    assert status == 200 and case["lead_unit"]["code"] == world.units["grid_a1"].code
    assert api.act("grid_a1", number, "sign")[1]["status"] == "signed"
    assert api.act("grid_a1", number, "feedback", {"result": "已清理"})[1]["status"] == "fed_back"
    assert api.act("staff_a1", number, "recheck", {"passed": True})[1]["status"] == "closed"


@pytest.mark.django_db
def test_grid_worker_patrol_finding_is_registered_at_once(api, world, cats):
    status, case = api.post("grid_a1", "/cases", {"description": "井盖缺失", **IN_GRID_A1})
    assert status == 201 and case["status"] == Status.REGISTERED and case["channel"] == "grid_patrol"
