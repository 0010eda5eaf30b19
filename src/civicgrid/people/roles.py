"""What each role does, as the desk tells it (PRODUCT.md, "Who uses it")."""

from __future__ import annotations

from civicgrid.people.models import Role

DUTIES: dict[str, list[str]] = {
    Role.RESIDENT: ["提交诉求（点单）和随手拍", "查看办理进度", "评价和申请重办"],
    Role.HOUSEHOLD_LEADER: ["代联户群众提交诉求", "接收通知并转告联户群众"],
    Role.GRID_WORKER: ["巡查上报事件", "现场核实群众反映", "采集人口基础数据", "核查处置结果"],
    Role.MOBILE_REPORTER: ["路面随手拍：异常、突发事件、社情民意"],
    Role.COMMUNITY_STAFF: ["受理、办理社区事项", "把居民点单交给党员认领", "社区解决不了的事项向街道吹哨"],
    Role.DISPATCHER: ["分拣、派遣（分哨）到内设机构或部门", "审定退回的工单、审批延期", "督办、结案"],
    Role.DEPARTMENT_HANDLER: ["签收（应哨）工单", "到场报到、办理、反馈", "退回错派工单、申请延期"],
    Role.PARTY_COMMITTEE: ["下达点对点指令", "检查支部三会一课落实情况"],
    Role.BRANCH_SECRETARY: ["接收指令、报告进展、整改销号", "记录三会一课"],
    Role.PARTY_MEMBER: ["认领居民点单", "接收指令并反馈"],
    Role.DATA_STEWARD: ["发布主题数据集", "审批部门的数据授权申请"],
    Role.LEADER: ["查看一屏调度大屏和排名"],
    Role.ADMINISTRATOR: ["配置单位、事项分类、时限和用户"],
}
