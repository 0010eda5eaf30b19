"""The list's text search: an exact substring match, narrowed first by a bigram index on PostgreSQL.

`q` must find a case whose number, title, description or address contains the term, ignoring case:
the icontains OR in queries.filter_cases, which stays the test of what matches (a plain contains when
the term has no cased letters: the same rows, without an UPPER() a row). On its own it reads
every row in scope (the list's COUNT(*) took about a second with 1,000,000 cases). Chinese search
terms are mostly two characters (路灯, 噪音), too short for trigrams, so migration 0007 indexes the
overlapping two-character grams of the four fields (the stored tsvector search_grams, GIN-indexed).
`GramsMatch` asks that index for the cases holding every gram of the term; the LIKE then rechecks
those few rows. Every gram of a term the LIKE finds is a gram of the field it is found in (both sides
are upper()ed as icontains does, grams never span two fields, and grams with anything but letters or
digits are left out on both sides), so the prefilter never drops a case the LIKE would keep. A term
with no gram left (one character, "A-", "路 灯") leaves the prefilter true and the LIKE alone decides.

PostgreSQL only: SQLite has neither the functions nor the index, and keeps the plain LIKE.
"""

from __future__ import annotations

from typing import Any

from django.db import NotSupportedError
from django.db.models import BooleanField, F, Func, Value


class GramsMatch(Func):
    """True for the cases whose grams include all the term's grams, or for any case if the term has none.

    Compiles to `<case>.search_grams @@ <query>`: search_grams is the column migration 0007 adds and
    indexes (case_text_grams), which the Django model does not declare, so the case table's alias is
    taken from a compiled column (right inside subqueries too). The term is a parameter.
    """

    output_field = BooleanField()

    def __init__(self, term: str) -> None:
        super().__init__(F("pk"), Value(term))

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> Any:
        raise NotSupportedError("GramsMatch needs PostgreSQL (migration 0007 creates its index there)")

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        pk, term = self.get_source_expressions()
        column = f"{compiler.quote_name_unless_alias(pk.alias)}.{connection.ops.quote_name('search_grams')}"
        sql, params = compiler.compile(term)
        grams = f"plainto_tsquery('simple', civicgrid_grams({sql}))"
        # An empty tsquery matches nothing, so a term without grams must not filter: planned with the
        # term in hand, numnode(...) = 0 folds to false and the index condition is left on its own.
        return f"({column} @@ {grams} OR numnode({grams}) = 0)", (*params, *params)
