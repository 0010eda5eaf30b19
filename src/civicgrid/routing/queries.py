"""Reads of routing for the desk and the API: who may see it, a case's suggestion, its duplicates.

Scope first (cases.queries.get_case_for answers NotFound for a case outside the user's scope), then the
role: routing's suggestions and the duplicates are for those who register, dispatch and merge (the
case's grid workers, community staff and subdistrict dispatchers), for leaders and administrators over
the place; department handlers and residents get Forbidden.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases import rules as case_rules
from civicgrid.cases.models import Case, Category
from civicgrid.cases.queries import cases_visible_to, get_case_for
from civicgrid.core.errors import Forbidden
from civicgrid.people.models import Role
from civicgrid.routing import duplicates, keywords
from civicgrid.routing.models import RoutingCorrection, RoutingSuggestion

if TYPE_CHECKING:
    from civicgrid.people.models import User

VIEWER_ROLES = frozenset(
    {Role.GRID_WORKER, Role.COMMUNITY_STAFF, Role.DISPATCHER, Role.LEADER, Role.ADMINISTRATOR}
)


def may_see_routing(user: User, case: Case) -> bool:
    if user.is_superuser:
        return True
    return case_rules.membership_over(user, VIEWER_ROLES, case.territory_path) is not None


def case_for_routing(user: User, number: str) -> Case:
    """The case if the user may read it (NotFound otherwise) and see its routing (Forbidden otherwise)."""
    case = get_case_for(user, number)
    if not may_see_routing(user, case):
        raise Forbidden(_("只有属地的网格员、社区、街道或管理人员可以查看派遣建议"))
    return case


def suggestion_of(case: Case) -> RoutingSuggestion | None:
    return (
        RoutingSuggestion.objects.filter(case=case)
        .select_related("category", "category__parent", "lead_unit", "place", "rule")
        .first()
    )


def suggestion_out(s: RoutingSuggestion | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "at": s.created_at,
        "model_version": s.model_version,
        "source": s.source,
        "source_name": s.get_source_display(),
        "rule": s.rule.phrase if s.rule_id and s.rule else None,
        "scores": s.scores,
        "category": s.category.code if s.category_id and s.category else None,
        "category_name": str(s.category) if s.category_id and s.category else "",
        "confidence": s.confidence,
        "threshold": s.threshold,
        "place": s.place.name if s.place_id and s.place else "",
        "place_method": s.place_method,
        "lead_unit": (s.lead_unit.code or str(s.lead_unit.pk)) if s.lead_unit_id and s.lead_unit else None,
        "lead_unit_name": s.lead_unit.name if s.lead_unit_id and s.lead_unit else "",
        "unit_reason": s.unit_reason,
        "decided_automatically": s.decided_automatically,
        "wait_reason": s.wait_reason,
    }


def duplicates_for(user: User, case: Case, limit: int = 5) -> list[duplicates.Duplicate]:
    """Open near-duplicates of the case that the user may also see (so that a merge can succeed)."""
    return duplicates.of_case(case, within=cases_visible_to(user), limit=limit)


def duplicate_out(d: duplicates.Duplicate) -> dict[str, Any]:
    c = d.case
    return {
        "number": c.number,
        "title": c.title,
        "summary": c.description[:80],
        "category": c.category.code if c.category_id and c.category else None,
        "status": c.status,
        "status_name": c.get_status_display(),
        "address": c.address,
        "lead_unit": c.lead_unit.name if c.lead_unit_id and c.lead_unit else "",
        "created_at": timezone.localtime(c.created_at),
        "distance_m": round(d.distance_m, 1),
        "similarity": d.similarity,
        "score": d.score,
    }


def corrections_of(case: Case) -> list[dict[str, Any]]:
    rows = RoutingCorrection.objects.filter(case=case).select_related(
        "by", "suggested_category", "final_category", "suggested_unit", "final_unit"
    )
    return [
        {
            "at": r.at,
            "by": str(r.by) if r.by_id and r.by else "",
            "suggested_category": str(r.suggested_category) if r.suggested_category else "",
            "final_category": str(r.final_category) if r.final_category else "",
            "suggested_unit": r.suggested_unit.name if r.suggested_unit else "",
            "final_unit": r.final_unit.name if r.final_unit else "",
            "category_changed": r.category_changed,
            "unit_changed": r.unit_changed,
        }
        for r in rows.order_by("at", "id")
    ]


def leaf_categories() -> list[Category]:
    """Active categories a case can be given: 小类, and 大类 without 小类."""
    cats = list(Category.objects.filter(is_active=True).select_related("parent").order_by("code"))
    parents = {c.parent_id for c in cats if c.parent_id}
    return [c for c in cats if c.pk not in parents]


def routing_of(user: User, number: str) -> dict[str, Any]:
    """Everything routing knows about one case, for the API."""
    case = case_for_routing(user, number)
    return {
        "number": case.number,
        "suggestion": suggestion_out(suggestion_of(case)),
        "keywords": keywords.for_case(case),
        "corrections": corrections_of(case),
    }
