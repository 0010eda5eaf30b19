"""Scope of cases per persona, the list's filters and query count, and the inboxes."""

from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from civicgrid.cases import actions, queries, search
from civicgrid.cases.models import Case
from civicgrid.cases.tests.factories import IN_GRID_A1, case_in_state, file_case


@pytest.fixture
def spread(world, cats):
    """One case in grid A1, one at community A2's level, one in B1, one a resident filed."""
    a1 = file_case(world)
    a2 = file_case(world, by="staff_a2")
    b1 = file_case(world, by="staff_b1")
    own = file_case(world, by="resident", reporter_name="", reporter_phone="")
    return {"a1": a1.number, "a2": a2.number, "b1": b1.number, "own": own.number}


def visible(world, who):
    return set(queries.cases_visible_to(world.users[who]).values_list("number", flat=True))


@pytest.mark.django_db
def test_scope_per_persona(world, spread):
    s = spread
    assert visible(world, "staff_a1") == {s["a1"], s["own"]}
    assert visible(world, "grid_a1") == {s["a1"], s["own"]}
    assert visible(world, "staff_a2") == {s["a2"]}
    assert visible(world, "dispatcher_a") == {s["a1"], s["a2"], s["own"]}
    assert visible(world, "dispatcher_b") == {s["b1"]}
    assert visible(world, "leader") == set(s.values())
    assert visible(world, "admin") == set(s.values())
    assert visible(world, "resident") == {s["own"]}
    assert visible(world, "handler_cg") == set()
    assert visible(world, "nobody") == set()


@pytest.mark.django_db
def test_departments_see_only_what_is_assigned(world, cats):
    case = case_in_state(world, "dispatched")
    file_case(world)
    assert visible(world, "handler_cg") == {case.number}
    assert visible(world, "handler_sc") == {case.number}  # assisting
    # A community that lends a hand on another community's case sees that case.
    other = case_in_state(world, "registered")
    actions.dispatch_case(other, by=world.users["dispatcher_a"], lead_unit=world.units["com_a2"])
    assert other.number in visible(world, "staff_a2")


@pytest.mark.django_db
def test_get_case_for_hides_missing_and_forbidden_alike(api, world, spread):
    s1, missing = api.get("staff_a2", f"/cases/{spread['a1']}")
    s2, absent = api.get("staff_a2", "/cases/CG20000101-0001")
    assert s1 == s2 == 404 and missing == absent


@pytest.mark.django_db
def test_list_filters(api, world, cats, spread):
    fed = case_in_state(world, "fed_back", category=cats["garbage"], title="路灯损坏", address="幸福路 3 号")
    get = lambda **p: {c["number"] for c in api.get("dispatcher_a", "/cases", **p)[1]["items"]}  # noqa: E731
    assert get(status="fed_back") == {fed.number}
    assert get(status="received,fed_back") == {spread["a1"], spread["a2"], spread["own"], fed.number}
    assert get(category="CS") == {fed.number}  # a top-level category includes its children
    assert get(unit="D-CG") == {fed.number}
    assert get(unit=world.units["com_a2"].code) == {spread["a2"]}
    assert get(q="幸福路") == {fed.number} and get(q=fed.number[-4:]) >= {fed.number}
    today = date.today().isoformat()
    assert len(get(created_from=today, created_to=today)) == 4
    assert get(created_to=(date.today() - timedelta(days=2)).isoformat()) == set()
    status, data = api.get("dispatcher_a", "/cases", page_size=101)
    assert status == 422 and data["error"]["details"][0]["field"].endswith("page_size")
    assert api.get("dispatcher_a", "/cases", status="bogus")[0] == 422
    assert api.get("dispatcher_a", "/cases", page=10**20)[0] == 422  # an offset no integer column holds
    # Days whose bounds a database cannot hold are refused by name, not a 500.
    too_early_or_late = [
        ("created_from", "0001-01-01"),
        ("created_to", "9999-12-31"),
        ("created_to", "1999-12-31"),
    ]
    for field, day in too_early_or_late:
        status, data = api.get("dispatcher_a", "/cases", **{field: day})
        assert status == 422 and data["error"]["details"][0]["field"].endswith(field), (field, day, data)
    status, data = api.get("dispatcher_a", "/cases", page=2, page_size=2)
    assert data["count"] == 4 and len(data["items"]) == 2


@pytest.mark.django_db
def test_list_query_count_is_constant(api, world, cats):
    headers = api.headers("dispatcher_a")
    api.client.get("/api/v1/cases", headers=headers)  # warm-up: token touch, calendar cache

    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            response = api.client.get("/api/v1/cases?page_size=100", headers=headers)
        assert response.status_code == 200
        return len(ctx.captured_queries), response.json()["count"]

    case_in_state(world, "dispatched")
    one, n1 = count_queries()
    for i in range(19):
        case = file_case(world, description=f"第 {i} 件")
        if i % 2:
            actions.register_case(case, by=world.users["staff_a1"])
            actions.dispatch_case(
                case,
                by=world.users["dispatcher_a"],
                lead_unit=world.units["dept_cg"],
                assisting_units=[world.units["dept_sc"], world.units["office_a"]],
            )
    twenty, n20 = count_queries()
    assert (n1, n20) == (1, 20)
    assert one == twenty, f"{one} queries for 1 case, {twenty} for 20"


