"""Who hears of a step: notification rows written in the step's transaction (sent after commit).

Called by actions._common.write_step for every step, inside the action's transaction, so a step that
rolls back leaves no notification behind and one that commits is delivered by the outbox (notify).
The rules, per step (docs/notifications.md, "Who hears what"):

- the lead unit's handlers: dispatched, reopened, sent back for rework, extension decided, deferred,
  yellow, red, urged (by hand or automatically), supervised; assisting units' handlers too when the
  case is dispatched or reopened (they sign for it as well); the unsigned units' handlers when the
  sign-for deadline passed;
- the dispatcher who rules on the case (the subdistrict's, or the community staff when the community
  handles the case itself): returned, extension requested, whistle blown, five working days overdue;
- those who re-check: the grid workers of the case's grid and the community's staff, when the lead
  unit fed back (the dispatcher when the case has neither);
- the reporter (an account) and the accounts following the case, in-app: registered, rejected,
  dispatched, fed back, closed (with the rating link), rating reminder; and by SMS to the reporter's
  and followers' phones only for registered, rejected and closed.

Nobody is told of their own step. Phone numbers are decrypted here, inside the transaction, handed to
notify (which stores them in the outbox and masks them in logs) and never logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from civicgrid.cases import deadlines, rules
from civicgrid.cases.models import Case, CaseStep, Status, StepAction
from civicgrid.core import crypto, rows
from civicgrid.core.models import path_ids
from civicgrid.notify.actions import notify
from civicgrid.people.models import Role, User


@dataclass
class Notice:
    title: str
    body: str = ""
    link: str = ""
    users: list[User] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)


def _label(case: Case) -> str:
    text = case.title or case.description.replace("\n", " ")
    return f"{case.number} {text[:40]}".strip()


def _members(units: Iterable[int | None], roles: Iterable[str]) -> list[User]:
    """Active users holding one of `roles` in one of the units."""
    return _users((units, roles))


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


def _lead_handlers(case: Case) -> list[User]:
    return _members([case.lead_unit_id], rules.HANDLER_ROLES)


def _assigned_handlers(case: Case, *, unsigned_only: bool = False) -> list[User]:
    held = getattr(case, "active_assignments", None)  # the step's own, when it holds them
    if held is not None:
        units = [a.unit_id for a in held if not (unsigned_only and a.signed_at)]
    else:
        sql = "SELECT unit_id FROM cases_caseassignment WHERE case_id = %s AND active"
        with connection.cursor() as cursor:
            cursor.execute(sql + (" AND signed_at IS NULL" if unsigned_only else ""), [case.pk])
            units = [unit_id for (unit_id,) in cursor.fetchall()]
    return _members(units, rules.HANDLER_ROLES)


def _community_handles(case: Case) -> bool:
    """Whether the community rules on the case: it dispatched it to itself or one of its grids."""
    if not (case.community_id and case.lead_unit_id):
        return False
    lead, community = case.lead_unit, case.community
    return bool(lead and community and lead.path.startswith(community.path))


def _dispatchers(case: Case) -> list[User]:
    """The dispatchers of the case's territory and of every unit above it."""
    return _members(path_ids(case.territory_path), [Role.DISPATCHER])


def _rulers(case: Case) -> list[User]:
    """The dispatcher over the case, or the community's staff when the community handles it."""
    if _community_handles(case):
        staff = _members([case.community_id], [Role.COMMUNITY_STAFF])
        if staff:
            return staff
    return _dispatchers(case)


def _recheckers(case: Case) -> list[User]:
    grid, community = ([case.grid_id], [Role.GRID_WORKER]), ([case.community_id], [Role.COMMUNITY_STAFF])
    return _users(grid, community) or _dispatchers(case)


def _followers(case: Case) -> tuple[list[User], list[str]]:
    """Accounts and phones following the case (resident intake), when that app provides them."""
    try:
        from civicgrid.intake.queries import followers_of
    except ImportError:
        return [], []
    return followers_of(case)


def _residents(case: Case, *, sms: bool) -> tuple[list[User], list[str]]:
    """The reporter's account and the followers; with `sms`, the reporter's and followers' phones."""
    users: list[User] = []
    if case.reporter_user_id:
        users = list(User.objects.filter(pk=case.reporter_user_id, is_active=True))
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
        users, _ = _residents(case, sms=False)
        return Notice(f"请对已办结的问题进行评价（{number}）", "评价期限即将结束。", f"{link}#rate", users)
    return None


def _staff_notice(case: Case, step: CaseStep, link: str) -> Notice | None:
    action, label = step.action, _label(case)
    if action == StepAction.DISPATCH:
        return Notice(f"新工单待签收：{label}", step.note, link, _assigned_handlers(case))
    if action == StepAction.REOPEN:
        return Notice(f"工单重办，请重新签收：{label}", step.note, link, _assigned_handlers(case))
    if action == StepAction.RECHECK and step.to_status != Status.CLOSED:
        return Notice(f"核查未通过，请返工：{label}", step.note, link, _lead_handlers(case))
    if action == StepAction.RETURN:
        return Notice(f"工单被退回，请审定：{label}", step.note, link, _rulers(case))
    if action == StepAction.REQUEST_EXTENSION:
        return Notice(f"延期申请待审批：{label}", step.note, link, _rulers(case))
    if action == StepAction.WHISTLE:
        return Notice(f"社区吹哨，请分哨：{label}", step.note, link, _dispatchers(case))
    if action == StepAction.FEEDBACK:
        return Notice(f"工单已反馈，请核查：{label}", step.note[:200], link, _recheckers(case))
    if action == StepAction.ESCALATE_ALERT:
        return Notice(f"工单超期 5 个工作日，请督办：{label}", step.note, link, _rulers(case))
    if action == StepAction.REMIND_SIGN:
        return Notice(
            f"已超过签收期限，请尽快签收：{label}", "", link, _assigned_handlers(case, unsigned_only=True)
        )
    titles = {
        StepAction.APPROVE_EXTENSION: "延期申请已同意",
        StepAction.DENY_EXTENSION: "延期申请未同意",
        StepAction.DEFER: "工单已缓办",
        StepAction.YELLOW: "工单即将超期（黄牌）",
        StepAction.RED: "工单已超期（红牌）",
        StepAction.URGE: "催办",
        StepAction.AUTO_URGE: "超期催办",
        StepAction.SUPERVISE: "督办",
    }
    if action in titles:
        return Notice(f"{titles[StepAction(action)]}：{label}", step.note, link, _lead_handlers(case))
    return None


def after_step(case: Case, step: CaseStep) -> None:
    # Staff open the desk's case page; residents with an account their own page (intake's /my/).
    staff_link, resident_link = f"/cases/{case.number}/", f"/my/{case.number}/"
    for notice in (_staff_notice(case, step, staff_link), _resident_notice(case, step, resident_link)):
        if notice is None:
            continue
        users = [u for u in notice.users if u.pk != step.actor_id]
        if not users and not notice.phones:
            continue
        notify(
            users,
            title=notice.title,
            body=notice.body,
            link=notice.link,
            subject_ref=case.number,
            phones=notice.phones,
        )
    # Routing (系统自动转): route a new case, keep dispatchers' corrections (routing/actions.py).
    from civicgrid.routing.actions import after_step as routing_after_step

    routing_after_step(case, step)
