"""Who may act on a case, and as which unit: the role rules of the lifecycle, in one place.

A membership reaches its unit and everything below it (people.queries), so "dispatcher of the case's
subdistrict" is a dispatcher membership whose unit path is a prefix of the case's territory path.
Superusers pass every rule (configuration fixes), acting as no unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from civicgrid.core.errors import Forbidden
from civicgrid.core.models import Unit, UnitKind
from civicgrid.people.models import Membership, Role
from civicgrid.people.queries import memberships_of

if TYPE_CHECKING:
    from civicgrid.cases.models import Case
    from civicgrid.people.models import User

# Roles that see every case in the territory of their units.
TERRITORY_ROLES = frozenset(
    {
        Role.GRID_WORKER,
        Role.COMMUNITY_STAFF,
        Role.DISPATCHER,
        Role.LEADER,
        Role.PARTY_COMMITTEE,
        Role.ADMINISTRATOR,
    }
)
# Roles that handle what is assigned to their units (a community or grid can be the lead unit too).
HANDLER_ROLES = frozenset({Role.DEPARTMENT_HANDLER, Role.COMMUNITY_STAFF, Role.GRID_WORKER})
# Roles that see what is assigned to their units and below.
ASSIGNMENT_ROLES = HANDLER_ROLES | {Role.DISPATCHER, Role.LEADER, Role.ADMINISTRATOR}
# Roles that accept (register) or refuse what comes in.
INTAKE_ROLES = frozenset({Role.GRID_WORKER, Role.COMMUNITY_STAFF, Role.DISPATCHER})
# Roles whose staff choose the channel when they file on somebody's behalf.
STAFF_ROLES = frozenset(
    {
        Role.GRID_WORKER,
        Role.COMMUNITY_STAFF,
        Role.DISPATCHER,
        Role.DEPARTMENT_HANDLER,
        Role.LEADER,
        Role.ADMINISTRATOR,
    }
)
# Party members registered with a community (在职党员双报到) claim the resident requests it offers
# them and handle what they claimed (actions/party.py); they see what was offered to their community.
CLAIMER_ROLES = frozenset({Role.PARTY_MEMBER})
# Reporter name and phone in clear: the ones who call back (PRODUCT.md: the reporter is hidden by default).
REPORTER_ROLES = frozenset({Role.DISPATCHER, Role.COMMUNITY_STAFF})
DISPATCH_TARGET_KINDS = frozenset({UnitKind.DEPARTMENT, UnitKind.OFFICE, UnitKind.COMMUNITY, UnitKind.GRID})


def membership_over(user: User, roles: Iterable[str], path: str) -> Membership | None:
    """The first membership in one of `roles` whose unit is the unit at `path` or above it."""
    wanted = set(roles)
    if not path:
        return None
    for m in memberships_of(user):
        if m.role in wanted and path.startswith(m.unit.path):
            return m
    return None


def has_role(user: User, roles: Iterable[str]) -> bool:
    wanted = set(roles)
    return any(m.role in wanted for m in memberships_of(user))


def require_over(user: User, roles: Iterable[str], path: str, message: str) -> Unit | None:
    """The unit the user acts as, holding one of `roles` over `path`; Forbidden otherwise."""
    if user.is_superuser:
        return None
    m = membership_over(user, roles, path)
    if m is None:
        raise Forbidden(message)
    return m.unit


def ruler_of(user: User, case: Case) -> Membership | None:
    """Who rules on returns, extensions, deferral and reopening of a case.

    The subdistrict's dispatcher; or the community's staff when the community handles the case itself
    (the lead unit is the community or one of its grids), since then the community dispatched it.
    """
    m = membership_over(user, [Role.DISPATCHER], case.territory_path)
    if m is not None:
        return m
    m = membership_over(user, [Role.COMMUNITY_STAFF], case.territory_path)
    lead_path = case.lead_unit.path if case.lead_unit_id and case.lead_unit else ""
    if m is not None and (not lead_path or lead_path.startswith(m.unit.path)):
        return m
    return None


def require_ruler(user: User, case: Case, message: str | None = None) -> Unit | None:
    if user.is_superuser:
        return None
    m = ruler_of(user, case)
    if m is None:
        raise Forbidden(message or _("只有指挥中心可以进行此操作"))
    return m.unit


def may_see_reporter(user: User, case: Case) -> bool:
    """Dispatchers and community staff of the territory, the reporter and the filer see the reporter."""
    if user.is_superuser:
        return True
    if case.reporter_user_id is not None and case.reporter_user_id == user.pk:
        return True
    if case.created_by_id is not None and case.created_by_id == user.pk:
        return True
    return membership_over(user, REPORTER_ROLES, case.territory_path) is not None


def claimer_units(case: Case) -> list[int]:
    """The units whose Party members hear of an offered case and may take it: its grid, community
    and subdistrict (members register with their community: 在职党员双报到)."""
    return [u for u in (case.grid_id, case.community_id, case.subdistrict_id) if u is not None]


def is_staff_viewer(user: User) -> bool:
    return bool(user.is_superuser) or has_role(user, STAFF_ROLES | TERRITORY_ROLES)


def is_desk_user(user: User) -> bool:
    """Who works at the desk: staff, and Party members for the cases they may claim or claimed."""
    return is_staff_viewer(user) or has_role(user, CLAIMER_ROLES)
