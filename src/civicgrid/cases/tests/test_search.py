"""The list's text search: the bigram prefilter (PostgreSQL) finds exactly what the plain LIKE finds."""

import pytest
from django.db import connection, transaction
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from civicgrid.cases import desk_queries, queries, search
from civicgrid.cases.models import Case
from civicgrid.cases.search import GramsMatch
from civicgrid.cases.tests.factories import dispatched_case, file_case

on_postgres = pytest.mark.postgres


@pytest.fixture
def texts(world, cats):
    """Cases whose texts the terms below hit, miss, or hit only across a field boundary."""
    made = {
        "lamp": file_case(world, title="路灯不亮", description="幸福路口的路灯晚上不亮", address="幸福路3号"),
        "noise": file_case(world, title="噪音扰民", description="夜间施工噪音很大", address="和平街 A-3 号"),
        "led": file_case(world, title="LED 屏闪烁", description="广场 LED 大屏整夜闪烁", address="广场东侧"),
        "garbage": file_case(world, title="杂物", description="小区门口垃圾 堆积三天", address="<a b> 小区"),
        "b1": file_case(world, by="staff_b1", title="井盖缺失", description="人行道井盖缺失，路人易摔倒"),
    }
    return {key: Case.objects.get(pk=case.pk) for key, case in made.items()}


def icontains(term: str) -> set[str]:
    found = Case.objects.filter(
        Q(number__icontains=term)
        | Q(title__icontains=term)
        | Q(description__icontains=term)
        | Q(address__icontains=term)
    )
    return set(found.values_list("number", flat=True))


def searched(term: str, base=None) -> set[str]:
    cases = base if base is not None else Case.objects.all()
    return set(queries.filter_cases(cases, text=term).values_list("number", flat=True))


@pytest.mark.django_db
def test_search_finds_what_icontains_finds(texts):
    n = {key: case.number for key, case in texts.items()}
    expected = {
        "路灯": {n["lamp"]},  # two Chinese characters: the common case
        "路灯不亮": {n["lamp"]},
        "噪音很大": {n["noise"]},
        "灯": {n["lamp"]},  # one character: LIKE only
        "led": {n["led"]},  # mixed case both ways
        "Led 屏": {n["led"]},
        "亮幸": set(),  # end of the title + start of the description: grams never span fields
        "垃圾 堆积": {n["garbage"]},  # a space inside the term
        "垃圾堆积": set(),
        "A-3": {n["noise"]},  # punctuation inside the term
        "a-3 号": {n["noise"]},
        "<a b>": {n["garbage"]},  # would parse as an XML tag if grams kept punctuation
        "路 灯": set(),  # no gram of letters or digits: the prefilter stands aside
        "，路人": {n["b1"]},
        "不存在的词": set(),
        n["lamp"]: {n["lamp"]},  # a whole case number
        n["lamp"][-6:]: {n["lamp"]},  # a fragment with the dash: "-0001"
        n["noise"][-4:]: {n["noise"]},
        n["lamp"][:6].lower(): set(n.values()),  # "cg2026": every case filed today
    }
    for term, numbers in expected.items():
        assert icontains(term) == numbers, term
        assert searched(term) == numbers, term
        assert searched(f"  {term}  ") == numbers, term


@pytest.mark.django_db
@pytest.mark.parametrize("limit", [0, 100])
def test_a_page_of_a_search_finds_what_the_search_finds(world, texts, monkeypatch, limit):
    """The page's own test of a match (text_q, over the limit) agrees with the search's, LIKE's wildcards
    and quotes included."""
    monkeypatch.setattr(search, "SEARCH_COUNT_LIMIT", limit)
    file_case(world, title="100%_真'的\\")
    for term in ["路灯", "led", "Led 屏", "<a b>", "%", "_", "100%_", "'", "\\", "真'的", "A-3"]:
        listed = Case.objects.all()
        page = search.matches_page(listed, term, 0, 50)
        assert page.ids == list(search.search(listed, term).values_list("pk", flat=True)), term
        found = Case.objects.filter(pk__in=page.ids).values_list("number", flat=True)
        assert set(found) == icontains(term), term


