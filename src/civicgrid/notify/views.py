"""The inbox page, opening a notification, mark-as-read (htmx or plain POST) and the header's unread
badge."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from civicgrid.notify import actions
from civicgrid.notify.queries import get_notification_for, inbox_for, unread_count

PAGE_SIZE = 30
# htmx listeners (the header badge) refresh on this event after a notification is read.
READ_EVENT = "notify-read"


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _back_to_inbox(request: HttpRequest) -> HttpResponse:
    unread = request.POST.get("unread") == "1"
    page = request.POST.get("page", "")
    query = "&".join(
        part for part in ["unread=1" if unread else "", f"page={page}" if page.isdigit() else ""] if part
    )
    return redirect(reverse("notify:inbox") + (f"?{query}" if query else ""))


@login_required
@require_GET
def inbox_view(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("unread") == "1"
    page = Paginator(inbox_for(request.user, unread_only=unread_only), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "notify/inbox.html", {"page": page, "unread_only": unread_only})


@login_required
@require_POST
def read_view(request: HttpRequest, pk: int) -> HttpResponse:
    notification = get_notification_for(request.user, pk)  # 404 for anybody else's
    actions.mark_read(request.user, [notification.pk])  # type: ignore[arg-type]
    if _is_htmx(request):
        notification.refresh_from_db()
        response = render(request, "notify/_item.html", {"n": notification, "unread_only": False})
        response["HX-Trigger"] = READ_EVENT
        return response
    return _back_to_inbox(request)


@login_required
@require_GET
def open_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Follows a notification's link and marks it read, as opening a message does in any inbox.

    A GET that changes state: only the reader's own notification, and reading it twice changes
    nothing, so a prefetch or a shared link can do no harm. The link was written by the system
    (notify.prepare allows site paths and http(s) addresses only)."""
    notification = get_notification_for(request.user, pk)  # 404 for anybody else's
    actions.mark_read(request.user, [notification.pk])  # type: ignore[arg-type]
    return redirect(notification.link or reverse("notify:inbox"))


@login_required
@require_POST
def read_all_view(request: HttpRequest) -> HttpResponse:
    actions.mark_read(request.user, "all")  # type: ignore[arg-type]
    if _is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Trigger"] = READ_EVENT
        response["HX-Refresh"] = "true"
        return response
    return _back_to_inbox(request)


@login_required
@require_GET
def count_view(request: HttpRequest) -> HttpResponse:
    """The badge fragment; the header polls it with htmx (hx-get, hx-swap="outerHTML")."""
    return render(request, "notify/_badge.html", {"unread_count": unread_count(request.user)})
