"""The inbox page, mark-as-read with and without htmx, the badge and its context processor."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import RequestFactory
from django.urls import reverse

from civicgrid.notify.actions import notify
from civicgrid.notify.context import unread_count
from civicgrid.notify.models import Notification
from civicgrid.testing import PASSWORD


def send(user, title: str, **kwargs) -> Notification:
    with transaction.atomic():
        return notify([user], title=title, **kwargs).notifications[0]


@pytest.fixture
def staff_a1(world, client):
    client.login(username="staff_a1", password=PASSWORD)
    return world.users["staff_a1"]


def test_anonymous_is_sent_to_login(db, client):
    for url in [reverse("notify:inbox"), reverse("notify:count"), reverse("notify:open", args=[1])]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("people:login"))
    response = client.post(reverse("notify:read_all"))
    assert response.status_code == 302


def test_the_inbox_shows_only_the_users_own_notifications(world, client, staff_a1):
    send(staff_a1, "工单 GD-1 待签收", body="请尽快处理", link="/cases/GD-1/", subject_ref="GD-1")
    send(world.users["staff_a2"], "工单 GD-2 待签收")
    response = client.get(reverse("notify:inbox"))
    assert response.status_code == 200
    page = response.content.decode()
    n = Notification.objects.get(title="工单 GD-1 待签收")
    assert "工单 GD-1 待签收" in page and f'href="/inbox/{n.pk}/open/"' in page and "请尽快处理" in page
    assert "工单 GD-2 待签收" not in page


def test_opening_a_notification_follows_its_link_and_marks_it_read(world, client, staff_a1):
    mine = send(staff_a1, "工单 GD-1 待签收", link="/cases/GD-1/")
    theirs = send(world.users["staff_a2"], "工单 GD-2 待签收", link="/cases/GD-2/")
    response = client.get(reverse("notify:open", args=[mine.pk]))
    assert response.status_code == 302 and response["Location"] == "/cases/GD-1/"
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert client.get(reverse("notify:open", args=[mine.pk])).status_code == 302  # again: no change
    assert client.get(reverse("notify:open", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert client.post(reverse("notify:open", args=[mine.pk])).status_code == 405


def test_unread_filter(world, client, staff_a1):
    read = send(staff_a1, "旧消息")
    send(staff_a1, "新消息")
    Notification.objects.filter(pk=read.pk).update(read_at=read.created_at)
    page = client.get(reverse("notify:inbox") + "?unread=1").content.decode()
    assert "新消息" in page and "旧消息" not in page


def test_mark_read_without_javascript_redirects_back(world, client, staff_a1):
    n = send(staff_a1, "工单 GD-1 待签收")
    response = client.post(reverse("notify:read", args=[n.pk]), {"unread": "1", "page": "2"})
    assert response.status_code == 302
    assert response["Location"] == reverse("notify:inbox") + "?unread=1&page=2"
    n.refresh_from_db()
    assert n.read_at is not None


def test_mark_read_with_htmx_returns_the_item(world, client, staff_a1):
    n = send(staff_a1, "工单 GD-1 待签收")
    response = client.post(reverse("notify:read", args=[n.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Trigger"] == "notify-read"
    fragment = response.content.decode()
    assert f'id="notification-{n.pk}"' in fragment and "已读" in fragment and "<html" not in fragment


def test_another_users_notification_is_not_found(world, client, staff_a1):
    theirs = send(world.users["staff_a2"], "别人的消息")
    response = client.post(reverse("notify:read", args=[theirs.pk]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert client.get(reverse("notify:read", args=[theirs.pk])).status_code == 405


def test_read_all_marks_only_own(world, client, staff_a1):
    send(staff_a1, "一")
    send(staff_a1, "二")
    theirs = send(world.users["staff_a2"], "三")
    response = client.post(reverse("notify:read_all"))
    assert response.status_code == 302
    assert not Notification.objects.filter(recipient=staff_a1, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    htmx = client.post(reverse("notify:read_all"), headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx["HX-Trigger"] == "notify-read"


def test_the_badge_fragment(world, client, staff_a1):
    assert 'class="badge"' not in client.get(reverse("notify:count")).content.decode()
    for i in range(3):
        send(staff_a1, f"消息 {i}")
    fragment = client.get(reverse("notify:count")).content.decode()
    assert 'id="unread-badge"' in fragment and ">3</span>" in fragment
    Notification.objects.bulk_create(
        [Notification(recipient=staff_a1, title=f"批量 {i}") for i in range(100)]
    )
    assert ">99+</span>" in client.get(reverse("notify:count")).content.decode()


def test_inbox_queries_do_not_grow_with_the_page(world, client, staff_a1, django_assert_num_queries):
    def count_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("notify:inbox")).status_code == 200
        return len(ctx.captured_queries)

    send(staff_a1, "一")
    few = count_queries()
    for i in range(20):
        send(staff_a1, f"消息 {i}")
    assert count_queries() == few


def test_the_context_processor_counts_lazily_in_one_query(world, django_assert_num_queries):
    user = world.users["staff_a1"]
    send(user, "一")
    send(user, "二")
    request = RequestFactory().get("/")
    request.user = user
    with django_assert_num_queries(0):
        context = unread_count(request)
    with django_assert_num_queries(1):
        assert int(str(context["unread_count"])) == 2
        assert context["unread_count"] > 1

    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    assert unread_count(request) == {}
