"""A year of case history for the demo, so that every inbox, timeline and measure shows real figures.

Written straight into the tables in bulk rather than through the lifecycle actions: driving ~4,000
cases through ~30,000 actions took minutes, and `make demo` must start in seconds. The simulator
follows the actions' rules (statuses, deadlines from cases.deadlines, one active lead, counters,
one step per transition) and a test checks its output against those invariants. Texts are written
for the demo; nothing comes from real citizens' messages.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from shapely.geometry import Point, shape

from civicgrid.cases import deadlines
from civicgrid.cases.actions import changed_fields, snapshot
from civicgrid.cases.models import (
    CLOCK_STATUSES,
    AssignmentRole,
    Case,
    CaseAssignment,
    CaseSequence,
    CaseStep,
    CaseType,
    Category,
    Channel,
    ExtensionRequest,
    ExtensionStatus,
    LimitUnit,
    Satisfaction,
    Status,
    Urgency,
    WarnLevel,
)
from civicgrid.core import crypto, workcal
from civicgrid.core.models import Unit, UnitKind
from civicgrid.demo import world
from civicgrid.people.models import User

DAYS = 365
SEED = 20261127

# fmt: off
PLACES = ["小区大门口", "菜市场旁", "学校门口", "公交站台", "广场东侧", "3号楼下", "停车场入口", "人民路口",
          "幸福巷", "河边步道", "农贸市场后面", "医院对面", "老街", "新村路", "体育馆旁", "安置点2栋"]
PROBLEMS: dict[str, list[str]] = {
    "乱堆物堆料": ["堆放建筑垃圾一周无人清理", "有人乱堆杂物占用消防通道"],
    "占道经营": ["早上摊贩占道经营堵住人行道", "水果摊摆到马路上影响通行"],
    "违规户外广告": ["新挂的广告牌歪斜有掉落风险", "商铺私自在人行道立广告牌"],
    "乱贴乱画": ["墙面被贴满小广告", "电线杆上乱贴办证广告"],
    "道路破损": ["路面塌陷一个大坑，电动车容易摔倒", "人行道砖块松动翘起"],
    "井盖缺失破损": ["井盖不见了，晚上很危险", "井盖破裂下陷，车辆经过有响声"],
    "路灯不亮": ["一排路灯晚上都不亮", "路灯坏了半个月，晚上出行不便"],
    "排水管道堵塞": ["下水道堵塞污水外溢", "下雨后排水口积水严重"],
    "垃圾未及时清运": ["垃圾桶满了三天没人清运，气味很大", "垃圾收集点周边散落大量垃圾"],
    "公厕脏乱": ["公厕很脏没人打扫", "公厕水龙头坏了一直漏水"],
    "露天焚烧": ["有人露天焚烧垃圾，浓烟很大", "晚上有人烧秸秆"],
    "噪声扰民": ["工地夜间施工噪声扰民", "广场舞音响声音太大影响休息"],
    "树木倒伏": ["大风把行道树吹倒压在路上", "树木倾斜快倒了"],
    "绿地损坏": ["绿化带被车辆碾压损坏", "草坪被人挖去种菜"],
    "树木修剪": ["树枝太长挡住路灯和窗户", "树枝碰到电线需要修剪", "建议修剪路口遮挡视线的树枝"],
    "毁林占地": ["山坡上有人砍树开荒", "林地被占用搭建棚子"],
    "违章停车": ["车辆长期占用人行道停放", "小区门口乱停车堵住通道", "建议在学校门口划临时停车位"],
    "信号灯故障": ["路口红绿灯不亮", "信号灯一直闪黄灯"],
    "公交线路咨询": ["想咨询去高铁站的公交线路", "咨询新开通的公交车发车时间"],
    "货车违规通行": ["大货车白天进城区超速行驶", "渣土车不遮盖沿路掉渣"],
    "食品安全": ["小吃店卫生条件差", "超市卖过期食品"],
    "价格欺诈": ["商家标价和结账价格不一致", "菜市场缺斤短两"],
    "无证经营": ["无证开设的小作坊", "没有营业执照的网吧"],
    "消费维权咨询": ["买到的电器质量有问题想咨询怎么维权", "预付卡商家关门了怎么办"],
    "停水": ["整栋楼停水一天了没有通知", "水压太小楼上没水"],
    "停电": ["小区突然停电", "经常跳闸停电"],
    "燃气泄漏": ["楼道里有很浓的燃气味", "燃气管道接口漏气"],
    "水管爆裂": ["路边水管爆裂大量漏水", "小区主水管破裂"],
    "治安隐患": ["巷子没有监控晚上不安全", "有人在小区门口聚集闹事"],
    "消防通道堵塞": ["消防通道被车辆堵死", "楼道堆满杂物堵住安全出口"],
    "电动车楼道充电": ["有人在楼道给电动车充电", "飞线充电很危险"],
    "可疑人员线索": ["发现可疑人员在小区徘徊", "有人冒充工作人员上门推销"],
    "邻里矛盾": ["楼上漏水到楼下协商不成", "邻居占用公共过道产生矛盾"],
    "物业纠纷": ["物业服务差还要涨物业费", "物业不处理电梯故障"],
    "劳资纠纷": ["在工地干活被拖欠工资三个月", "快递站点拖欠工资"],
    "家庭矛盾": ["夫妻经常吵架需要调解", "老人赡养问题家庭矛盾"],
    "低保政策咨询": ["咨询低保申请需要什么材料", "想了解低保标准"],
    "困难救助": ["家里老人重病生活困难申请救助", "因灾导致生活困难"],
    "独居老人关爱": ["独居老人好几天没出门担心出事", "独居老人需要定期探访"],
    "残疾人帮扶": ["残疾人想申请辅助器具", "残疾人就业帮扶咨询"],
}
RESULTS = ["已安排人员现场处理完毕", "已联系责任单位整改到位", "已清理完毕并加强巡查", "已维修恢复正常",
           "已答复群众并做好解释", "已约谈相关当事人，问题已解决"]
NAMES = ["张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭"]
# fmt: on
CHANNELS = [
    (Channel.RESIDENT, 40),
    (Channel.GRID_PATROL, 25),
    (Channel.HOUSEHOLD_LEADER, 10),
    (Channel.HOTLINE_12345, 15),
    (Channel.MOBILE_REPORTER, 5),
    (Channel.SUPERIOR, 5),
    (Channel.VIDEO, 3),
    (Channel.MEDIA, 2),
]  # fmt: skip
HELP = {"困难救助", "独居老人关爱", "残疾人帮扶"}
TIP_OFFS = {"可疑人员线索", "无证经营", "毁林占地", "露天焚烧"}


def case_type(category: str, problem: str, channel: str) -> str:
    """What the text asks for (no random draw: the rest of the story stays as it was)."""
    if "建议" in problem:
        return CaseType.SUGGESTION
    if "咨询" in category or "咨询" in problem:
        return CaseType.ENQUIRY
    if category in HELP:
        return CaseType.HELP
    if category in TIP_OFFS:
        return CaseType.REPORT
    if channel in (Channel.GRID_PATROL, Channel.VIDEO):
        return CaseType.INCIDENT  # found by the grid, not reported by someone aggrieved
    return CaseType.COMPLAINT


@dataclass
class Sim:
    """One simulated case while its story is told: the row, its steps, assignments and requests."""

    case: Case
    steps: list[CaseStep] = field(default_factory=list)
    assignments: list[CaseAssignment] = field(default_factory=list)
    extensions: list[ExtensionRequest] = field(default_factory=list)
    # The case's workflow fields as the last step left them: each step records what changed since, as
    # [before, after] beside its extras, the shape write_step gives it and the measures' fold reads.
    seen: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.seen = snapshot(self.case)

    def cards(self, now: datetime) -> None:
        """The yellow and red cards the worker would have given the open round by `now`, each a step as
        the worker writes it: the measures count a round due by its red card's step, and the worker
        skips a case already red. Dated when due, or after the round's last step if that came later."""
        case = self.case
        if case.status not in CLOCK_STATUSES or case.due_at is None or case.yellow_at is None:
            return
        last = self.steps[-1].at if self.steps else case.created_at
        if case.yellow_at <= now and case.yellow_at < case.due_at:
            case.warn_level = WarnLevel.YELLOW
            self.step(
                "yellow", max(case.yellow_at, last), case.status, by=None, unit=None, note="办理时限已过 75%"
            )
        if case.due_at <= now:
            case.warn_level = WarnLevel.RED
            deadline = timezone.localtime(case.due_at).isoformat()
            at = max(case.due_at, last)
            self.step("red", at, case.status, by=None, unit=None, note="已超过办理期限", deadline=deadline)

    def step(
        self,
        action: str,
        at: datetime,
        to: str,
        *,
        by: User | None,
        unit: Unit | None,
        note: str = "",
        **extra: Any,
    ) -> None:
        from_status, self.case.status = self.case.status, to
        after = snapshot(self.case)
        changes = changed_fields(self.seen, after)
        changes.pop("status", None)
        self.seen = after
        self.steps.append(
            CaseStep(
                case=self.case,
                action=action,
                actor=by,
                unit=unit,
                at=at,
                note=note,
                from_status=from_status,
                to_status=to,
                changes={**changes, **extra},
            )
        )


