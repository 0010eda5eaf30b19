"""`{% load routing_tags %}{% routing_suggestions case %}`: the suggestions panel of the case page."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from civicgrid.cases import desk_queries, transitions
from civicgrid.cases.models import OPEN_STATUSES
from civicgrid.core.errors import DomainError
from civicgrid.routing import keywords, queries

register = template.Library()


def _url(name: str, number: str) -> str:
    try:
        return reverse(f"routing:{name}", args=[number])
    except NoReverseMatch:  # routing's desk URLs not mounted: the panel shows, without its buttons
        return ""


def _may(ctx: desk_queries.StepContext, step: str) -> bool:
    try:
        desk_queries.check_step(ctx, step)
    except DomainError:
        return False
    return True


@register.inclusion_tag("routing/_suggestions.html", takes_context=True)
def routing_suggestions(context: dict[str, Any], case: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if (
        user is None
        or not getattr(user, "is_authenticated", False)
        or not queries.may_see_routing(user, case)
    ):
        return {"show": False}
    suggestion = queries.suggestion_of(case)
    is_open = case.status in OPEN_STATUSES
    found = queries.duplicates_for(user, case) if is_open else []
    ctx = desk_queries.step_context(case, user)
    may_dispatch = _may(ctx, "dispatch")
    may_merge = _may(ctx, "merge")
    may_recategorize = is_open and case.status in transitions.RECATEGORIZABLE
    return {
        "show": True,
        "case": case,
        # Until a dispatch the suggestion waits for a person; after one it only says why it did not act.
        "awaiting": case.status in transitions.AUTO_DISPATCHABLE,
        "s": suggestion,
        "scores": [
            {**row, "percent": round(float(row.get("score", 0)) * 100)}
            for row in (suggestion.scores if suggestion else [])
        ],
        "duplicates": found,
        "keywords": keywords.for_case(case),
        "categories": queries.leaf_categories() if may_recategorize else [],
        "may_dispatch": may_dispatch and suggestion is not None and suggestion.lead_unit_id is not None,
        "may_merge": may_merge,
        "may_recategorize": may_recategorize,
        "dispatch_url": _url("dispatch_suggested", case.number),
        "recategorize_url": _url("recategorize", case.number),
        "merge_url": _url("merge", case.number),
        "csrf_token": context.get("csrf_token"),
    }
