"""From which statuses each case step may be taken: one named set per step, the only home of that rule.

The actions (cases/actions) refuse a step outside its set with InvalidTransition (409), and the desk's
dry run (cases/desk_queries/steps.py) hides the step's button outside the same set; both import these
names, so a change here changes both. The refusal messages stay with their checks, in the actions and
in the dry run.

A module of its own rather than cases/rules.py: rules answers "who may act, as which unit" (Forbidden)
and imports no case model at run time, so that models and queries can use it without a cycle; these
sets answer "from which state" (InvalidTransition) and need Status. Each action asks the two questions
in that order.
"""

from __future__ import annotations

from civicgrid.cases.models import OPEN_STATUSES, Status

# Intake (actions/intake.py).
REGISTRABLE = (Status.RECEIVED,)  # 立案
REJECTABLE = (Status.RECEIVED, Status.REGISTERED, Status.ESCALATED)  # 不予受理 (escalated: subdistrict only)
WHISTLEABLE = (Status.RECEIVED, Status.REGISTERED)  # 吹哨
MERGEABLE = (  # 合并 (the case merged away; the target only has to be open)
    Status.RECEIVED,
    Status.REGISTERED,
    Status.ESCALATED,
    Status.DISPATCHED,
    Status.RETURNED,
)

# Handling (actions/handling.py).
DISPATCHABLE = (Status.REGISTERED, Status.ESCALATED, Status.RETURNED)  # 派遣 by the subdistrict
COMMUNITY_DISPATCHABLE = (Status.REGISTERED, Status.RETURNED)  # 派遣 by the community (returned: its own)
SIGNABLE = (Status.DISPATCHED, Status.SIGNED, Status.DEFERRED)  # 签收 (assisting units sign late too)
RETURNABLE = (Status.DISPATCHED, Status.SIGNED)  # 退回
EXTENDABLE = (Status.SIGNED,)  # 申请延期
# 同意/不同意延期. A request is made at `signed` and may wait through a deferral, so these are also the
# only statuses in which a pending request can exist (actions._common.withdraw_pending_extension).
EXTENSION_RULED = (Status.SIGNED, Status.DEFERRED)
DEFERRABLE = (Status.SIGNED, Status.DEFERRED)  # 缓办 (again: a new resume date)
RESUMABLE = (Status.DEFERRED,)  # 恢复办理
ARRIVABLE = (Status.DISPATCHED, Status.SIGNED, Status.DEFERRED)  # 到场报到 (after signing)
FEEDBACKABLE = (Status.SIGNED, Status.DEFERRED)  # 反馈

# Resident ordering (actions/party.py): the community offers a registered case to its Party members and
# one claims it, before anybody else takes it (a dispatch or a whistle ends the offer).
OFFERABLE = (Status.REGISTERED,)  # 发布党员认领
CLAIMABLE = (Status.REGISTERED,)  # 党员认领

# Closing the loop (actions/closing.py, and actions/public.py's rating by ticket).
RECHECKABLE = (Status.FED_BACK,)  # 核查
RATEABLE = (Status.CLOSED,)  # 回访评价
REOPENABLE = (Status.CLOSED,)  # 重办
OVERSEEABLE = OPEN_STATUSES  # 催办, 督办

# Steps the desk has no step button for.
AUTO_DISPATCHABLE = (Status.RECEIVED, Status.REGISTERED)  # routing's automatic dispatch
# 改分类: before anybody handles it; afterwards the category would change the time limit of work under way.
RECATEGORIZABLE = (Status.RECEIVED, Status.REGISTERED, Status.ESCALATED, Status.RETURNED)
ABUSE_MARKABLE = (Status.RECEIVED, Status.REGISTERED, Status.ESCALATED)  # 标记恶意反映 (public.py)