@on_postgres
@pytest.mark.django_db
def test_a_term_without_cased_letters_is_matched_without_folding_case(texts):
    # Same rows (the test above) for less work: no UPPER() on every candidate row (SQLite's LIKE folds
    # ASCII either way and has no UPPER() to skip).
    assert "UPPER(" not in str(queries.filter_cases(Case.objects.all(), text="路灯 3号").query)
    for cased in ["led", "A-3", "cg2026", "ß"]:
        assert "UPPER(" in str(queries.filter_cases(Case.objects.all(), text=cased).query), cased


@pytest.mark.django_db
def test_search_within_scope_and_through_the_api(api, world, texts):
    # The scope's EXISTS and the prefilter in one query (column aliases stay right).
    dispatcher_a = queries.cases_visible_to(world.users["dispatcher_a"])
    assert searched("路灯", dispatcher_a) == {texts["lamp"].number}
    assert searched("井盖", dispatcher_a) == set()
    assert searched("井盖", queries.cases_visible_to(world.users["dispatcher_b"])) == {texts["b1"].number}
    # As a subquery, with the outer query on the same table.
    inner = queries.filter_cases(Case.objects.all(), text="闪烁").values("pk")
    assert set(Case.objects.filter(pk__in=inner).values_list("number", flat=True)) == {texts["led"].number}
    status, data = api.get("dispatcher_a", "/cases", q="噪音")
    assert status == 200 and [c["number"] for c in data["items"]] == [texts["noise"].number]
    assert data["count"] == 1


@pytest.mark.django_db
def test_a_wide_search_counts_up_to_the_limit(api, world, cats, monkeypatch):
    """Over SEARCH_COUNT_LIMIT matches the count stops at the limit and says so; the pages are still the
    newest matches first, past the limit too. Under the limit, and without q, the count is exact."""
    monkeypatch.setattr(search, "SEARCH_COUNT_LIMIT", 5)
    lamps = [file_case(world, description=f"路灯不亮 第 {i} 盏") for i in range(8)]
    file_case(world, description="垃圾堆积")
    newest = [c.number for c in sorted(lamps, key=lambda c: (c.created_at, c.pk), reverse=True)]
    pages = [api.get("dispatcher_a", "/cases", q="路灯", page_size=3, page=n)[1] for n in (1, 2, 3, 4)]
    assert [(p["count"], p["count_exact"]) for p in pages] == [(5, False)] * 4
    assert [c["number"] for p in pages for c in p["items"]] == newest
    monkeypatch.setattr(search, "SEARCH_COUNT_LIMIT", 8)
    _, exact = api.get("dispatcher_a", "/cases", q="路灯", page_size=3, page=3)
    assert (exact["count"], exact["count_exact"], len(exact["items"])) == (8, True, 2)
    monkeypatch.setattr(search, "SEARCH_COUNT_LIMIT", 2)
    _, unsearched = api.get("dispatcher_a", "/cases", page_size=3)
    assert (unsearched["count"], unsearched["count_exact"]) == (9, True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "limit, per_row, statements",
    [(100, 100, 1), (3, 100, 2), (3, 1, 3)],
    ids=["under the limit", "over it: found among the first rows", "over it: too few there, all read"],
)
def test_a_search_page_is_in_the_lists_order(world, cats, monkeypatch, limit, per_row, statements):
    """Each way to a page sorts as the ORM does, for every sort of the desk (deadlines with cases that
    have none) and the model's default order: from the counted matches under the limit; over it from
    the list's first rows, or from all the matches when those hold too few or the list is by deadline."""
    monkeypatch.setattr(search, "SEARCH_COUNT_LIMIT", limit)
    monkeypatch.setattr(search, "WALK_PER_ROW", per_row)
    for i in range(9):
        if i % 3 == 2:
            file_case(world, title="井盖缺失", description="人行道井盖缺失")  # not found, between the found
        else:
            (dispatched_case if i % 2 else file_case)(world)
    for sort in [*desk_queries.SORTS.values(), ()]:
        listed = Case.objects.order_by(*sort) if sort else Case.objects.all()
        with CaptureQueriesContext(connection) as first:
            pages = [search.matches_page(listed, "垃圾", 0, 2)]
        pages += [search.matches_page(listed, "垃圾", start, 2) for start in (2, 4, 6)]
        expected = search.search(listed, "垃圾").values_list("pk", flat=True)
        assert [pk for page in pages for pk in page.ids] == list(expected), sort
        assert {(page.total, page.exact) for page in pages} == {(6, True) if limit > 6 else (limit, False)}
        if not sort:  # newest first, the newest case not found: the first two rows hold one match
            assert len(first.captured_queries) == statements
        elif "due_at" in str(sort):  # no index walks every case by deadline: count, then every match
            assert len(first.captured_queries) == min(statements, 2)


