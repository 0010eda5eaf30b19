"""Return and re-dispatch, rework, reopening after a rating, deferral, arrival, merging."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from civicgrid.cases import actions
from civicgrid.cases.models import Case, CaseAssignment, Status
from civicgrid.cases.tests.factories import IN_GRID_A1, case_in_state, file_case


@pytest.mark.django_db
def test_return_and_redispatch_restarts_the_sign_clock(api, world, cats):
    case = case_in_state(world, "signed")
    status, data = api.act(
        "handler_cg", case.number, "return", {"reason_code": "not_our_duty", "note": "属市场监管"}
    )
    assert status == 200 and data["status"] == "returned" and data["return_count"] == 1
    assert data["sign_by"] is None and data["due_at"] is None
    # The returning unit still sees the case until the dispatcher rules.
    assert api.get("handler_cg", f"/cases/{case.number}")[0] == 200
    later = timezone.now() + timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        status, data = api.act("dispatcher_a", case.number, "dispatch", {"lead_unit": "D-SC"})
    assert status == 200 and data["status"] == "dispatched" and data["lead_unit"]["code"] == "D-SC"
    row = Case.objects.get(pk=case.pk)
    assert row.dispatched_at == later and row.sign_by > later and row.signed_at is None
    assert row.first_dispatched_at < later
    # The old lead lost the case; the new one signs.
    assert api.get("handler_cg", f"/cases/{case.number}")[0] == 404
    assert api.act("handler_sc", case.number, "sign")[1]["status"] == "signed"
    assert CaseAssignment.objects.filter(case=row, active=False).count() == 2


@pytest.mark.django_db
def test_dispatcher_may_rule_the_same_unit_must_take_it(api, world, cats):
    case = case_in_state(world, "dispatched")
    api.act("handler_cg", case.number, "return", {"reason_code": "ownership_unclear"})
    status, data = api.act(
        "dispatcher_a", case.number, "dispatch", {"lead_unit": "D-CG", "note": "审定由城管办理"}
    )
    assert status == 200 and data["lead_unit"]["code"] == "D-CG"


@pytest.mark.django_db
def test_recheck_failure_sends_it_back_for_rework(api, world, cats):
    case = case_in_state(world, "fed_back")
    status, data = api.act("grid_a1", case.number, "recheck", {"passed": False})
    assert status == 422  # a reason is required when it fails
    status, data = api.act("grid_a1", case.number, "recheck", {"passed": False, "note": "垃圾仍在"})
    assert status == 200 and data["status"] == "signed"
    assert data["rework_count"] == 1 and data["feedback_result"] == "" and data["fed_back_at"] is None
    assert api.act("handler_cg", case.number, "feedback", {"result": "已彻底清运"})[1]["status"] == "fed_back"
    assert api.act("staff_a1", case.number, "recheck", {"passed": True})[1]["status"] == "closed"


@pytest.mark.django_db
def test_who_fed_back_may_not_recheck_it(api, world, cats, client):
    """The community sends a case to its own grid; the grid worker handles it and may not then pass
    their own result: the community's staff (or another grid's worker, or the centre) re-check it."""
    u = world.users
    case = file_case(world)
    actions.register_case(case, by=u["staff_a1"])
    actions.dispatch_case(case, by=u["staff_a1"], lead_unit=world.units["grid_a1"])
    actions.sign_case(case, by=u["grid_a1"])
    assert api.act("grid_a1", case.number, "feedback", {"result": "已清理"})[0] == 200
    status, data = api.act("grid_a1", case.number, "recheck", {"passed": True})
    assert status == 403 and data["error"]["message"] == "不能核查自己反馈的办理结果"
    assert Case.objects.get(pk=case.pk).status == Status.FED_BACK
    client.force_login(u["grid_a1"])
    assert 'data-step="recheck"' not in client.get(f"/cases/{case.number}/").content.decode()  # no button
    client.force_login(u["staff_a1"])
    assert 'data-step="recheck"' in client.get(f"/cases/{case.number}/").content.decode()
    assert api.act("staff_a1", case.number, "recheck", {"passed": True})[1]["status"] == "closed"


@pytest.mark.django_db
@time_machine.travel(datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)
def test_dissatisfied_rating_reopens_for_the_same_lead(api, world, cats):
    # A Wednesday morning: a day later the new sign-by deadline is a working day later too (run
    # after 17:30 on a Friday, both deadlines fell on Monday morning).
    status, created = api.post("resident", "/cases", {"description": "噪音扰民", **IN_GRID_A1})
    number = created["number"]
    u = world.users
    actions.register_case(number, by=u["staff_a1"])
    actions.dispatch_case(number, by=u["dispatcher_a"], lead_unit=world.units["dept_cg"])
    actions.sign_case(number, by=u["handler_cg"])
    actions.feedback_case(number, by=u["handler_cg"], result="已劝导")
    actions.recheck_case(number, by=u["grid_a1"], passed=True)
    first = Case.objects.get(number=number)
    # Staff who do not own the case cannot rate for the reporter; the reporter can.
    assert api.act("handler_cg", number, "rate", {"satisfaction": "satisfied", "resolved": True})[0] == 403
    later = timezone.now() + timedelta(days=1)
    with time_machine.travel(later, tick=False):
        status, data = api.act(
            "resident", number, "rate", {"satisfaction": "dissatisfied", "resolved": False}
        )
    assert status == 200, data
    assert data["status"] == "dispatched" and data["reopen_count"] == 1
    assert data["lead_unit"]["code"] == "D-CG"
    assert [s["action"] for s in data["timeline"]][-2:] == ["rate", "reopen"]
    row = Case.objects.get(number=number)
    assert row.sign_by > first.sign_by and row.closed_at is None and row.signed_at is None
    assert row.satisfaction == "dissatisfied"


@pytest.mark.django_db
def test_rating_window_and_once_per_closure(api, world, cats):
    case = case_in_state(world, "closed")
    with time_machine.travel(case.rate_by + timedelta(minutes=1), tick=False):
        assert (
            api.act("staff_a1", case.number, "rate", {"satisfaction": "satisfied", "resolved": True})[0]
            == 409
        )
    assert api.act("staff_a1", case.number, "rate", {"satisfaction": "satisfied", "resolved": True})[0] == 200
    assert api.act("staff_a1", case.number, "rate", {"satisfaction": "satisfied", "resolved": True})[0] == 409


@pytest.mark.django_db
def test_deferred_case_is_not_overdue_and_can_be_fed_back(api, world, cats):
    case = case_in_state(world, "signed")
    assert api.act("dispatcher_a", case.number, "defer", {"reason": "待年度资金"})[1]["deferred"] is True
    with time_machine.travel(case.due_at + timedelta(days=1), tick=False):
        data = api.get("dispatcher_a", f"/cases/{case.number}")[1]
        assert data["status"] == "deferred" and data["overdue"] is False
    assert (
        api.act("handler_cg", case.number, "feedback", {"result": "资金到位后已修复"})[1]["status"]
        == "fed_back"
    )


@pytest.mark.django_db
def test_arrival_required_before_feedback(api, world, cats):
    case = case_in_state(world, "signed", category=cats["road"])
    status, data = api.act("handler_cg", case.number, "feedback", {"result": "已修补"})
    assert status == 409 and "到场" in data["error"]["message"]
    # An assisting unit checks in only after it signed.
    assert api.act("handler_sc", case.number, "arrive", IN_GRID_A1)[0] == 409
    assert api.act("handler_sc", case.number, "sign")[0] == 200
    assert api.act("handler_sc", case.number, "arrive", IN_GRID_A1)[0] == 200
    status, data = api.act("handler_cg", case.number, "arrive", {**IN_GRID_A1, "coord": "gcj02"})
    assert status == 200
    lead = next(a for a in data["assignments"] if a["role"] == "lead")
    assert lead["arrived_at"] is not None
    assert api.act("handler_cg", case.number, "feedback", {"result": "已修补"})[1]["status"] == "fed_back"


@pytest.mark.django_db
def test_merged_case_follows_its_target_for_the_reporter(api, world, cats):
    target = file_case(world, description="同一处垃圾堆积")
    _status, dup = api.post("resident", "/cases", {"description": "门口垃圾很多", **IN_GRID_A1})
    assert api.act("staff_a1", dup["number"], "merge", {"into": target.number})[1]["status"] == "merged"
    # The resident now also sees the case theirs was merged into.
    assert api.get("resident", f"/cases/{target.number}")[0] == 200
    assert api.act("staff_a1", dup["number"], "register")[0] == 409
    row = Case.objects.get(number=dup["number"])
    assert row.status == Status.MERGED and row.merged_into_id == target.pk


@pytest.mark.django_db
def test_reject_reason_is_shown_to_the_reporter(api, world, cats):
    _status, created = api.post("resident", "/cases", {"description": "咨询社保", **IN_GRID_A1})
    api.act("staff_a1", created["number"], "reject", {"reason": "请拨打社保热线 12333"})
    data = api.get("resident", f"/cases/{created['number']}")[1]
    assert data["status"] == "rejected" and data["reject_reason"] == "请拨打社保热线 12333"


@pytest.mark.django_db
def test_urge_and_supervise_count_without_changing_status(api, world, cats):
    case = case_in_state(world, "dispatched")
    api.act("dispatcher_a", case.number, "urge", {"note": "请尽快签收"})
    data = api.act("leader", case.number, "supervise", {"note": "领导关注"})[1]
    assert data["status"] == "dispatched"
    row = Case.objects.get(pk=case.pk)
    assert row.urge_count == 1 and row.supervise_count == 1 and row.last_urged_at is not None
