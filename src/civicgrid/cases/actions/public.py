"""Resident-facing steps: filing with photos in one go, rating by tracking code, following, abuse marking.

The public page files a case and its photos in one transaction (a bad photo means no case); photos are
prepared (verified, re-encoded without EXIF) before it opens. A resident without an account rates
through the reporter's tracking ticket (intake.Ticket), which the intake page hands out only after
checking the code and the phone's last four digits; the rules of the rating are rate_case's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases import rules, transitions
from civicgrid.cases.actions._common import lock, require_status, snapshot, write_step
from civicgrid.cases.actions.closing import apply_rating
from civicgrid.cases.actions.intake import create_case
from civicgrid.cases.actions.photos import PreparedPhoto, files_removed_on_failure, stored
from civicgrid.cases.models import (
    FINAL_STATUSES,
    Case,
    CasePhoto,
    Status,
    StepAction,
    WarnLevel,
)
from civicgrid.core.errors import Forbidden, InvalidInput, NotFound
from civicgrid.people.models import Role

if TYPE_CHECKING:
    from civicgrid.intake.models import Ticket
    from civicgrid.people.models import User

# The public page takes fewer photos than a case may hold, so staff can still add their own.
MAX_REPORT_PHOTOS = 5


def _store_photos(case: Case, photos: Sequence[PreparedPhoto], by: User, written: list[str]) -> None:
    CasePhoto.objects.bulk_create(
        [stored(case, p, by_id=by.pk, step_id=None, written=written) for p in photos]
    )
    case.has_photos = True  # type: ignore[attr-defined]  # create_case set it false (queries.case_for_update)


def file_report(
    *,
    by: User,
    photos: Sequence[PreparedPhoto] = (),
    on_created: Callable[[Case], Any] | None = None,
    **fields: Any,
) -> Case:
    """create_case plus prepared photos in one transaction; `on_created(case)` runs inside it too.

    A replayed create_case (same idempotency key and body) returns the first case untouched.
    Files written before a failure are removed again, so nothing is half saved.
    """
    if len(photos) > MAX_REPORT_PHOTOS:
        raise InvalidInput(
            _("最多上传 %(count)s 张照片") % {"count": MAX_REPORT_PHOTOS}, details={"photos": "too many"}
        )
    with files_removed_on_failure() as written, transaction.atomic():
        case = create_case(by=by, **fields)
        if case.replayed:
            return case
        if photos:
            _store_photos(case, photos, by, written)
        if on_created is not None:
            on_created(case)
        return case


def _actor(user: User | None) -> User:
    # Steps and assignments take an actor with a pk; a resident without an account has none.
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    return cast("User", AnonymousUser())


@transaction.atomic
def rate_by_ticket(
    ticket: Ticket,
    *,
    satisfaction: str,
    resolved: bool,
    comment: str = "",
    by: User | None = None,
) -> Case:
    """The reporter rates a closed case through the tracking ticket; dissatisfied or unsolved reopens it.

    The same rules as rate_case: closed, within the rating window, once per closure.
    """
    from civicgrid.intake.models import TicketKind

    if ticket.kind != TicketKind.REPORTER:
        raise Forbidden(_("只有反映人可以评价"))
    case = Case.objects.select_for_update().filter(pk=ticket.case_id).first()
    if case is None:
        raise NotFound(_("工单不存在"))
    return apply_rating(
        case,
        by=_actor(by),
        unit=None,
        satisfaction=satisfaction,
        resolved=resolved,
        comment=comment,
        extra={"via": "tracking_code"},
    )


def follow_case(number: str, *, by: User | None = None, phone: str = "") -> tuple[Ticket, str]:
    """A resident follows an open public case instead of filing it again; returns (ticket, code)."""
    from civicgrid.intake.actions import issue_ticket
    from civicgrid.intake.models import TicketKind

    case = (
        Case.objects.filter(number=number, category__public=True)
        .exclude(status__in=FINAL_STATUSES)
        .select_related("category")
        .first()
    )
    if case is None:
        raise NotFound(_("该事项不存在或已办结"))
    user = by if by is not None and getattr(by, "is_authenticated", False) else None
    with transaction.atomic():
        issued = issue_ticket(case, kind=TicketKind.FOLLOWER, user=user, phone=phone)
        if not case.followed:
            Case.objects.filter(pk=case.pk).update(followed=True)
        return issued


@transaction.atomic
def mark_abusive(case: Case | str, *, by: User, reason: str) -> Case:
    """The subdistrict's dispatcher refuses a malicious or harassing report (恶意/骚扰), flagged as such.

    The case is rejected with the reason the reporter sees; the step carries {"abusive": true}, which
    the public lists and Open311 use to leave it out.
    """
    case = lock(case, by)
    unit = rules.require_over(
        by, [Role.DISPATCHER], case.territory_path, _("只有街道指挥中心可以标记恶意反映")
    )
    require_status(case, transitions.ABUSE_MARKABLE, _("该工单已在办理中，不能标记为恶意反映"))
    reason = reason.strip()
    if not reason:
        raise InvalidInput(_("请填写理由"), details={"reason": "required"})
    before = snapshot(case)
    now = timezone.now()
    case.status = Status.REJECTED
    case.reject_reason = f"经核实为恶意或骚扰信息：{reason}"[:500]
    case.answered_at = case.answered_at or now
    case.warn_level = WarnLevel.NONE
    write_step(
        case,
        StepAction.REJECT,
        by=by,
        unit=unit,
        before=before,
        at=now,
        note=reason,
        extra={"abusive": True},
    )
    return case
