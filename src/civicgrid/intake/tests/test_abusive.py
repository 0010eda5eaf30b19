"""The dispatcher marks a report as malicious (恶意): only the dispatcher of its subdistrict."""

import pytest
from django.test import Client

from civicgrid.cases import actions as case_actions
from civicgrid.cases.models import CaseStep, Status
from civicgrid.core.errors import Forbidden, NotFound
from civicgrid.intake.models import Block
from civicgrid.intake.tests.test_report import body, post


@pytest.fixture
def filed(cats, world):
    return post(Client(), body()).json()


@pytest.mark.django_db
def test_dispatcher_marks_abusive_and_blocks_the_sender(client, world, filed):
    client.force_login(world.users["dispatcher_a"])
    assert client.get(f"/report/staff/{filed['number']}/abusive/").status_code == 200
    r = client.post(
        f"/report/staff/{filed['number']}/abusive/", {"reason": "反复发送广告", "block_days": "30"}
    )
    assert r.status_code == 302
    step = CaseStep.objects.get(case__number=filed["number"], action="reject")
    assert step.changes["abusive"] is True and step.case.status == Status.REJECTED
    assert {b.kind for b in Block.objects.all()} == {"phone", "ip"}
    # Gone from the public lists, and the sender is refused now.
    assert (
        Client()
        .get("/report/similar.json", {"category": "CS01", "lat": 25.705, "lng": 104.405})
        .json()["items"]
        == []
    )
    assert post(Client(), body(idempotency_key="again")).status_code == 403


@pytest.mark.django_db
def test_other_subdistrict_gets_404(client, world, filed):
    client.force_login(world.users["dispatcher_b"])
    assert client.get(f"/report/staff/{filed['number']}/abusive/").status_code == 404
    assert client.post(f"/report/staff/{filed['number']}/abusive/", {"reason": "x"}).status_code == 404
    with pytest.raises(NotFound):
        case_actions.mark_abusive(filed["number"], by=world.users["dispatcher_b"], reason="x")


@pytest.mark.django_db
def test_wrong_role_gets_403(client, world, filed):
    for who in ("staff_a1", "grid_a1"):
        client.force_login(world.users[who])
        assert client.post(f"/report/staff/{filed['number']}/abusive/", {"reason": "x"}).status_code == 403
        with pytest.raises(Forbidden):
            case_actions.mark_abusive(filed["number"], by=world.users[who], reason="x")
    assert Block.objects.count() == 0


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client, filed):
    r = client.get(f"/report/staff/{filed['number']}/abusive/")
    assert r.status_code == 302 and "/login/" in r["Location"]


@pytest.mark.django_db
def test_a_case_in_handling_cannot_be_marked(world, filed):
    case_actions.register_case(filed["number"], by=world.users["staff_a1"])
    case_actions.dispatch_case(
        filed["number"], by=world.users["dispatcher_a"], lead_unit=world.units["dept_cg"]
    )
    from civicgrid.core.errors import InvalidTransition

    with pytest.raises(InvalidTransition):
        case_actions.mark_abusive(filed["number"], by=world.users["dispatcher_a"], reason="x")


@pytest.mark.django_db
def test_case_page_shows_the_source_and_the_abuse_link_to_the_dispatcher_only(client, world, filed):
    link = f"/report/staff/{filed['number']}/abusive/"
    client.force_login(world.users["dispatcher_a"])
    page = client.get(f"/cases/{filed['number']}/").content.decode()
    assert "来源" in page and link in page
    client.force_login(world.users["staff_a1"])
    page = client.get(f"/cases/{filed['number']}/").content.decode()
    assert "来源" in page and link not in page
