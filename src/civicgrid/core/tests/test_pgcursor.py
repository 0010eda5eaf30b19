"""PostgreSQL: statements are prepared after their fifth run, except prefix matches (LIKE); time
stamps are read by psycopg's C loader."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from psycopg.pq import Format

from civicgrid.core.models import Unit


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.postgres
@pytest.mark.django_db
def test_statements_are_prepared_but_prefix_matches_are_planned_for_their_values():
    for _ in range(6):
        list(Unit.objects.filter(code="X-none"))
        list(Unit.objects.filter(path__startswith="/9/"))
    prepared = _prepared()
    assert any('"core_unit"."code" = $1' in s for s in prepared), prepared
    assert not any("LIKE" in s for s in prepared), prepared


@pytest.mark.postgres
@pytest.mark.django_db
def test_time_stamps_are_read_in_c_and_come_back_as_djangos_own_loader_gives_them():
    from django.db.backends.postgresql.psycopg_any import register_tzloader

    sql = (
        "SELECT %s::timestamptz, '2026-02-03 04:05:06.000007+08'::timestamptz,"
        " '1999-12-31 23:59:59-05:30'::timestamptz, NULL::timestamptz"
    )
    stamp = datetime(2026, 11, 27, 9, 30, 1, 250000, tzinfo=ZoneInfo("Asia/Shanghai"))
    with connection.cursor() as cursor:
        loader = cursor.cursor.adapters.get_loader(1184, Format.TEXT)  # timestamptz, text
        assert loader.__name__ == "UTCTimestamptzLoader"
        cursor.execute(sql, [stamp])
        ours = cursor.fetchone()
        register_tzloader(connection.timezone, cursor.cursor)  # Django's own, for this cursor only
        cursor.execute(sql, [stamp])
        djangos = cursor.fetchone()
    assert cursor.cursor.adapters.get_loader(1184, Format.TEXT).__name__ == "SpecificTzLoader"
    assert ours == djangos and ours[0] == stamp and ours[3] is None
    assert [v.tzinfo for v in ours[:3]] == [UTC, UTC, UTC] == [v.tzinfo for v in djangos[:3]]
    assert ours[1] == datetime(2026, 2, 2, 20, 5, 6, 7, tzinfo=UTC)
