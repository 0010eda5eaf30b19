"""The caller's notifications: list (paged, optionally unread only) and mark as read."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Query, Router, Schema
from pydantic import Field, model_validator

from civicgrid.core.bounds import Offset, RowId
from civicgrid.core.errors import errors
from civicgrid.notify import actions
from civicgrid.notify.queries import inbox_for, unread_count

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    title: str
    body: str
    link: str
    subject_ref: str
    created_at: datetime
    read_at: datetime | None
    is_read: bool


class NotificationPage(Schema):
    items: list[NotificationOut]
    count: int
    unread_count: int


class NotificationFilter(Schema):
    unread: bool = False
    limit: int = Field(20, ge=1, le=100)
    offset: Offset = 0


class ReadIn(Schema):
    ids: list[RowId] = Field(default_factory=list, max_length=1000)
    all: bool = False

    @model_validator(mode="after")
    def one_of(self) -> ReadIn:
        if not self.all and not self.ids:
            raise ValueError(gettext('请给出 "ids"，或 "all": true'))
        return self


class ReadOut(Schema):
    marked: int
    unread_count: int


@router.get(
    "/notifications",
    response={200: NotificationPage, **errors(401, 422)},
    summary="我的消息（分页，可只看未读）",
)
def list_notifications(request: HttpRequest, filters: Query[NotificationFilter]):
    rows = inbox_for(request.user, unread_only=filters.unread)
    return {
        "items": list(rows[filters.offset : filters.offset + filters.limit]),
        "count": rows.count(),
        "unread_count": unread_count(request.user),
    }


@router.post(
    "/notifications/read",
    response={200: ReadOut, **errors(401, 422)},
    summary="标为已读（指定 ids，或 all=true 全部）",
)
def read_notifications(request: HttpRequest, body: ReadIn):
    # Ids of other users' notifications are ignored, never reported: they do not exist for the caller.
    marked = actions.mark_read(request.user, "all" if body.all else body.ids)  # type: ignore[arg-type]
    return {"marked": marked, "unread_count": unread_count(request.user)}
