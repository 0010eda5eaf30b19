"""Every action: allowed for the right persona; 409 in the wrong state, 403 for the wrong role and
404 for another unit, each time with nothing changed."""

import pytest

from civicgrid.cases.models import Case, CaseStep
from civicgrid.cases.tests.factories import IN_GRID_A1, case_in_state, file_case

# action, body, state it is allowed in, allowed persona, expected status after,
# in-scope persona with the wrong role, out-of-scope persona, a state where it is refused
MATRIX = [
    ("register", {}, "received", "staff_a1", "registered", "leader", "staff_a2", "registered"),
    (
        "reject",
        {"reason": "不属于受理范围"},
        "received",
        "grid_a1",
        "rejected",
        "leader",
        "dispatcher_b",
        "dispatched",
    ),
    (
        "whistle",
        {"note": "社区无法解决"},
        "registered",
        "staff_a1",
        "escalated",
        "dispatcher_a",
        "staff_b1",
        "dispatched",
    ),
    (
        "dispatch",
        {"lead_unit": "D-CG"},
        "registered",
        "dispatcher_a",
        "dispatched",
        "grid_a1",
        "dispatcher_b",
        "signed",
    ),
    (
        "dispatch",
        {"lead_unit": "D-CG"},
        "escalated",
        "dispatcher_a",
        "dispatched",
        "leader",
        "dispatcher_b",
        "closed",
    ),
    ("sign", {}, "dispatched", "handler_cg", "signed", "dispatcher_a", "staff_a2", "fed_back"),
    (
        "return",
        {"reason_code": "not_our_duty"},
        "dispatched",
        "handler_cg",
        "returned",
        "handler_sc",
        "dispatcher_b",
        "fed_back",
    ),
    (
        "return",
        {"reason_code": "ownership_unclear"},
        "signed",
        "handler_cg",
        "returned",
        "staff_a1",
        "staff_b1",
        "closed",
    ),
    (
        "request_extension",
        {"working_days": 2, "reason": "需采购"},
        "signed",
        "handler_cg",
        "signed",
        "handler_sc",
        "staff_b1",
        "dispatched",
    ),
    ("approve_extension", {}, "pending", "dispatcher_a", "signed", "handler_cg", "dispatcher_b", "signed"),
    (
        "deny_extension",
        {"reason": "理由不充分"},
        "pending",
        "dispatcher_a",
        "signed",
        "handler_cg",
        "dispatcher_b",
        "signed",
    ),
    (
        "defer",
        {"reason": "资金未到位"},
        "signed",
        "dispatcher_a",
        "deferred",
        "handler_cg",
        "dispatcher_b",
        "dispatched",
    ),
    (
        "resume",
        {"note": "资金已到位"},
        "deferred",
        "dispatcher_a",
        "signed",
        "handler_cg",
        "dispatcher_b",
        "signed",
    ),
    (
        "arrive",
        {**IN_GRID_A1, "note": "已到现场"},
        "signed",
        "handler_cg",
        "signed",
        "dispatcher_a",
        "staff_b1",
        "dispatched",
    ),
    (
        "feedback",
        {"result": "已清运"},
        "signed",
        "handler_cg",
        "fed_back",
        "handler_sc",
        "staff_a2",
        "dispatched",
    ),
    ("recheck", {"passed": True}, "fed_back", "grid_a1", "closed", "handler_cg", "staff_a2", "signed"),
    (
        "rate",
        {"satisfaction": "satisfied", "resolved": True},
        "closed",
        "staff_a1",
        "closed",
        "handler_cg",
        "staff_b1",
        "fed_back",
    ),
    (
        "reopen",
        {"reason": "群众再次来电"},
        "closed",
        "dispatcher_a",
        "dispatched",
        "handler_cg",
        "dispatcher_b",
        "signed",
    ),
    (
        "urge",
        {"note": "请抓紧办理"},
        "dispatched",
        "dispatcher_a",
        "dispatched",
        "staff_a1",
        "dispatcher_b",
        "closed",
    ),
    ("supervise", {"note": "领导督办"}, "signed", "leader", "signed", "grid_a1", "dispatcher_b", "closed"),
]


def _trace(case):
    row = Case.objects.get(pk=case.pk)
    return row.status, row.updated_at, CaseStep.objects.filter(case=row).count()


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "body", "state", "allowed", "after"), [m[:5] for m in MATRIX])
def test_allowed(api, world, cats, action, body, state, allowed, after):
    case = case_in_state(world, state)
    status, data = api.act(allowed, case.number, action, body)
    assert status == 200, data
    assert data["status"] == after
    assert data["timeline"][-1]["action"] in {action, "reopen"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "body", "state", "wrong_role"), [(m[0], m[1], m[2], m[5]) for m in MATRIX]
)
def test_wrong_role_is_forbidden(api, world, cats, action, body, state, wrong_role):
    case = case_in_state(world, state)
    before = _trace(case)
    status, data = api.act(wrong_role, case.number, action, body)
    assert status == 403, data
    assert data["error"]["code"] == "forbidden"
    assert _trace(case) == before


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "body", "state", "outsider"), [(m[0], m[1], m[2], m[6]) for m in MATRIX])
def test_other_unit_is_not_found(api, world, cats, action, body, state, outsider):
    case = case_in_state(world, state)
    before = _trace(case)
    status, data = api.act(outsider, case.number, action, body)
    assert status == 404, data
    assert data["error"]["code"] == "not_found"
    assert _trace(case) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "body", "allowed", "bad_state"), [(m[0], m[1], m[3], m[7]) for m in MATRIX]
)
def test_wrong_state_conflicts(api, world, cats, action, body, allowed, bad_state):
    case = case_in_state(world, bad_state)
    before = _trace(case)
    status, data = api.act(allowed, case.number, action, body)
    assert status == 409, data
    assert data["error"]["code"] == "invalid_transition"
    assert data["error"]["message"]
    assert _trace(case) == before


@pytest.mark.django_db
def test_merge_allowed_and_refused(api, world, cats):
    target = file_case(world, description="同一处垃圾堆积")
    dup = file_case(world)
    assert api.act("grid_a1", dup.number, "merge", {"into": target.number})[0] == 403
    assert api.act("staff_a2", dup.number, "merge", {"into": target.number})[0] == 404
    other = file_case(world, by="staff_b1")
    status, data = api.act("staff_a1", dup.number, "merge", {"into": other.number})
    assert status == 404 and data["error"]["details"]["into"] == other.number
    status, data = api.act("staff_a1", dup.number, "merge", {"into": target.number})
    assert status == 200 and data["status"] == "merged" and data["merged_into"] == target.number
    closed = case_in_state(world, "closed")
    status, data = api.act("staff_a1", file_case(world).number, "merge", {"into": closed.number})
    assert status == 409
    status, data = api.act("staff_a1", closed.number, "merge", {"into": target.number})
    assert status == 409
