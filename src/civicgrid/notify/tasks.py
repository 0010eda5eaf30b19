"""Queued delivery (django-tasks), used when CIVICGRID_NOTIFY_ON_COMMIT is "enqueue"."""

from __future__ import annotations

from django_tasks import task

from civicgrid.notify.actions import deliver_messages


@task()
def deliver_messages_task(ids: list[int]) -> int:
    """Sends the messages one step wrote, in the worker rather than in the web request."""
    return deliver_messages(ids).attempted
