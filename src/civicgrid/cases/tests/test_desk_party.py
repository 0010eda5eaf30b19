"""Party members at the desk: the community offers a resident's request, a member claims it."""

import pytest

from civicgrid.cases import actions
from civicgrid.cases.models import Case
from civicgrid.cases.tests.factories import case_in_state


@pytest.mark.django_db
def test_a_party_member_claims_at_the_desk(login, world, cats):
    case = actions.offer_case(case_in_state(world, "registered"), by=world.users["staff_a1"])
    client = login("member_a1")
    inbox = client.get("/cases/").content.decode()
    assert 'data-tab="to_claim" class="tab current"' in inbox and case.number in inbox
    assert 'href="/measures/"' not in inbox  # no measures for a Party member
    assert client.get("/measures/").status_code == 403
    from io import BytesIO

    from openpyxl import load_workbook

    case_in_state(world, "registered")  # not offered: not theirs
    exported = client.get("/cases/export.xlsx")
    sheet = load_workbook(BytesIO(b"".join(exported.streaming_content))).active
    numbers = [str(c.value) for c in sheet["A"] if str(c.value or "").startswith("CG")]
    assert exported.status_code == 200 and numbers == [case.number]
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert f"/cases/{case.number}/steps/claim/" in page and "/steps/dispatch/" not in page
    assert "已发布党员认领，等待社区党员认领" in page  # not 已立案，等待派遣
    # Another community's member: not their case (404); staff of the community: no claim (403).
    assert login("member_a2").get(f"/cases/{case.number}/").status_code == 404
    refused = login("staff_a1").post(
        f"/cases/{case.number}/steps/claim/", {"note": ""}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 403 and "只有在本社区报到的党员可以认领" in refused.content.decode()
    done = login("member_a1").post(
        f"/cases/{case.number}/steps/claim/", {"note": "我来"}, headers={"HX-Request": "true"}
    )
    assert done.status_code == 200 and "认领：已完成" in done.content.decode()
    member = world.users["member_a1"]
    assert f"党员 {member.display_name or member.username} 认领" in done.content.decode()  # on the lead unit
    assert Case.objects.get(pk=case.pk).claimed_by == world.users["member_a1"]
    again = login("member_a1").post(
        f"/cases/{case.number}/steps/claim/", {"note": ""}, headers={"HX-Request": "true"}
    )
    assert again.status_code == 409


@pytest.mark.django_db
def test_community_staff_offer_at_the_desk(login, world, cats):
    case = case_in_state(world, "registered")
    client = login("staff_a1")
    assert "/steps/offer/" in client.get(f"/cases/{case.number}/").content.decode()
    assert login("grid_a1").get(f"/cases/{case.number}/steps/offer/").status_code == 403
    assert login("staff_b1").get(f"/cases/{case.number}/steps/offer/").status_code == 404
    client = login("staff_a1")  # one test client, signed in again as each persona
    done = client.post(
        f"/cases/{case.number}/steps/offer/", {"note": "请党员帮忙"}, headers={"HX-Request": "true"}
    )
    assert done.status_code == 200 and Case.objects.get(pk=case.pk).offered_at is not None
    assert "/steps/offer/" not in client.get(f"/cases/{case.number}/").content.decode()
