"""Template context: which of the case desk's links the page header shows (`desk_links.cases`,
`desk_links.measures`), worked out only if a template asks."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from civicgrid.cases import rules


def desk_links(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # The desk: staff, and Party members for what they may claim; the measures: staff only.
    return {
        "desk_links": SimpleLazyObject(
            lambda: {"cases": rules.is_desk_user(user), "measures": rules.is_staff_viewer(user)}
        )
    }
