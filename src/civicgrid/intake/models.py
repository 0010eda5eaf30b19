"""Resident intake: submissions, tracking tickets, abuse control, mobile reporters, Open311 keys.

The case itself lives in cases.Case; these rows say how it came in (Submission), who may follow it
(Ticket), and what the public endpoints need around it. Reporter names and phones stay in the case
(encrypted); here only blind indexes and encrypted copies are kept.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Source(models.TextChoices):
    WEB = "web", _("随手拍页面")
    OPEN311 = "open311", _("Open311 接口")


class LocationSource(models.TextChoices):
    GPS = "gps", _("手机定位")
    PIN = "pin", _("地图选点")
    ADDRESS = "address", _("地址（按社区估计位置）")
    API = "api", _("接口坐标")
    FILER = "filer", _("提交人所在单位")


class Submission(models.Model):
    """How one case came in: from which page or key, for whom, and the key that makes retries safe."""

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="intake")
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices)
    filer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("提交人账号"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # A household leader or grid worker filing for a neighbour: the case's reporter is the neighbour.
    on_behalf = models.BooleanField(_("代他人反映"), default=False)
    company = models.CharField(_("所属企业"), max_length=100, blank=True)
    location_source = models.CharField(
        _("位置来源"), max_length=10, choices=LocationSource.choices, blank=True
    )
    attributes = models.JSONField(_("补充信息"), default=dict, blank=True)
    # Idempotency: (scope, key) is unique; scope is "u<id>" for an account, "anon" for the public.
    idem_scope = models.CharField(max_length=40, blank=True, default="")
    idem_key = models.CharField(max_length=100, blank=True, default="")
    request_hash = models.CharField(max_length=64, blank=True, default="")
    ip = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)
    phone_index = models.CharField(max_length=64, blank=True, default="", db_index=True)
    # Open311
    api_key = models.ForeignKey(
        "intake.Open311Key", null=True, blank=True, on_delete=models.PROTECT, related_name="submissions"
    )
    device_id = models.CharField(max_length=100, blank=True, default="")
    account_ref = models.CharField(max_length=100, blank=True, default="")
    email_enc = models.TextField(blank=True, default="")
    media_url = models.URLField(max_length=500, blank=True, default="")
    token = models.CharField(max_length=40, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("群众提交记录")
        verbose_name_plural = _("群众提交记录")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["idem_scope", "idem_key"], condition=~Q(idem_key=""), name="submission_idem_unique"
            ),
            models.CheckConstraint(
                condition=Q(source__in=[s.value for s in Source]), name="submission_source_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["api_key", "device_id", "created_at"], name="submission_device_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} ({self.source})"


class TicketKind(models.TextChoices):
    REPORTER = "reporter", _("反映人")
    FOLLOWER = "follower", _("关注人")


class Ticket(models.Model):
    """A resident's handle on a case: a tracking code (stored as a digest) and the phone it names.

    The reporter's ticket rates the case; a follower's only reads it. With a phone the code is asked
    together with the phone's last four digits; without one the code (50 random bits) is the secret.
    """

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="tickets")
    kind = models.CharField(_("类型"), max_length=10, choices=TicketKind.choices)
    code_digest = models.CharField(max_length=64, unique=True)
    # Kept encrypted so that a retried submission can show the same code again.
    code_enc = models.TextField(blank=True, default="")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="tickets"
    )
    phone_enc = models.TextField(blank=True, default="")
    phone_index = models.CharField(max_length=64, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("查询码")
        verbose_name_plural = _("查询码")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in TicketKind]), name="ticket_kind_valid"
            ),
        ]
        indexes = [models.Index(fields=["case", "kind"], name="ticket_case_kind")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind}"


class RateCounter(models.Model):
    """Hits of one key in one fixed window, shared by every web process (rate limits)."""

    key = models.CharField(max_length=200, unique=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key} = {self.count}"


class BlockKind(models.TextChoices):
    IP = "ip", _("IP 地址或网段")
    PHONE = "phone", _("手机号")


class Block(models.Model):
    """A sender the public page refuses: an IP address or network, or a phone (by blind index)."""

    kind = models.CharField(_("类型"), max_length=10, choices=BlockKind.choices)
    network = models.CharField(
        _("IP 或网段"), max_length=50, blank=True, help_text="如 10.1.2.3 或 10.1.2.0/24"
    )
    phone_index = models.CharField(max_length=64, blank=True, default="", db_index=True)
    phone_hint = models.CharField(_("手机号（脱敏）"), max_length=20, blank=True)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    until = models.DateTimeField(_("截止时间"), null=True, blank=True, help_text="留空为长期")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("屏蔽名单")
        verbose_name_plural = _("屏蔽名单")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in BlockKind]), name="block_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.network if self.kind == BlockKind.IP else self.phone_hint or "phone"


class ReporterKind(models.TextChoices):
    COURIER = "courier", _("快递小哥")
    TRUCK_DRIVER = "truck_driver", _("货车司机")
    RIDER = "rider", _("外卖骑手")
    OTHER = "other", _("其他")


class MobileReporterProfile(models.Model):
    """A mobile reporter's (流动网格员) company; their reports show it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mobile_reporter_profile"
    )
    kind = models.CharField(
        _("类型"), max_length=20, choices=ReporterKind.choices, default=ReporterKind.COURIER
    )
    company = models.CharField(_("所属企业"), max_length=100)
    verified = models.BooleanField(_("已核验"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("流动网格员")
        verbose_name_plural = _("流动网格员")

    def __str__(self) -> str:
        return f"{self.user} · {self.company}"


class ServiceDefinition(models.Model):
    """What a public category shows residents and Open311 clients besides its name: extra questions.

    `attributes` is a list of Open311 attribute definitions:
    {"code", "description", "datatype" (string|number|datetime|text|singlevaluelist|multivaluelist),
     "required", "datatype_description", "order", "variable", "values": [{"key", "name"}]}.
    """

    category = models.OneToOneField(
        "cases.Category", on_delete=models.CASCADE, related_name="service_definition"
    )
    group = models.CharField(_("分组"), max_length=60, blank=True, help_text="留空时用大类名称")
    keywords = models.CharField(_("关键词"), max_length=200, blank=True, help_text="逗号分隔")
    service_notice = models.CharField(_("办理说明"), max_length=300, blank=True)
    attributes = models.JSONField(_("补充问题"), default=list, blank=True)

    class Meta:
        verbose_name = _("事项补充问题")
        verbose_name_plural = _("事项补充问题")

    def __str__(self) -> str:
        return str(self.category)


class Open311Key(models.Model):
    """An Open311 API key of one system (a 12345 gateway, an app); only its SHA-256 is stored."""

    name = models.CharField(_("系统名称"), max_length=100)
    unit = models.ForeignKey(
        "core.Unit",
        verbose_name=_("所属单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    prefix = models.CharField(_("前缀"), max_length=8, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    # Gateways (12345) file as hotline_12345 through a staff account; apps file as residents.
    gateway = models.BooleanField(_("12345 网关"), default=False)
    filer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("网关受理账号"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="网关提交的工单以此工作人员账号受理（渠道：12345 热线）",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("Open311 API 密钥")
        verbose_name_plural = _("Open311 API 密钥")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
