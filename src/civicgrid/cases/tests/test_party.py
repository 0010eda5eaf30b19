"""Resident ordering with Party members: the community offers a registered case (发布党员认领), a member
of the community claims it (认领) and handles it, the community re-checks and closes it."""

import pytest

from civicgrid.cases import actions, desk_queries, queries
from civicgrid.cases.models import Case, CaseAssignment, CaseStep, Status, StepAction
from civicgrid.cases.tests.factories import case_in_state, file_case
from civicgrid.cases.tests.test_races import _race
from civicgrid.core.errors import Forbidden, InvalidTransition, NotFound
from civicgrid.notify.models import Notification
from civicgrid.people.actions import add_membership, create_user
from civicgrid.people.models import Role


def _offered(world):
    return actions.offer_case(
        case_in_state(world, "registered"), by=world.users["staff_a1"], note="帮老人买菜"
    )


def _titles(user):
    return list(Notification.objects.filter(recipient=user).values_list("title", flat=True))


@pytest.mark.django_db
def test_community_offers_and_a_member_claims_and_handles_it(world, cats):
    u = world.users
    case = _offered(world)
    assert case.status == Status.REGISTERED and case.offered_at is not None
    offer = CaseStep.objects.get(case=case, action=StepAction.OFFER)
    assert (offer.actor, offer.unit, offer.note) == (u["staff_a1"], world.units["com_a1"], "帮老人买菜")
    assert any(t.startswith("群众点单待认领") for t in _titles(u["member_a1"]))
    assert _titles(u["member_a2"]) == []  # another community's member hears nothing

    assert list(queries.to_claim(u["member_a1"])) == [case]
    assert not queries.to_claim(u["member_a2"]).exists()

    case = actions.claim_case(case.number, by=u["member_a1"], note="我来办")
    assert case.status == Status.SIGNED and case.claimed_by == u["member_a1"]
    assert case.lead_unit == world.units["com_a1"] and case.signed_at and case.due_at
    lead = CaseAssignment.objects.get(case=case, active=True)
    assert (lead.role, lead.signed_by, lead.unit) == ("lead", u["member_a1"], world.units["com_a1"])
    claim = CaseStep.objects.get(case=case, action=StepAction.CLAIM)
    assert claim.from_status == Status.REGISTERED and claim.to_status == Status.SIGNED
    assert claim.changes["claimed_by_id"] == [None, u["member_a1"].pk]
    assert any(t.startswith("党员member_a1已认领") for t in _titles(u["staff_a1"]))
    assert not queries.to_claim(u["member_a1"]).exists()
    assert list(queries.in_progress(u["member_a1"])) == [case]

    actions.arrive_case(case.number, by=u["member_a1"], lat=25.70, lng=104.40)
    case = actions.feedback_case(case.number, by=u["member_a1"], result="已帮老人买好菜")
    assert case.status == Status.FED_BACK
    case = actions.recheck_case(case.number, by=u["grid_a1"], passed=False, note="还差米")
    assert case.status == Status.SIGNED and case.rework_count == 1
    assert any(t.startswith("核查未通过") for t in _titles(u["member_a1"]))  # the member reworks
    actions.feedback_case(case.number, by=u["member_a1"], result="米也买了")
    case = actions.recheck_case(case.number, by=u["grid_a1"], passed=True)
    assert case.status == Status.CLOSED
    assert queries.cases_visible_to(u["member_a1"]).filter(pk=case.pk).exists()  # still theirs to see


@pytest.mark.django_db
def test_the_member_who_claimed_it_hears_of_a_deferral_and_its_end(world, cats):
    u = world.users
    case = actions.claim_case(_offered(world).number, by=u["member_a1"])
    actions.defer_case(case.number, by=u["staff_a1"], reason="等待物业答复")
    actions.resume_case(case.number, by=u["staff_a1"])
    titles = _titles(u["member_a1"])
    assert any(t.startswith("工单已缓办") for t in titles) and any(
        t.startswith("工单恢复办理") for t in titles
    )


