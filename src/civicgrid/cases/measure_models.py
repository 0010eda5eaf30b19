"""Rollups for the measures (ARCHITECTURE.md habit 12) and the supervision worker's marks.

The CaseStep rows are the source of truth. The `cases.measures` job folds new steps into one row per
unit and day (MeasureDay) and per person and day (PersonMeasureDay); "unit X and below" is the rows of
X, so the measures for any unit and period are a sum over at most (days × units) small rows. Every
column is a count except `handling_seconds`; h00…h39 are a histogram of handling times (see
measures.buckets) from which the 90th percentile is read. docs/measures.md defines each column.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["MeasureCursor", "MeasureDay", "PersonMeasureDay", "SupervisionMark"]

# Handling-time histogram buckets (fixed, logarithmic); measures.buckets gives their bounds.
HISTOGRAM_BUCKETS = 40
HISTOGRAM_COLUMNS = [f"h{i:02d}" for i in range(HISTOGRAM_BUCKETS)]

# The counters of a rollup row, in the order the fold writes them (docs/measures.md, "Columns").
COUNT_COLUMNS = [
    "orders",
    "signed",
    "signed_in_time",
    "rounds",
    "returned",
    "due",
    "deferred",
    "closed",
    "closed_on_time",
    "extended",
    "reworked",
    "rated",
    "satisfied",
    "basically_satisfied",
    "dissatisfied",
    "resolved",
]
SUM_COLUMNS = [*COUNT_COLUMNS, "handling_seconds", *HISTOGRAM_COLUMNS]


class MeasureCounts(models.Model):
    """The counters one rollup row holds for one day (abstract: units and people share them)."""

    day = models.DateField(_("日期"))
    orders = models.PositiveIntegerField(_("派单数"), default=0)
    signed = models.PositiveIntegerField(_("签收数"), default=0)
    signed_in_time = models.PositiveIntegerField(_("按时签收数"), default=0)
    rounds = models.PositiveIntegerField(_("主办派遣数"), default=0)
    returned = models.PositiveIntegerField(_("退单数"), default=0)
    due = models.PositiveIntegerField(_("应结数"), default=0)
    deferred = models.PositiveIntegerField(_("缓办数"), default=0)
    closed = models.PositiveIntegerField(_("结案数"), default=0)
    closed_on_time = models.PositiveIntegerField(_("按期结案数"), default=0)
    extended = models.PositiveIntegerField(_("延期数"), default=0)
    reworked = models.PositiveIntegerField(_("返工数"), default=0)
    rated = models.PositiveIntegerField(_("评价数"), default=0)
    satisfied = models.PositiveIntegerField(_("满意数"), default=0)
    basically_satisfied = models.PositiveIntegerField(_("基本满意数"), default=0)
    dissatisfied = models.PositiveIntegerField(_("不满意数"), default=0)
    resolved = models.PositiveIntegerField(_("已解决数"), default=0)
    handling_seconds = models.BigIntegerField(_("办理时长合计（秒）"), default=0)
    # h00 … h39: closed rounds per handling-time bucket (a loop keeps the 40 columns in step).
    for _column in HISTOGRAM_COLUMNS:
        locals()[_column] = models.PositiveIntegerField(default=0)
    del _column

    class Meta:
        abstract = True


class MeasureDay(MeasureCounts):
    """The measures of one unit (and everything below it) for one local day."""

    unit = models.ForeignKey("core.Unit", on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("考核日汇总（单位）")
        verbose_name_plural = _("考核日汇总（单位）")
        constraints = [models.UniqueConstraint(fields=["unit", "day"], name="measure_day_unit_day")]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.day}"


class PersonMeasureDay(MeasureCounts):
    """The measures of one handler (who signed, who fed back) for one local day."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("考核日汇总（个人）")
        verbose_name_plural = _("考核日汇总（个人）")
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="measure_day_user_day")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}"


class MeasureCursor(models.Model):
    """How far the fold has read the timeline: every step id ≤ `high` is folded, except `gaps`.

    `gaps` maps ids below `high` that were not visible yet (a transaction still open when a later id
    committed) to when they were first missed; they are folded when they appear and forgotten after
    measures.fold.GAP_SECONDS (a rolled-back step never appears).
    """

    name = models.CharField(max_length=40, primary_key=True)
    high = models.BigIntegerField(default=0)
    gaps = models.JSONField(default=dict, blank=True)
    folded = models.BigIntegerField(_("已汇总步骤数"), default=0)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("考核汇总进度")
        verbose_name_plural = _("考核汇总进度")

    def __str__(self) -> str:
        return f"{self.name} ≤ {self.high}"


class SupervisionMark(models.Model):
    """Which deadline of a case the worker last reminded or alerted about (one row per case).

    The worker claims a reminder with a conditional UPDATE of its column to the deadline it concerns,
    so each deadline is reminded once however many workers run, and a new deadline (re-dispatch,
    extension, reopening) arms the reminder again.
    """

    case = models.OneToOneField("cases.Case", primary_key=True, on_delete=models.CASCADE, related_name="+")
    sign_reminded_for = models.DateTimeField(_("已提醒签收（签收期限）"), null=True, blank=True)
    alerted_for = models.DateTimeField(_("已提醒督办（办理期限）"), null=True, blank=True)
    rate_reminded_for = models.DateTimeField(_("已提醒评价（评价期限）"), null=True, blank=True)
    answer_reminded_for = models.DateTimeField(_("已提醒答复（答复期限）"), null=True, blank=True)
    recheck_reminded_for = models.DateTimeField(_("已提醒核查（核查期限）"), null=True, blank=True)

    class Meta:
        verbose_name = _("督办提醒记录")
        verbose_name_plural = _("督办提醒记录")

    def __str__(self) -> str:
        return str(self.case_id)
