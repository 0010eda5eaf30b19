"""Routing API: a case's suggestion and duplicates, changing its category, keyword rules with a dry run,
and the model versions (with rollback). Mounted at /api/v1/ next to the cases router."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja import Status as Reply
from pydantic import Field

from civicgrid.cases import actions as case_actions
from civicgrid.cases.models import Category
from civicgrid.cases.queries import active_category
from civicgrid.core.errors import Forbidden, InvalidInput, errors
from civicgrid.people.models import Role, User
from civicgrid.routing import actions, queries, registry
from civicgrid.routing.models import KeywordRule, RoutingModel

router = Router(tags=["routing"])


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _category(code: str) -> Category:
    category = active_category(code)
    if category is None:
        raise InvalidInput(_("未知的分类"), details={"category": code})
    return category


class DuplicateOut(Schema):
    number: str
    title: str
    summary: str
    category: str | None
    status: str
    status_name: str
    address: str
    lead_unit: str
    created_at: datetime
    distance_m: float = Field(description="与本工单的距离（米）")
    similarity: float = Field(description="文本相似度 0–1（字符 1–2 元组余弦）")
    score: float = Field(description="综合得分：文本、距离、时间")


class DuplicatesOut(Schema):
    number: str
    items: list[DuplicateOut]


class Limit(Schema):
    limit: int = Field(5, ge=1, le=20)


@router.get(
    "/cases/{number}/duplicates",
    response={200: DuplicatesOut, **errors(401, 403, 404, 422)},
    summary="疑似重复的在办工单",
)
def case_duplicates(request: HttpRequest, number: str, q: Query[Limit]):
    """Open cases of the same category within 300 m and 14 days with similar text, best first.

    Only cases the caller may also see are listed, so each can be merged (POST …/actions/merge).
    """
    user = _user(request)
    case = queries.case_for_routing(user, number)
    found = queries.duplicates_for(user, case, limit=q.limit)
    return {"number": case.number, "items": [queries.duplicate_out(d) for d in found]}


class ScoreOut(Schema):
    category: str
    name: str
    score: float


class SuggestionOut(Schema):
    at: datetime
    model_version: int | None
    source: str
    source_name: str
    rule: str | None
    scores: list[ScoreOut]
    category: str | None
    category_name: str
    confidence: float
    threshold: float | None
    place: str
    place_method: str
    lead_unit: str | None
    lead_unit_name: str
    unit_reason: str
    decided_automatically: bool
    wait_reason: str


class CorrectionOut(Schema):
    at: datetime
    by: str
    suggested_category: str
    final_category: str
    suggested_unit: str
    final_unit: str
    category_changed: bool
    unit_changed: bool


class RoutingOut(Schema):
    number: str
    suggestion: SuggestionOut | None
    keywords: list[str]
    corrections: list[CorrectionOut]


@router.get(
    "/cases/{number}/routing",
    response={200: RoutingOut, **errors(401, 403, 404)},
    summary="派遣建议、关键词与纠正记录",
)
def case_routing(request: HttpRequest, number: str):
    return queries.routing_of(_user(request), number)


class RecategorizeIn(Schema):
    category: str = Field(description="新的分类编码")
    note: str = Field("", max_length=500)


class RecategorizeOut(Schema):
    number: str
    category: str
    status: str


@router.post(
    "/cases/{number}/recategorize",
    response={200: RecategorizeOut, **errors(401, 403, 404, 409, 422)},
    summary="修改分类（改分类）",
)
def recategorize(request: HttpRequest, number: str, body: RecategorizeIn):
    """Community staff or the dispatcher change the category before the case is handled; the change is
    kept as a routing correction when it differs from the suggestion."""
    case = case_actions.recategorize(
        number, by=_user(request), category=_category(body.category), note=body.note
    )
    return {"number": case.number, "category": body.category, "status": case.status}


# --- keyword rules ---------------------------------------------------------------------------------

# The bounds of the column (IntegerField), which the admin's form applies too.
Priority = Annotated[int, Field(ge=-(2**31), le=2**31 - 1, description="数字大的先生效")]


class RuleIn(Schema):
    phrase: str = Field(max_length=100, description="关键词；多个词用空格分开表示须同时包含")
    category: str
    priority: Priority = 0
    note: str = Field("", max_length=200)
    is_active: bool = True
    confirm_changed: int | None = Field(
        None, description="确认试运行给出的“将改变分类”件数；与当前结果不一致时拒绝保存"
    )


class DryRunIn(Schema):
    phrase: str = Field(max_length=100)
    category: str
    priority: Priority = 0


class DryRunOut(Schema):
    matched: int
    changed: int
    already: int
    shadowed: int
    days: int
    limit_hit: bool
    summary: str
    examples: list[dict[str, Any]]


class RuleOut(Schema):
    id: int
    phrase: str
    category: str
    category_name: str
    priority: int
    is_active: bool
    note: str
    dry_run: dict[str, Any]
    updated_at: datetime


def _rule_out(rule: KeywordRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "phrase": rule.phrase,
        "category": rule.category.code,
        "category_name": str(rule.category),
        "priority": rule.priority,
        "is_active": rule.is_active,
        "note": rule.note,
        "dry_run": rule.dry_run,
        "updated_at": rule.updated_at,
    }


@router.post(
    "/routing/rules/dry-run", response={200: DryRunOut, **errors(401, 403, 422)}, summary="关键词规则试运行"
)
def dry_run(request: HttpRequest, body: DryRunIn):
    """How many past cases (last 365 days) the rule matches and how many would change category."""
    result = actions.preview_rule(
        by=_user(request), phrase=body.phrase, category=_category(body.category), priority=body.priority
    )
    return {**result.as_dict(), "summary": result.summary()}


@router.get("/routing/rules", response={200: list[RuleOut], **errors(401, 403)}, summary="关键词规则")
def list_rules(request: HttpRequest):
    actions.require_rule_editor(_user(request))
    return [_rule_out(r) for r in KeywordRule.objects.select_related("category__parent")]


@router.post(
    "/routing/rules",
    response={201: RuleOut, **errors(401, 403, 409, 422)},
    summary="新增关键词规则（先试运行）",
)
def create_rule(request: HttpRequest, body: RuleIn):
    rule = actions.save_rule(
        by=_user(request),
        phrase=body.phrase,
        category=_category(body.category),
        priority=body.priority,
        note=body.note,
        is_active=body.is_active,
        expect_changed=body.confirm_changed,
    )
    return Reply(201, _rule_out(rule))


# --- model versions --------------------------------------------------------------------------------


class ModelOut(Schema):
    version: int
    trained_at: datetime
    data_size: int
    corrections: int
    labels: list[str]
    scores: dict[str, Any]
    thresholds: dict[str, float | None]
    is_active: bool
    note: str


def _require_admin(user: User) -> None:
    from civicgrid.cases.rules import has_role

    if not (user.is_superuser or has_role(user, [Role.ADMINISTRATOR, Role.DISPATCHER])):
        raise Forbidden(_("只有系统管理员或街道指挥中心可以查看和回滚模型"))


def _model_out(row: RoutingModel) -> dict[str, Any]:
    return {
        "version": row.version,
        "trained_at": row.trained_at,
        "data_size": row.data_size,
        "corrections": row.corrections,
        "labels": row.labels,
        "scores": row.scores,
        "thresholds": row.thresholds,
        "is_active": row.is_active,
        "note": row.note,
    }


@router.get("/routing/models", response={200: list[ModelOut], **errors(401, 403)}, summary="分类模型版本")
def list_models(request: HttpRequest):
    _require_admin(_user(request))
    return [_model_out(r) for r in RoutingModel.objects.order_by("-version")[:50]]


@router.post(
    "/routing/models/rollback",
    response={200: ModelOut, **errors(401, 403, 409)},
    summary="回滚到上一个模型版本",
)
def rollback(request: HttpRequest):
    user = _user(request)
    if not (user.is_superuser or _is_admin(user)):
        raise Forbidden(_("只有系统管理员可以回滚模型"))
    return _model_out(registry.rollback(by=user))


def _is_admin(user: User) -> bool:
    from civicgrid.cases.rules import has_role

    return has_role(user, [Role.ADMINISTRATOR])
