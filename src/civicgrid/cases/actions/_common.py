"""What every case action shares: loading under lock, the step row, the hook for side effects.

The CaseStep row is the audit record of a case (ARCHITECTURE.md: "every transition is a row … the
timeline is the audit"): it names the actor, the unit, the time, the status before and after and every
other changed workflow field, and it is append-only. Writing a second copy into core.AuditEntry for
every step would double the largest table of the installation for no reader, so case steps are not
also written there. Reporter name and phone never enter a step.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, models, transaction
from django.utils.translation import gettext as _

from civicgrid.cases import effects, queries, transitions
from civicgrid.cases.models import (
    Case,
    CaseStep,
    ExtensionStatus,
)
from civicgrid.core import rows
from civicgrid.core.errors import InvalidInput, InvalidTransition, NotFound

if TYPE_CHECKING:
    from civicgrid.core.models import Unit
    from civicgrid.people.models import User

# The fields an action may change; a step records each one that did change, as [before, after].
WORKFLOW_FIELDS = [
    "status",
    "category_id",
    "urgency",
    "lead_unit_id",
    "answer_by",
    "answered_at",
    "registered_at",
    "first_dispatched_at",
    "dispatched_at",
    "sign_by",
    "signed_at",
    "yellow_at",
    "due_at",
    "fed_back_at",
    "recheck_by",
    "closed_at",
    "rate_by",
    "warn_level",
    "deferred",
    "resume_on",
    "last_urged_at",
    "rework_count",
    "return_count",
    "reopen_count",
    "extension_count",
    "urge_count",
    "supervise_count",
    "reject_reason",
    "return_reason",
    "feedback_result",
    "satisfaction",
    "resolved",
    "rating_comment",
    "rated_at",
    "merged_into_id",
    "offered_at",
    "claimed_by_id",
]


def _json(value: Any) -> Any:
    if isinstance(value, date):  # and datetime, a subclass
        return value.isoformat()
    return value


def snapshot(case: Case) -> dict[str, Any]:
    return {name: getattr(case, name) for name in WORKFLOW_FIELDS}


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """The snapshot fields that differ, each as [before, after] in JSON terms: what a step records."""
    return {k: [_json(before[k]), _json(v)] for k, v in after.items() if before[k] != v}


def lock(case: Case | str, by: User) -> Case:
    """Re-reads the case under a row lock (queries.case_for_update), then checks the user may see it.

    Scope comes first so that a case outside the user's scope is NotFound whatever the action; the lock
    makes every check-then-act of the action safe against a concurrent action on the same case.
    """
    number = case if isinstance(case, str) else case.number
    # Lock first, then check: the check reads assignments that a concurrent step could change.
    # The category and units come along (deadlines, notices and the reply read them); only the case
    # row is locked.
    locked = queries.case_for_update(number)
    if locked is None or not queries.may_read(by, locked):
        raise NotFound(_("工单不存在"))
    return locked


def require_status(case: Case, allowed: tuple[str, ...] | list[str], message: str) -> None:
    if case.status not in allowed:
        raise InvalidTransition(message, details={"status": case.status, "status_name": case.status_name})


def require_text(value: str, field: str, message: str) -> str:
    """The text without surrounding blanks; InvalidInput naming the field when only blanks were given
    (a reason of spaces would reach the reporter or the unit as an empty one)."""
    text = value.strip()
    if not text:
        raise InvalidInput(message, details={field: "required"})
    return text


def write_step(
    case: Case,
    action: str,
    *,
    by: User | None,
    unit: Unit | None,
    before: dict[str, Any] | None,
    at: datetime,
    note: str = "",
    extra: dict[str, Any] | None = None,
    updates: Sequence[tuple[models.Model, Sequence[str]]] = (),
) -> CaseStep:
    """Saves the case as the action left it and appends the step that says why, with what it causes.

    Written: the changed fields of the case (all of it for a filing, `before` None), the new
    assignments the action put on it (`assign`), `updates` (rows the action changed, with their
    fields), the step and what it causes (cases.effects: notices, routing's correction); then the
    effects that follow a written step run (deliveries after commit, routing a new case)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("case steps must be written inside the action's transaction")
    changed = changed_fields(before, snapshot(case)) if before is not None else {}
    from_status = before["status"] if before is not None else ""
    step = CaseStep(
        case=case,
        action=action,
        actor=by if getattr(by, "pk", None) else None,
        unit=unit,
        at=at,
        note=note,
        from_status=from_status,
        to_status=case.status,
        changes={**{k: v for k, v in changed.items() if k != "status"}, **(extra or {})},
    )
    # The rows with statements built once (core.rows; the ORM rebuilt each one every time, 0.1-0.2 ms
    # of Python apiece), in one statement where the database allows: every API step writes them. The
    # case row is written even when no field of it changed (updated_at): a step waiting for the lock
    # tells by the row's new version that it must read the case again (queries.case_for_update).
    # What the step causes (notices, routing's correction) is read first and written with it.
    caused = effects.of_step(case, step)
    assigned = [a for a in getattr(case, "active_assignments", None) or [] if a.pk is None]
    if before is None:  # a filing: the case is new too
        changes, new = [], [case]
    else:
        changes, new = [(case, [*(Case._meta.get_field(name).name for name in changed), "updated_at"])], []
    rows.write_together([*changes, *updates], [*new, *assigned, step, *caused.rows])
    queries.append_to_timeline(case, step)
    caused.written(case, step)
    return step


def withdraw_pending_extension(case: Case, at: datetime) -> None:
    """A pending extension request lapses when the case leaves the lead unit's hands."""
    if case.status not in transitions.EXTENSION_RULED:
        return  # requests are made at `signed` (request_extension): none can be pending elsewhere
    # The lock's read says whether one is pending, as of after any step it waited for
    # (queries.case_for_update); a case locked another way is asked. Written out: every feedback and
    # return comes here.
    if not getattr(case, "has_pending_extension", True):
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_extensionrequest SET status = %s, decided_at = %s"
            " WHERE case_id = %s AND status = %s",
            [
                ExtensionStatus.WITHDRAWN,
                connection.ops.adapt_datetimefield_value(at),
                case.pk,
                ExtensionStatus.PENDING,
            ],
        )
    case.has_pending_extension = False  # type: ignore[attr-defined]
