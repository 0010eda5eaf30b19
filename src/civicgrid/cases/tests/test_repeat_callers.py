"""A repeat caller's earlier cases, found by the phone they reported from (12345 practice): for those who
may see reporters, within their territory, by the phone's blind index (the number is never stored
in clear)."""

import pytest

from civicgrid.cases.tests.factories import IN_COM_B1, PHONE, file_case

OTHER = "13900001111"


@pytest.fixture
def calls(world, cats):
    """Two cases from PHONE in community A1 (written two ways), one from another phone, one anonymous,
    and one from PHONE in subdistrict B."""
    return {
        "first": file_case(world, title="第一次", reporter_phone=PHONE),
        "again": file_case(world, title="又一次", reporter_phone="138-1234 5678"),
        "other": file_case(world, title="别人", reporter_phone=OTHER),
        "anonymous": file_case(world, title="匿名", anonymous=True, category=cats["garbage"]),
        "elsewhere": file_case(world, by="staff_b1", title="乙街道", reporter_phone=PHONE, **IN_COM_B1),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["dispatcher_a", "staff_a1"])
def test_a_dispatcher_or_the_community_finds_a_callers_cases_in_their_territory(api, calls, who):
    status, data = api.get(who, "/cases?phone=138 1234 5678")
    assert status == 200 and {c["title"] for c in data["items"]} == {"第一次", "又一次"}
    assert data["count"] == 2  # not the other phone, the anonymous case nor subdistrict B's


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["handler_cg", "grid_a1", "leader"])
def test_those_who_may_not_see_reporters_may_not_look_one_up(api, calls, who):
    status, data = api.get(who, f"/cases?phone={PHONE}")
    assert status == 403 and data["error"]["code"] == "forbidden"


@pytest.mark.django_db
def test_a_phone_that_is_no_phone_is_refused(api, calls):
    status, data = api.get("dispatcher_a", "/cases?phone=abc")
    assert status == 422 and data["error"]["details"][0]["field"] == "phone"


@pytest.mark.django_db
def test_the_desk_list_looks_a_caller_up_for_those_who_may(login, world, calls):
    page = login("dispatcher_a").get("/cases/list/", {"phone": PHONE})
    html = page.content.decode()
    assert page.status_code == 200 and "第一次" in html and "又一次" in html and "别人" not in html
    refused = login("dispatcher_a").get("/cases/list/", {"phone": "abc"})
    assert refused.status_code == 422 and "电话号码格式不正确" in refused.content.decode()
    # A department's list has no such field, and ignores the parameter.
    handler = login("handler_cg").get("/cases/list/", {"phone": PHONE})
    assert 'name="phone"' not in handler.content.decode()
