"""Routing's steps: the system registers and dispatches a case it is sure of; staff change a category.

auto_dispatch is taken by the system (actor None, shown as "系统"), never by a person: the steps say
so ({"automatic": true}) and carry the scores the decision rested on, so the timeline explains why the
case went where it went. recategorize (改分类) is how a dispatcher or the community corrects the
category before dispatching; routing records it as a correction to learn from (routing.actions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases import rules, transitions
from civicgrid.cases.actions._common import lock, require_status, snapshot, write_step
from civicgrid.cases.actions.handling import assign
from civicgrid.cases.models import Case, Category, Status, StepAction
from civicgrid.core.errors import InvalidInput
from civicgrid.people.models import Role

if TYPE_CHECKING:
    from civicgrid.core.models import Unit
    from civicgrid.people.models import User


def _scores_text(scores: list[dict[str, Any]]) -> str:
    return "；".join(f"{s.get('name', s.get('category'))} {float(s.get('score', 0)):.0%}" for s in scores)


def auto_dispatch(
    case: Case,
    *,
    lead_unit: Unit,
    category: Category | None,
    scores: list[dict[str, Any]],
    confidence: float,
    threshold: float | None,
    source: str,
    model_version: int | None = None,
    rule_id: int | None = None,
    fresh: bool = False,
) -> Case:
    """The system registers (when received) and dispatches the case to `lead_unit`, in one step.

    Called by routing inside the transaction that filed the case (`fresh`), or else the row is locked
    again here so that a re-route cannot race a dispatcher. Writes one "dispatch" step with actor None,
    {"automatic": true} and the scores; for a received case it carries registered_at as well.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("auto_dispatch runs inside the transaction that filed or locked the case")
    if not fresh:  # `fresh`: filed in this very transaction, so nobody else can see the row yet
        status = Case.objects.select_for_update().filter(pk=case.pk).values_list("status", flat=True).first()
        if status != case.status:
            case.refresh_from_db()
    require_status(case, transitions.AUTO_DISPATCHABLE, _("该工单已不能自动派遣"))
    now = timezone.now()
    unit = case.subdistrict if case.subdistrict_id else None
    system = cast("User", AnonymousUser())
    basis = {
        "automatic": True,
        "source": source,
        "scores": scores,
        "confidence": round(confidence, 4),
        "threshold": threshold,
        "model_version": model_version,
        "rule": rule_id,
    }
    before = snapshot(case)
    registered = case.status == Status.RECEIVED
    if registered:
        # One step, not two: the dispatch step records registered_at too, which is what the measures
        # and the reporter's "已受理立案" message read (cases.effects._registered).
        case.status = Status.REGISTERED
        case.registered_at = now
    if category is not None and case.category_id != category.pk:
        case.category = category  # before assign: the handling limit is the category's
    assign(case, lead_unit, [], by=system, now=now)
    how = "关键词规则" if source == "rule" else f"模型 v{model_version}" if model_version else "模型"
    bar = f"，阈值 {threshold:.0%}" if threshold is not None else ""
    name = str(category) if category is not None else ""
    note = (
        f"系统自动{'立案并' if registered else ''}派遣（{how}）：{name}，置信度 {confidence:.0%}{bar}；"
        f"主办 {lead_unit.name}。"
        f"候选分类：{_scores_text(scores)}"
    )
    write_step(
        case,
        StepAction.DISPATCH,
        by=None,
        unit=unit,
        before=before,
        at=now,
        note=note,
        extra={"lead_unit": lead_unit.code or lead_unit.pk, "assisting_units": [], **basis},
    )
    return case


@transaction.atomic
def recategorize(case: Case | str, *, by: User, category: Category, note: str = "") -> Case:
    """Changes the case's category (改分类) before it is handled: community staff or the dispatcher.

    Escalated cases wait at the subdistrict, so only its dispatcher changes theirs; a returned case is
    ruled by whoever rules on its return (cases.rules.ruler_of).
    """
    case = lock(case, by)
    unit = rules.require_over(
        by, [Role.DISPATCHER, Role.COMMUNITY_STAFF], case.territory_path, _("只有属地社区或街道可以修改分类")
    )
    require_status(case, transitions.RECATEGORIZABLE, _("该工单已在办理中，不能修改分类"))
    if case.status == Status.ESCALATED and not by.is_superuser:
        unit = rules.require_over(by, [Role.DISPATCHER], case.territory_path, _("已吹哨的工单由街道修改分类"))
    if case.status == Status.RETURNED:
        unit = rules.require_ruler(by, case, _("该工单由街道审定")) or unit
    if not category.is_active:
        raise InvalidInput(_("该分类已停用"), details={"category": category.code})
    if category.pk == case.category_id:
        raise InvalidInput(_("分类没有变化"), details={"category": category.code})
    old = case.category.code if case.category_id and case.category else None
    before = snapshot(case)
    case.category = category
    write_step(
        case,
        StepAction.RECATEGORIZE,
        by=by,
        unit=unit,
        before=before,
        at=timezone.now(),
        note=note,
        extra={"category": [old, category.code]},
    )
    return case
