"""Several workers at once on PostgreSQL: no message is sent twice, none is left behind."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection, transaction

from civicgrid.notify import actions
from civicgrid.notify.models import OutboxMessage, OutboxStatus

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def queue(n: int) -> list[int]:
    with transaction.atomic():
        result = actions.notify([], title="催办", channels=[], emails=[f"u{i}@example.org" for i in range(n)])
    return [m.pk for m in result.messages]


def run_threads(target, count: int) -> None:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body() -> None:
        try:
            barrier.wait()
            target()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=body) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


@pytest.fixture
def counting_channel(monkeypatch, settings):
    settings.CIVICGRID_NOTIFY_ON_COMMIT = "none"
    sends: Counter[int] = Counter()
    lock = threading.Lock()

    class Slow:
        def send(self, message: OutboxMessage) -> None:
            time.sleep(0.002)  # a network call: long enough for the workers to overlap
            with lock:
                sends[message.pk] += 1

    monkeypatch.setattr(actions, "get_channel", lambda name: Slow())
    return sends


def test_two_claimers_of_one_row_only_one_wins(counting_channel):
    ids = queue(20)
    wins: Counter[int] = Counter()
    lock = threading.Lock()

    def claim_all() -> None:
        for pk in ids:
            if actions._claim(pk, 0) is not None:
                with lock:
                    wins[pk] += 1

    run_threads(claim_all, 4)
    assert sorted(wins) == sorted(ids)
    assert set(wins.values()) == {1}


def test_workers_never_send_one_message_twice(counting_channel):
    ids = queue(80)

    def work() -> None:
        while actions.deliver_due(limit=10):
            pass

    run_threads(work, 4)
    assert actions.deliver_due() == 0
    assert sorted(counting_channel) == sorted(ids)
    assert set(counting_channel.values()) == {1}
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() == 80
