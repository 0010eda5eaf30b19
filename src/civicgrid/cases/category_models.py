"""Event categories (事项分类): the two-level tree, each with its time limits and default handling unit.

Kept apart from models.py (which re-exports them) as the category settings' own domain: the admin and
deadlines read these; cases point at them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class CategoryNature(models.TextChoices):
    # Routing picks the handling unit differently for the two (PRODUCT.md, "Routing").
    FACILITY = "facility", _("部件")
    EVENT = "event", _("事件")


class LimitUnit(models.TextChoices):
    CLOCK_HOURS = "clock_hours", _("小时 (全天候)")
    WORKING_HOURS = "working_hours", _("工作小时")
    WORKING_DAYS = "working_days", _("工作日")


def _limit(name: StrOrPromise, default: StrOrPromise) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        name, null=True, blank=True, validators=[MinValueValidator(1)], help_text=default
    )


class Category(models.Model):
    """A two-level category (大类/小类) with its time limit and default handling unit."""

    code = models.CharField(_("编码"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=60)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("大类"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    nature = models.CharField(
        _("性质"), max_length=10, choices=CategoryNature.choices, default=CategoryNature.EVENT
    )
    description = models.CharField(_("说明"), max_length=200, blank=True)
    handle_limit = models.PositiveIntegerField(_("办理时限"), default=5, validators=[MinValueValidator(1)])
    handle_limit_unit = models.CharField(
        _("时限单位"), max_length=20, choices=LimitUnit.choices, default=LimitUnit.WORKING_DAYS
    )
    # The other limits of PRODUCT.md ("every one configurable per category"); empty = the default in
    # cases/deadlines.py. The category's own value only: a 小类 does not inherit its 大类's.
    sign_limit_hours = _limit(_("签收时限（工作小时）"), _("留空为 1 个工作小时"))
    urgent_sign_limit_minutes = _limit(_("紧急签收时限（分钟）"), _("留空为 30 分钟，全天候计算"))
    answer_limit_hours = _limit(_("首次答复时限（工作小时）"), _("留空为 2 个工作小时"))
    recheck_limit_days = _limit(_("核查时限（工作日）"), _("留空为 1 个工作日"))
    rating_window_days = _limit(_("评价期限（天）"), _("留空为 7 天"))
    default_lead_unit = models.ForeignKey(
        "core.Unit", verbose_name=_("默认主办单位"), null=True, blank=True, on_delete=models.SET_NULL
    )
    anonymous_allowed = models.BooleanField(_("允许匿名"), default=True)
    arrival_required = models.BooleanField(_("需到场报到"), default=False)
    public = models.BooleanField(_("向群众开放"), default=True)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("事项分类")
        verbose_name_plural = _("事项分类")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(handle_limit_unit__in=[u.value for u in LimitUnit]),
                name="category_limit_unit_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(nature__in=[n.value for n in CategoryNature]), name="category_nature_valid"
            ),
            # A limit of nothing would make every case late the moment it arrives (an empty one passes:
            # NULL > 0 is not false).
            models.CheckConstraint(
                condition=models.Q(
                    handle_limit__gt=0,
                    sign_limit_hours__gt=0,
                    urgent_sign_limit_minutes__gt=0,
                    answer_limit_hours__gt=0,
                    recheck_limit_days__gt=0,
                    rating_window_days__gt=0,
                ),
                name="category_limits_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent_id and self.parent else self.name
