"""Two retries of one report at the same moment file one case (PostgreSQL)."""

import threading

import pytest
from django.db import connection

from civicgrid.cases.models import Case, Category
from civicgrid.intake import actions


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_report_file_one_case(world):
    Category.objects.create(code="RC01", name="垃圾清运")
    data = actions.ReportInput(
        description="垃圾堆积",
        category="RC01",
        lat=25.705,
        lng=104.405,
        phone="13900001111",
        idempotency_key="same",
    )
    barrier = threading.Barrier(4)
    numbers: list[str] = []

    def run():
        try:
            barrier.wait()
            numbers.append(actions.submit_report(data, user=None, ip="10.0.0.1").case.number)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(numbers) == 4 and len(set(numbers)) == 1
    assert Case.objects.count() == 1