@pytest.mark.django_db
def test_the_resident_hears_that_a_member_claimed_it(world, cats):
    case = file_case(world, by="resident")
    actions.register_case(case, by=world.users["staff_a1"])
    actions.offer_case(case.number, by=world.users["staff_a1"])
    actions.claim_case(case.number, by=world.users["member_a1"])
    assert any("党员认领" in t for t in _titles(world.users["resident"]))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "state", "error"),
    [
        ("grid_a1", "registered", Forbidden),  # a grid worker does not offer
        ("dispatcher_a", "registered", Forbidden),  # the community offers, not the subdistrict
        ("member_a1", "registered", NotFound),  # not offered yet: not the member's case
        ("staff_b1", "registered", NotFound),  # another subdistrict's community
        ("staff_a1", "received", InvalidTransition),  # register it first
        ("staff_a1", "escalated", InvalidTransition),
        ("staff_a1", "dispatched", InvalidTransition),
    ],
)
def test_offer_refused(world, cats, who, state, error):
    case = case_in_state(world, state)
    with pytest.raises(error):
        actions.offer_case(case.number, by=world.users[who])
    assert Case.objects.get(pk=case.pk).offered_at is None
    assert not CaseStep.objects.filter(case=case, action=StepAction.OFFER).exists()


@pytest.mark.django_db
def test_offer_refused_twice_and_where_no_member_registered(world, cats):
    case = _offered(world)
    with pytest.raises(InvalidTransition, match="已发布"):
        actions.offer_case(case.number, by=world.users["staff_a1"])
    other = actions.register_case(file_case(world, by="staff_b1"), by=world.users["staff_b1"])
    with pytest.raises(InvalidTransition, match="没有报到的党员"):
        actions.offer_case(other.number, by=world.users["staff_b1"])
    assert Case.objects.get(pk=other.pk).offered_at is None


@pytest.mark.django_db
def test_claim_refused(world, cats):
    u = world.users
    case = _offered(world)
    with pytest.raises(NotFound):  # a member of another community does not see it
        actions.claim_case(case.number, by=u["member_a2"])
    with pytest.raises(Forbidden):  # staff are no Party members
        actions.claim_case(case.number, by=u["staff_a1"])
    second = create_user(username="member_a1b", password=None)
    add_membership(second, world.units["com_a1"], Role.PARTY_MEMBER)
    actions.claim_case(case.number, by=u["member_a1"])
    with pytest.raises(InvalidTransition, match="已被认领"):
        actions.claim_case(case.number, by=second)
    row = Case.objects.get(pk=case.pk)
    assert row.claimed_by == u["member_a1"]
    assert CaseStep.objects.filter(case=case, action=StepAction.CLAIM).count() == 1
    # The second member cannot handle what the first claimed.
    with pytest.raises(Forbidden):
        actions.feedback_case(case.number, by=second, result="我也办了")


@pytest.mark.django_db
def test_a_dispatch_ends_the_offer(world, cats):
    u = world.users
    case = _offered(world)
    actions.dispatch_case(case.number, by=u["staff_a1"], lead_unit=world.units["grid_a1"])
    with pytest.raises(InvalidTransition, match="已被认领或已另行派遣"):
        actions.claim_case(case.number, by=u["member_a1"])
    assert not queries.to_claim(u["member_a1"]).exists()


@pytest.mark.django_db
def test_a_member_who_returns_it_hands_it_back_to_the_community(world, cats):
    u = world.users
    case = _offered(world)
    actions.claim_case(case.number, by=u["member_a1"])
    case = actions.return_case(case.number, by=u["member_a1"], reason_code="ownership_unclear")
    assert case.status == Status.RETURNED
    assert any(t.startswith("工单被退回") for t in _titles(u["staff_a1"]))  # the community rules
    case = actions.dispatch_case(case.number, by=u["staff_a1"], lead_unit=world.units["grid_a1"])
    assert case.claimed_by is None  # a new round is the grid's
    with pytest.raises(Forbidden):
        actions.feedback_case(case.number, by=u["member_a1"], result="办了")


@pytest.mark.django_db
def test_members_see_offered_cases_of_their_community_only(world, cats):
    u = world.users
    registered = case_in_state(world, "registered")
    offered = _offered(world)
    visible = set(queries.cases_visible_to(u["member_a1"]))
    assert offered in visible and registered not in visible
    assert not queries.cases_visible_to(u["member_a2"]).filter(pk=offered.pk).exists()
    for case in (registered, offered):  # the one-case rule agrees with the list's
        for who in ("member_a1", "member_a2"):
            expected = queries.cases_visible_to(u[who]).filter(pk=case.pk).exists()
            assert queries.may_read(u[who], Case.objects.get(pk=case.pk)) is expected, (who, case)


