"""缓办 and 恢复办理: a deferral names the day the case comes back; the dispatcher or the worker resumes it
with a fresh handling limit, and the round counts in the rates again."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from civicgrid.cases import actions, deadlines
from civicgrid.cases.jobs import supervise_all
from civicgrid.cases.measures.fold import fold
from civicgrid.cases.models import Case, CaseStep, ExtensionRequest, ExtensionStatus, Status, WarnLevel
from civicgrid.cases.tests.factories import HX, case_in_state, file_case
from civicgrid.cases.tests.measures_world import folded
from civicgrid.notify.models import Notification, OutboxMessage

SH = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2025, 6, 9, 10, 0, tzinfo=SH)  # no holiday near it


def steps(case):
    return list(CaseStep.objects.filter(case=case).order_by("id").values_list("action", flat=True))


@pytest.mark.django_db
def test_a_deferral_names_its_resume_day_a_month_on_by_default(api, world, cats):
    case = case_in_state(world, "signed")
    today = timezone.localdate()
    status, data = api.act("dispatcher_a", case.number, "defer", {"reason": "待年度资金"})
    assert status == 200 and data["status"] == "deferred" and data["deferred"] is True
    assert data["resume_on"] == (today + timedelta(days=30)).isoformat()
    day = (today + timedelta(days=90)).isoformat()
    status, data = api.act(
        "dispatcher_a", case.number, "defer", {"reason": "资金下季度到位", "resume_on": day}
    )
    assert status == 200 and data["resume_on"] == day  # deferred again: the day moves
    assert steps(case)[-2:] == ["defer", "defer"]
    for handler in ("handler_cg", "handler_sc"):  # the lead unit and the assisting one
        told = Notification.objects.filter(recipient=world.users[handler]).order_by("-id").first()
        assert told is not None and f"{day} 恢复办理" in told.title
    # The reporter too, by SMS: a wait of weeks, and the day it should end; never the reason.
    sms = OutboxMessage.objects.filter(channel="sms", subject_ref=case.number).order_by("id")
    texts = [(m.payload["title"], m.payload["body"]) for m in sms]
    assert (f"您反映的问题暂缓办理（{case.number}）", f"预计 {day} 恢复办理。") in texts
    assert not any("资金" in body for _, body in texts)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("days", "message"),
    [(0, "恢复办理日期须在今天之后"), (-3, "恢复办理日期须在今天之后"), (366, "一年之内")],
)
def test_a_resume_day_must_lie_after_today_and_within_a_year(api, world, cats, days, message):
    case = case_in_state(world, "signed")
    day = (timezone.localdate() + timedelta(days=days)).isoformat()
    before = steps(case)
    status, data = api.act("dispatcher_a", case.number, "defer", {"reason": "待资金", "resume_on": day})
    assert status == 422 and message in data["error"]["message"]
    assert [(d["field"], d["problem"]) for d in data["error"]["details"]] == [("resume_on", day)]
    assert Case.objects.get(pk=case.pk).status == Status.SIGNED and steps(case) == before
    status, data = api.act("dispatcher_a", case.number, "defer", {"reason": "待资金", "resume_on": "明天"})
    assert status == 422 and Case.objects.get(pk=case.pk).status == Status.SIGNED


@pytest.mark.django_db
def test_the_dispatcher_resumes_with_a_fresh_handling_limit(api, world, cats):
    with time_machine.travel(MONDAY, tick=False):
        case = case_in_state(world, "signed")
        api.act("dispatcher_a", case.number, "defer", {"reason": "待年度资金"})
    resumed_at = MONDAY + timedelta(days=15)  # long past the first deadline
    with time_machine.travel(resumed_at, tick=False):
        status, data = api.act("dispatcher_a", case.number, "resume", {"note": "资金已到位"})
        assert status == 200, data
    case = Case.objects.select_related("category").get(pk=case.pk)
    _, due, yellow = deadlines.of_round(resumed_at, case.category, case.urgency)
    assert (case.status, case.deferred, case.resume_on) == (Status.SIGNED, False, None)
    assert (case.due_at, case.yellow_at, case.warn_level) == (due, yellow, WarnLevel.NONE)
    assert data["status"] == "signed" and data["resume_on"] is None and data["overdue"] is False
    last = CaseStep.objects.filter(case=case).latest("id")
    assert (last.action, last.actor, last.note) == ("resume", world.users["dispatcher_a"], "资金已到位")
    for handler in ("handler_cg", "handler_sc"):
        told = Notification.objects.filter(recipient=world.users[handler]).latest("id")
        assert told.title.startswith("工单恢复办理")
    # Signed again, it goes red once the fresh deadline passes.
    with time_machine.travel(due + timedelta(minutes=1), tick=False):
        assert supervise_all()["red"] == 1


@pytest.mark.django_db
def test_the_worker_resumes_a_deferred_case_on_its_day_once(world, cats):
    u = world.users
    with time_machine.travel(MONDAY, tick=False):
        case = case_in_state(world, "signed")
        actions.defer_case(case, by=u["dispatcher_a"], reason="汛期过后施工", resume_on=date(2025, 6, 12))
        early = case_in_state(world, "signed")
        actions.defer_case(early, by=u["dispatcher_a"], reason="待材料", resume_on=date(2025, 6, 20))
    # Its day is a Thursday: it comes back when that working day opens, not at midnight.
    with time_machine.travel(datetime(2025, 6, 12, 8, 29, tzinfo=SH), tick=False):
        assert supervise_all()["resume"] == 0
    opened = datetime(2025, 6, 12, 8, 30, 30, tzinfo=SH)
    assert deadlines.resumes_at(date(2025, 6, 12)) == datetime(2025, 6, 12, 8, 30, tzinfo=SH)
    with time_machine.travel(opened, tick=False):
        assert supervise_all()["resume"] == 1
        assert supervise_all()["resume"] == 0  # resumed once, whoever sweeps again
    case = Case.objects.select_related("category").get(pk=case.pk)
    assert case.status == Status.SIGNED and not case.deferred
    assert case.due_at == deadlines.of_round(opened, case.category, case.urgency)[1]
    last = CaseStep.objects.filter(case=case).latest("id")
    assert (last.action, last.actor_id, last.note) == ("resume", None, "缓办期满，恢复办理")
    assert Case.objects.get(pk=early.pk).status == Status.DEFERRED


@pytest.mark.django_db
def test_feedback_from_a_deferral_leaves_nothing_to_resume(world, cats):
    case = case_in_state(world, "deferred")
    assert case.resume_on is not None
    case = actions.feedback_case(case, by=world.users["handler_cg"], result="资金到位后已修复")
    assert case.status == Status.FED_BACK and Case.objects.get(pk=case.pk).resume_on is None


@pytest.mark.django_db
def test_a_resumed_round_counts_in_the_rates_again(world, cats):
    """Deferred and resumed before it fell due, then fed back late: due, closed, not on time, not
    deferred. (A round deferred to the end counts apart: measures_world's c5.)"""
    u = world.users
    with time_machine.travel(MONDAY, tick=False):
        case = case_in_state(world, "signed")
        actions.defer_case(case, by=u["dispatcher_a"], reason="待年度资金")
    with time_machine.travel(MONDAY + timedelta(days=1), tick=False):
        case = actions.resume_case(case.number, by=u["dispatcher_a"])
    with time_machine.travel(case.due_at + timedelta(days=1), tick=False):
        supervise_all()  # red: the round falls due
        actions.feedback_case(case.number, by=u["handler_cg"], result="已修复")
        actions.recheck_case(case.number, by=u["grid_a1"], passed=True)
    fold()
    units, _ = folded()
    lead = {k: v for k, v in units.items() if k[0] == world.units["dept_cg"].pk}
    counts = sum(lead.values(), start=type(next(iter(lead.values())))())
    assert (counts["due"], counts["deferred"], counts["closed"], counts["closed_on_time"]) == (1, 0, 1, 0)


@pytest.mark.django_db
def test_resuming_is_for_deferred_cases_and_the_ruling_dispatcher(api, world, cats):
    case = case_in_state(world, "deferred")
    assert api.act("handler_cg", case.number, "resume", {})[0] == 403
    assert api.act("dispatcher_b", case.number, "resume", {})[0] == 404
    assert api.act("dispatcher_a", case.number, "resume", {})[0] == 200
    assert api.act("dispatcher_a", case.number, "resume", {})[1]["error"]["code"] == "invalid_transition"
    assert file_case(world).status == Status.RECEIVED


@pytest.mark.django_db
def test_the_desk_defers_to_a_day_and_resumes(login, world, cats):
    case = case_in_state(world, "signed")
    today = timezone.localdate()
    client = login("dispatcher_a")
    form = client.get(f"/cases/{case.number}/steps/defer/", headers=HX).content.decode()
    assert 'type="date" name="resume_on"' in form
    assert f'value="{today + timedelta(days=30)}"' in form and f'min="{today + timedelta(days=1)}"' in form
    url = f"/cases/{case.number}/steps/defer/"
    refused = client.post(url, {"reason": "待资金", "resume_on": today.isoformat()}, headers=HX)
    assert refused.status_code == 422 and "恢复办理日期须在今天之后" in refused.content.decode()
    assert Case.objects.get(pk=case.pk).status == Status.SIGNED
    day = today + timedelta(days=10)
    done = client.post(url, {"reason": "待资金", "resume_on": day.isoformat()}, headers=HX)
    assert done.status_code == 200
    page = done.content.decode()
    back = timezone.localtime(deadlines.resumes_at(day)).strftime("%Y-%m-%d %H:%M")
    assert "恢复办理" in page and back in page  # the clock on the panel
    assert f'<p class="detail">{day.isoformat()} 恢复办理</p>' in page  # and the step's line
    assert 'data-step="resume"' in page
    # The lead unit sees the day but may not resume: only whoever deferred may.
    handler_page = login("handler_cg").get(f"/cases/{case.number}/").content.decode()
    assert back in handler_page and 'data-step="resume"' not in handler_page
    again = login("dispatcher_a").get(url, headers=HX).content.decode()  # deferring again starts from its day
    assert f'value="{day}"' in again and "到期后系统自动恢复办理" in again
    resumed = login("dispatcher_a").post(f"/cases/{case.number}/steps/resume/", {"note": ""}, headers=HX)
    assert resumed.status_code == 200 and Case.objects.get(pk=case.pk).status == Status.SIGNED
    assert 'data-step="resume"' not in resumed.content.decode()


@pytest.mark.django_db
def test_a_weekend_day_resumes_on_monday_morning():
    assert deadlines.resumes_at(date(2025, 6, 14)) == datetime(2025, 6, 16, 8, 30, tzinfo=SH)  # Saturday
    # National Day 2025: 1–8 October off, then Thursday the 9th.
    assert deadlines.resumes_at(date(2025, 10, 3)) == datetime(2025, 10, 9, 8, 30, tzinfo=SH)


@pytest.mark.django_db
def test_resuming_withdraws_a_request_for_more_of_the_old_time(world, cats):
    u = world.users
    case = case_in_state(world, "pending")
    actions.defer_case(case.number, by=u["dispatcher_a"], reason="待年度资金")
    actions.resume_case(case.number, by=u["dispatcher_a"])
    request = ExtensionRequest.objects.get(case=case)
    assert request.status == ExtensionStatus.WITHDRAWN
    # The unit may ask again, for the fresh limit.
    actions.request_extension(case.number, by=u["handler_cg"], working_days=2, reason="材料未到")


@pytest.mark.django_db
def test_an_extension_after_a_resumption_turns_yellow_at_75_percent_of_the_fresh_limit(world, cats):
    u = world.users
    with time_machine.travel(MONDAY, tick=False):
        case = case_in_state(world, "signed")
        actions.defer_case(case.number, by=u["dispatcher_a"], reason="待年度资金")
    resumed_at = MONDAY + timedelta(days=21)
    with time_machine.travel(resumed_at, tick=False):
        actions.resume_case(case.number, by=u["dispatcher_a"])
        actions.request_extension(case.number, by=u["handler_cg"], working_days=2, reason="材料未到")
        case = actions.approve_extension(case.number, by=u["dispatcher_a"])
    assert case.yellow_at == deadlines.yellow_at(resumed_at, case.due_at, clock_time=False)
    assert case.yellow_at > resumed_at and case.warn_level == WarnLevel.NONE


@pytest.mark.django_db
def test_rework_of_a_case_fed_back_from_a_deferral_resumes_it(world, cats):
    u = world.users
    with time_machine.travel(MONDAY, tick=False):
        case = case_in_state(world, "deferred")
    later = MONDAY + timedelta(days=40)  # long past the deadline the deferral suspended
    with time_machine.travel(later, tick=False):
        actions.feedback_case(case.number, by=u["handler_cg"], result="资金到位后已修复")
        told_before = Notification.objects.filter(recipient=u["handler_cg"]).count()
        case = actions.recheck_case(case.number, by=u["grid_a1"], passed=False, note="路面仍有坑洼")
        assert supervise_all()["red"] == 0
    case = Case.objects.select_related("category").get(pk=case.pk)
    assert (case.status, case.deferred, case.rework_count) == (Status.SIGNED, False, 1)
    assert case.due_at == deadlines.of_round(later, case.category, case.urgency)[1]
    assert steps(case)[-2:] == ["recheck", "resume"]
    notices = Notification.objects.filter(recipient=u["handler_cg"]).order_by("id")[told_before:]
    assert [n.title.split("：")[0] for n in notices] == ["工单恢复办理"]  # one notice, with the note
    assert "路面仍有坑洼" in notices[0].body


@pytest.mark.django_db
def test_a_resumed_round_counts_its_handling_time_from_the_resumption(world, cats):
    u = world.users
    with time_machine.travel(MONDAY, tick=False):
        case = case_in_state(world, "signed")
        actions.defer_case(case.number, by=u["dispatcher_a"], reason="待年度资金")
    resumed_at = MONDAY + timedelta(days=30)
    with time_machine.travel(resumed_at, tick=False):
        actions.resume_case(case.number, by=u["dispatcher_a"])
    with time_machine.travel(resumed_at + timedelta(hours=5), tick=False):
        actions.feedback_case(case.number, by=u["handler_cg"], result="已修复")
        actions.recheck_case(case.number, by=u["grid_a1"], passed=True)
    fold()
    units, _ = folded()
    lead = [v for k, v in units.items() if k[0] == world.units["dept_cg"].pk and v.get("closed")]
    assert [(v["closed"], v["handling_seconds"]) for v in lead] == [(1, 5 * 3600)]


@pytest.mark.django_db
def test_the_upgrade_gives_cases_deferred_before_it_a_day_a_month_on(world, cats):
    import importlib

    from django.apps import apps

    case = case_in_state(world, "deferred")
    Case.objects.filter(pk=case.pk).update(resume_on=None)
    migration = importlib.import_module("civicgrid.cases.migrations.0015_deferred_cases_get_a_resume_day")
    migration.give_a_day(apps, None)
    assert Case.objects.get(pk=case.pk).resume_on == timezone.localdate() + timedelta(days=30)


@pytest.mark.django_db
def test_the_resident_sees_the_deferral_and_the_resumption_but_no_date_meanwhile(world, cats):
    from civicgrid.intake.queries import resident_view

    case = case_in_state(world, "deferred", by="resident")
    view = resident_view(Case.objects.get(pk=case.pk))
    assert view["expected"] is None and view["timeline"][-1]["text"] == "暂缓办理"
    actions.resume_case(case.number, by=world.users["dispatcher_a"])
    last = Notification.objects.filter(recipient=world.users["resident"]).latest("id")
    assert last.title == f"您反映的问题已恢复办理（{case.number}）"  # told in the inbox
    view = resident_view(Case.objects.get(pk=case.pk))
    assert view["expected"] is not None and view["timeline"][-1]["text"] == "恢复办理"


@pytest.mark.django_db
def test_in_progress_lists_deferred_cases_by_the_day_they_come_back(world, cats):
    from civicgrid.cases import queries

    u = world.users
    today = timezone.localdate()
    later = case_in_state(world, "signed")
    actions.defer_case(later, by=u["dispatcher_a"], reason="甲", resume_on=today + timedelta(days=60))
    sooner = case_in_state(world, "signed")
    actions.defer_case(sooner, by=u["dispatcher_a"], reason="乙", resume_on=today + timedelta(days=5))
    on_clock = case_in_state(world, "signed")
    listed = list(queries.in_progress(u["handler_cg"]).values_list("pk", flat=True))
    assert listed == [on_clock.pk, sooner.pk, later.pk]


@pytest.mark.django_db
def test_a_resume_clock_is_never_red(world, cats):
    from civicgrid.cases import desk_queries

    case = case_in_state(world, "deferred")
    case = Case.objects.get(pk=case.pk)
    after = deadlines.resumes_at(case.resume_on) + timedelta(minutes=5)
    clock = desk_queries.clock_of(case, after)
    assert clock is not None and clock.level == "" and clock.left == "即将恢复"