class History:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.stop = timezone.now()
        self.tz = timezone.get_current_timezone()
        self.subdistrict = Unit.objects.get(code=world.SUBDISTRICT_CODE)
        self.communities = list(Unit.objects.filter(kind=UnitKind.COMMUNITY, parent=self.subdistrict))
        grids = Unit.objects.filter(kind=UnitKind.GRID, parent__in=self.communities)
        self.grids: dict[int, list[tuple[Unit, Any]]] = {}
        for grid in grids:
            self.grids.setdefault(grid.parent_id or 0, []).append((grid, shape(json.loads(grid.polygon))))
        self.categories = list(Category.objects.filter(parent__isnull=False, is_active=True))
        self.users = {
            u.username: u for u in User.objects.filter(username__in=[a.username for a in world.DEMO_ACCOUNTS])
        }
        self.focus = Unit.objects.get(code=world.FOCUS_COMMUNITY)

    # --- helpers --------------------------------------------------------------------------------
    def later(self, start: datetime, hours: float) -> datetime:
        """A moment some working hours after start (people act in office hours)."""
        return deadlines.deadline(start, max(hours, 0.05), LimitUnit.WORKING_HOURS)

    def staff(self, community: Unit) -> User | None:
        return self.users["community1"] if community.pk == self.focus.pk else None

    def handler(self, unit: Unit) -> User | None:
        return {
            world.department_code("01"): self.users["dept_cg"],
            world.department_code("02"): self.users["dept_sc"],
        }.get(unit.code or "")

    def point(self, community: Unit) -> tuple[Unit, float, float]:
        grids = self.grids[community.pk]
        grid, polygon = self.rng.choices(grids, [4 if g.code == world.FOCUS_GRID else 1 for g, _ in grids])[0]
        minx, miny, maxx, maxy = polygon.bounds
        while True:
            lng, lat = self.rng.uniform(minx, maxx), self.rng.uniform(miny, maxy)
            if polygon.contains(Point(lng, lat)):
                return grid, lat, lng

    # --- one case -------------------------------------------------------------------------------
    def case(self, created: datetime) -> Sim:
        rng = self.rng
        # The focus community (community1, grid1) gets a larger share so its desks are busy.
        community = rng.choices(
            self.communities, [4 if c.pk == self.focus.pk else 1 for c in self.communities]
        )[0]
        grid, lat, lng = self.point(community)
        category = rng.choice(self.categories)
        channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
        urgent = category.handle_limit_unit == LimitUnit.CLOCK_HOURS and category.handle_limit <= 2
        place = rng.choice(PLACES)
        problem = rng.choice(PROBLEMS.get(category.name, ["需要处理"]))
        text = f"{community.name.removesuffix(world.DEMO)}{place}{problem}。"
        surname = rng.choice(NAMES)
        phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
        anonymous = category.anonymous_allowed and rng.random() < 0.15
        creator = (
            self.users["grid1"] if channel == Channel.GRID_PATROL and community.pk == self.focus.pk else None
        )
        case = Case(
            channel=channel,
            type=case_type(category.name, problem, channel),
            category=category,
            urgency=Urgency.URGENT if urgent else Urgency.NORMAL,
            title=f"{place}{category.name}",
            description=text,
            status=Status.RECEIVED,
            lat=lat,
            lng=lng,
            address=f"{community.name.removesuffix(world.DEMO)}{place}",
            locate_method="grid",
            grid=grid,
            community=community,
            subdistrict=self.subdistrict,
            territory=grid,
            territory_path=grid.path,
            anonymous=anonymous,
            created_by=creator,
            reporter_name_enc=""
            if anonymous
            else crypto.encrypt(f"{surname}先生" if rng.random() < 0.5 else f"{surname}女士"),
            reporter_phone_enc="" if anonymous else crypto.encrypt(phone),
            reporter_phone_index="" if anonymous else crypto.blind_index(phone),
            created_at=created,
            answer_by=deadlines.answer_by(created, category, Urgency.URGENT if urgent else Urgency.NORMAL),
        )
        # Recent cases often stop part-way, so that every inbox has work waiting in it today.
        now = self.stop = timezone.now()
        if created > self.stop - timedelta(days=4) and rng.random() < 0.6:
            self.stop = min(self.stop, created + timedelta(hours=rng.expovariate(1 / 8)))
        sim = Sim(case)
        sim.steps.append(
            CaseStep(
                case=case,
                action="create",
                actor=creator,
                unit=grid if creator else None,
                at=created,
                to_status=Status.RECEIVED,
                changes={"channel": channel},
            )
        )
        self.tell(sim, community)
        # A round still open where the story stopped: the worker would have carded it by now (the
        # clock ran on after the last person acted).
        sim.cards(now)
        return sim

    def tell(self, sim: Sim, community: Unit) -> None:
        """Walks the case through the lifecycle with realistic odds, stopping at `now` for recent cases."""
        rng, case, now = self.rng, sim.case, self.stop
        staff = self.staff(community)
        at = self.later(case.created_at, rng.uniform(0.2, 2.5))
        if at > now:
            return
        if rng.random() < 0.03:
            case.reject_reason = "不属于受理范围，已告知反映人咨询相关部门"
            case.answered_at = at
            sim.step("reject", at, Status.REJECTED, by=staff, unit=community, note=case.reject_reason)
            return
        case.registered_at = case.answered_at = at
        sim.step("register", at, Status.REGISTERED, by=staff, unit=community)
        # More of the last fortnight's, so that member1's desk has work today.
        share = 0.3 if case.created_at > timezone.now() - timedelta(days=14) else 0.1
        if community.pk == self.focus.pk and case.urgency == Urgency.NORMAL and rng.random() < share:
            self.offer(sim, community, at)  # 群众点单: offered to the community's Party members
            return
        lead: Unit = case.category.default_lead_unit or self.subdistrict  # type: ignore[union-attr]
        if rng.random() < 0.25 and case.category.nature == "event":  # type: ignore[union-attr]
            lead = community  # the community handles it itself
        elif rng.random() < 0.2:
            at = self.later(at, rng.uniform(0.5, 4))
            if at > now:
                return
            sim.step(
                "whistle", at, Status.ESCALATED, by=staff, unit=community, note="社区无法解决，申请街道协调"
            )
        rounds = 0
        while True:
            rounds += 1
            at = self.later(at, rng.uniform(0.2, 3))
            if at > now:
                return
            self.dispatch(sim, lead, at)
            if rng.random() < 0.06 and rounds == 1 and lead.kind == UnitKind.DEPARTMENT:
                at = self.later(at, rng.uniform(0.3, 6))
                if at > now:
                    return
                case.return_count += 1
                case.return_reason = "not_our_duty"
                sim.step(
                    "return",
                    at,
                    Status.RETURNED,
                    by=self.handler(lead),
                    unit=lead,
                    note="不属于本单位职责",
                    reason_code="not_our_duty",
                )
                lead = self.rng.choice(
                    [u for u in {c.default_lead_unit for c in self.categories} if u and u != lead]
                )
                continue
            break
        self.handle(sim, lead, at, community)

    def offer(self, sim: Sim, community: Unit, at: datetime) -> None:
        """Offered to the Party members (member1 registered with the focus community), who claim it."""
        rng, case, now = self.rng, sim.case, self.stop
        at = self.later(at, rng.uniform(0.2, 1.5))
        if at > now:
            return
        case.offered_at = at
        note = "群众点单，请在职党员认领"
        sim.step("offer", at, Status.REGISTERED, by=self.staff(community), unit=community, note=note)
        at = self.later(at, rng.uniform(0.3, 8))
        # Half of this week's offers still wait, so that member1's 待认领 has something in it.
        if at > now or (case.created_at > timezone.now() - timedelta(days=7) and rng.random() < 0.5):
            return
        self.dispatch(sim, community, at, claimer=self.users["member1"])
        self.work(sim, community, at, community, self.users["member1"])

    def dispatch(self, sim: Sim, lead: Unit, at: datetime, *, claimer: User | None = None) -> None:
        """A dispatch to `lead`; with `claimer`, a Party member's claim (dispatch and sign-for at once)."""
        case = sim.case
        for old in sim.assignments:
            old.active = False
        case.lead_unit = lead
        case.first_dispatched_at = case.first_dispatched_at or at
        case.dispatched_at = at
        case.sign_by, case.due_at, case.yellow_at = deadlines.of_round(at, case.category, case.urgency)
        case.signed_at = at if claimer else None
        # A new round, as handling.assign starts one: the last round's outcome is cleared (a reopening
        # kept the old feedback time, earlier than the new dispatch, in the export).
        case.fed_back_at = case.recheck_by = case.closed_at = case.rate_by = None
        case.feedback_result = case.return_reason = ""
        case.warn_level = WarnLevel.NONE
        case.claimed_by = claimer
        by = self.users["dispatcher1"] if lead.kind != UnitKind.COMMUNITY else self.staff(lead)
        sim.assignments.append(
            CaseAssignment(
                case=case,
                unit=lead,
                unit_path=lead.path,
                role=AssignmentRole.LEAD,
                dispatched_at=at,
                dispatched_by=claimer or by,
                signed_at=at if claimer else None,
                signed_by=claimer,
            )
        )
        if claimer:
            sim.step("claim", at, Status.SIGNED, by=claimer, unit=lead, note="我来帮忙办理")
            return
        sim.step(
            "dispatch",
            at,
            Status.DISPATCHED,
            by=by,
            unit=lead.parent if lead.kind == UnitKind.COMMUNITY else self.subdistrict,
            lead_unit=lead.code or lead.pk,
            assisting_units=[],
        )

    def handle(self, sim: Sim, lead: Unit, at: datetime, community: Unit) -> None:
        rng, case, now = self.rng, sim.case, self.stop
        handler = self.handler(lead) if lead.kind != UnitKind.COMMUNITY else self.staff(lead)
        late_sign = rng.random() < 0.1
        at = self.later(at, rng.uniform(1.1, 4) if late_sign else rng.uniform(0.05, 0.9))
        if at > now:
            return
        sim.assignments[-1].signed_at = case.signed_at = at
        sim.assignments[-1].signed_by = handler
        sim.step("sign", at, Status.SIGNED, by=handler, unit=lead, role="lead")
        self.work(sim, lead, at, community, handler)

    def defer(self, sim: Sim, at: datetime, resume_on: date, note: str) -> None:
        sim.case.deferred, sim.case.resume_on = True, resume_on
        dispatcher = self.users["dispatcher1"]
        sim.step("defer", at, Status.DEFERRED, by=dispatcher, unit=self.subdistrict, note=note)

    def review(self, sim: Sim) -> None:
        """A case still deferred at the load (挂账) was reviewed the working day before each resume day
        and deferred again, as the dispatcher does while it cannot be solved; else the worker would
        resume years of them on its first run."""
        cal = workcal.calendar()
        today = timezone.localdate(self.stop)
        while (day := sim.case.resume_on) is not None and day <= today:
            eve = day - timedelta(days=1)
            while not cal.is_workday(eve):
                eve -= timedelta(days=1)
            at = datetime.combine(eve, time(9, 30), tzinfo=cal.tz)
            self.defer(sim, at, day + timedelta(days=self.rng.randint(30, 90)), "资金仍未落实，继续缓办")

    def work(self, sim: Sim, lead: Unit, at: datetime, community: Unit, handler: User | None) -> None:
        """From sign-for on: deferral, extension, feedback and re-check, rating, reopening."""
        rng, case, now = self.rng, sim.case, self.stop
        if rng.random() < 0.03:
            at = self.later(at, rng.uniform(2, 20))
            if at > now:
                return
            # Two in five are solved weeks later (the funds came through) and fed back from 缓办,
            # before the day the deferral named.
            solved = self.later(at, rng.uniform(80, 400)) if rng.random() <= 0.4 else None
            back = timezone.localdate(solved or at) + timedelta(
                days=rng.randint(30, 120) if not solved else 7
            )
            self.defer(sim, at, back, "涉及资金和规划，暂缓办理")
            if solved is None or solved > now:
                self.review(sim)
                return
            at = solved
        extend = False
        if rng.random() < 0.08 and case.due_at and not case.deferred:
            ask = self.later(at, rng.uniform(2, 10))
            if ask > now:
                return
            extend = ask < case.due_at  # asked once the deadline had passed: no extension, handled late
        if extend:
            days = rng.choice([2, 3, 5])
            old_due = case.due_at
            assert old_due is not None  # extend is only set with a deadline
            decided = self.later(ask, rng.uniform(0.5, 3))
            if decided > now:  # still waiting for the dispatcher
                sim.extensions.append(
                    ExtensionRequest(
                        case=case,
                        unit=lead,
                        requested_by=handler,
                        requested_at=ask,
                        working_days=days,
                        reason="需要协调多个部门，申请延期",
                    )
                )
                sim.step("request_extension", ask, Status.SIGNED, by=handler, unit=lead, working_days=days)
                return
            case.due_at = deadlines.extended(old_due, days, case.category, case.urgency)
            sim.extensions.append(
                ExtensionRequest(
                    case=case,
                    unit=lead,
                    requested_by=handler,
                    requested_at=ask,
                    working_days=days,
                    reason="需要协调多个部门，申请延期",
                    status=ExtensionStatus.APPROVED,
                    decided_by=self.users["dispatcher1"],
                    decided_at=decided,
                    old_due_at=old_due,
                    new_due_at=case.due_at,
                )
            )
            sim.step("request_extension", ask, Status.SIGNED, by=handler, unit=lead, working_days=days)
            case.extension_count += 1
            sim.step(
                "approve_extension",
                decided,
                Status.SIGNED,
                by=self.users["dispatcher1"],
                unit=self.subdistrict,
                working_days=days,
            )
            case.yellow_at = deadlines.yellow_at(
                case.dispatched_at or at,
                case.due_at,
                clock_time=deadlines.around_the_clock(case.category, case.urgency),
            )
            at = decided
        for attempt in range(3):
            due = case.due_at or at
            limit_hours = max(workcal.calendar().working_seconds_between(at, due) / 3600, 1)
            on_time = rng.random() < 0.88
            at = self.later(
                at, rng.uniform(0.1, 0.9) * limit_hours if on_time else limit_hours + rng.uniform(1, 20)
            )
            if at > now:
                return
            case.fed_back_at = at
            case.resume_on = None
            case.feedback_result = rng.choice(RESULTS)
            case.recheck_by = deadlines.recheck_by(at, case.category)
            sim.step("feedback", at, Status.FED_BACK, by=handler, unit=lead, note=case.feedback_result)
            at = self.later(at, rng.uniform(0.5, 6))
            if at > now:
                return
            checker = self.users["grid1"] if community.pk == self.focus.pk else None
            if attempt < 2 and rng.random() < 0.07:
                case.rework_count += 1
                case.fed_back_at = None
                sim.step(
                    "recheck",
                    at,
                    Status.SIGNED,
                    by=checker,
                    unit=case.grid,
                    note="现场核查未整改到位，返工",
                    passed=False,
                )
                continue
            case.closed_at = at
            case.rate_by = deadlines.rate_by(at, case.category)
            case.recheck_by = None
            sim.step(
                "recheck", at, Status.CLOSED, by=checker, unit=case.grid, note="现场核查已整改", passed=True
            )
            break
        else:
            return
        if case.anonymous or rng.random() > 0.7:
            return
        at = at + timedelta(hours=rng.uniform(2, 100))
        if at > now or at > case.rate_by:
            return
        roll = rng.random()
        case.satisfaction = (
            Satisfaction.SATISFIED
            if roll < 0.8
            else Satisfaction.BASICALLY_SATISFIED
            if roll < 0.92
            else Satisfaction.DISSATISFIED
        )
        case.resolved = case.satisfaction != Satisfaction.DISSATISFIED or rng.random() < 0.3
        case.rated_at = at
        reopen = case.satisfaction == Satisfaction.DISSATISFIED or not case.resolved
        sim.step(
            "rate",
            at,
            Status.CLOSED,
            by=self.staff(community),
            unit=community,
            note="电话回访" + ("，群众不满意" if reopen else "，群众满意"),
            satisfaction=case.satisfaction,
            resolved=case.resolved,
        )
        if reopen:
            case.reopen_count += 1
            self.dispatch(sim, lead, at)
            sim.steps[-1].action = "reopen"
            sim.steps[-1].note = "群众不满意，重新办理"
            self.handle(sim, lead, at, community)


