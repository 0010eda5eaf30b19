"""The demo world, modelled on Panzhou's Yizi subdistrict (盘州市亦资街道): its definition, no database.

Every name carries "（演示）" so that demo data is never taken for real data, and every unit has a
code, which is what the loader keys on to stay idempotent. The communities, departments and
people are plausible, not real.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from civicgrid.cases.models import CategoryNature, LimitUnit
from civicgrid.core.models import UnitKind
from civicgrid.demo import geometry
from civicgrid.people.models import Role

DEMO = "（演示）"
PASSWORD = "civicgrid-demo"

CITY_CODE = "520200"
COUNTY_CODE = "520281"
SUBDISTRICT_CODE = COUNTY_CODE + "001"

# fmt: off
COMMUNITIES = [
    "亦资社区", "盘江社区", "沙坡社区", "新城社区", "清水社区", "文峰社区", "乐民社区", "大坡社区",
    "坪地社区", "松林社区", "龙井社区", "河滨社区", "银湖社区", "月亮湾社区", "东湖社区", "凤鸣社区",
]

# County departments (职能部门) and utilities: (code suffix, name). dept_cg and dept_sc use 01 and 02.
DEPARTMENTS = [
    ("01", "城市管理局"), ("02", "市场监督管理局"), ("03", "住房和城乡建设局"), ("04", "生态环境局"),
    ("05", "交通运输局"), ("06", "水务局"), ("07", "卫生健康局"), ("08", "教育局"), ("09", "公安局"),
    ("10", "民政局"), ("11", "人力资源和社会保障局"), ("12", "自然资源局"), ("13", "农业农村局"),
    ("14", "应急管理局"), ("15", "司法局"), ("16", "信访局"), ("17", "退役军人事务局"), ("18", "医疗保障局"),
    ("19", "林业局"), ("20", "商务局"), ("21", "文体广电旅游局"), ("22", "生态移民局"),
    ("23", "公安局交通警察大队"), ("24", "消防救援大队"), ("25", "总工会"), ("26", "供电局"),
    ("27", "自来水公司"), ("28", "燃气公司"),
]

# The subdistrict's internal offices (街道内设机构).
OFFICES = [
    ("01", "党政综合办公室"), ("02", "党建工作办公室"), ("03", "社会事务办"), ("04", "城建办"),
    ("05", "经济发展办"), ("06", "综治中心"), ("07", "应急管理办"), ("08", "便民服务中心"),
    ("09", "退役军人服务站"),
]
# fmt: on


def department_code(suffix: str) -> str:
    return f"{COUNTY_CODE}-D{suffix}"


def office_code(suffix: str) -> str:
    return f"{SUBDISTRICT_CODE}-O{suffix}"


def community_code(number: int) -> str:
    return f"{SUBDISTRICT_CODE}{number:03d}"


def grid_code(community: int, grid: int) -> str:
    return f"{community_code(community)}{grid:03d}"


# Where the personas sit: grid 3 of community 1 (亦资社区), and its first building's first group.
FOCUS_COMMUNITY = community_code(1)
FOCUS_GRID = grid_code(1, 3)
FOCUS_GROUP = FOCUS_GRID + "001" + "01"  # building 001, group 01


@dataclass(frozen=True)
class UnitSpec:
    code: str
    kind: str
    name: str
    parent_code: str | None
    polygon: str = ""


def units() -> Iterator[UnitSpec]:
    """Every demo unit, parents before children."""
    rng = random.Random(2022)
    yield UnitSpec(CITY_CODE, UnitKind.CITY, "六盘水市" + DEMO, None)
    yield UnitSpec(COUNTY_CODE, UnitKind.COUNTY, "盘州市" + DEMO, CITY_CODE)
    blocks = geometry.blocks()
    outline = geometry.union([b.outline for b in blocks])
    yield UnitSpec(
        SUBDISTRICT_CODE, UnitKind.SUBDISTRICT, "亦资街道" + DEMO, COUNTY_CODE, geometry.to_geojson(outline)
    )
    for suffix, name in DEPARTMENTS:
        yield UnitSpec(department_code(suffix), UnitKind.DEPARTMENT, f"盘州市{name}{DEMO}", COUNTY_CODE)
    for suffix, name in OFFICES:
        yield UnitSpec(office_code(suffix), UnitKind.OFFICE, f"亦资街道{name}{DEMO}", SUBDISTRICT_CODE)
    for c, (name, block) in enumerate(zip(COMMUNITIES, blocks, strict=True), start=1):
        yield UnitSpec(
            community_code(c),
            UnitKind.COMMUNITY,
            name + DEMO,
            SUBDISTRICT_CODE,
            geometry.to_geojson(geometry.union(block.cells)),
        )
    short = {c: name.removesuffix("社区") for c, name in enumerate(COMMUNITIES, start=1)}
    grids = [(c, g) for c, block in enumerate(blocks, start=1) for g in range(1, len(block.cells) + 1)]
    for c, g in grids:
        yield UnitSpec(
            grid_code(c, g),
            UnitKind.GRID,
            f"{short[c]}社区第{g:02d}网格{DEMO}",
            community_code(c),
            geometry.to_geojson(blocks[c - 1].cells[g - 1]),
        )
    # All buildings, then all groups: a parent always comes before its children.
    buildings: list[tuple[str, str]] = []
    for c, g in grids:
        for b in range(1, rng.randint(3, 6) + 1):
            code = f"{grid_code(c, g)}{b:03d}"
            label = f"{short[c]}社区{g:02d}网格{b}号楼"
            buildings.append((code, label))
            yield UnitSpec(code, UnitKind.BUILDING, label + DEMO, grid_code(c, g))
    for code, label in buildings:
        for k in range(1, rng.randint(1, 3) + 1):
            yield UnitSpec(f"{code}{k:02d}", UnitKind.HOUSEHOLD_GROUP, f"{label}第{k}联户{DEMO}", code)


# --- categories -------------------------------------------------------------------------------

# Handle limits from PRODUCT.md, "Time limits".
EMERGENCY = (2, LimitUnit.CLOCK_HOURS)
UTILITY = (24, LimitUnit.CLOCK_HOURS)
ENQUIRY = (3, LimitUnit.WORKING_DAYS)
GENERAL = (5, LimitUnit.WORKING_DAYS)
COMPLEX = (15, LimitUnit.WORKING_DAYS)


@dataclass(frozen=True)
class CategorySpec:
    code: str
    name: str
    nature: str
    limit: tuple[int, str]
    lead: str  # unit code
    parent_code: str | None = None
    anonymous_allowed: bool = True
    arrival_required: bool = False
    public: bool = True
    description: str = ""


F, E = CategoryNature.FACILITY, CategoryNature.EVENT
CG, SC, ZJ, HB = department_code("01"), department_code("02"), department_code("03"), department_code("04")
JT, SW, GA, MZ = department_code("05"), department_code("06"), department_code("09"), department_code("10")
RS, LY, JJ, XF = department_code("11"), department_code("19"), department_code("23"), department_code("24")
GD, ZLS, RQ = department_code("26"), department_code("27"), department_code("28")
ZZ = office_code("06")

# 大类 (code, name, nature, lead) and their 小类 (code suffix, name, limit, lead or None, flags).
# fmt: off
CATEGORY_TREE: list[tuple[str, str, str, str, list[tuple[str, str, tuple[int, str], str | None, dict]]]] = [
    ("01", "市容环境", E, CG, [
        ("01", "乱堆物堆料", GENERAL, None, {}),
        ("02", "占道经营", GENERAL, None, {}),
        ("03", "违规户外广告", GENERAL, None, {}),
        ("04", "乱贴乱画", GENERAL, None, {}),
    ]),
    ("02", "市政设施", F, ZJ, [
        ("01", "道路破损", GENERAL, None, {}),
        ("02", "井盖缺失破损", EMERGENCY, None, {"arrival_required": True}),
        ("03", "路灯不亮", GENERAL, CG, {}),
        ("04", "排水管道堵塞", UTILITY, SW, {"arrival_required": True}),
    ]),
    ("03", "环境卫生", E, CG, [
        ("01", "垃圾未及时清运", GENERAL, None, {}),
        ("02", "公厕脏乱", GENERAL, None, {}),
        ("03", "露天焚烧", GENERAL, HB, {}),
        ("04", "噪声扰民", GENERAL, HB, {}),
    ]),
    ("04", "园林绿化", F, CG, [
        ("01", "树木倒伏", EMERGENCY, None, {"arrival_required": True}),
        ("02", "绿地损坏", GENERAL, None, {}),
        ("03", "树木修剪", GENERAL, None, {}),
        ("04", "毁林占地", COMPLEX, LY, {}),
    ]),
    ("05", "交通秩序", E, JJ, [
        ("01", "违章停车", GENERAL, None, {}),
        ("02", "信号灯故障", EMERGENCY, None, {"arrival_required": True}),
        ("03", "公交线路咨询", ENQUIRY, JT, {}),
        ("04", "货车违规通行", GENERAL, None, {}),
    ]),
    ("06", "市场监管", E, SC, [
        ("01", "食品安全", GENERAL, None, {}),
        ("02", "价格欺诈", GENERAL, None, {}),
        ("03", "无证经营", COMPLEX, None, {}),
        ("04", "消费维权咨询", ENQUIRY, None, {}),
    ]),
    ("07", "水电气", F, ZLS, [
        ("01", "停水", UTILITY, None, {}),
        ("02", "停电", UTILITY, GD, {}),
        ("03", "燃气泄漏", EMERGENCY, RQ, {"arrival_required": True}),
        ("04", "水管爆裂", UTILITY, None, {"arrival_required": True}),
    ]),
    ("08", "社会治安", E, GA, [
        ("01", "治安隐患", GENERAL, None, {}),
        ("02", "消防通道堵塞", GENERAL, XF, {}),
        ("03", "电动车楼道充电", GENERAL, XF, {}),
        ("04", "可疑人员线索", EMERGENCY, None, {"public": False, "arrival_required": True}),
    ]),
    ("09", "邻里纠纷", E, ZZ, [
        ("01", "邻里矛盾", GENERAL, None, {"anonymous_allowed": False, "arrival_required": True}),
        ("02", "物业纠纷", COMPLEX, ZJ, {"anonymous_allowed": False}),
        ("03", "劳资纠纷", COMPLEX, RS, {"anonymous_allowed": False}),
        ("04", "家庭矛盾", GENERAL, None, {"anonymous_allowed": False, "public": False}),
    ]),
    ("10", "民政服务", E, MZ, [
        ("01", "低保政策咨询", ENQUIRY, None, {}),
        ("02", "困难救助", GENERAL, None, {"anonymous_allowed": False}),
        ("03", "独居老人关爱", GENERAL, None, {"anonymous_allowed": False}),
        ("04", "残疾人帮扶", GENERAL, None, {"anonymous_allowed": False}),
    ]),
]
# fmt: on


def categories() -> Iterator[CategorySpec]:
    """The 大类 (general limit) followed each by its 小类."""
    for code, name, nature, lead, children in CATEGORY_TREE:
        yield CategorySpec(code, name, nature, GENERAL, lead)
        for suffix, child, limit, child_lead, flags in children:
            yield CategorySpec(
                code + suffix, child, nature, limit, child_lead or lead, parent_code=code, **flags
            )


# --- accounts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: Role
    unit_code: str
    is_superuser: bool = False


# The one list of demo logins: the loader, the command's output, docs/demo.md and the README use it.
DEMO_ACCOUNTS: list[DemoAccount] = [
    DemoAccount("admin", "陈建国" + DEMO, Role.ADMINISTRATOR, CITY_CODE, is_superuser=True),
    DemoAccount("resident1", "李秀英" + DEMO, Role.RESIDENT, FOCUS_COMMUNITY),
    DemoAccount("leader1", "王德明" + DEMO, Role.HOUSEHOLD_LEADER, FOCUS_GROUP),
    DemoAccount("grid1", "张丽" + DEMO, Role.GRID_WORKER, FOCUS_GRID),
    DemoAccount("community1", "刘芳" + DEMO, Role.COMMUNITY_STAFF, FOCUS_COMMUNITY),
    DemoAccount("dispatcher1", "杨帆" + DEMO, Role.DISPATCHER, SUBDISTRICT_CODE),
    DemoAccount("dept_cg", "赵军" + DEMO, Role.DEPARTMENT_HANDLER, department_code("01")),
    DemoAccount("dept_sc", "黄敏" + DEMO, Role.DEPARTMENT_HANDLER, department_code("02")),
    DemoAccount("partycommittee1", "周红梅" + DEMO, Role.PARTY_COMMITTEE, SUBDISTRICT_CODE),
    DemoAccount("secretary1", "吴志强" + DEMO, Role.BRANCH_SECRETARY, FOCUS_COMMUNITY),
    DemoAccount("member1", "徐磊" + DEMO, Role.PARTY_MEMBER, FOCUS_COMMUNITY),
    DemoAccount("steward1", "孙婷" + DEMO, Role.DATA_STEWARD, SUBDISTRICT_CODE),
    DemoAccount("viewer1", "马文华" + DEMO, Role.LEADER, COUNTY_CODE),
    DemoAccount("courier1", "朱小龙" + DEMO, Role.MOBILE_REPORTER, COUNTY_CODE),
]


def accounts_table(unit_names: dict[str, str]) -> str:
    """The demo logins as a Markdown table (unit names by code, e.g. from the database or `units()`)."""
    lines = ["| 用户名 | 姓名 | 角色 | 单位 |", "|---|---|---|---|"]
    for a in DEMO_ACCOUNTS:
        lines.append(
            f"| `{a.username}` | {a.display_name} | {a.role.label} | "
            f"{unit_names.get(a.unit_code, a.unit_code)} |"
        )
    return "\n".join(lines)
