"""GET /api/v1/measures: the measures of a unit, of each child unit and (by=person) of its handlers.

Thin: parse the query, call measures.report.report, which sums the daily rollups (docs/measures.md).
A unit outside the caller's scope answers 404; a caller without a staff role answers 403.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from civicgrid.cases.measures.report import report
from civicgrid.core.errors import errors
from civicgrid.people.queries import user_of

router = Router(tags=["measures"])


class MeasuresQuery(Schema):
    unit: str | None = Field(None, description="单位编码；默认为调用者的最高一级单位")
    from_: date | None = Field(None, alias="from", description="开始日期（含），默认 30 天前")
    to: date | None = Field(None, description="结束日期（含），默认今天")
    by: Literal["unit", "person"] = Field("unit", description="person：另列本单位及下级单位的承办人")


class MeasureUnitOut(Schema):
    code: str | None
    name: str
    kind: str
    kind_name: str


class MeasuresOut(Schema):
    orders: int = Field(description="派单数（每个承办单位每次派遣计 1）")
    signed: int
    signed_in_time: int
    rounds: int = Field(description="主办派遣数（办理轮次）")
    returned: int
    due: int = Field(description="应结数：期限或结案落在区间内的办理轮次")
    deferred: int
    closed: int
    closed_on_time: int
    extended: int
    reworked: int
    rated: int
    satisfied: int
    basically_satisfied: int
    dissatisfied: int
    resolved: int
    response_rate: float | None = Field(description="响应率 = 按时签收 ÷ 派单（个人：÷ 签收）")
    on_time_closure_rate: float | None = Field(description="按期结案率 = 按期结案 ÷ (应结 − 缓办)")
    closure_rate: float | None = Field(description="结案率 = 结案 ÷ (应结 − 缓办)")
    resolution_rate: float | None = Field(description="解决率 = 已解决 ÷ 评价数")
    satisfaction_rate: float | None = Field(description="满意率 = (满意 + 基本满意) ÷ 评价数")
    rework_rate: float | None = Field(description="返工率 = 返工过的结案 ÷ 结案")
    extension_rate: float | None = Field(description="延期率 = 延期过的应结 ÷ 应结")
    return_rate: float | None = Field(description="退单率 = 退回 ÷ 主办派遣")
    handling_hours_avg: float | None
    handling_hours_p90: float | None
    small: list[str] = Field(description="分母小于 min_sample 的比率（样本过少，不排名）")


class ChildOut(Schema):
    unit: MeasureUnitOut
    measures: MeasuresOut
    small_sample: bool
    rank: int | None


class PersonRef(Schema):
    id: int
    username: str
    name: str


class PersonOut(Schema):
    user: PersonRef
    measures: MeasuresOut
    small_sample: bool
    rank: int | None


class ReportOut(Schema):
    unit: MeasureUnitOut
    from_: date = Field(alias="from")
    to: date
    min_sample: int
    measures: MeasuresOut
    small_sample: bool
    children: list[ChildOut]
    people: list[PersonOut] | None = None


@router.get(
    "/measures",
    response={200: ReportOut, **errors(401, 403, 404, 422)},
    by_alias=True,
    exclude_none=False,
    summary="考核指标：单位、下级单位及承办人",
)
def measures(request: HttpRequest, query: Query[MeasuresQuery]):
    return report(
        user_of(request),
        unit_code=query.unit,
        start=query.from_,
        end=query.to,
        by_person=query.by == "person",
    )
