import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from civicgrid.notify import actions
from civicgrid.notify.masking import scrub
from civicgrid.notify.models import Notification, OutboxMessage

OUTBOX_FIELDS = (
    "channel",
    "recipient",
    "status",
    "attempts",
    "next_attempt_at",
    "locked_until",
    "last_error",
    "content",
    "subject_ref",
    "notification",
    "created_at",
    "sent_at",
)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "recipient", "subject_ref", "created_at", "read_at"]
    list_filter = [("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "subject_ref", "recipient__username", "recipient__display_name"]
    raw_id_fields = ["recipient"]
    date_hierarchy = "created_at"
    list_select_related = ["recipient"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Read-only: the outbox is written by `notify` and the workers; operators may only retry."""

    list_display = [
        "id",
        "channel",
        "recipient",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "subject_ref",
    ]
    list_filter = ["status", "channel"]
    search_fields = ["subject_ref"]
    date_hierarchy = "created_at"
    # `address` itself is never shown: phone numbers appear masked, robot keys shortened.
    fields = readonly_fields = OUTBOX_FIELDS
    actions = ["retry_now"]

    @admin.display(description=_("地址"))
    def recipient(self, obj: OutboxMessage) -> str:
        return obj.masked_address

    @admin.display(description=_("内容"))
    def content(self, obj: OutboxMessage) -> str:
        # Free text may quote a resident's phone number: masked here as everywhere else.
        return format_html("<pre>{}</pre>", scrub(json.dumps(obj.payload, ensure_ascii=False, indent=2)))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OutboxMessage | None = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notify.change_outboxmessage")

    @admin.action(description=_("立即重试所选消息"), permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        count = actions.retry_now(queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            _("%(count)d 条消息将由下一次投递立即重试（已发送或正在发送的不变）。") % {"count": count},
            messages.SUCCESS,
        )
