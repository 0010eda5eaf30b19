"""Resident ordering with Party members (群众点单, 党员认领): offer (发布认领) and claim (认领).

PRODUCT.md: a resident's request reaches the community first, which handles it, hands it to a Party
member registered with the community (在职党员双报到) who claims it, or pushes it up. The community's
staff offer a registered case to the Party members of its community; the first member to claim it
becomes its handler: the case is the community's (lead unit), signed for by the member at once, on the
category's handling clock. The member then handles it like a lead unit's handler (arrive, feed back,
ask for an extension, return it to the community), and the community re-checks and closes it.

Until a member claims it the offer does not hold the case: the community may still dispatch it or blow
the whistle, which ends the offer (claiming needs the case still registered). Two members claiming at
once are serialised by the case's row lock: the second finds it signed and is refused (409).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases import rules, transitions
from civicgrid.cases.actions._common import lock, require_status, snapshot, write_step
from civicgrid.cases.actions.handling import assign
from civicgrid.cases.models import Case, Status, StepAction
from civicgrid.core.errors import Forbidden, InvalidTransition
from civicgrid.people.models import Membership, Role

if TYPE_CHECKING:
    from civicgrid.core.models import Unit
    from civicgrid.people.models import User


def offering_unit(case: Case, by: User) -> Unit | None:
    """The community as which the user offers the case; Forbidden or InvalidTransition (also when no
    Party member is registered there to claim it: one query, asked last)."""
    unit = rules.require_over(
        by, [Role.COMMUNITY_STAFF], case.territory_path, _("只有属地社区可以发布党员认领")
    )
    require_status(case, transitions.OFFERABLE, _("只有已立案、尚未派遣的工单可以发布党员认领"))
    if case.offered_at is not None:
        raise InvalidTransition(_("已发布党员认领，等待党员认领"))
    if not has_claimers(case):
        raise InvalidTransition(_("本社区还没有报到的党员，无法发布认领"))
    return unit


def claiming_unit(case: Case, by: User) -> Unit:
    """The community the member claims the case for (Forbidden, InvalidTransition as claim_case)."""
    member = rules.membership_over(by, rules.CLAIMER_ROLES, case.territory_path)
    if member is None:
        raise Forbidden(_("只有在本社区报到的党员可以认领"))
    require_status(case, transitions.CLAIMABLE, _("该工单已被认领或已另行派遣"))
    if case.offered_at is None:
        raise InvalidTransition(_("社区尚未发布该工单供党员认领"))
    # The community that offered it leads (a member registered higher up still claims for it).
    return case.community if case.community_id and case.community else member.unit


def has_claimers(case: Case) -> bool:
    """Whether an active Party member is registered with a unit over the case (one query)."""
    units = rules.claimer_units(case)
    members = Membership.objects.filter(role__in=rules.CLAIMER_ROLES, unit_id__in=units, user__is_active=True)
    return members.exists()


@transaction.atomic
def offer_case(case: Case | str, *, by: User, note: str = "") -> Case:
    """Community staff offer a registered case to the community's Party members (发布党员认领)."""
    case = lock(case, by)
    unit = offering_unit(case, by)
    before = snapshot(case)
    now = timezone.now()
    case.offered_at = now
    write_step(case, StepAction.OFFER, by=by, unit=unit, before=before, at=now, note=note)
    return case


@transaction.atomic
def claim_case(case: Case | str, *, by: User, note: str = "") -> Case:
    """A Party member of the community claims an offered case (认领) and handles it from now on."""
    case = lock(case, by)
    unit = claiming_unit(case, by)
    before = snapshot(case)
    now = timezone.now()
    assign(case, unit, [], by=by, now=now, signed_by=by)
    case.status = Status.SIGNED
    case.signed_at = now
    case.claimed_by = by
    write_step(case, StepAction.CLAIM, by=by, unit=unit, before=before, at=now, note=note)
    return case
