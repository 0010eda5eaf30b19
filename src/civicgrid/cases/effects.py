"""Who hears of a step: notification rows written in the step's transaction (sent after commit).

Asked by actions._common.write_step for every step, inside the action's transaction and before the
step is written (`of_step`): the notices are written with the step, so a step that rolls back leaves
no notification behind and one that commits is delivered by the outbox (notify).
The rules, per step (docs/notifications.md, "Who hears what"):

- the lead unit's handlers: dispatched, reopened, deferred, resumed, sent back for rework, extension
  decided, yellow, red, urged (by hand or automatically), supervised; assisting units' handlers too
  when the case is dispatched, reopened, deferred, resumed, given more time, red, urged or supervised
  (they sign for it and work on it as well, to the same deadline); the unsigned units' handlers
  when the sign-for deadline passed;
- the dispatcher who rules on the case (the subdistrict's, or the community staff when the community
  handles the case itself): returned, extension requested, whistle blown, five working days overdue;
- the Party members registered with the case's community (or its grid): offered for claiming; the
  community's staff: claimed by a member;
- those who re-check: the grid workers of the case's grid and the community's staff, when the lead
  unit fed back (the dispatcher when the case has neither);
- the reporter (an account) and the accounts following the case, in-app: registered, rejected,
  dispatched, claimed, deferred (with the day it comes back), resumed, fed back, closed (with the
  rating link); and by SMS to the reporter's and followers' phones only for registered, rejected,
  deferred and closed;
- the rating reminder: the reporter (the account, or by SMS a phone without one), or the staff
  member who filed the case for a caller, to call back.

What a unit's staff hear, the unit's WeChat Work group hears too, when a robot is named after the
unit's code in CIVICGRID_WECOM_ROBOTS. A notice to staff is urgent (it goes by SMS too, unless the
person or the site chose otherwise: notify.actions.channels_for) when the case is urgent, a time
limit has passed or a superior presses (`PRESSING`).

Nobody is told of their own step. Phone numbers are decrypted here, inside the transaction, handed to
notify (which stores them in the outbox and masks them in logs) and never logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

from civicgrid.cases import deadlines, rules
from civicgrid.cases.models import Case, CaseStep, Status, StepAction, Urgency
from civicgrid.core import crypto, rows
from civicgrid.core.models import Unit, path_ids
from civicgrid.notify.actions import Notified, deliver_after_commit, prepare
from civicgrid.people.models import Role, User

# Staff notices that say a time limit has passed or a superior presses: urgent, as is any notice
# about an urgent case (its limits run in minutes and hours, around the clock).
PRESSING = {
    StepAction.REMIND_ANSWER,
    StepAction.REMIND_SIGN,
    StepAction.REMIND_RECHECK,
    StepAction.RED,
    StepAction.URGE,
    StepAction.AUTO_URGE,
    StepAction.SUPERVISE,
    StepAction.ESCALATE_ALERT,
}


@dataclass
class Notice:
    title: str
    body: str = ""
    link: str = ""
    users: list[User] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    units: list[int] = field(default_factory=list)  # whose WeChat Work group robots post it too
    urgent: bool = False


@dataclass
class Reach:
    """The staff a step tells: the users, and the units they were found in (for the units' groups)."""

    users: list[User]
    units: list[int]

    def notice(self, title: str, body: str, link: str) -> Notice:
        return Notice(title, body, link, self.users, units=self.units)


def _label(case: Case) -> str:
    text = case.title or case.description.replace("\n", " ")
    return f"{case.number} {text[:40]}".strip()


def _members(units: Iterable[int | None], roles: Iterable[str]) -> Reach:
    """Active users holding one of `roles` in one of the units."""
    ids = [u for u in units if u is not None]
    return Reach(_users((ids, roles)), ids)


def _users(*groups: tuple[Iterable[int | None], Iterable[str]]) -> list[User]:
    """The active users holding, in any group, one of its roles in one of its units; each once.

    Written out: a step that tells somebody asks this once or twice, and the ORM's join cost 0.5 ms
    of Python each time (docs/performance.md, "api-lifecycle")."""
    conditions: list[str] = []
    params: list[Any] = []
    for units, roles in groups:
        unit_ids, role_names = [u for u in units if u is not None], list(roles)
        if unit_ids and role_names:
            marks = ", ".join(["%s"] * len(unit_ids)), ", ".join(["%s"] * len(role_names))
            conditions.append(f"(unit_id IN ({marks[0]}) AND role IN ({marks[1]}))")
            params += [*unit_ids, *role_names]
    if not conditions:
        return []
    sql = (
        "SELECT * FROM people_user WHERE is_active AND id IN"
        f" (SELECT user_id FROM people_membership WHERE {' OR '.join(conditions)}) ORDER BY id"
    )
    return rows.fetch(User, sql, params)


def _handlers(case: Case, *, assisting: bool = False) -> Reach:
    """The lead unit's handlers (with `assisting`, those of every unit the case is with), and the
    Party member who claimed the case and handles it."""
    units = [case.lead_unit_id, *(_assigned_units(case) if assisting else [])]
    reach = _members(dict.fromkeys(units), rules.HANDLER_ROLES)
    if case.claimed_by_id is not None and all(u.pk != case.claimed_by_id for u in reach.users):
        reach.users += _active(case.claimed_by_id)
    return reach


def _assigned_units(case: Case, *, unsigned_only: bool = False) -> list[int]:
    held = getattr(case, "active_assignments", None)  # the step's own, when it holds them
    if held is not None:
        return [a.unit_id for a in held if not (unsigned_only and a.signed_at)]
    sql = "SELECT unit_id FROM cases_caseassignment WHERE case_id = %s AND active"
    with connection.cursor() as cursor:
        cursor.execute(sql + (" AND signed_at IS NULL" if unsigned_only else ""), [case.pk])
        return [unit_id for (unit_id,) in cursor.fetchall()]


def _assigned_handlers(case: Case, *, unsigned_only: bool = False) -> Reach:
    return _members(_assigned_units(case, unsigned_only=unsigned_only), rules.HANDLER_ROLES)


def _community_handles(case: Case) -> bool:
    """Whether the community rules on the case: it dispatched it to itself or one of its grids."""
    if not (case.community_id and case.lead_unit_id):
        return False
    lead, community = case.lead_unit, case.community
    return bool(lead and community and lead.path.startswith(community.path))


def _dispatchers(case: Case) -> Reach:
    """The dispatchers of the case's territory and of every unit above it."""
    return _members(path_ids(case.territory_path), [Role.DISPATCHER])


def _intake(case: Case) -> Reach:
    """The community's staff, else (none there) the dispatcher over the case: who answers a received
    case, and who rules on a case the community handles."""
    staff = _members([case.community_id], [Role.COMMUNITY_STAFF])
    return staff if staff.users else _dispatchers(case)


def _rulers(case: Case) -> Reach:
    """The dispatcher over the case, or the community's staff when the community handles it."""
    return _intake(case) if _community_handles(case) else _dispatchers(case)


def _recheckers(case: Case) -> Reach:
    grid, community = ([case.grid_id], [Role.GRID_WORKER]), ([case.community_id], [Role.COMMUNITY_STAFF])
    found = _users(grid, community)
    units = [u for u in (case.grid_id, case.community_id) if u is not None]
    return Reach(found, units) if found else _dispatchers(case)


def _followers(case: Case) -> tuple[list[User], list[str]]:
    """Accounts and phones following the case (resident intake), when that app provides them; no
    query for a case nobody follows (most: `Case.followed`)."""
    if not case.followed:
        return [], []
    try:
        from civicgrid.intake.queries import followers_of
    except ImportError:
        return [], []
    return followers_of(case)


def _active(user_id: int | None) -> list[User]:
    """The account, if there is one and it is active (intake files as an inactive one: nobody to tell)."""
    return list(User.objects.filter(pk=user_id, is_active=True)) if user_id else []


def _residents(case: Case, *, sms: bool) -> tuple[list[User], list[str]]:
    """The reporter's account and the followers; with `sms`, the reporter's and followers' phones."""
    users = _active(case.reporter_user_id)
    followers, follower_phones = _followers(case)
    users += followers
    phones: list[str] = []
    if sms:
        reporter_phone = crypto.decrypt(case.reporter_phone_enc) if case.reporter_phone_enc else ""
        phones = [p for p in [reporter_phone, *follower_phones] if p]
    return users, phones


def _registered(case: Case, step: CaseStep) -> bool:
    if step.action == StepAction.CREATE:
        return step.to_status == Status.REGISTERED
    value = (step.changes or {}).get("registered_at")
    return isinstance(value, list) and len(value) == 2 and value[0] is None and value[1] is not None


def _resident_notice(case: Case, step: CaseStep, link: str) -> Notice | None:
    action, number = step.action, case.number
    if _registered(case, step):
        users, phones = _residents(case, sms=True)
        return Notice(f"您反映的问题已受理立案（{number}）", "我们将尽快安排办理。", link, users, phones)
    if action == StepAction.REJECT:
        abusive = bool((step.changes or {}).get("abusive"))
        users, phones = _residents(case, sms=not abusive)
        return Notice(f"您反映的问题不予受理（{number}）", case.reject_reason, link, users, phones)
    if action == StepAction.DEFER and case.resume_on:
        # A wait of weeks is news the reporter must get (12345 practice: 缓办 is told to the caller),
        # by SMS too; the reason is the dispatcher's, not shown to residents.
        users, phones = _residents(case, sms=True)
        body = f"预计 {case.resume_on:%Y-%m-%d} 恢复办理。"
        return Notice(f"您反映的问题暂缓办理（{number}）", body, link, users, phones)
    if action == StepAction.RESUME:
        users, _ = _residents(case, sms=False)
        return Notice(f"您反映的问题已恢复办理（{number}）", "", link, users)
    if action == StepAction.CLAIM:
        users, _ = _residents(case, sms=False)
        return Notice(f"您反映的问题已由社区党员认领办理（{number}）", "", link, users)
    if action in (StepAction.DISPATCH, StepAction.REOPEN):
        users, _ = _residents(case, sms=False)
        unit = case.lead_unit.name if case.lead_unit_id and case.lead_unit else ""
        verb = "已重新交办" if action == StepAction.REOPEN else "已交办"
        return Notice(f"您反映的问题{verb}（{number}）", f"承办单位：{unit}" if unit else "", link, users)
    if action == StepAction.FEEDBACK:
        users, _ = _residents(case, sms=False)
        return Notice(f"您反映的问题已有办理结果（{number}）", case.feedback_result[:200], link, users)
    if action == StepAction.RECHECK and step.to_status == Status.CLOSED:
        users, phones = _residents(case, sms=True)
        return Notice(
            f"您反映的问题已办结（{number}），请评价",
            f"请在 {deadlines.rating_window(case.category).days} 天内对办理结果进行评价。",
            f"{link}#rate",
            users,
            phones,
        )
    if action == StepAction.REMIND_RATE:
        return _rating_reminder(case, link)
    return None


def _rating_reminder(case: Case, link: str) -> Notice | None:
    """The reporter, who alone may rate: in the inbox with an account; by SMS to the tracking page
    (查询码) without one, as for a web or app report, which intake files as its inactive account.
    A case staff filed for a caller has no reporter here: _staff_notice asks the filer to call back."""
    if not case.reporter_user_id:
        return None
    title = f"请对已办结的问题进行评价（{case.number}）"
    reporter = _active(case.reporter_user_id)
    if reporter:
        return Notice(title, "评价期限即将结束。", f"{link}#rate", reporter)
    phone = crypto.decrypt(case.reporter_phone_enc) if case.reporter_phone_enc else ""
    # intake's tracking page (/track/): the code and the phone's last digits open the case to rate.
    if not phone:
        return None
    return Notice(title, "评价期限即将结束，请凭查询码查看并评价。", "/track/", [], [phone])


def _staff_notice(case: Case, step: CaseStep, link: str) -> Notice | None:
    action, label = step.action, _label(case)
    if action == StepAction.DISPATCH:
        return _assigned_handlers(case).notice(f"新工单待签收：{label}", step.note, link)
    if action == StepAction.REOPEN:
        return _assigned_handlers(case).notice(f"工单重办，请重新签收：{label}", step.note, link)
    if action == StepAction.RECHECK and step.to_status != Status.CLOSED:
        if case.deferred:
            return None  # the resumption written next (closing.recheck_case) tells them, with the note
        return _handlers(case).notice(f"核查未通过，请返工：{label}", step.note, link)
    if action == StepAction.RETURN:
        return _rulers(case).notice(f"工单被退回，请审定：{label}", step.note, link)
    if action == StepAction.REQUEST_EXTENSION:
        return _rulers(case).notice(f"延期申请待审批：{label}", step.note, link)
    if action == StepAction.WHISTLE:
        return _dispatchers(case).notice(f"社区吹哨，请分哨：{label}", step.note, link)
    if action == StepAction.OFFER:
        claimers = _members(rules.claimer_units(case), rules.CLAIMER_ROLES)
        return claimers.notice(f"群众点单待认领：{label}", step.note, link)
    if action == StepAction.CLAIM:
        name = str(step.actor) if step.actor else ""
        staff = _members([case.community_id], [Role.COMMUNITY_STAFF])
        return staff.notice(f"党员{name}已认领：{label}", step.note, link)
    if action == StepAction.FEEDBACK:
        return _recheckers(case).notice(f"工单已反馈，请核查：{label}", step.note[:200], link)
    if action == StepAction.REMIND_RATE and not case.reporter_user_id and case.created_by_id:
        # Filed by staff for a caller (hotline, walk-in): the rating comes from a callback (回访).
        return Notice(
            f"请回访反映人并登记评价：{label}", "评价期限即将结束。", link, _active(case.created_by_id)
        )
    if action == StepAction.ESCALATE_ALERT:
        return _rulers(case).notice(f"工单超期 5 个工作日，请督办：{label}", step.note, link)
    if action == StepAction.REMIND_SIGN:
        unsigned = _assigned_handlers(case, unsigned_only=True)
        return unsigned.notice(f"已超过签收期限，请尽快签收：{label}", "", link)
    if action == StepAction.REMIND_ANSWER:
        return _intake(case).notice(f"群众诉求已超过首次答复期限，请尽快处理：{label}", "", link)
    if action == StepAction.REMIND_RECHECK:
        return _recheckers(case).notice(f"已超过核查期限，请尽快核查：{label}", "", link)
    # A deferral stops the assisting units' work too, and a resumption restarts it.
    if action == StepAction.DEFER and case.resume_on:
        title = f"工单已缓办，{case.resume_on:%Y-%m-%d} 恢复办理：{label}"
        return _handlers(case, assisting=True).notice(title, step.note, link)
    if action == StepAction.RESUME:
        return _handlers(case, assisting=True).notice(f"工单恢复办理：{label}", step.note, link)
    if action == StepAction.APPROVE_EXTENSION:
        # Assisting units work to the same deadline, so they hear of the new one.
        due = f"，新的办理期限 {timezone.localtime(case.due_at):%Y-%m-%d %H:%M}" if case.due_at else ""
        return _handlers(case, assisting=True).notice(f"延期申请已同意{due}：{label}", step.note, link)
    # The lead unit answers for the case; a red card, an urge or supervision presses every unit on it,
    # and an urge or supervision before a dispatch whoever holds the case then.
    titles = {
        StepAction.DENY_EXTENSION: ("延期申请未同意", _handlers),
        StepAction.YELLOW: ("工单即将超期（黄牌）", _handlers),
        StepAction.RED: ("工单已超期（红牌）", _every_handler),
        StepAction.URGE: ("催办", _holders),
        StepAction.AUTO_URGE: ("超期催办", _every_handler),
        StepAction.SUPERVISE: ("督办", _holders),
    }
    if action in titles:
        title, reach = titles[StepAction(action)]
        return reach(case).notice(f"{title}：{label}", step.note, link)
    return None


def _every_handler(case: Case) -> Reach:
    return _handlers(case, assisting=True)


def _holders(case: Case) -> Reach:
    """Whoever must act on the case now: the community that answers a received or registered case,
    the dispatcher (or the community ruling) for one escalated or returned, those who re-check one
    fed back, else every unit on it."""
    if case.status in (Status.RECEIVED, Status.REGISTERED):
        return _intake(case)
    if case.status == Status.FED_BACK:
        return _recheckers(case)
    if case.status == Status.ESCALATED:
        return _dispatchers(case)
    if case.status == Status.RETURNED:
        return _rulers(case)
    return _every_handler(case)


def _robots(units: list[int], told: list[User]) -> list[str]:
    """The group robots of the units, among those searched, whose staff are told: a robot named in
    CIVICGRID_WECOM_ROBOTS after a unit's code posts what that unit's staff hear (not, say, a
    community's own whistle, though the dispatchers were looked for over it). No query when no robot
    is configured (docs/notifications.md)."""
    configured = getattr(settings, "CIVICGRID_WECOM_ROBOTS", None) or {}
    if not (configured and units and told):
        return []
    staffed = Unit.objects.filter(pk__in=units, memberships__user__in=[u.pk for u in told])
    codes = staffed.values_list("code", flat=True).distinct()
    return sorted(code for code in codes if code is not None and code in configured)


@dataclass
class Caused:
    """What a step causes: rows to write with it (notices, routing's correction), and what to do once
    they are written (deliveries after commit, routing a new case)."""

    rows: list[models.Model]
    notified: list[Notified]

    def written(self, case: Case, step: CaseStep) -> None:
        for notified in self.notified:
            deliver_after_commit(notified)
        from civicgrid.routing.actions import after_step_written

        after_step_written(case, step)


def of_step(case: Case, step: CaseStep) -> Caused:
    """Who hears of a step not yet written (it is written with what this returns, in one statement:
    actions._common.write_step), and routing's note of a person's dispatch."""
    # Staff open the desk's case page; residents with an account their own page (intake's /my/).
    staff_link, resident_link = f"/cases/{case.number}/", f"/my/{case.number}/"
    caused = Caused([], [])
    staff = _staff_notice(case, step, staff_link)
    if staff is not None:
        staff.urgent = case.urgency == Urgency.URGENT or step.action in PRESSING
    for notice in (staff, _resident_notice(case, step, resident_link)):
        if notice is None:
            continue
        users = [u for u in notice.users if u.pk != step.actor_id]
        robots = _robots(notice.units, users)
        if not (users or notice.phones or robots):
            continue
        notified = prepare(
            users,
            title=notice.title,
            body=notice.body,
            link=notice.link,
            subject_ref=case.number,
            urgent=notice.urgent,
            phones=notice.phones,
            wecom=robots,
        )
        caused.notified.append(notified)
        caused.rows += [*notified.notifications, *notified.messages]
    # Routing (系统自动转) keeps dispatchers' corrections (routing/actions.py).
    from civicgrid.routing.actions import before_step_written

    caused.rows += before_step_written(case, step)
    return caused