def load_history(*, days: int = DAYS, per_weekday: int = 13, seed: int = SEED) -> int:
    """Loads `days` of history up to now into an empty case table; returns the cases made."""
    if Case.objects.exists():
        return 0  # the history goes into a fresh demo only: real or later cases are never mixed in
    rng = random.Random(seed)
    today = timezone.localdate()
    history = History(rng)
    sims: list[Sim] = []
    sequence: dict[date, int] = {}
    now = timezone.now()
    for offset in range(days, -1, -1):
        day = today - timedelta(days=offset)
        count = per_weekday if day.weekday() < 5 else per_weekday // 2
        count = max(0, round(rng.gauss(count, count * 0.25)))
        starts = (
            datetime.combine(day, time(7, 30), history.tz) + timedelta(minutes=rng.uniform(0, 780))
            for _ in range(count)
        )
        moments = sorted(m for m in starts if m < now)
        for created in moments:
            sim = history.case(created)
            sequence[day] = sequence.get(day, 0) + 1
            sim.case.number = f"CG{day:%Y%m%d}-{sequence[day]:04d}"
            sims.append(sim)
    with transaction.atomic():
        cases = Case.objects.bulk_create([s.case for s in sims], batch_size=500)
        # created_at is auto_now_add: bulk_create stamps it with now, so put the story's moments back.
        for sim in sims:
            sim.case.created_at = sim.steps[0].at
        Case.objects.bulk_update(cases, ["created_at"], batch_size=500)
        CaseAssignment.objects.bulk_create([a for s in sims for a in s.assignments], batch_size=1000)
        ExtensionRequest.objects.bulk_create([e for s in sims for e in s.extensions], batch_size=1000)
        CaseStep.objects.bulk_create([st for s in sims for st in s.steps], batch_size=2000)
        CaseSequence.objects.bulk_create(
            [CaseSequence(day=d, last=n) for d, n in sequence.items()], ignore_conflicts=True
        )
    return len(cases)
