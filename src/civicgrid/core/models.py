"""The organisation tree, the working-calendar overrides and the audit record."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class UnitKind(models.TextChoices):
    CITY = "city", _("市")
    COUNTY = "county", _("县级")
    SUBDISTRICT = "subdistrict", _("街道/镇")
    COMMUNITY = "community", _("社区/村")
    GRID = "grid", _("网格")
    BUILDING = "building", _("楼栋")
    HOUSEHOLD_GROUP = "household_group", _("十联户")
    DEPARTMENT = "department", _("职能部门")
    OFFICE = "office", _("街道内设机构")


def path_ids(path: str) -> list[int]:
    """The ids of the units on a unit path ("/1/2/3/"), the root first and the unit itself last."""
    return [int(part) for part in path.strip("/").split("/") if part]


TERRITORIAL_KINDS = [
    UnitKind.CITY,
    UnitKind.COUNTY,
    UnitKind.SUBDISTRICT,
    UnitKind.COMMUNITY,
    UnitKind.GRID,
    UnitKind.BUILDING,
    UnitKind.HOUSEHOLD_GROUP,
]


class Unit(models.Model):
    """One node of the organisation tree: a territorial unit, a department or an office.

    `path` is the chain of ids from the root ("/1/7/42/"), so "this unit and everything below it"
    is one indexed prefix match, the scope rule every read uses.
    """

    kind = models.CharField(_("类型"), max_length=20, choices=UnitKind.choices)
    name = models.CharField(_("名称"), max_length=100)
    code = models.CharField(_("编码"), max_length=32, unique=True, null=True, blank=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    polygon = models.TextField(_("边界 (GeoJSON, WGS-84)"), blank=True, default="")
    min_lng = models.FloatField(null=True, blank=True, editable=False)
    min_lat = models.FloatField(null=True, blank=True, editable=False)
    max_lng = models.FloatField(null=True, blank=True, editable=False)
    max_lat = models.FloatField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = _("单位")
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=[k.value for k in UnitKind]), name="unit_kind_valid"
            ),
        ]
        indexes = [models.Index(fields=["kind", "parent"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_territorial(self) -> bool:
        return self.kind in TERRITORIAL_KINDS


class CalendarOverride(models.Model):
    """A date whose working status differs from what chinese-calendar says (or that it does not know)."""

    date = models.DateField(_("日期"), unique=True)
    is_workday = models.BooleanField(_("是否工作日"))
    note = models.CharField(_("说明"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("工作日历调整")
        verbose_name_plural = _("工作日历调整")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'工作日' if self.is_workday else '休息日'}"


class AuditEntry(models.Model):
    """Append-only: who did what to which object, when, with the values before and after."""

    at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True, on_delete=models.PROTECT
    )
    action = models.CharField(_("操作"), max_length=60, db_index=True)
    object_type = models.CharField(_("对象类型"), max_length=60, db_index=True)
    object_id = models.CharField(_("对象编号"), max_length=64)
    object_repr = models.CharField(_("对象"), max_length=200, blank=True)
    before = models.JSONField(_("变更前"), null=True, blank=True)
    after = models.JSONField(_("变更后"), null=True, blank=True)

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit entries are append-only")


class JobLease(models.Model):
    """When a periodic job runs next and who holds it now, shared by every worker process."""

    name = models.CharField(max_length=80, primary_key=True)
    next_run_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("定时任务")
        verbose_name_plural = _("定时任务")

    def __str__(self) -> str:
        return self.name
