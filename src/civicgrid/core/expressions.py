"""Query expressions the ORM lacks."""

from __future__ import annotations

from typing import Any

from django.db.models import BooleanField, F, Func, QuerySet, Subquery


class AnyOf(Func):
    """`column IN (subquery)`, written `column = ANY(ARRAY(subquery))` on PostgreSQL.

    The same rows, but PostgreSQL computes the subquery once, before the scan, and can then answer the
    test from an index as a bitmap, which it can OR and AND with others (the scope of a text search,
    intersected with the bigram index: docs/decisions/0006). As `IN (subquery)` it can only filter the
    rows another index has found. The subquery must not be correlated, nor yield NULL.
    """

    output_field = BooleanField()

    def __init__(self, column: str, subquery: QuerySet[Any]) -> None:
        super().__init__(F(column), Subquery(subquery))

    def as_sql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:  # type: ignore[override]
        column, subquery = (compiler.compile(e) for e in self.get_source_expressions())
        return f"{column[0]} IN {subquery[0]}", (*column[1], *subquery[1])

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        column, subquery = (compiler.compile(e) for e in self.get_source_expressions())
        return f"{column[0]} = ANY(ARRAY{subquery[0]})", (*column[1], *subquery[1])
