"""The intake hook (filing through the API or the report page routes the case) and the desk panel."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from civicgrid.cases.models import Case, Status
from civicgrid.routing.models import RoutingCorrection, RoutingSuggestion
from civicgrid.routing.tests.factories import (
    GARBAGE_SURE,
    GARBAGE_UNSURE,
    IN_GRID_A1,
    NEAR_A1,
    file_case,
    model,
)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("civicgrid.routing.tests.urls")]


def test_filing_through_the_api_routes_the_case(client, world, cats):
    body = {
        "description": "小区门口垃圾堆积三天无人清运",
        "reporter_name": "张三",
        "reporter_phone": "13800000000",
    }
    with model(GARBAGE_SURE):
        r = client.post(
            "/api/v1/cases",
            {**body, **IN_GRID_A1},
            content_type="application/json",
            headers=world.bearer("staff_a1"),
        )
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["status"] == "dispatched" and data["category"]["code"] == "CS01"
    assert [s["action"] for s in data["timeline"]] == ["create", "dispatch"]
    assert data["timeline"][-1]["actor"] == "系统"
    assert RoutingSuggestion.objects.get(case__number=data["number"]).decided_automatically
    with model(GARBAGE_UNSURE):
        r = client.post(
            "/api/v1/cases",
            {**body, **IN_GRID_A1},
            content_type="application/json",
            headers=world.bearer("staff_a1"),
        )
    assert r.json()["status"] == "received"
    assert not RoutingSuggestion.objects.get(case__number=r.json()["number"]).decided_automatically


def test_a_replayed_filing_is_not_routed_twice(client, world, cats):
    body = {"description": "小区门口垃圾堆积三天无人清运", **IN_GRID_A1}
    headers = {**world.bearer("staff_a1"), "Idempotency-Key": "same"}
    with model(GARBAGE_SURE):
        first = client.post("/api/v1/cases", body, content_type="application/json", headers=headers)
        again = client.post("/api/v1/cases", body, content_type="application/json", headers=headers)
    assert first.json()["number"] == again.json()["number"]
    case = Case.objects.get(number=first.json()["number"])
    assert (
        case.steps.filter(action="dispatch").count() == 1
        and RoutingSuggestion.objects.filter(case=case).count() == 1
    )


def test_a_residents_snapshot_from_the_report_page_is_routed(client, world, cats, settings, tmp_path):
    data = {
        "description": "小区门口垃圾堆积三天，没人清运",
        "category": "CS01",
        "name": "王小二",
        "phone": "13912345678",
        "idempotency_key": "k-1",
        **IN_GRID_A1,
    }
    with model(GARBAGE_SURE):
        r = client.post("/report/submit", data)
    assert r.status_code == 201, r.content
    case = Case.objects.get(number=r.json()["number"])
    assert case.status == Status.DISPATCHED and case.lead_unit == world.units["dept_cg"]
    page = client.get(r.json()["url"])
    assert "已转交" in page.content.decode()


def render_panel(case, user) -> str:
    request = RequestFactory().get("/")
    request.user = user
    template = Template("{% load routing_tags %}{% routing_suggestions case %}")
    return template.render(Context({"request": request, "case": case, "csrf_token": "t"}))


def waiting_pair(world, cats):
    with model(GARBAGE_UNSURE):
        first = file_case(world, description="小区门口垃圾堆积三天无人清运", category=cats["garbage"])
        second = file_case(
            world, description="小区门口的垃圾好几天没人清运", category=cats["garbage"], **NEAR_A1
        )
    return first, second


def test_the_panel_shows_scores_unit_duplicates_and_buttons_to_the_dispatcher(world, cats):
    first, second = waiting_pair(world, cats)
    from civicgrid.cases.actions import register_case

    register_case(second.number, by=world.users["staff_a1"])
    html = render_panel(Case.objects.get(pk=second.pk), world.users["dispatcher_a"])
    assert "系统派遣建议" in html and "待人工派遣" in html
    assert "垃圾清运" in html and "55%" in html and "30%" in html
    assert world.units["dept_cg"].name in html
    assert first.number in html and "合并到此" in html
    assert "按建议派遣" in html and "/routing/cases/" in html
    # Once a person dispatched it, the suggestion no longer says it waits for one.
    from civicgrid.cases.actions import dispatch_case

    dispatch_case(second.number, by=world.users["dispatcher_a"], lead_unit=world.units["dept_cg"])
    html = render_panel(Case.objects.get(pk=second.pk), world.users["dispatcher_a"])
    assert "待人工派遣" not in html and "未自动派遣" in html


def test_the_panel_is_empty_for_other_roles(world, cats):
    _, second = waiting_pair(world, cats)
    assert render_panel(second, world.users["resident"]).strip() == ""


def test_dispatch_as_suggested_from_the_panel(client, world, cats):
    _, second = waiting_pair(world, cats)
    from civicgrid.cases.actions import register_case

    register_case(second.number, by=world.users["staff_a1"])
    client.force_login(world.users["dispatcher_a"])
    r = client.post(f"/routing/cases/{second.number}/dispatch-suggested/")
    assert r.status_code == 302 and r["Location"] == f"/cases/{second.number}/"
    second.refresh_from_db()
    assert second.status == Status.DISPATCHED and second.lead_unit == world.units["dept_cg"]
    assert not RoutingCorrection.objects.exists()


def test_recategorize_and_merge_from_the_panel(client, world, cats):
    first, second = waiting_pair(world, cats)
    client.force_login(world.users["staff_a1"])
    r = client.post(f"/routing/cases/{second.number}/recategorize/", {"category": "CS02"})
    assert r.status_code == 302
    second.refresh_from_db()
    assert second.category == cats["stalls"]
    client.post(f"/routing/cases/{second.number}/recategorize/", {"category": "CS01"})
    r = client.post(f"/routing/cases/{second.number}/merge/", {"into": first.number})
    assert r.status_code == 302
    second.refresh_from_db()
    assert second.status == Status.MERGED and second.merged_into == first


def test_panel_buttons_refuse_other_units(client, world, cats):
    _, second = waiting_pair(world, cats)
    client.force_login(world.users["staff_a2"])
    assert client.post(f"/routing/cases/{second.number}/dispatch-suggested/").status_code == 404
    client.force_login(world.users["handler_cg"])
    assert client.post(f"/routing/cases/{second.number}/recategorize/", {"category": "CS02"}).status_code in (
        302,
        404,
    )
    second.refresh_from_db()
    assert second.category == cats["garbage"]
