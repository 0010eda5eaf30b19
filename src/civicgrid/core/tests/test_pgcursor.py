"""PostgreSQL: statements are prepared after their fifth run, except prefix matches (LIKE)."""

import pytest
from django.db import connection

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
