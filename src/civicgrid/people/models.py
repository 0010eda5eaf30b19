"""Accounts, the roles of PRODUCT.md, memberships in units, API tokens and login throttling."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicgrid.core import crypto


class Role(models.TextChoices):
    RESIDENT = "resident", _("居民")
    HOUSEHOLD_LEADER = "household_leader", _("联户长")
    GRID_WORKER = "grid_worker", _("网格员")
    MOBILE_REPORTER = "mobile_reporter", _("流动网格员")
    COMMUNITY_STAFF = "community_staff", _("社区工作者")
    DISPATCHER = "dispatcher", _("街道指挥中心")
    DEPARTMENT_HANDLER = "department_handler", _("部门承办人")
    PARTY_COMMITTEE = "party_committee", _("街道党工委")
    BRANCH_SECRETARY = "branch_secretary", _("党支部书记")
    PARTY_MEMBER = "party_member", _("党员")
    DATA_STEWARD = "data_steward", _("数据中心管理员")
    LEADER = "leader", _("领导")
    ADMINISTRATOR = "administrator", _("系统管理员")


class NoticeChoice(models.TextChoices):
    """Which notices also reach an account by SMS or e-mail; the inbox gets every one. Urgent notices
    are those about an urgent case, a passed time limit or a superior's pressing (cases.effects)."""

    SITE_DEFAULT = "", _("按系统默认")
    NONE = "none", _("不接收")
    URGENT = "urgent", _("仅紧急事项")
    ALL = "all", _("全部通知")


def site_default(channel: str) -> NoticeChoice:
    """What the site's default means for a channel ("sms", "email"): every notice, the urgent ones or
    none (CIVICGRID_NOTIFY_USER_CHANNELS, CIVICGRID_NOTIFY_URGENT_CHANNELS)."""
    if channel in settings.CIVICGRID_NOTIFY_USER_CHANNELS:
        return NoticeChoice.ALL
    if channel in settings.CIVICGRID_NOTIFY_URGENT_CHANNELS:
        return NoticeChoice.URGENT
    return NoticeChoice.NONE


class User(AbstractUser):
    display_name = models.CharField(_("姓名"), max_length=50, blank=True)
    # A staff member's mobile, for notices by SMS (sms_notices below): stored encrypted like a
    # reporter's (core.crypto), set in the admin, shown there masked.
    phone_enc = models.CharField(_("手机号（加密）"), max_length=255, blank=True, editable=False)
    # Each person chooses what reaches them outside the inbox (people.actions.set_notice_choices);
    # "" follows the site's CIVICGRID_NOTIFY_USER_CHANNELS / CIVICGRID_NOTIFY_URGENT_CHANNELS.
    sms_notices = models.CharField(
        _("短信通知"), max_length=10, choices=NoticeChoice.choices, default="", blank=True
    )
    email_notices = models.CharField(
        _("邮件通知"), max_length=10, choices=NoticeChoice.choices, default="", blank=True
    )

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sms_notices__in=NoticeChoice.values), name="user_sms_notices_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(email_notices__in=NoticeChoice.values), name="user_email_notices_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def phone(self) -> str:
        """The plain number, for notify only; never log or show it (masked_phone)."""
        return crypto.decrypt(self.phone_enc) if self.phone_enc else ""

    @property
    def masked_phone(self) -> str:
        """The mobile as pages, the API and the admin show it (139****5678), or ""."""
        return crypto.mask_phone(self.phone) if self.phone_enc else ""


class Membership(models.Model):
    """A user holds a role in a unit; the role reaches the unit and everything below it."""

    user = models.ForeignKey(
        User, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="memberships"
    )
    unit = models.ForeignKey(
        "core.Unit", verbose_name=_("单位"), on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(_("角色"), max_length=30, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("任职")
        verbose_name_plural = _("任职")
        constraints = [
            models.UniqueConstraint(fields=["user", "unit", "role"], name="membership_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.unit}"


class ApiToken(models.Model):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once."""

    user = models.ForeignKey(
        User, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("名称"), max_length=60, blank=True)
    prefix = models.CharField(_("前缀"), max_length=8)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class LoginThrottle(models.Model):
    """Failed logins per key (an account or an address), shared by every web process."""

    key = models.CharField(max_length=200, unique=True)
    failures = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.key} ({self.failures})"
