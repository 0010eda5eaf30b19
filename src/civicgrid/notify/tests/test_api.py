"""GET /api/v1/notifications and POST /api/v1/notifications/read."""

from __future__ import annotations

from django.db import transaction

from civicgrid.notify.actions import notify
from civicgrid.notify.models import Notification

BASE = "/api/v1"


def send(user, title: str) -> Notification:
    with transaction.atomic():
        return notify([user], title=title, subject_ref="GD-1").notifications[0]


def test_without_a_token_is_401(db, client):
    assert client.get(f"{BASE}/notifications").status_code == 401
    assert (
        client.post(f"{BASE}/notifications/read", {"all": True}, content_type="application/json").status_code
        == 401
    )


def test_list_is_the_callers_own_paged_and_filtered(world, client):
    me, other = world.users["handler_cg"], world.users["handler_sc"]
    first = send(me, "一")
    for title in ["二", "三"]:
        send(me, title)
    send(other, "别人的")
    first.read_at = first.created_at
    first.save()
    headers = world.bearer("handler_cg")

    body = client.get(f"{BASE}/notifications", headers=headers).json()
    assert body["count"] == 3 and body["unread_count"] == 2
    assert [i["title"] for i in body["items"]] == ["三", "二", "一"]
    assert body["items"][0]["subject_ref"] == "GD-1" and body["items"][0]["is_read"] is False

    unread = client.get(f"{BASE}/notifications?unread=true", headers=headers).json()
    assert [i["title"] for i in unread["items"]] == ["三", "二"] and unread["count"] == 2

    paged = client.get(f"{BASE}/notifications?limit=1&offset=1", headers=headers).json()
    assert [i["title"] for i in paged["items"]] == ["二"] and paged["count"] == 3

    assert client.get(f"{BASE}/notifications?limit=1000", headers=headers).status_code == 422
    # An offset no database integer holds is refused, not a 500.
    assert client.get(f"{BASE}/notifications?offset={10**20}", headers=headers).status_code == 422


def test_read_by_ids_ignores_other_users_rows(world, client):
    me, other = world.users["handler_cg"], world.users["handler_sc"]
    mine = send(me, "一")
    send(me, "二")
    theirs = send(other, "别人的")
    headers = world.bearer("handler_cg")
    response = client.post(
        f"{BASE}/notifications/read",
        {"ids": [mine.pk, theirs.pk]},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 200
    assert response.json() == {"marked": 1, "unread_count": 1}
    theirs.refresh_from_db()
    assert theirs.read_at is None

    response = client.post(
        f"{BASE}/notifications/read", {"all": True}, content_type="application/json", headers=headers
    )
    assert response.json() == {"marked": 1, "unread_count": 0}
    assert Notification.objects.filter(recipient=other, read_at__isnull=True).count() == 1


def test_read_needs_ids_or_all(world, client):
    response = client.post(
        f"{BASE}/notifications/read", {}, content_type="application/json", headers=world.bearer("handler_cg")
    )
    assert response.status_code == 422
    # An id no database integer holds is refused by name, not a 500.
    response = client.post(
        f"{BASE}/notifications/read",
        {"ids": [1, 10**20]},
        content_type="application/json",
        headers=world.bearer("handler_cg"),
    )
    assert response.status_code == 422 and response.json()["error"]["details"][0]["field"].endswith("ids.1")


def test_the_list_takes_the_same_queries_for_1_and_20_notifications(world, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    me, headers = world.users["handler_cg"], world.bearer("handler_cg")

    def statements() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            body = client.get(f"{BASE}/notifications?page_size=50", headers=headers).json()
        return len(ctx.captured_queries), len(body["items"])

    send(me, "一")
    client.get(f"{BASE}/notifications", headers=headers)  # the token's first use is written once
    one, shown = statements()
    for n in range(19):
        send(me, f"第 {n} 条")
    assert shown == 1 and statements() == (one, 20)