@pytest.mark.django_db
def test_sqlite_keeps_the_plain_like(texts):
    if connection.vendor == "postgresql":
        pytest.skip("SQLite only")
    sql = str(queries.filter_cases(Case.objects.all(), text="路灯").query)
    assert "civicgrid" not in sql and "LIKE" in sql
    with pytest.raises(Exception, match="PostgreSQL"):
        list(Case.objects.filter(GramsMatch("路灯")))


def sql_value(query: str, *params):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0]


@on_postgres
@pytest.mark.django_db
def test_the_functions_and_the_index_exist(world, cats):
    assert sql_value("SELECT civicgrid_grams(%s)", "路灯不亮") == "路灯 灯不 不亮"
    assert sql_value("SELECT civicgrid_grams(%s)", "CG2026-0042") == "cg g2 20 02 26 00 04 42"
    assert sql_value("SELECT civicgrid_grams(%s)", "LED 屏, A-3") == "le ed"
    assert sql_value("SELECT civicgrid_grams(%s)", "路") == "路"
    assert sql_value("SELECT civicgrid_grams(%s)", "") == ""
    vector = sql_value("SELECT civicgrid_case_grams(%s, %s, %s, %s)::text", "CG1", "路灯", "不亮", "")
    assert vector == "'cg':1 'g1':2 '不亮':4 '路灯':3"
    volatility = sql_value(
        "SELECT string_agg(concat(proname, provolatile, proparallel), ',' ORDER BY proname)"
        " FROM pg_proc"
        " WHERE proname IN ('civicgrid_grams', 'civicgrid_case_grams')"
    )
    assert volatility == "civicgrid_case_gramsis,civicgrid_gramsis"  # immutable, parallel safe
    index = sql_value("SELECT indexdef FROM pg_indexes WHERE indexname = 'case_text_grams'")
    assert "USING gin (search_grams)" in index
    # The stored column follows every write of the four fields (a generated column).
    case = file_case(world, title="井盖破损", description="人行道上")
    stored = "SELECT search_grams::text FROM cases_case WHERE id = %s"
    assert sql_value(stored, case.pk).count("'井盖'") == 1
    Case.objects.filter(pk=case.pk).update(title="路灯不亮")
    assert "'路灯'" in sql_value(stored, case.pk) and "'井盖'" not in sql_value(stored, case.pk)


@on_postgres
@pytest.mark.django_db
def test_the_list_query_uses_the_index(world, texts):
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        cases = queries.filter_cases(queries.cases_visible_to(world.users["admin"]), text="路灯")
        assert "case_text_grams" in cases.explain()
        # Within a scope PostgreSQL may as well narrow by the scope's indexes first on a table this
        # small (its parts are indexed: queries.cases_visible_to); the results are tested above.
        # A term without grams plans no empty index search (that would match nothing).
        assert "case_text_grams" not in queries.filter_cases(Case.objects.all(), text="A-").explain()
