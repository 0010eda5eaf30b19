"""Cases (工单/事件), their units, timeline, extension requests and photos (categories: category_models).

Only cases/actions.py writes the workflow fields; everything else reads them. The columns that the
worker (yellow/red/urge) and the measures rollups need are kept here as plain columns with partial
indexes, so neither has to replay the timeline.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from civicgrid.cases.category_models import Category as Category
from civicgrid.cases.category_models import CategoryNature as CategoryNature
from civicgrid.cases.category_models import LimitUnit as LimitUnit


class Channel(models.TextChoices):
    RESIDENT = "resident", _("群众点单")
    HOUSEHOLD_LEADER = "household_leader", _("联户长代办")
    GRID_PATROL = "grid_patrol", _("网格员巡查")
    MOBILE_REPORTER = "mobile_reporter", _("流动网格员")
    HOTLINE_12345 = "hotline_12345", _("12345 热线")
    SUPERIOR = "superior", _("上级交办")
    MEDIA = "media", _("媒体曝光")
    VIDEO = "video", _("视频监控")


class CaseType(models.TextChoices):
    COMPLAINT = "complaint", _("投诉")
    HELP = "help", _("求助")
    ENQUIRY = "enquiry", _("咨询")
    SUGGESTION = "suggestion", _("建议")
    REPORT = "report", _("举报")
    INCIDENT = "incident", _("事件")


class Urgency(models.TextChoices):
    NORMAL = "normal", _("一般")
    URGENT = "urgent", _("紧急")


class Status(models.TextChoices):
    RECEIVED = "received", _("已受理")
    REGISTERED = "registered", _("已立案")
    REJECTED = "rejected", _("不予受理")
    ESCALATED = "escalated", _("已吹哨")
    DISPATCHED = "dispatched", _("已派遣")
    RETURNED = "returned", _("已退回")
    SIGNED = "signed", _("已签收")
    DEFERRED = "deferred", _("缓办")
    FED_BACK = "fed_back", _("已反馈")
    CLOSED = "closed", _("已结案")
    MERGED = "merged", _("已合并")


# A case in one of these is finished; every other status is open.
FINAL_STATUSES = (Status.REJECTED, Status.CLOSED, Status.MERGED)
OPEN_STATUSES = tuple(s for s in Status if s not in FINAL_STATUSES)
# The handling clock (due_at) runs in these; deferred cases count apart and are never overdue.
CLOCK_STATUSES = (Status.DISPATCHED, Status.SIGNED)

# The columns the scope predicate reads (queries.cases_visible_to), INCLUDEd in the list indexes on
# PostgreSQL so that a filtered list is counted from the index alone: at 1,000,000 cases a department's
# `status=signed` count fell from 230 ms (a heap visit per row) to 22 ms. SQLite ignores INCLUDE.
SCOPE_COLUMNS = ["territory_path", "lead_unit", "reporter_user", "created_by", "id"]


class WarnLevel(models.TextChoices):
    NONE = "none", _("正常")
    YELLOW = "yellow", _("黄牌")
    RED = "red", _("红牌")


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASICALLY_SATISFIED = "basically_satisfied", _("基本满意")
    DISSATISFIED = "dissatisfied", _("不满意")


class ReturnReason(models.TextChoices):
    NOT_OUR_DUTY = "not_our_duty", _("职能不符")
    NOT_OUR_AREA = "not_our_area", _("属地不符")
    OWNERSHIP_UNCLEAR = "ownership_unclear", _("权属不清")


def _valid(
    field: str, choices: type[models.TextChoices], name: str, blank: bool = False
) -> models.CheckConstraint:
    values = [c.value for c in choices] + ([""] if blank else [])
    return models.CheckConstraint(condition=Q(**{f"{field}__in": values}), name=name)


class Case(models.Model):
    """One thing somebody must act on, whatever channel it came in by."""

    number = models.CharField(_("编号"), max_length=24, unique=True)
    channel = models.CharField(_("渠道"), max_length=20, choices=Channel.choices)
    type = models.CharField(_("类型"), max_length=20, choices=CaseType.choices, default=CaseType.COMPLAINT)
    category = models.ForeignKey(
        Category,
        verbose_name=_("分类"),
        null=True,
        blank=True,
        db_index=False,  # served by an index that starts with it (Meta.indexes)
        on_delete=models.PROTECT,
        related_name="cases",
    )
    urgency = models.CharField(_("紧急程度"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    title = models.CharField(_("标题"), max_length=100, blank=True)
    description = models.TextField(_("描述"))
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.RECEIVED)

    # Place: WGS-84, located on create. territory is the lowest unit found (grid, else community, else
    # subdistrict); territory_path is its Unit.path, so "cases of my units and below" is one indexed
    # prefix match instead of a join up the tree.
    lat = models.FloatField(_("纬度"), null=True, blank=True)
    lng = models.FloatField(_("经度"), null=True, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    locate_method = models.CharField(_("定位方式"), max_length=20, blank=True)
    grid = models.ForeignKey("core.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    community = models.ForeignKey(
        "core.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subdistrict = models.ForeignKey(
        "core.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    territory = models.ForeignKey(
        "core.Unit", verbose_name=_("属地"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    territory_path = models.CharField(max_length=255, db_index=True, default="", editable=False)

    # Reporter: encrypted at rest (core.crypto); the blind index finds repeat callers by phone.
    reporter_name_enc = models.TextField(blank=True, default="")
    reporter_phone_enc = models.TextField(blank=True, default="")
    reporter_phone_index = models.CharField(max_length=64, blank=True, default="")  # indexed in Meta
    anonymous = models.BooleanField(_("匿名"), default=False)
    reporter_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        db_index=False,  # served by an index that starts with it (Meta.indexes)
        on_delete=models.PROTECT,
        related_name="reported_cases",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="created_cases",
    )
    # Replays of one POST /cases (per creator) return the first case; see actions.create_case.
    idempotency_key = models.CharField(max_length=100, blank=True, default="")
    request_hash = models.CharField(max_length=64, blank=True, default="")

    # The current lead unit, copied from the active lead assignment so lists need no join.
    lead_unit = models.ForeignKey(
        "core.Unit",
        verbose_name=_("主办单位"),
        null=True,
        blank=True,
        db_index=False,  # served by an index that starts with it (Meta.indexes)
        on_delete=models.PROTECT,
        related_name="+",
    )

    # Clock columns: deadlines of the current round and the moments measures count from.
    created_at = models.DateTimeField(_("受理时间"), auto_now_add=True, db_index=True)
    answer_by = models.DateTimeField(_("首次答复期限"), null=True, blank=True)
    answered_at = models.DateTimeField(_("首次答复时间"), null=True, blank=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    first_dispatched_at = models.DateTimeField(_("首次派遣时间"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("派遣时间"), null=True, blank=True)
    sign_by = models.DateTimeField(_("签收期限"), null=True, blank=True)
    signed_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    yellow_at = models.DateTimeField(_("黄牌时间"), null=True, blank=True)
    due_at = models.DateTimeField(_("办理期限"), null=True, blank=True)
    fed_back_at = models.DateTimeField(_("反馈时间"), null=True, blank=True)
    recheck_by = models.DateTimeField(_("核查期限"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    rate_by = models.DateTimeField(_("评价期限"), null=True, blank=True)
    warn_level = models.CharField(_("预警"), max_length=10, choices=WarnLevel.choices, default=WarnLevel.NONE)
    deferred = models.BooleanField(_("缓办"), default=False)
    # The day a deferred case comes back to its lead unit with a fresh handling limit (恢复办理): the
    # worker resumes it then, unless the dispatcher does so before.
    resume_on = models.DateField(_("恢复办理日期"), null=True, blank=True)
    last_urged_at = models.DateTimeField(null=True, blank=True)

    rework_count = models.PositiveIntegerField(_("返工次数"), default=0)
    return_count = models.PositiveIntegerField(_("退回次数"), default=0)
    reopen_count = models.PositiveIntegerField(_("重办次数"), default=0)
    extension_count = models.PositiveIntegerField(_("延期次数"), default=0)
    urge_count = models.PositiveIntegerField(_("催办次数"), default=0)
    supervise_count = models.PositiveIntegerField(_("督办次数"), default=0)

    reject_reason = models.CharField(_("不予受理理由"), max_length=500, blank=True)
    return_reason = models.CharField(
        _("退回原因"), max_length=20, choices=ReturnReason.choices, blank=True, default=""
    )
    feedback_result = models.TextField(_("办理结果"), blank=True)
    satisfaction = models.CharField(
        _("满意度"), max_length=20, choices=Satisfaction.choices, blank=True, default=""
    )
    resolved = models.BooleanField(_("是否解决"), null=True, blank=True)
    rating_comment = models.CharField(_("评价意见"), max_length=500, blank=True)
    rated_at = models.DateTimeField(_("评价时间"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("合并到"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_from",
    )
    # Resident ordering (群众点单): the community offers a registered case to its Party members, one of
    # whom claims it (认领) and handles it as the community's lead (actions/party.py).
    offered_at = models.DateTimeField(_("发布认领时间"), null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("认领党员"),
        null=True,
        blank=True,
        db_index=False,  # a partial index (Meta.indexes): few cases are ever claimed
        on_delete=models.PROTECT,
        related_name="claimed_cases",
    )
    # Whether a resident follows the case (actions.follow_case sets it): the notices of a step ask for
    # the followers only then, instead of every step of every case reading the tickets.
    followed = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    # Not a column: create_case sets it when an idempotent request returns an existing case.
    replayed = False

    class Meta:
        verbose_name = _("工单")
        verbose_name_plural = _("工单")
        ordering = ["-created_at", "-id"]
        constraints = [
            _valid("status", Status, "case_status_valid"),
            _valid("channel", Channel, "case_channel_valid"),
            _valid("type", CaseType, "case_type_valid"),
            _valid("urgency", Urgency, "case_urgency_valid"),
            _valid("warn_level", WarnLevel, "case_warn_level_valid"),
            _valid("satisfaction", Satisfaction, "case_satisfaction_valid", blank=True),
            _valid("return_reason", ReturnReason, "case_return_reason_valid", blank=True),
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="case_idempotency_unique",
            ),
        ]
        indexes = [
            # Repeat callers by phone: a plain index (the field's own db_index also made a LIKE one).
            models.Index(fields=["reporter_phone_index"], name="case_reporter_phone"),
            # The worker claims rows by these deadlines; only open rows are indexed.
            models.Index(fields=["sign_by"], condition=Q(status=Status.DISPATCHED), name="case_sign_by_open"),
            models.Index(
                fields=["due_at"],
                condition=Q(status__in=CLOCK_STATUSES),
                include=[*SCOPE_COLUMNS, "status"],
                name="case_due_open_scope",
            ),
            models.Index(
                fields=["yellow_at"],
                condition=Q(status__in=CLOCK_STATUSES, warn_level=WarnLevel.NONE),
                name="case_yellow_at_open",
            ),
            models.Index(
                fields=["recheck_by"], condition=Q(status=Status.FED_BACK), name="case_recheck_by_open"
            ),
            models.Index(
                fields=["resume_on"], condition=Q(status=Status.DEFERRED), name="case_resume_on_deferred"
            ),
            models.Index(
                fields=["answer_by"], condition=Q(answered_at__isnull=True), name="case_answer_by_open"
            ),
            # The list filters, covering the scope's columns: see SCOPE_COLUMNS.
            models.Index(fields=["status", "created_at"], include=SCOPE_COLUMNS, name="case_status_scope"),
            models.Index(
                fields=["category", "created_at"],
                include=[*SCOPE_COLUMNS, "status"],
                name="case_category_scope",
            ),
            models.Index(fields=["lead_unit", "status"], name="case_lead_status"),
            models.Index(fields=["reporter_user", "created_at"], name="case_reporter_created"),
            # Partial, so the status updates of unclaimed cases (nearly all) do not write it.
            models.Index(
                fields=["claimed_by"], condition=Q(claimed_by__isnull=False), name="case_claimed_by"
            ),
            # A Party member's scope: the cases offered in their community (queries._offered_q), a
            # prefix match; without it a member's list read every case of the community (1M cases:
            # 335 ms). Only offered cases are in it.
            models.Index(
                fields=["territory_path"],
                condition=Q(offered_at__isnull=False),
                opclasses=["varchar_pattern_ops"],
                name="case_offered_scope",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def status_name(self) -> str:
        """As get_status_display(), which rebuilds a map of every choice on each call (a list row,
        an export row and a step reply each ask)."""
        return str(Status(self.status).label)

    @property
    def is_open(self) -> bool:
        return self.status not in FINAL_STATUSES


class CaseSequence(models.Model):
    """The last number given out on one day; its row is locked while a case takes the next one."""

    day = models.DateField(unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day} #{self.last}"


class AssignmentRole(models.TextChoices):
    LEAD = "lead", _("主办")
    ASSIST = "assist", _("协办")


class CaseAssignment(models.Model):
    """A unit a case is with, for one dispatch round; a new dispatch retires the old rows (active=False)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    unit = models.ForeignKey(
        "core.Unit", verbose_name=_("单位"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # The unit's path, copied so "cases with my units and below" is a prefix match on one table.
    unit_path = models.CharField(max_length=255, db_index=True, editable=False)
    role = models.CharField(_("角色"), max_length=10, choices=AssignmentRole.choices)
    active = models.BooleanField(default=True)
    dispatched_at = models.DateTimeField()
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    arrived_at = models.DateTimeField(null=True, blank=True)
    arrived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    arrived_lat = models.FloatField(null=True, blank=True)
    arrived_lng = models.FloatField(null=True, blank=True)

    class Meta:
        verbose_name = _("承办单位")
        verbose_name_plural = _("承办单位")
        ordering = ["-role", "id"]
        constraints = [
            _valid("role", AssignmentRole, "assignment_role_valid"),
            models.UniqueConstraint(
                fields=["case", "unit"], condition=Q(active=True), name="assignment_one_active_per_unit"
            ),
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(active=True, role=AssignmentRole.LEAD),
                name="assignment_one_lead",
            ),
        ]
        indexes = [
            models.Index(fields=["case", "active"], name="assignment_case_active"),
            models.Index(fields=["unit", "active", "signed_at"], name="assignment_unit_unsigned"),
            # The two assignment sets a list reads by unit path (queries._assigned_q, to_sign): small ones.
            models.Index(
                fields=["unit_path"],
                opclasses=["varchar_pattern_ops"],
                condition=Q(active=True, role=AssignmentRole.ASSIST),
                name="assignment_assist_path",
            ),
            models.Index(
                fields=["unit_path"],
                opclasses=["varchar_pattern_ops"],
                condition=Q(active=True, signed_at__isnull=True),
                name="assignment_unsigned_path",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} · {self.unit_id} · {self.role}"


class StepAction(models.TextChoices):
    CREATE = "create", _("受理")
    REGISTER = "register", _("立案")
    REJECT = "reject", _("不予受理")
    WHISTLE = "whistle", _("吹哨")
    DISPATCH = "dispatch", _("派遣")
    SIGN = "sign", _("签收")
    RETURN = "return", _("退回")
    REQUEST_EXTENSION = "request_extension", _("申请延期")
    APPROVE_EXTENSION = "approve_extension", _("同意延期")
    DENY_EXTENSION = "deny_extension", _("不同意延期")
    DEFER = "defer", _("缓办")
    RESUME = "resume", _("恢复办理")
    ARRIVE = "arrive", _("到场报到")
    FEEDBACK = "feedback", _("反馈")
    RECHECK = "recheck", _("核查")
    RATE = "rate", _("评价")
    REOPEN = "reopen", _("重办")
    URGE = "urge", _("催办")
    SUPERVISE = "supervise", _("督办")
    MERGE = "merge", _("合并")
    OFFER = "offer", _("发布党员认领")
    CLAIM = "claim", _("党员认领")
    # Routing (cases.actions.routing): a dispatcher or the system changes the category.
    RECATEGORIZE = "recategorize", _("改分类")
    # Written by the supervision worker (actor None): cases.actions.supervision.
    YELLOW = "yellow", _("黄牌预警")
    RED = "red", _("红牌超期")
    AUTO_URGE = "auto_urge", _("自动催办")
    ESCALATE_ALERT = "escalate_alert", _("超期督办提醒")
    REMIND_SIGN = "remind_sign", _("签收提醒")
    REMIND_RATE = "remind_rate", _("评价提醒")
    REMIND_ANSWER = "remind_answer", _("答复提醒")
    REMIND_RECHECK = "remind_recheck", _("核查提醒")


class CaseStep(models.Model):
    """One step of the timeline. Append-only: it is the case's audit record (see actions._step)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="steps", db_index=False)
    action = models.CharField(_("操作"), max_length=30, choices=StepAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    unit = models.ForeignKey(
        "core.Unit", verbose_name=_("单位"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(_("时间"), db_index=True)
    note = models.TextField(_("说明"), blank=True)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    changes = models.JSONField(_("变更"), default=dict, blank=True)

    class Meta:
        verbose_name = _("办理记录")
        verbose_name_plural = _("办理记录")
        ordering = ["at", "id"]
        constraints = [_valid("action", StepAction, "case_step_action_valid")]
        indexes = [
            models.Index(fields=["case", "at"], name="case_step_case_at"),
            models.Index(fields=["action", "at"], name="case_step_action_at"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.action} {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("case steps are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("case steps are append-only")


class ExtensionStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已同意")
    DENIED = "denied", _("不同意")
    WITHDRAWN = "withdrawn", _("已撤回")


class ExtensionRequest(models.Model):
    """A lead unit's request for more working days; at most one pending per case."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="extension_requests")
    unit = models.ForeignKey("core.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()
    working_days = models.PositiveSmallIntegerField(_("延期工作日"))
    reason = models.CharField(_("理由"), max_length=500)
    status = models.CharField(
        _("状态"), max_length=10, choices=ExtensionStatus.choices, default=ExtensionStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)
    old_due_at = models.DateTimeField(null=True, blank=True)
    new_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("延期申请")
        verbose_name_plural = _("延期申请")
        ordering = ["-requested_at"]
        constraints = [
            _valid("status", ExtensionStatus, "extension_status_valid"),
            models.UniqueConstraint(
                fields=["case"], condition=Q(status=ExtensionStatus.PENDING), name="extension_one_pending"
            ),
        ]
        indexes = [models.Index(fields=["status", "requested_at"], name="extension_status_at")]

    def __str__(self) -> str:
        return f"{self.case_id} +{self.working_days} {self.status}"


class CasePhoto(models.Model):
    """A re-encoded photo (no EXIF) and its thumbnail, under MEDIA_ROOT/cases/."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="photos")
    step = models.ForeignKey(CaseStep, null=True, blank=True, on_delete=models.PROTECT, related_name="photos")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    image = models.FileField(max_length=200)
    thumbnail = models.FileField(max_length=200)
    content_type = models.CharField(max_length=20)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("照片")
        verbose_name_plural = _("照片")
        ordering = ["id"]

    def __str__(self) -> str:
        return str(self.image)


from civicgrid.cases.measure_models import *  # noqa: E402, F403
