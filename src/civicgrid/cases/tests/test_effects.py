"""Who hears of each step (cases.effects): the right people, SMS where it matters, nothing on rollback."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction
from django.utils import timezone

from civicgrid.cases import actions
from civicgrid.cases.models import Case, CaseStep
from civicgrid.cases.tests.factories import PHONE, case_in_state, file_case
from civicgrid.notify.models import Notification, OutboxMessage


def heard(world, title_start: str, number: str | None = None) -> set[str]:
    """Usernames that got an in-app notification whose title starts with `title_start`."""
    rows = Notification.objects.filter(title__startswith=title_start)
    if number:
        rows = rows.filter(subject_ref=number)
    names = {u.pk: name for name, u in world.users.items()}
    return {names.get(pk, str(pk)) for pk in rows.values_list("recipient_id", flat=True)}


def sms(number: str) -> list[str]:
    return list(
        OutboxMessage.objects.filter(channel="sms", subject_ref=number)
        .order_by("pk")
        .values_list("payload__title", flat=True)
    )


@pytest.mark.django_db
def test_dispatch_reaches_lead_and_assisting_handlers(world, cats):
    case = case_in_state(world, "dispatched")
    assert heard(world, "新工单待签收", case.number) == {"handler_cg", "handler_sc"}
    note = Notification.objects.filter(subject_ref=case.number, title__startswith="新工单待签收").first()
    assert note.link == f"/cases/{case.number}/"


@pytest.mark.django_db
def test_the_reporter_hears_the_steps_that_matter_to_a_resident(world, cats):
    u = world.users
    case = file_case(world, by="resident", reporter_phone=PHONE)
    n = case.number
    actions.register_case(case, by=u["staff_a1"])
    assert heard(world, "您反映的问题已受理立案", n) == {"resident"}
    assert sms(n) == [f"您反映的问题已受理立案（{n}）"]
    actions.dispatch_case(case, by=u["dispatcher_a"], lead_unit=world.units["dept_cg"])
    assert heard(world, "您反映的问题已交办", n) == {"resident"}
    actions.sign_case(case, by=u["handler_cg"])
    actions.feedback_case(case, by=u["handler_cg"], result="已清运")
    assert heard(world, "您反映的问题已有办理结果", n) == {"resident"}
    # Re-checking is for the grid worker of the case's grid and the community's staff.
    assert heard(world, "工单已反馈，请核查", n) == {"grid_a1", "staff_a1"}
    actions.recheck_case(case, by=u["grid_a1"], passed=True)
    closed = Notification.objects.get(subject_ref=n, title__startswith="您反映的问题已办结")
    assert closed.recipient == u["resident"] and closed.link == f"/my/{n}/#rate"
    # SMS only for registered and closed (and rejected): not for dispatched or fed back.
    assert sms(n) == [f"您反映的问题已受理立案（{n}）", f"您反映的问题已办结（{n}），请评价"]
    assert set(
        OutboxMessage.objects.filter(channel="sms", subject_ref=n).values_list("address", flat=True)
    ) == {PHONE}


@pytest.mark.django_db
def test_rejection_reaches_the_reporter_by_sms(world, cats):
    case = file_case(world, by="resident", reporter_phone=PHONE)
    actions.reject_case(case, by=world.users["staff_a1"], reason="请拨打 12333")
    assert heard(world, "您反映的问题不予受理", case.number) == {"resident"}
    assert sms(case.number) == [f"您反映的问题不予受理（{case.number}）"]
    assert OutboxMessage.objects.get(channel="sms", subject_ref=case.number).payload["body"] == "请拨打 12333"


@pytest.mark.django_db
def test_an_anonymous_staff_filed_case_sends_no_sms(world, cats):
    case = file_case(world, anonymous=True)
    actions.register_case(case, by=world.users["staff_a1"])
    assert sms(case.number) == [] and heard(world, "您反映的问题", case.number) == set()


@pytest.mark.django_db
def test_return_extension_and_whistle_reach_the_dispatcher(world, cats):
    u = world.users
    case = case_in_state(world, "signed")
    actions.request_extension(case, by=u["handler_cg"], working_days=2, reason="需要采购材料")
    assert heard(world, "延期申请待审批", case.number) == {"dispatcher_a"}
    actions.approve_extension(case, by=u["dispatcher_a"])
    # Assisting units work to the same deadline: they hear the new one too.
    assert heard(world, "延期申请已同意", case.number) == {"handler_cg", "handler_sc"}
    case.refresh_from_db()
    due = f"新的办理期限 {timezone.localtime(case.due_at):%Y-%m-%d %H:%M}"
    assert Notification.objects.filter(subject_ref=case.number, title__contains=due).count() == 2
    actions.return_case(case, by=u["handler_cg"], reason_code="not_our_duty")
    assert heard(world, "工单被退回，请审定", case.number) == {"dispatcher_a"}
    other = case_in_state(world, "registered")
    actions.whistle_case(other, by=u["staff_a1"])
    assert heard(world, "社区吹哨", other.number) == {"dispatcher_a"}


@pytest.mark.django_db
def test_a_denial_is_for_the_lead_unit_an_urge_and_supervision_for_every_unit(world, cats):
    u = world.users
    case = case_in_state(world, "pending")
    actions.deny_extension(case, by=u["dispatcher_a"], reason="材料已到")
    assert heard(world, "延期申请未同意", case.number) == {"handler_cg"}
    actions.urge_case(case, by=u["dispatcher_a"], note="请今日内办结")
    assert heard(world, "催办", case.number) == {"handler_cg", "handler_sc"}
    actions.supervise_case(case, by=u["dispatcher_a"], note="街道督办")
    assert heard(world, "督办", case.number) == {"handler_cg", "handler_sc"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "told"),
    [
        ("registered", {"staff_a1"}),  # the community answers it
        ("escalated", {"dispatcher_a"}),  # the whistle waits at the subdistrict (a leader urges)
        ("fed_back", {"grid_a1", "staff_a1"}),  # the re-check is due
        ("signed", {"handler_cg", "handler_sc"}),
    ],
)
def test_an_urge_reaches_whoever_holds_the_case(world, cats, state, told):
    case = case_in_state(world, state)
    urger = world.users["leader"] if state == "escalated" else world.users["dispatcher_a"]
    actions.urge_case(case, by=urger, note="请尽快")
    actions.supervise_case(case, by=urger, note="请尽快")
    assert heard(world, "催办", case.number) == heard(world, "督办", case.number) == told


def set_mobile(user, sms_notices: str = "", email_notices: str = "") -> None:
    from civicgrid.people.actions import set_notice_choices, set_phone

    set_phone(user, "13912345678")
    set_notice_choices(user, sms=sms_notices, email=email_notices)


def staff_sms(number: str) -> list[str]:
    return [m for m in sms(number) if not m.startswith("您反映的问题")]


@pytest.mark.django_db
def test_urgent_notices_reach_a_handlers_mobile_by_default(world, cats):
    u = world.users
    set_mobile(u["handler_cg"])
    normal = case_in_state(world, "dispatched")
    urgent = case_in_state(world, "dispatched", urgency="urgent")
    # An urgent case must be signed for in 30 minutes: the new-case notice goes by SMS too.
    assert staff_sms(normal.number) == []
    assert staff_sms(urgent.number) == [f"新工单待签收：{urgent.number} 垃圾堆积"]
    assert OutboxMessage.objects.get(subject_ref=urgent.number, address="13912345678").channel == "sms"
    # So does pressing on a normal case; assisting handler_sc has no mobile: the inbox only.
    actions.sign_case(normal, by=u["handler_cg"])
    actions.urge_case(normal, by=u["dispatcher_a"], note="请今日内办结")
    assert staff_sms(normal.number) == [f"催办：{normal.number} 垃圾堆积"]
    assert heard(world, "催办", normal.number) == {"handler_cg", "handler_sc"}


@pytest.mark.django_db
def test_each_person_chooses_what_reaches_their_mobile_and_mailbox(world, cats, settings):
    u = world.users
    u["handler_cg"].email = "cg@example.org"
    u["handler_cg"].save()
    set_mobile(u["handler_cg"], sms_notices="none", email_notices="urgent")
    urgent = case_in_state(world, "dispatched", urgency="urgent")
    assert staff_sms(urgent.number) == []
    mails = OutboxMessage.objects.filter(subject_ref=urgent.number, channel="email")
    assert list(mails.values_list("address", flat=True)) == ["cg@example.org"]

    set_mobile(u["handler_cg"], sms_notices="all")
    normal = case_in_state(world, "dispatched")
    assert staff_sms(normal.number) == [f"新工单待签收：{normal.number} 垃圾堆积"]

    # The site's default for urgent notices, where the person keeps it: here the inbox alone.
    settings.CIVICGRID_NOTIFY_URGENT_CHANNELS = ["inapp"]
    set_mobile(u["handler_cg"])
    again = case_in_state(world, "dispatched", urgency="urgent")
    assert staff_sms(again.number) == [] and heard(world, "新工单待签收", again.number) == {
        "handler_cg",
        "handler_sc",
    }


@pytest.mark.django_db
def test_when_the_community_handles_it_its_staff_rule(world, cats):
    u = world.users
    case = case_in_state(world, "registered")
    actions.dispatch_case(case, by=u["staff_a1"], lead_unit=world.units["grid_a1"])
    assert heard(world, "新工单待签收", case.number) == {"grid_a1"}
    actions.return_case(case, by=u["grid_a1"], reason_code="not_our_area")
    assert heard(world, "工单被退回，请审定", case.number) == {"staff_a1"}


@pytest.mark.django_db
def test_nobody_hears_of_their_own_step(world, cats):
    u = world.users
    case = case_in_state(world, "registered")
    # Community staff dispatch to their own community: they handle it, but they need no notice.
    actions.dispatch_case(case, by=u["staff_a1"], lead_unit=world.units["com_a1"])
    assert heard(world, "新工单待签收", case.number) == set()


@pytest.mark.django_db
def test_rework_reaches_the_lead_unit(world, cats):
    u = world.users
    case = case_in_state(world, "fed_back")
    actions.recheck_case(case, by=u["grid_a1"], passed=False, note="垃圾仍在")
    assert heard(world, "核查未通过，请返工", case.number) == {"handler_cg"}


@pytest.mark.django_db
def test_followers_hear_what_the_reporter_hears(world, cats):
    from civicgrid.people.actions import create_user

    follower = create_user(username="neighbour", password=None)
    case = case_in_state(world, "signed", category=cats["garbage"])
    actions.follow_case(case.number, by=follower)
    actions.feedback_case(case, by=world.users["handler_cg"], result="已清运")
    actions.recheck_case(case, by=world.users["grid_a1"], passed=True)
    assert "neighbour" in {
        n.recipient.username
        for n in Notification.objects.filter(subject_ref=case.number, title__contains="已办结")
    }


@pytest.mark.django_db
def test_only_a_followed_case_reads_its_followers(world, cats):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from civicgrid.people.actions import create_user

    def ticket_reads(step):
        with CaptureQueriesContext(connection) as ctx:
            step()
        return sum("intake_ticket" in q["sql"] for q in ctx.captured_queries)

    case = case_in_state(world, "signed", category=cats["garbage"])
    assert not case.followed
    handler, checker = world.users["handler_cg"], world.users["grid_a1"]
    assert ticket_reads(lambda: actions.feedback_case(case, by=handler, result="已清运")) == 0
    actions.follow_case(case.number, by=create_user(username="neighbour", password=None))
    assert Case.objects.get(pk=case.pk).followed
    assert ticket_reads(lambda: actions.recheck_case(case, by=checker, passed=True)) == 1


@pytest.mark.django_db
def test_nothing_is_written_when_the_step_rolls_back(world, cats):
    case = case_in_state(world, "registered")
    notes, messages, steps = (
        Notification.objects.count(),
        OutboxMessage.objects.count(),
        CaseStep.objects.count(),
    )
    with pytest.raises(RuntimeError), transaction.atomic():
        actions.dispatch_case(case, by=world.users["dispatcher_a"], lead_unit=world.units["dept_cg"])
        assert Notification.objects.count() > notes  # written inside the step's transaction …
        raise RuntimeError("something later in the same transaction failed")
    # … and gone with it.
    assert (Notification.objects.count(), OutboxMessage.objects.count(), CaseStep.objects.count()) == (
        notes,
        messages,
        steps,
    )
    assert Case.objects.get(pk=case.pk).status == "registered"


@pytest.mark.django_db
def test_the_phone_number_is_never_logged(world, cats, caplog, django_capture_on_commit_callbacks, settings):
    settings.CIVICGRID_NOTIFY_ON_COMMIT = "send"
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        case = file_case(world, by="resident", reporter_phone=PHONE)
        actions.register_case(case, by=world.users["staff_a1"])
    sent = OutboxMessage.objects.get(channel="sms", subject_ref=case.number)
    assert sent.status == "sent"
    assert PHONE not in caplog.text and "138****5678" in caplog.text


def robot_posts(number: str) -> list[tuple[str, str]]:
    rows = OutboxMessage.objects.filter(channel="wecom", subject_ref=number).order_by("pk")
    return list(rows.values_list("address", "payload__title"))


@pytest.mark.django_db
def test_a_units_group_robot_hears_what_its_staff_hear(world, cats, settings):
    """A robot named after a unit's code (CIVICGRID_WECOM_ROBOTS) posts that unit's staff notices."""
    u = world.users
    robots = {"D-CG": "key-cg", "520281001": "key-sub-a", "520281001001": "key-a1", "elsewhere": "key-x"}
    settings.CIVICGRID_WECOM_ROBOTS = robots
    case = file_case(world)
    actions.register_case(case, by=u["staff_a1"])
    actions.whistle_case(case, by=u["staff_a1"])  # to the subdistrict's, not to community A1's own group
    actions.dispatch_case(case, by=u["dispatcher_a"], lead_unit=world.units["dept_cg"])
    actions.sign_case(case, by=u["handler_cg"])
    actions.urge_case(case, by=u["dispatcher_a"], note="请加快")
    label = f"{case.number} 垃圾堆积"
    assert robot_posts(case.number) == [
        ("520281001", f"社区吹哨，请分哨：{label}"),
        ("D-CG", f"新工单待签收：{label}"),
        ("D-CG", f"催办：{label}"),
    ]
    # Residents' notices never go to a group, nor does a unit without a robot (D-SC assists here).
    other = case_in_state(world, "dispatched")
    assert robot_posts(other.number) == [("D-CG", f"新工单待签收：{other.number} 垃圾堆积")]


@pytest.mark.django_db
def test_without_robots_no_unit_is_looked_up(world, cats, settings, django_assert_num_queries):
    from civicgrid.cases import effects

    settings.CIVICGRID_WECOM_ROBOTS = {}
    units, told = [world.units["dept_cg"].pk, world.units["dept_sc"].pk], [world.users["handler_cg"]]
    with django_assert_num_queries(0):
        assert effects._robots(units, told) == []
    settings.CIVICGRID_WECOM_ROBOTS = {"D-CG": "key", "D-SC": "key-2"}
    with django_assert_num_queries(1):
        assert effects._robots(units, told) == ["D-CG"]  # D-SC's staff are not among the told
