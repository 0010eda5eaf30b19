"""The in-app inbox and the outbox that carries every notification to its channel."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicgrid.notify.masking import mask_address


class Notification(models.Model):
    """One item in a user's inbox (站内消息)."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("接收人"),
        db_index=False,  # notification_inbox_idx starts with it
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    link = models.CharField(_("链接"), max_length=500, blank=True)
    # A plain string (e.g. a case number), so the inbox never depends on the apps that notify.
    subject_ref = models.CharField(_("关联编号"), max_length=60, blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("站内消息")
        verbose_name_plural = _("站内消息")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_inbox_idx"),
            # The header badge counts these on every page: a small partial index keeps it cheap.
            models.Index(
                fields=["recipient"], condition=models.Q(read_at__isnull=True), name="notification_unread_idx"
            ),
            models.Index(fields=["subject_ref"], name="notification_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title} → {self.recipient_id}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Channel(models.TextChoices):
    INAPP = "inapp", _("站内消息")
    EMAIL = "email", _("电子邮件")
    WECOM = "wecom", _("企业微信群机器人")
    SMS = "sms", _("短信")


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")


class OutboxMessage(models.Model):
    """One message for one address on one channel, written in the transaction that causes it.

    A worker claims a due row by a conditional update that bumps `attempts` (the row's version) and
    sets `locked_until` (a lease), sends it outside any transaction, then records the outcome.
    """

    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    # A user id (in-app), an e-mail address, a phone number or a robot name/key (WeCom).
    address = models.CharField(_("地址"), max_length=254)
    payload = models.JSONField(_("内容"), default=dict)
    subject_ref = models.CharField(_("关联编号"), max_length=60, blank=True)
    notification = models.ForeignKey(
        Notification,
        verbose_name=_("站内消息"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outbox_messages",
    )
    status = models.CharField(
        _("状态"), max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), default=timezone.now)
    locked_until = models.DateTimeField(_("发送中至"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("待发消息")
        verbose_name_plural = _("待发消息 (outbox)")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in OutboxStatus]), name="outbox_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=[c.value for c in Channel]), name="outbox_channel_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(status=OutboxStatus.SENT) | models.Q(sent_at__isnull=False),
                name="outbox_sent_has_time",
            ),
        ]
        indexes = [
            # Workers look only at pending rows, oldest due first; sent rows are the bulk and stay out.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(status=OutboxStatus.PENDING),
                name="outbox_due_idx",
            ),
            models.Index(fields=["status", "-created_at"], name="outbox_status_idx"),
            models.Index(fields=["subject_ref"], name="outbox_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.masked_address} ({self.get_status_display()})"

    @property
    def masked_address(self) -> str:
        return mask_address(self.channel, self.address)
