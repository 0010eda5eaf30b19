"""Routing (系统自动转): the model registry, staff rules, per-case suggestions, corrections and keywords.

The decision itself lives in engine.py; these tables hold what it reads (models, keyword rules, unit
rules, known places) and what it leaves behind (one suggestion per case, the dispatchers' corrections,
the case's keywords), so the desk can show why a case went where it went and training can learn
from what people changed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class RoutingModel(models.Model):
    """One trained text classifier; exactly one is active, the earlier ones stay for rollback."""

    version = models.PositiveIntegerField(_("版本"), unique=True)
    # Relative to the model directory (settings CIVICGRID_ROUTING_MODEL_DIR, default VAR_DIR/models):
    # never under MEDIA_ROOT, where uploads go.
    path = models.CharField(_("文件"), max_length=300)
    trained_at = models.DateTimeField(_("训练时间"))
    data_size = models.PositiveIntegerField(_("训练样本数"), default=0)
    corrections = models.PositiveIntegerField(_("其中纠正样本"), default=0)
    labels = models.JSONField(_("分类"), default=list, blank=True)
    # Cross-validated figures from the classifier (accuracy, macro-F1, per class …).
    scores = models.JSONField(_("评估指标"), default=dict, blank=True)
    # label -> the score above which the model's precision on that label reached the target.
    thresholds = models.JSONField(_("自动派遣阈值"), default=dict, blank=True)
    is_active = models.BooleanField(_("启用"), default=False)
    activated_at = models.DateTimeField(_("启用时间"), null=True, blank=True)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("分类模型")
        verbose_name_plural = _("分类模型")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="routing_one_active"
            )
        ]

    def __str__(self) -> str:
        return f"v{self.version}{' (启用)' if self.is_active else ''}"


class KeywordRule(models.Model):
    """A phrase that decides the category, whatever the model says (highest priority, then longest)."""

    phrase = models.CharField(
        _("关键词"),
        max_length=100,
        help_text=_("文本包含该词即命中；多个词用空格分开，表示须同时包含。"),
    )
    category = models.ForeignKey(
        "cases.Category", verbose_name=_("分类"), on_delete=models.PROTECT, related_name="+"
    )
    priority = models.IntegerField(_("优先级"), default=0, help_text=_("数字大的先生效"))
    is_active = models.BooleanField(_("启用"), default=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    # What the dry run said when the rule was last saved (rules.dry_run).
    dry_run = models.JSONField(_("试运行结果"), default=dict, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("关键词规则")
        verbose_name_plural = _("关键词规则")
        ordering = ["-priority", "phrase"]

    def __str__(self) -> str:
        return f"{self.phrase} → {self.category}"

    @property
    def words(self) -> list[str]:
        return [w for w in self.phrase.split() if w]


class LeadPlace(models.TextChoices):
    COMMUNITY = "community", _("属地社区")
    GRID = "grid", _("属地网格")


class UnitRule(models.Model):
    """Category (大类 or 小类) and place → the lead unit (a fixed unit, or the case's own community/grid).

    Facilities (部件) take the most specific category first, then the most specific place; events (事件)
    the most specific place first, then the category (PRODUCT.md, "Routing"); priority breaks ties.
    """

    category = models.ForeignKey(
        "cases.Category", verbose_name=_("分类"), on_delete=models.CASCADE, related_name="+"
    )
    territory = models.ForeignKey(
        "core.Unit",
        verbose_name=_("适用属地"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("留空表示所有地方"),
    )
    lead_unit = models.ForeignKey(
        "core.Unit",
        verbose_name=_("主办单位"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    lead_place = models.CharField(
        _("或由属地主办"),
        max_length=20,
        choices=LeadPlace.choices,
        blank=True,
        default="",
        help_text=_("不指定主办单位时，派给工单所在的社区或网格"),
    )
    priority = models.IntegerField(_("优先级"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("派遣规则")
        verbose_name_plural = _("派遣规则")
        ordering = ["category__code", "-priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(lead_unit__isnull=False) & Q(lead_place=""))
                | (Q(lead_unit__isnull=True) & Q(lead_place__in=[p.value for p in LeadPlace])),
                name="unit_rule_one_lead",
            )
        ]

    def __str__(self) -> str:
        lead = self.lead_unit.name if self.lead_unit_id and self.lead_unit else self.get_lead_place_display()
        where = self.territory.name if self.territory_id and self.territory else "全部"
        return f"{self.category} @ {where} → {lead}"


class KnownPlace(models.Model):
    """A place name residents use (a market, a hospital, an estate) and the unit it lies in."""

    name = models.CharField(_("地名"), max_length=60, unique=True)
    unit = models.ForeignKey(
        "core.Unit", verbose_name=_("所在单位"), on_delete=models.CASCADE, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("地名")
        verbose_name_plural = _("地名")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} → {self.unit}"


class Source(models.TextChoices):
    RULE = "rule", _("关键词规则")
    MODEL = "model", _("模型")
    FILER = "filer", _("提交人所选")
    NONE = "none", _("无")


class RoutingSuggestion(models.Model):
    """What routing made of a case: the top categories with scores, the unit, and whether it acted."""

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="routing")
    created_at = models.DateTimeField(_("时间"))
    model_version = models.PositiveIntegerField(_("模型版本"), null=True, blank=True)
    source = models.CharField(_("依据"), max_length=10, choices=Source.choices, default=Source.NONE)
    rule = models.ForeignKey(
        KeywordRule,
        verbose_name=_("命中规则"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # [{"category": code, "name": "大类 / 小类", "score": 0.93}, …], best first, at most three.
    scores = models.JSONField(_("分类得分"), default=list, blank=True)
    category = models.ForeignKey(
        "cases.Category",
        verbose_name=_("建议分类"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    confidence = models.FloatField(_("置信度"), default=0.0)
    threshold = models.FloatField(_("阈值"), null=True, blank=True)
    place = models.ForeignKey(
        "core.Unit",
        verbose_name=_("地点"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    place_method = models.CharField(_("定位依据"), max_length=20, blank=True)
    lead_unit = models.ForeignKey(
        "core.Unit",
        verbose_name=_("建议主办"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    unit_reason = models.CharField(_("派遣依据"), max_length=100, blank=True)
    decided_automatically = models.BooleanField(_("系统自动派遣"), default=False)
    wait_reason = models.CharField(_("待人工原因"), max_length=100, blank=True)
    duration_ms = models.FloatField(default=0.0)

    class Meta:
        verbose_name = _("派遣建议")
        verbose_name_plural = _("派遣建议")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["decided_automatically", "created_at"], name="routing_sugg_auto_at")]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.category_id}/{self.lead_unit_id}"


class RoutingCorrection(models.Model):
    """A dispatcher chose another category or lead unit than routing suggested; training learns from it."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="routing_corrections")
    step = models.ForeignKey(
        "cases.CaseStep", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(_("时间"), db_index=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("纠正人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    model_version = models.PositiveIntegerField(_("模型版本"), null=True, blank=True)
    was_automatic = models.BooleanField(_("原为自动派遣"), default=False)
    suggested_category = models.ForeignKey(
        "cases.Category",
        verbose_name=_("建议分类"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    suggested_unit = models.ForeignKey(
        "core.Unit",
        verbose_name=_("建议主办"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    final_category = models.ForeignKey(
        "cases.Category",
        verbose_name=_("最终分类"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    final_unit = models.ForeignKey(
        "core.Unit",
        verbose_name=_("最终主办"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    category_changed = models.BooleanField(_("改了分类"), default=False)
    unit_changed = models.BooleanField(_("改了主办"), default=False)

    class Meta:
        verbose_name = _("派遣纠正")
        verbose_name_plural = _("派遣纠正")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.at:%Y-%m-%d %H:%M}"


class CaseKeywords(models.Model):
    """A case's keywords (jieba), written by the worker; one row per case, empty list included."""

    case = models.OneToOneField(
        "cases.Case", on_delete=models.CASCADE, primary_key=True, related_name="keywords"
    )
    words = models.JSONField(default=list, blank=True)
    # Copies of the case's columns so that the analysis pages filter by time and place on this table.
    case_created_at = models.DateTimeField(db_index=True)
    territory_path = models.CharField(max_length=255, db_index=True, default="")
    category = models.ForeignKey(
        "cases.Category", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("工单关键词")
        verbose_name_plural = _("工单关键词")

    def __str__(self) -> str:
        return " ".join(self.words)
