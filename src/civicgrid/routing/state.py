"""What routing reads on every case, checked in one raw query: has anything it caches changed?

Routing keeps the active model, the keyword rules, the unit rules and the categories in memory per
process. Asking each table through the ORM cost about a millisecond of query building per case;
one hand-written query answers for all of them in a few hundredths of one, on SQLite and PostgreSQL
alike. Each key changes when its table does: the model by (version, file), the rule tables by row
count and last change, the categories (which have no change time) by a checksum of the columns
routing uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection

from civicgrid.cases.models import Category
from civicgrid.routing.models import KeywordRule, RoutingModel, UnitRule


@dataclass(frozen=True)
class State:
    model: tuple[int, str] | None
    keyword_rules: tuple[Any, ...]
    unit_rules: tuple[Any, ...]
    categories: tuple[Any, ...]


def _sql() -> str:
    model = RoutingModel._meta.db_table
    keyword = KeywordRule._meta.db_table
    unit = UnitRule._meta.db_table
    category = Category._meta.db_table
    checksum = (
        "SUM(id * (1 + LENGTH(code) * 3 + LENGTH(name) * 5) + COALESCE(parent_id, 0) * 7"
        " + COALESCE(default_lead_unit_id, 0) * 11 + (CASE WHEN is_active THEN 13 ELSE 0 END)"
        " + (CASE WHEN nature = 'facility' THEN 17 ELSE 0 END) + handle_limit * 19"
        " + LENGTH(handle_limit_unit) * 23)"
    )
    return (
        "SELECT "
        f"(SELECT version FROM {model} WHERE is_active LIMIT 1), "
        f"(SELECT path FROM {model} WHERE is_active LIMIT 1), "
        f"(SELECT COUNT(*) FROM {keyword}), (SELECT MAX(updated_at) FROM {keyword}), "
        f"(SELECT COUNT(*) FROM {unit}), (SELECT MAX(updated_at) FROM {unit}), "
        f"(SELECT COUNT(*) FROM {category}), (SELECT {checksum} FROM {category})"
    )


_SQL: str | None = None


def current() -> State:
    global _SQL
    if _SQL is None:
        _SQL = _sql()
    with connection.cursor() as cursor:
        cursor.execute(_SQL)
        version, path, k_n, k_last, u_n, u_last, c_n, c_sum = cursor.fetchone()
    return State(
        (int(version), str(path)) if version is not None else None,
        (k_n, str(k_last)),
        (u_n, str(u_last)),
        (c_n, str(c_sum)),
    )
