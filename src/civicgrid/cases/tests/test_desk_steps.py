"""The desk shows a step's button exactly when the action would succeed.

For every persona, every step and cases in every state, desk_queries' dry run is compared with the real
action (run through the desk's own runner, inside a savepoint that is rolled back): shown must equal
"succeeds", and when both refuse, they refuse alike (403 Forbidden or 409 InvalidTransition), since
the step form's GET answers with the dry run's status.
"""

from datetime import timedelta
from io import BytesIO
from types import SimpleNamespace

import pytest
from django.db import transaction
from django.utils import timezone
from PIL import Image

from civicgrid.cases import actions, desk_queries
from civicgrid.cases.models import Case, Status
from civicgrid.cases.queries import cases_visible_to
from civicgrid.cases.tests.factories import IN_GRID_A1, case_in_state, file_case
from civicgrid.cases.views.steps import RUNS
from civicgrid.core.errors import DomainError, Forbidden, InvalidTransition, NotFound


class Rollback(Exception):
    pass


def _photo():
    out = BytesIO()
    Image.new("RGB", (16, 16), (10, 10, 200)).save(out, format="JPEG")
    data = out.getvalue()
    return SimpleNamespace(name="p.jpg", read=lambda: data)


def body(step, case, user, target):
    """Valid input for the step, as the step's form would clean it."""
    if step == "dispatch":
        units = desk_queries.dispatch_targets(case, user)
        from civicgrid.core.models import Unit

        return {
            "lead_unit": units[0] if units else Unit.objects.get(code="D-CG"),
            "assisting_units": [],
            "note": "",
        }
    return {
        "note": "说明",
        "reason": "理由",
        "resume_on": None,
        "into": target.number,
        "reason_code": "not_our_duty",
        "working_days": 2,
        "lat": IN_GRID_A1["lat"],
        "lng": IN_GRID_A1["lng"],
        "result": "已处理",
        "photos": [_photo()],
        "photo_ids": [],
        "passed": True,
        "satisfaction": "satisfied",
        "resolved": True,
        "comment": "",
    }


def outcome(step, case, user, target):
    """The real action's result: None when it succeeds, else the error class (nothing is kept)."""
    try:
        with transaction.atomic():
            RUNS[step](Case.objects.get(pk=case.pk), user, body(step, case, user, target))
            raise Rollback
    except Rollback:
        return None
    except DomainError as exc:
        return type(exc), exc.message


def dry(step, case, user):
    ctx = desk_queries.step_context(
        Case.objects.select_related("category", "lead_unit", "community").get(pk=case.pk), user
    )
    try:
        desk_queries.check_step(ctx, step)
    except DomainError as exc:
        return type(exc)
    return None


def _community_handled(world):
    """A case the community gave to its own grid: the community rules on it (rules.ruler_of)."""
    case = file_case(world)
    actions.register_case(case, by=world.users["staff_a1"])
    actions.dispatch_case(case, by=world.users["staff_a1"], lead_unit=world.units["grid_a1"])
    return actions.sign_case(case, by=world.users["grid_a1"])


