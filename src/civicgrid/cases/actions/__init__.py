"""Every change of a case's workflow, one typed function per step (ARCHITECTURE.md, actions.py).

Each action is atomic, re-reads the case under a row lock, checks scope (NotFound), then the actor's
role and unit (Forbidden), then the state (InvalidTransition), and writes the change with its timeline
step in the same transaction. Split by step group; import from here.
"""

from civicgrid.cases.actions import supervision as supervision
from civicgrid.cases.actions._common import WORKFLOW_FIELDS, changed_fields, snapshot
from civicgrid.cases.actions.closing import (
    rate_case,
    recheck_case,
    reopen_case,
    supervise_case,
    urge_case,
)
from civicgrid.cases.actions.handling import (
    approve_extension,
    arrive_case,
    defer_case,
    deny_extension,
    dispatch_case,
    feedback_case,
    request_extension,
    resume_case,
    return_case,
    sign_case,
)
from civicgrid.cases.actions.intake import (
    IdempotencyConflict,
    create_case,
    merge_case,
    register_case,
    reject_case,
    whistle_case,
)
from civicgrid.cases.actions.party import claim_case, offer_case
from civicgrid.cases.actions.photos import add_photos
from civicgrid.cases.actions.public import file_report, follow_case, mark_abusive, rate_by_ticket
from civicgrid.cases.actions.routing import auto_dispatch, recategorize

__all__ = [
    "WORKFLOW_FIELDS",
    "IdempotencyConflict",
    "add_photos",
    "approve_extension",
    "arrive_case",
    "auto_dispatch",
    "changed_fields",
    "claim_case",
    "create_case",
    "defer_case",
    "deny_extension",
    "dispatch_case",
    "feedback_case",
    "file_report",
    "follow_case",
    "mark_abusive",
    "merge_case",
    "offer_case",
    "rate_by_ticket",
    "rate_case",
    "recategorize",
    "recheck_case",
    "register_case",
    "reject_case",
    "reopen_case",
    "request_extension",
    "resume_case",
    "return_case",
    "sign_case",
    "snapshot",
    "supervise_case",
    "urge_case",
    "whistle_case",
]