@pytest.mark.django_db
def test_api_offer_and_claim(api, world, cats):
    case = case_in_state(world, "registered")
    status, body = api.act("member_a1", case.number, "claim")
    assert status == 404
    status, body = api.act("grid_a1", case.number, "offer", {"note": "x"})
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = api.act("staff_a1", case.number, "offer", {"note": "请党员帮忙"})
    assert status == 200 and body["status"] == "registered" and body["offered_at"] and not body["claimed"]
    assert body["timeline"][-1]["action"] == "offer"
    status, body = api.act("staff_a1", case.number, "offer", {})
    assert status == 409 and body["error"]["code"] == "invalid_transition"
    status, body = api.act("staff_a1", case.number, "claim", {})
    assert status == 403
    status, body = api.act("member_a1", case.number, "claim", {"note": 5})
    assert status == 422
    status, body = api.act("member_a1", case.number, "claim", {})
    assert status == 200 and body["status"] == "signed" and body["claimed"]
    assert body["lead_unit"]["code"] == world.units["com_a1"].code
    status, body = api.get("member_a1", "/cases")
    assert [c["number"] for c in body["items"]] == [case.number]
    status, body = api.act("member_a1", case.number, "claim", {})
    assert status == 409


@pytest.mark.django_db
def test_desk_tabs_for_a_member(world, cats):
    member = world.users["member_a1"]
    assert [t.key for t in desk_queries.tabs_for(member)] == ["to_claim", "in_progress"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_members_claiming_one_wins():
    from civicgrid.cases.tests.factories import make_categories
    from civicgrid.testing import build_world

    world = build_world()
    make_categories(world)
    second = create_user(username="member_a1b", password=None)
    add_membership(second, world.units["com_a1"], Role.PARTY_MEMBER)
    case = _offered(world)
    first = world.users["member_a1"]
    results = _race(
        world,
        case,
        [lambda n: actions.claim_case(n, by=first), lambda n: actions.claim_case(n, by=second)],
    )
    assert results == ["conflict", "ok"]
    row = Case.objects.get(pk=case.pk)
    assert row.status == Status.SIGNED and row.claimed_by in (first, second)
    assert CaseAssignment.objects.filter(case=row, active=True).count() == 1
    assert CaseStep.objects.filter(case=row, action=StepAction.CLAIM).count() == 1


@pytest.mark.django_db
def test_a_claimed_case_counts_for_the_community_and_the_member(world, cats):
    from civicgrid.cases.measures.fold import fold
    from civicgrid.cases.tests.measures_world import folded
    from civicgrid.cases.tests.test_measures import totals

    u = world.users
    case = _offered(world)
    actions.claim_case(case.number, by=u["member_a1"])
    actions.feedback_case(case.number, by=u["member_a1"], result="已帮忙")
    actions.recheck_case(case.number, by=u["grid_a1"], passed=True)
    fold()
    units, people = folded()
    community = totals(units, world.units["com_a1"].pk)
    assert (community["orders"], community["rounds"], community["signed"], community["signed_in_time"]) == (
        1,
        1,
        1,
        1,
    )
    assert (community["closed"], community["closed_on_time"]) == (1, 1)
    member = totals(people, u["member_a1"].pk)
    assert (member["signed"], member["signed_in_time"], member["closed"]) == (1, 1, 1)


@pytest.mark.django_db
def test_the_resident_timeline_says_a_member_took_it_without_naming_them(world, cats):
    from civicgrid.intake.queries import resident_timeline

    case = _offered(world)
    actions.claim_case(case.number, by=world.users["member_a1"], note="内部：我来")
    lines = resident_timeline(Case.objects.get(pk=case.pk))
    claim = next(line for line in lines if line["text"] == "社区党员已认领办理")
    assert claim["unit"] == world.units["com_a1"].name and claim["note"] == ""
    assert not any("member_a1" in str(line) or "请在" in line["text"] for line in lines)  # no offer, no name
