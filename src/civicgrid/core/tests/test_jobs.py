import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from civicgrid.core import jobs
from civicgrid.core.models import JobLease


def make_job(calls, every=60, fail=False):
    def run():
        calls.append(timezone.now())
        if fail:
            raise RuntimeError("boom")

    return jobs.Job("test.job", timedelta(seconds=every), run, timedelta(seconds=300))


@pytest.mark.django_db
def test_runs_when_due_then_waits_its_interval():
    calls = []
    job = make_job(calls)
    with time_machine.travel("2026-11-27 10:00 +0800", tick=False):
        assert jobs.run_due({"j": job}) == ["test.job"]
        assert jobs.run_due({"j": job}) == []
    with time_machine.travel("2026-11-27 10:01:01 +0800", tick=False):
        assert jobs.run_due({"j": job}) == ["test.job"]
    assert len(calls) == 2


@pytest.mark.django_db
def test_failure_is_kept_and_does_not_stop_others():
    calls = []
    bad, good = (
        make_job(calls, fail=True),
        jobs.Job("test.good", timedelta(seconds=60), lambda: calls.append(1), timedelta(seconds=60)),
    )
    assert jobs.run_due({"a": bad, "b": good}) == ["test.job", "test.good"]
    lease = JobLease.objects.get(name="test.job")
    assert "boom" in lease.last_error and lease.locked_until is None


@pytest.mark.django_db
def test_lease_held_elsewhere_blocks_until_it_expires():
    job = make_job([])
    with time_machine.travel("2026-11-27 10:00 +0800", tick=False):
        assert jobs.claim(job)  # as if a worker died holding it
        assert not jobs.claim(job)
    with time_machine.travel("2026-11-27 10:06 +0800", tick=False):
        assert jobs.claim(job)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_claim_once():
    job = make_job([])
    JobLease.objects.create(name=job.name, next_run_at=timezone.now() - timedelta(seconds=1))
    results, barrier = [], threading.Barrier(4)

    def contender():
        barrier.wait()
        results.append(jobs.claim(job))
        connection.close()

    threads = [threading.Thread(target=contender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]


@pytest.mark.django_db(transaction=True)
def test_worker_once_runs_jobs_and_queued_tasks(capsys):
    from civicgrid.core.tests import sample_tasks

    result = sample_tasks.remember.enqueue("hello")
    call_command("worker", "--once")
    out = capsys.readouterr().out
    assert "periodic jobs" in out
    result.refresh()
    assert result.return_value == "hello!"


@pytest.mark.django_db(transaction=True)
def test_worker_exits_with_its_parent(monkeypatch, capsys):
    # The parent's id as the worker starts, then twice the same, then another: the parent has ended
    # and the process was adopted. The worker ends after the rounds it saw its parent in.
    ids = iter([100, 100, 100, 1])
    monkeypatch.setattr("os.getppid", lambda: next(ids))
    call_command("worker", "--exit-with-parent", "--interval", "0")
    assert capsys.readouterr().out.count("worker: ran") >= 1
    assert next(ids, None) is None  # asked once more after each of the two rounds, then stopped
