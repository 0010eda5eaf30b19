"""The list's text search: an exact substring match, narrowed first by a bigram index on PostgreSQL.

`q` must find a case whose number, title, description or address contains the term, ignoring case:
the icontains OR of `text_q` below, which stays the test of what matches (a plain contains when
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

A search's page and count come from `matches_page`, which counts up to SEARCH_COUNT_LIMIT
(docs/decisions/0006).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.core.exceptions import EmptyResultSet
from django.db import NotSupportedError, connections
from django.db.models import BooleanField, ExpressionWrapper, F, Func, Q, QuerySet, Value
from django.db.models.expressions import Combinable, Expression, OrderBy

from civicgrid.cases.models import Case


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


def text_q(text: str) -> Q:
    """The test of what a search for `text` finds: the number, title, description or address holds it."""
    text = text.strip()
    # A term without cased letters (路灯, 3号楼) matches the same rows with or without case folding,
    # and PostgreSQL then skips four UPPER()s a row: 15 % of a wide search (docs/performance.md).
    lookup = "contains" if text.upper() == text.lower() else "icontains"
    return (
        Q(**{f"number__{lookup}": text})
        | Q(**{f"title__{lookup}": text})
        | Q(**{f"description__{lookup}": text})
        | Q(**{f"address__{lookup}": text})
    )


def search(cases: QuerySet[Case], text: str) -> QuerySet[Case]:
    """The cases that text_q finds, through the bigram index on PostgreSQL (see cases.search)."""
    cases = cases.filter(text_q(text))
    if len(text.strip()) >= 2 and connections[cases.db].vendor == "postgresql":
        cases = cases.filter(GramsMatch(text.strip()))  # narrows the rows the LIKE must read
    return cases


# A text search counts its matches up to this many: the exact count of a wide term reads every match
# (1,000,000 cases, a term in one in eight: 0.46 s), the capped one stops here (docs/decisions/0006).
SEARCH_COUNT_LIMIT = 10_000
# Over the limit, the page is looked for among the list's first rows, this many per row up to the page's
# end (2,000 for the first page of 20: a term in one case in a hundred fills it), at most WALK_MAX,
# when the list is in an order an index can walk (cases_case.created_at; not the deadline, whose index
# holds only open cases: there the walk sorted the whole scope, 0.3 s more than reading the matches).
WALK_PER_ROW, WALK_MAX = 100, 20_000
WALKABLE = F("created_at")


class MatchesPage(NamedTuple):
    ids: list[int]
    total: int  # exact, or SEARCH_COUNT_LIMIT when there are more
    exact: bool


def matches_page(listed: QuerySet[Case], text: str, start: int, size: int) -> MatchesPage:
    """A page of the cases of `listed` that match `text` (in the list's order) and their count, to a limit.

    No index counts a text search on its own: the bigram index narrows, then the LIKE rechecks each
    row it names. So one statement takes at most SEARCH_COUNT_LIMIT + 1 matches in no order (the
    bitmap scan stops there) and pages and counts them: the whole answer for a term under the limit.
    Over it, the count says so, and in a list newest or oldest first the page is first looked for among
    its first rows (a short walk of the created_at index; 20 cases of 小区, one case in eight at
    1,000,000 cases: a few ms). Only if they hold too few matches — a common term that is rare lately,
    say — or the list is by deadline are all the matches read and sorted, as the exact count would.
    Left to itself PostgreSQL walks the index for any term it expects to be common, and reads the whole
    table for one that is common only in old cases (3.1 s for 125,000 such at 1,000,000 cases).
    """
    order = [_order_by(o) for o in (listed.query.order_by or Case._meta.ordering or ["pk"])]
    keys = {f"order_{i}": o.expression for i, o in enumerate(order)}  # a field's name is not allowed
    found = search(listed, text).order_by().annotate(**keys).values_list("pk", *keys)
    page, total, _ = _sorted_page(found[: SEARCH_COUNT_LIMIT + 1], order, start, size)
    if not page:  # past the last page: no row carried the count
        total = found[: SEARCH_COUNT_LIMIT + 1].count()
    if total <= SEARCH_COUNT_LIMIT:
        return MatchesPage(page, total, True)
    page, walk, walked = [], 0, 0
    if order[0].expression == WALKABLE:
        walk = min((start + size) * WALK_PER_ROW, WALK_MAX)
        hit = ExpressionWrapper(text_q(text), BooleanField())
        first = listed.annotate(hit=hit, **keys).values_list("pk", *keys, "hit")[:walk]
        page, _, walked = _sorted_page(first, order, start, size, "hit")
    if len(page) < size and (walked == walk or not page):  # too few among the first rows (or unknown)
        page, _, _ = _sorted_page(found, order, start, size)
    return MatchesPage(page, SEARCH_COUNT_LIMIT, False)


def _sorted_page(
    rows: QuerySet, order: list[OrderBy], start: int, size: int, flag: str = ""
) -> tuple[list[int], int, int]:
    """A page of `rows` (pk, then order_0… for `order`, then `flag` if given) sorted by `order`: its ids,
    the count of rows with `flag` true (of all without) and of all rows; no counts for an empty page.

    In one statement that reads the rows once: a MATERIALIZED CTE, which PostgreSQL must compute
    before it sorts (left inline, it may walk the order's index for the whole table instead).
    """
    names = [f"order_{i}" for i in range(len(order))]
    sorted_by = ", ".join(
        f"{name} {'DESC' if o.descending else 'ASC'}"
        + (" NULLS LAST" if o.nulls_last else " NULLS FIRST" if o.nulls_first else "")
        for name, o in zip(names, order, strict=True)
    )
    where = f"WHERE {flag}" if flag else ""
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:  # .none(): the scope of a user who may read nothing
        return [], 0, 0
    fence = "MATERIALIZED" if connections[rows.db].vendor == "postgresql" else ""
    with connections[rows.db].cursor() as cursor:
        cursor.execute(
            f"WITH page_rows (pk, {', '.join([*names, flag] if flag else names)}) AS {fence} ({sql})"
            f" SELECT pk, (SELECT count(*) FROM page_rows {where}), (SELECT count(*) FROM page_rows)"
            f" FROM page_rows {where}"
            f" ORDER BY {sorted_by} LIMIT %s OFFSET %s",
            (*params, size, start),
        )
        found = cursor.fetchall()
    return [pk for pk, _, _ in found], found[0][1] if found else 0, found[0][2] if found else 0


def _order_by(item: str | Combinable) -> OrderBy:
    """One term of an order_by as an OrderBy: "-created_at" as the ORM reads it, an expression ascending."""
    if isinstance(item, OrderBy):
        return item
    if isinstance(item, str):
        return OrderBy(F(item.removeprefix("-")), descending=item.startswith("-"))
    if isinstance(item, (Expression, F)):
        return OrderBy(item)
    raise TypeError(f"cannot page a search ordered by {item!r}")
