"""Reads of the inbox: a user sees only their own notifications."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from civicgrid.core.errors import NotFound
from civicgrid.notify.models import Notification


def inbox_for(user: Any, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's notifications, newest first."""
    rows = Notification.objects.filter(recipient=user)
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    return rows.order_by("-created_at", "-id")


def unread_count(user: Any) -> int:
    """One COUNT over the partial index of unread rows."""
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def get_notification_for(user: Any, pk: int) -> Notification:
    """The user's own notification, else NotFound (also for somebody else's)."""
    row = inbox_for(user).filter(pk=pk).first()
    if row is None:
        raise NotFound(_("消息不存在"))
    return row