@pytest.mark.django_db
def test_inboxes(world, cats):
    u = world.users
    received = file_case(world)
    registered = case_in_state(world, "registered")
    escalated = case_in_state(world, "escalated")
    dispatched = case_in_state(world, "dispatched")
    signed = case_in_state(world, "signed")
    fed = case_in_state(world, "fed_back")
    pending = case_in_state(world, "pending")
    returned = case_in_state(world, "dispatched")
    actions.return_case(returned, by=u["handler_cg"], reason_code="not_our_area")

    def numbers(qs):
        return {c.number for c in qs}

    assert numbers(queries.to_register(u["staff_a1"])) == {received.number}
    assert numbers(queries.to_register(u["handler_cg"])) == set()
    assert numbers(queries.to_dispatch(u["dispatcher_a"])) == {
        registered.number,
        escalated.number,
        returned.number,
    }
    assert numbers(queries.to_dispatch(u["staff_a1"])) == {registered.number}
    assert numbers(queries.returned(u["dispatcher_a"])) == {returned.number}
    assert numbers(queries.to_sign(u["handler_cg"])) == {dispatched.number}
    assert dispatched.number in numbers(queries.to_sign(u["handler_sc"]))  # assisting, unsigned
    assert numbers(queries.in_progress(u["handler_cg"])) == {signed.number, pending.number}
    assert numbers(queries.to_recheck(u["grid_a1"])) == {fed.number}
    assert [r.case.number for r in queries.extension_requests(u["dispatcher_a"])] == [pending.number]
    assert list(queries.extension_requests(u["dispatcher_b"])) == []
    with time_machine.travel(signed.due_at + timedelta(minutes=5), tick=False):
        assert signed.number in numbers(queries.overdue(u["handler_cg"]))
    with time_machine.travel(signed.due_at - timedelta(hours=2), tick=False):
        assert signed.number in numbers(queries.due_soon(u["dispatcher_a"]))
    counts = queries.inbox_counts(u["dispatcher_a"])
    assert counts["to_dispatch"] == 3 and counts["extension_requests"] == 1


@pytest.mark.django_db
def test_resident_case_without_place_of_their_own_needs_a_point(api, world, cats):
    status, data = api.post("nobody", "/cases", {"description": "无位置"})
    assert status == 422
    status, data = api.post("nobody", "/cases", {"description": "有位置", **IN_GRID_A1})
    assert status == 201 and data["territory"]["code"] == world.units["grid_a1"].code
    assert api.get("nobody", f"/cases/{data['number']}")[0] == 200


def test_may_read_agrees_with_cases_visible_to(world):
    """The single-case rule and the list rule never disagree, for any persona and case."""
    from civicgrid.cases import actions
    from civicgrid.cases.queries import cases_visible_to, may_read
    from civicgrid.cases.tests.factories import file_case

    filed = [file_case(world, by="staff_a1"), file_case(world, by="staff_b1"), file_case(world, by="grid_a1")]
    actions.register_case(filed[0], by=world.users["staff_a1"])
    actions.dispatch_case(filed[0], by=world.users["dispatcher_a"], lead_unit=world.units["dept_cg"])
    for user in world.users.values():
        visible = set(cases_visible_to(user).values_list("pk", flat=True))
        for case in filed:
            case.refresh_from_db()
            assert may_read(user, case) == (case.pk in visible), (user.username, case.number)


def _cases_in_every_shape(world):
    """Cases led, assisted, returned, re-dispatched, reopened, merged after dispatch and closed."""
    from civicgrid.cases.tests.factories import case_in_state, dispatched_case

    u, units = world.users, world.units
    shapes = [case_in_state(world, s) for s in ("received", "dispatched", "signed", "pending", "closed")]
    returned = dispatched_case(world)
    actions.return_case(returned, by=u["handler_cg"], reason_code="not_our_duty")
    redispatched = dispatched_case(world)
    actions.return_case(redispatched, by=u["handler_cg"], reason_code="not_our_duty")
    actions.dispatch_case(redispatched, by=u["dispatcher_a"], lead_unit=units["dept_sc"])
    reopened = case_in_state(world, "closed")
    actions.reopen_case(reopened, by=u["dispatcher_a"], reason="群众不满意")
    target, merged = dispatched_case(world), dispatched_case(world)
    actions.merge_case(merged, by=u["dispatcher_a"], into=target.number)
    return [*shapes, returned, redispatched, reopened, target, merged]