def _state(world, cats, name):
    u = world.users
    if name == "returned":
        case = case_in_state(world, "signed")
        return actions.return_case(case, by=u["handler_cg"], reason_code="not_our_duty")
    if name == "deferred":
        return actions.defer_case(case_in_state(world, "signed"), by=u["dispatcher_a"], reason="资金未到位")
    if name == "deferred_pending":
        case = case_in_state(world, "pending")
        return actions.defer_case(case, by=u["dispatcher_a"], reason="资金未到位")
    if name == "rejected":
        return actions.reject_case(case_in_state(world, "received"), by=u["staff_a1"], reason="不属实")
    if name == "merged":
        target = file_case(world)
        return actions.merge_case(case_in_state(world, "received"), by=u["staff_a1"], into=target)
    if name == "arrival_required":
        return case_in_state(world, "signed", category=cats["road"])
    if name == "arrived":
        case = case_in_state(world, "signed", category=cats["road"])
        return actions.arrive_case(case, by=u["handler_cg"], **IN_GRID_A1)
    if name == "overdue_signed":
        case = case_in_state(world, "signed")
        Case.objects.filter(pk=case.pk).update(due_at=timezone.now() - timedelta(hours=1))
        return case
    if name == "assist_signed":
        case = case_in_state(world, "dispatched")
        return actions.sign_case(case, by=u["handler_sc"])
    if name == "rated":
        case = case_in_state(world, "closed")
        return actions.rate_case(case, by=u["staff_a1"], satisfaction="satisfied", resolved=True)
    if name == "rating_expired":
        case = case_in_state(world, "closed")
        Case.objects.filter(pk=case.pk).update(rate_by=timezone.now() - timedelta(minutes=1))
        return case
    if name == "resident_closed":
        return case_in_state(world, "closed", by="resident")
    if name == "community_handled":
        return _community_handled(world)
    if name == "community_returned":
        case = _community_handled(world)
        return actions.return_case(case, by=u["grid_a1"], reason_code="not_our_area")
    if name == "escalated_reject":
        return case_in_state(world, "escalated")
    if name == "offered":
        return actions.offer_case(case_in_state(world, "registered"), by=u["staff_a1"])
    if name == "claimed":
        case = actions.offer_case(case_in_state(world, "registered"), by=u["staff_a1"])
        return actions.claim_case(case, by=u["member_a1"])
    if name == "claimed_fed_back":
        case = actions.offer_case(case_in_state(world, "registered"), by=u["staff_a1"])
        actions.claim_case(case, by=u["member_a1"])
        return actions.feedback_case(case, by=u["member_a1"], result="已帮助解决")
    return case_in_state(world, name)


STATES = [
    "received",
    "registered",
    "escalated",
    "dispatched",
    "assist_signed",
    "signed",
    "pending",
    "fed_back",
    "closed",
    "returned",
    "deferred",
    "deferred_pending",
    "rejected",
    "merged",
    "arrival_required",
    "arrived",
    "overdue_signed",
    "rated",
    "rating_expired",
    "resident_closed",
    "community_handled",
    "community_returned",
    "offered",
    "claimed",
    "claimed_fed_back",
]


@pytest.mark.django_db
@pytest.mark.parametrize("state", STATES)
def test_shown_equals_succeeds(world, cats, state):
    case = _state(world, cats, state)
    target = file_case(world, description="合并的目标")
    problems = []
    shown_any = False
    for who, user in world.users.items():
        visible = cases_visible_to(user).filter(pk=case.pk).exists()
        for step in desk_queries.STEP_LABELS:
            real = outcome(step, case, user, target)
            if not visible:
                assert real is not None and real[0] is NotFound, (who, step, real)
                continue
            expected = dry(step, case, user)
            shown_any = shown_any or expected is None
            if (expected is None) != (real is None):
                problems.append(f"{who} {step}: shown={expected is None} action={real}")
            elif real is not None and real[0] in (Forbidden, InvalidTransition) and expected is not real[0]:
                problems.append(f"{who} {step}: dry run {expected.__name__}, action {real}")
    assert not problems, "\n".join(problems)
    assert shown_any or state in ("rejected", "merged")


def test_every_step_has_a_check_a_form_and_a_runner():
    from civicgrid.cases.forms import STEP_FORMS

    assert set(desk_queries.CHECKS) == set(desk_queries.STEP_LABELS) == set(STEP_FORMS) == set(RUNS)


@pytest.mark.django_db
def test_allowed_steps_per_role_on_a_signed_case(world, cats):
    case = case_in_state(world, "signed")
    case = Case.objects.select_related("category", "lead_unit", "community").get(pk=case.pk)

    def steps(who):
        return desk_queries.allowed_steps(desk_queries.step_context(case, world.users[who]))

    assert steps("handler_cg") == ["arrive", "feedback", "return", "request_extension", "photos"]
    assert steps("handler_sc") == ["sign", "photos"]  # the assisting unit has not signed yet
    assert steps("dispatcher_a") == ["defer", "urge", "supervise", "photos"]
    assert steps("leader") == ["urge", "supervise"]
    assert steps("grid_a1") == ["photos"]
    assert case.status == Status.SIGNED
