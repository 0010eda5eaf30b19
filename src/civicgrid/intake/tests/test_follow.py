"""Following a case: tracking codes, brute-force protection, the resident's timeline, rating and reopening,
near duplicates and following an existing case instead of filing again."""

import json

import pytest
from django.test import Client

from civicgrid.cases import actions as case_actions
from civicgrid.cases.models import Case, Status
from civicgrid.intake.models import Ticket, TicketKind
from civicgrid.intake.queries import followers_of, similar_open_cases
from civicgrid.intake.tests.conftest import IN_GRID_A1
from civicgrid.intake.tests.test_report import PHONE, body, post


def close(world, number: str) -> Case:
    u = world.users
    case_actions.register_case(number, by=u["staff_a1"])
    case_actions.dispatch_case(
        number, by=u["dispatcher_a"], lead_unit=world.units["dept_cg"], note="内部：派城管"
    )
    case_actions.sign_case(number, by=u["handler_cg"])
    case_actions.feedback_case(number, by=u["handler_cg"], result="垃圾已清运完毕")
    return case_actions.recheck_case(number, by=u["grid_a1"], passed=True, note="内部备注：已核查")


@pytest.mark.django_db
def test_follow_with_code_and_last_four_digits(cats, world):
    filer = Client()
    r = post(filer, body()).json()
    stranger = Client()
    assert stranger.get(r["url"]).status_code == 404  # no grant in this browser
    bad = stranger.post("/track/", {"code": r["code"], "digits": "0000"})
    assert bad.status_code == 404 and "不正确" in bad.content.decode()
    good = stranger.post("/track/", {"code": r["code"].lower().replace("-", ""), "digits": PHONE[-4:]})
    assert good.status_code == 302 and good["Location"] == r["url"]
    assert stranger.get(r["url"]).status_code == 200


@pytest.mark.django_db
def test_follow_form_is_rate_limited(cats, world, settings):
    settings.CIVICGRID_INTAKE_LIMITS = {"follow_ip": (3, 900), "follow_code": (100, 3600)}
    r = post(Client(), body()).json()
    guesser = Client()
    codes = [
        guesser.post("/track/", {"code": f"AAAAA-BBBB{i}", "digits": "1234"}).status_code for i in range(3)
    ]
    assert codes == [404, 404, 404]
    # Locked now, even with the right code and digits.
    assert guesser.post("/track/", {"code": r["code"], "digits": PHONE[-4:]}).status_code == 429


@pytest.mark.django_db
def test_a_code_is_locked_after_failures(cats, world, settings):
    settings.CIVICGRID_INTAKE_LIMITS = {"follow_ip": (100, 900), "follow_code": (2, 3600)}
    r = post(Client(), body()).json()
    for _ in range(2):
        Client().post("/track/", {"code": r["code"], "digits": "9999"})
    assert Client().post("/track/", {"code": r["code"], "digits": PHONE[-4:]}).status_code == 429


@pytest.mark.django_db
def test_resident_timeline_hides_staff_and_internal_notes_then_rating_reopens(cats, world):
    browser = Client()
    r = post(browser, body()).json()
    case = close(world, r["number"])
    page = browser.get(r["url"]).content.decode()
    assert "已办结" in page and "垃圾已清运完毕" in page and "提交评价" in page
    for hidden in ("内部：派城管", "内部备注", "handler_cg", "dispatcher_a", "staff_a1", PHONE, "王小二"):
        assert hidden not in page
    rated = browser.post(
        f"/track/{Ticket.objects.get(case=case, kind='reporter').pk}/rate/",
        {"satisfaction": "dissatisfied", "resolved": "no", "comment": "还有一堆没清"},
    )
    assert rated.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED and case.reopen_count == 1 and case.satisfaction == "dissatisfied"
    page = browser.get(r["url"]).content.decode()
    assert "已重新办理" in page and "群众评价不满意或未解决" in page
    step = case.steps.get(action="rate")
    assert step.actor is None and step.changes["via"] == "tracking_code"


@pytest.mark.django_db
def test_satisfied_rating_keeps_it_closed_and_only_once(cats, world):
    browser = Client()
    r = post(browser, body()).json()
    case = close(world, r["number"])
    ticket = Ticket.objects.get(case=case, kind="reporter")
    assert (
        browser.post(
            f"/track/{ticket.pk}/rate/", {"satisfaction": "satisfied", "resolved": "yes"}
        ).status_code
        == 302
    )
    case.refresh_from_db()
    assert case.status == Status.CLOSED and case.resolved is True
    second = browser.post(f"/track/{ticket.pk}/rate/", {"satisfaction": "dissatisfied", "resolved": "no"})
    assert second.status_code == 409


@pytest.mark.django_db
def test_similar_open_cases_and_following_one(cats, world):
    browser = Client()
    r = post(browser, body()).json()
    found = similar_open_cases(cats["garbage"], 25.7052, 104.4052, "", 5)
    assert [s.case.number for s in found] == [r["number"]] and found[0].distance_m < 50
    assert similar_open_cases(cats["garbage"], 25.72, 104.405, "", 5) == []  # ~1.7 km away
    assert similar_open_cases(cats["lamp"], 25.705, 104.405, "", 5) == []
    data = Client().get("/report/similar.json", {"category": "CS01", **IN_GRID_A1}).json()
    assert [i["number"] for i in data["items"]] == [r["number"]]
    assert PHONE not in json.dumps(data, ensure_ascii=False) and "王小二" not in json.dumps(
        data, ensure_ascii=False
    )
    neighbour = Client()
    f = neighbour.post("/report/follow", {"number": r["number"], "phone": "13655556666"})
    assert f.status_code == 201
    ticket = Ticket.objects.get(case__number=r["number"], kind=TicketKind.FOLLOWER)
    assert neighbour.get(f.json()["url"]).status_code == 200
    users, phones = followers_of(ticket.case)
    assert users == [] and phones == ["13655556666"]
    # A follower reads but does not rate.
    close(world, r["number"])
    assert "提交评价" not in neighbour.get(f.json()["url"]).content.decode()


@pytest.mark.django_db
def test_following_needs_an_open_public_case(cats, world):
    assert Client().post("/report/follow", {"number": "CG20990101-0001"}).status_code == 404


@pytest.mark.django_db
def test_areas_geojson_is_cached_with_an_etag(cats, world):
    r = Client().get("/report/areas.json")
    assert r.status_code == 200
    data = json.loads(r.content)
    kinds = {f["properties"]["kind"] for f in data["features"]}
    assert kinds == {"grid", "community"}
    again = Client().get("/report/areas.json", HTTP_IF_NONE_MATCH=r["ETag"])
    assert again.status_code == 304
