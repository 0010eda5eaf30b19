"""What each role does, as the desk tells it (PRODUCT.md, "Who uses it")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from civicgrid.people.models import Role

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

DUTIES: dict[str, list[StrOrPromise]] = {
    Role.RESIDENT: [_("提交诉求（点单）和随手拍"), _("查看办理进度"), _("评价和申请重办")],
    Role.HOUSEHOLD_LEADER: [_("代联户群众提交诉求"), _("接收通知并转告联户群众")],
    Role.GRID_WORKER: [_("巡查上报事件"), _("现场核实群众反映"), _("采集人口基础数据"), _("核查处置结果")],
    Role.MOBILE_REPORTER: [_("路面随手拍：异常、突发事件、社情民意")],
    Role.COMMUNITY_STAFF: [
        _("受理、办理社区事项"),
        _("把居民点单交给党员认领"),
        _("社区解决不了的事项向街道吹哨"),
    ],
    Role.DISPATCHER: [
        _("分拣、派遣（分哨）到内设机构或部门"),
        _("审定退回的工单、审批延期"),
        _("督办、结案"),
    ],
    Role.DEPARTMENT_HANDLER: [_("签收（应哨）工单"), _("到场报到、办理、反馈"), _("退回错派工单、申请延期")],
    Role.PARTY_COMMITTEE: [_("下达点对点指令"), _("检查支部三会一课落实情况")],
    Role.BRANCH_SECRETARY: [_("接收指令、报告进展、整改销号"), _("记录三会一课")],
    Role.PARTY_MEMBER: [_("认领居民点单"), _("接收指令并反馈")],
    Role.DATA_STEWARD: [_("发布主题数据集"), _("审批部门的数据授权申请")],
    Role.LEADER: [_("查看一屏调度大屏和排名")],
    Role.ADMINISTRATOR: [_("配置单位、事项分类、时限和用户")],
}

# The pages where a role does what its duties say, when that is not the case desk (the header links
# that): (URL name, label).
DUTY_PAGES: dict[str, list[tuple[str, StrOrPromise]]] = {
    Role.RESIDENT: [("intake:report", _("随手拍 / 点单")), ("intake:my", _("我的诉求"))],
    Role.HOUSEHOLD_LEADER: [("intake:report", _("代联户提交诉求")), ("intake:my", _("我提交的诉求"))],
    Role.MOBILE_REPORTER: [("intake:report", _("路面随手拍")), ("intake:my", _("我提交的诉求"))],
    Role.GRID_WORKER: [("intake:report", _("巡查上报"))],
}
