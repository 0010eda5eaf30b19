"""A queued task for the worker test (tasks must live at module level)."""

from django_tasks import task


@task()
def remember(text: str) -> str:
    return text + "!"