def test_the_lead_on_the_case_row_is_its_active_lead_assignment(world, cats):
    """The invariant queries._led_q rests on: Case.lead_unit = the active lead assignment's unit."""
    from civicgrid.cases.models import Case, CaseAssignment

    _cases_in_every_shape(world)
    for case in Case.objects.all():
        leads = CaseAssignment.objects.filter(case=case, active=True, role="lead")
        active_lead = set(leads.values_list("unit_id", flat=True))
        expected = {case.lead_unit_id} if case.lead_unit_id and case.status != "merged" else set()
        assert active_lead == expected, (case.number, case.status)


def test_may_read_agrees_with_the_list_scope_in_every_shape(world, cats):
    from civicgrid.cases.models import Case

    _cases_in_every_shape(world)
    cases = list(Case.objects.all())
    for user in world.users.values():
        visible = set(queries.cases_visible_to(user).values_list("pk", flat=True))
        for case in cases:
            assert queries.may_read(user, case) == (case.pk in visible), (user.username, case.number)
    assert {c.status for c in cases} >= {"received", "dispatched", "signed", "closed", "returned", "merged"}


def test_a_search_pages_and_counts_in_one_pass(api, world, cats):
    """With `q` the page and the total come from one query; the same answers as count + slice."""
    for i in range(7):
        file_case(world, description=f"路灯不亮 第 {i} 盏" if i % 2 == 0 else f"垃圾堆积 第 {i} 处")
    first, second, third = (
        api.get("dispatcher_a", "/cases", q="路灯", page_size=3, page=n)[1] for n in (1, 2, 3)
    )
    assert (first["count"], second["count"], third["count"]) == (4, 4, 4)
    numbers = [c["number"] for c in first["items"] + second["items"]]
    expected = (
        queries.cases_visible_to(world.users["dispatcher_a"])
        .filter(description__contains="路灯")
        .order_by("-created_at", "-id")
        .values_list("number", flat=True)
    )
    assert numbers == list(expected) and third["items"] == []
    assert all("路灯" in c["description"] for c in first["items"])
    for nothing in (queries.cases_visible_to(world.users["handler_cg"]), Case.objects.none()):
        assert search.matches_page(nothing, "路灯", 0, 5) == ([], 0, True)

    headers, url = api.headers("dispatcher_a"), "/api/v1/cases?q=路灯&page_size=3"
    with CaptureQueriesContext(connection) as ctx:
        assert api.client.get(url, headers=headers).status_code == 200
    file_case(world, description="路灯又坏了")
    with CaptureQueriesContext(connection) as again:
        assert api.client.get(url, headers=headers).json()["count"] == 5
    assert len(again.captured_queries) == len(ctx.captured_queries)


@pytest.mark.django_db
def test_the_timeline_a_case_is_read_with_equals_the_timeline_read_on_its_own(world, cats):
    """The case read brings units and timeline as JSON (rows.from_json); on both databases they must
    be what the written-out reads give: names, aware time stamps in order, booleans, deferred rest."""
    case = case_in_state(world, "closed")
    read = queries._case_by_number(case.number, lock=False)
    assert read is not None
    held = queries.timeline(read)
    read.held_steps = None  # type: ignore[attr-defined]
    on_its_own = queries.timeline(read)

    def shown(steps):
        return [
            (
                s.pk,
                s.case_id,
                s.action,
                s.actor_id,
                s.unit_id,
                s.at,
                s.note,
                s.from_status,
                s.to_status,
                s.actor_name,
                s.unit_name,
                s.at.utcoffset(),
            )
            for s in steps
        ]

    assert len(held) > 4 and shown(held) == shown(on_its_own)
    assert all(s.at.utcoffset() == timedelta(0) for s in held)
    assert [s.at for s in held] == sorted(s.at for s in held)
    assert "changes" in held[0].get_deferred_fields()
    assert read.lead_unit is not None and read.lead_unit.is_active is True
    assert (read.lead_unit.pk, read.lead_unit.path) == (case.lead_unit_id, case.lead_unit.path)
    assert read.community == case.community and read.grid == case.grid
    assert "polygon" in read.community.get_deferred_fields()


@pytest.mark.django_db
def test_in_progress_lists_deferred_cases_last(world, cats):
    """A deferred case's deadline is suspended: it goes after the cases still on the clock, even when
    its old deadline is the earliest."""
    import time_machine

    from civicgrid.cases import actions, queries
    from civicgrid.cases.tests.factories import signed_case

    with time_machine.travel("2025-06-02 09:00 +0800", tick=False):
        deferred = signed_case(world)
        actions.defer_case(deferred, by=world.users["dispatcher_a"], reason="待汛期结束")
    with time_machine.travel("2025-06-03 09:00 +0800", tick=False):
        later, latest = signed_case(world), signed_case(world, urgency="normal")
    order = [c.number for c in queries.in_progress(world.users["handler_cg"])]
    assert order == [later.number, latest.number, deferred.number]
