"""Routing's own changes: the intake hook, dispatcher corrections, keyword rules saved after a dry run.

cases.effects calls the two hooks for every case step, inside the step's transaction:
- before the step is written, a person's dispatch or recategorize step is compared with the suggestion
  and kept as a correction (written with the step) when the category or the lead unit differs
  (`before_step_written`);
- once it is written, the create step routes the new case (engine.route) in a savepoint, so a routing
  failure leaves the filing intact and the case simply waits for a dispatcher (`after_step_written`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases import rules as case_rules
from civicgrid.cases.actions._common import snapshot
from civicgrid.cases.models import Case, CaseStep, Category, StepAction
from civicgrid.core import audit
from civicgrid.core.errors import Forbidden, InvalidInput
from civicgrid.people.models import Role
from civicgrid.routing import rules
from civicgrid.routing.models import KeywordRule, RoutingCorrection

if TYPE_CHECKING:
    from civicgrid.people.models import User

logger = logging.getLogger(__name__)

# Who maintains the keyword rules through the API (the admin site has its own permissions).
RULE_ROLES = frozenset({Role.DISPATCHER, Role.ADMINISTRATOR})


def before_step_written(case: Case, step: CaseStep) -> list[RoutingCorrection]:
    """The rows routing writes with a step (cases.effects.of_step; see the module docstring)."""
    if step.actor_id is not None and step.action in (StepAction.DISPATCH, StepAction.RECATEGORIZE):
        correction = note_correction(case, step)
        return [correction] if correction is not None else []
    return []


def after_step_written(case: Case, step: CaseStep) -> None:
    """What routing does once a step is written (cases.effects.Caused.written): route a new case."""
    if step.action == StepAction.CREATE:
        route_new_case(case)


def route_new_case(case: Case) -> None:
    from civicgrid.routing.engine import route

    before = snapshot(case)
    lead = case.lead_unit if case.lead_unit_id else None
    category = case.category if case.category_id else None
    try:
        with transaction.atomic():
            route(case)
    except Exception:  # routing must never lose a filing: the case waits for a dispatcher instead
        logger.exception("routing failed for case %s; it waits for a dispatcher", case.number)
        for name, value in before.items():
            setattr(case, name, value)
        case.lead_unit, case.category = lead, category


def note_correction(case: Case, step: CaseStep) -> RoutingCorrection | None:
    """A person's dispatch or category change when it differs from routing's suggestion, to be written
    with the step (unsaved: the step has no key yet)."""
    # Written out, like the row below: every dispatch asks (core.rows, decision 0005). The last
    # column says whether a recategorize step already kept the case's present category, so that the
    # dispatch after it corrects only the unit; one statement where two were.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.category_id, s.lead_unit_id, s.model_version, s.decided_automatically,"
            " EXISTS (SELECT 1 FROM routing_routingcorrection c WHERE c.case_id = s.case_id"
            " AND c.category_changed AND c.final_category_id = %s)"
            " FROM routing_routingsuggestion s WHERE s.case_id = %s",
            [case.category_id, case.pk],
        )
        suggestion = cursor.fetchone()
    if suggestion is None:
        return None
    category_id, unit_id, version, automatic, category_kept = suggestion
    final_unit = case.lead_unit_id if step.action == StepAction.DISPATCH else None
    category_changed = case.category_id != category_id
    if category_changed and step.action == StepAction.DISPATCH:
        category_changed = not category_kept
    unit_changed = step.action == StepAction.DISPATCH and final_unit != unit_id
    if not (category_changed or unit_changed):
        return None
    if step.action == StepAction.RECATEGORIZE and not category_changed:
        return None
    return RoutingCorrection(
        case=case,
        step=step,
        at=step.at,
        by_id=step.actor_id,
        model_version=version,
        was_automatic=automatic,
        suggested_category_id=category_id,
        suggested_unit_id=unit_id,
        final_category_id=case.category_id,
        final_unit_id=final_unit,
        category_changed=category_changed,
        unit_changed=unit_changed,
    )


# --- keyword rules ---------------------------------------------------------------------------------


def may_edit_rules(user: User) -> bool:
    return bool(user.is_superuser) or case_rules.has_role(user, RULE_ROLES)


def require_rule_editor(user: User) -> None:
    if not may_edit_rules(user):
        raise Forbidden(_("只有街道指挥中心或系统管理员可以维护分派规则"))


def _check(phrase: str, category: Category | None) -> str:
    phrase = " ".join(phrase.split())
    if not phrase:
        raise InvalidInput(_("请填写关键词"), details={"phrase": "required"})
    if len(phrase) > 100:
        raise InvalidInput(_("关键词过长"), details={"phrase": "≤ 100"})
    if category is None or not category.is_active:
        raise InvalidInput(_("请选择启用的分类"), details={"category": "required"})
    return phrase


def preview_rule(
    *, by: User, phrase: str, category: Category | None, priority: int = 0, rule: KeywordRule | None = None
) -> rules.DryRun:
    """The dry run a person sees before saving a rule."""
    require_rule_editor(by)
    phrase = _check(phrase, category)
    assert category is not None
    return rules.dry_run(phrase, category, priority=priority, exclude_rule=rule.pk if rule else None)


@transaction.atomic
def save_rule(
    *,
    by: User,
    phrase: str,
    category: Category | None,
    priority: int = 0,
    note: str = "",
    is_active: bool = True,
    rule: KeywordRule | None = None,
    expect_changed: int | None = None,
) -> KeywordRule:
    """Creates or updates a keyword rule, storing its dry run; audited.

    With `expect_changed`, the save is refused when the dry run no longer gives that many changed cases
    (the person confirmed a figure that is out of date).
    """
    require_rule_editor(by)
    phrase = _check(phrase, category)
    assert category is not None
    result = rules.dry_run(phrase, category, priority=priority, exclude_rule=rule.pk if rule else None)
    if expect_changed is not None and expect_changed != result.changed:
        # The figure now, for the person to confirm again.
        raise InvalidInput(_("试运行结果已变化，请重新确认"), details={"confirm_changed": result.changed})
    fields = ["phrase", "category", "priority", "note", "is_active"]
    before: dict[str, Any] | None = audit.snapshot(rule, fields) if rule is not None else None
    if rule is None:
        rule = KeywordRule(created_by=by if by.pk else None)
    rule.phrase, rule.category, rule.priority = phrase, category, priority
    rule.note, rule.is_active = note[:200], is_active
    rule.dry_run = {**result.as_dict(), "at": timezone.now().isoformat()}
    rule.save()
    audit.record(by, "routing.rule.save", rule, before=before, after=audit.snapshot(rule, fields))
    return rule
