"""The reporter is hidden by default: clear only for those who call back."""

import logging

import pytest

from civicgrid.cases.models import Case
from civicgrid.cases.tests.factories import IN_GRID_A1, PHONE, case_in_state


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "name", "phone"),
    [
        ("dispatcher_a", "张三丰", PHONE),
        ("staff_a1", "张三丰", PHONE),
        ("admin", "张三丰", PHONE),
        ("handler_cg", "张**", "138****5678"),
        ("handler_sc", "张**", "138****5678"),
        ("grid_a1", "张**", "138****5678"),
        ("leader", "张**", "138****5678"),
    ],
)
def test_reporter_per_role(api, world, cats, who, name, phone):
    case = case_in_state(world, "dispatched")
    data = api.get(who, f"/cases/{case.number}")[1]
    assert (data["reporter_name"], data["reporter_phone"]) == (name, phone)
    listed = api.get(who, "/cases")[1]["items"][0]
    assert (listed["reporter_name"], listed["reporter_phone"]) == (name, phone)


@pytest.mark.django_db
def test_stored_encrypted_with_a_blind_index(world, cats):
    case = case_in_state(world, "received")
    row = Case.objects.filter(pk=case.pk).values().get()
    assert PHONE not in str(row) and "张三丰" not in str(row)
    from civicgrid.core.crypto import blind_index

    assert Case.objects.filter(reporter_phone_index=blind_index("138 1234 5678")).count() == 1


@pytest.mark.django_db
def test_resident_reporter_is_not_named_to_departments(api, world, cats):
    _status, data = api.post(
        "resident", "/cases", {"description": "占道经营", **IN_GRID_A1, "reporter_phone": PHONE}
    )
    number = data["number"]
    assert data["reporter_phone"] == PHONE  # the reporter sees their own
    api.act("staff_a1", number, "register")
    api.act("dispatcher_a", number, "dispatch", {"lead_unit": "D-CG"})
    seen = api.get("handler_cg", f"/cases/{number}")[1]
    assert seen["timeline"][0]["actor"] == "反映人"
    assert all(step["actor"] != "resident" for step in seen["timeline"])
    assert api.get("staff_a1", f"/cases/{number}")[1]["timeline"][0]["actor"] == "resident"


@pytest.mark.django_db
def test_a_party_member_sees_no_trace_of_the_reporter(api, world, cats):
    from civicgrid.cases import actions

    case = actions.offer_case(case_in_state(world, "registered"), by=world.users["staff_a1"])
    for path in (f"/cases/{case.number}", "/cases"):
        data = api.get("member_a1", path)[1]
        seen = data["items"][0] if "items" in data else data
        assert (seen["reporter_name"], seen["reporter_phone"]) == ("", "")


@pytest.mark.django_db
def test_an_anonymous_residents_account_is_named_to_nobody(api, world, cats):
    status, data = api.post(
        "resident", "/cases", {"description": "占道经营", "anonymous": True, **IN_GRID_A1}
    )
    assert status == 201
    for who in ("staff_a1", "dispatcher_a", "admin"):  # they may see a reporter, not an anonymous one
        assert api.get(who, f"/cases/{data['number']}")[1]["timeline"][0]["actor"] == "匿名群众"
    assert api.get("resident", f"/cases/{data['number']}")[1]["timeline"][0]["actor"] == "resident"


@pytest.mark.django_db
def test_anonymous_reports(api, world, cats):
    status, data = api.post(
        "staff_a1",
        "/cases",
        {"description": "x", "anonymous": True, "reporter_phone": PHONE, "category": "CS01", **IN_GRID_A1},
    )
    assert status == 201 and data["reporter_name"] == "匿名" and data["reporter_phone"] == ""
    assert Case.objects.get(number=data["number"]).reporter_phone_enc == ""
    status, data = api.post("staff_a1", "/cases", {"description": "x", "anonymous": True, "category": "JB01"})
    assert status == 422 and "匿名" in data["error"]["message"]


@pytest.mark.django_db
def test_phone_never_logged(api, world, cats, caplog):
    caplog.set_level(logging.DEBUG)
    case = case_in_state(world, "signed")
    api.get("handler_cg", f"/cases/{case.number}")
    api.act("handler_cg", case.number, "feedback", {"result": "ok"})
    assert PHONE not in caplog.text
