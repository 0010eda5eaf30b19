"""The demo world: counts, map, idempotent loading, the command and every demo login."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client, override_settings
from shapely import STRtree
from shapely.geometry import shape
from shapely.ops import unary_union

from civicgrid.cases.models import Category, LimitUnit
from civicgrid.core.models import AuditEntry, Unit, UnitKind
from civicgrid.demo import world
from civicgrid.demo.load import load_world
from civicgrid.people.models import Membership, Role, User
from civicgrid.people.queries import units_visible_to

DOCS = Path(__file__).resolve().parents[4] / "docs" / "demo.md"


@pytest.fixture(scope="module")
def demo_world(django_db_setup, django_db_blocker):
    """The world, loaded once for the module inside a transaction that is rolled back at the end.

    Each test runs in a savepoint inside it (pytest-django's `db`), so tests stay independent.
    A fast hasher keeps the 14 logins cheap; the login path is the same.
    """
    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=hashers), transaction.atomic():
        report = load_world()
        yield report
        transaction.set_rollback(True)


def _counts() -> dict[str, int]:
    return {
        "units": Unit.objects.count(),
        "categories": Category.objects.count(),
        "users": User.objects.count(),
        "memberships": Membership.objects.count(),
        "audit": AuditEntry.objects.count(),
        "unit_audit": AuditEntry.objects.filter(object_type="core.unit").count(),
    }


def _kind_count(kind: str) -> int:
    return Unit.objects.filter(kind=kind).count()


def test_counts_codes_and_names(demo_world, db):
    assert demo_world.created[UnitKind.COMMUNITY] == 16
    assert _kind_count(UnitKind.SUBDISTRICT) == 1
    assert _kind_count(UnitKind.COMMUNITY) == 16
    assert 180 <= _kind_count(UnitKind.GRID) <= 200
    assert 1600 <= _kind_count(UnitKind.HOUSEHOLD_GROUP) <= 1800
    assert _kind_count(UnitKind.DEPARTMENT) == 28
    assert _kind_count(UnitKind.OFFICE) >= 4
    county = Unit.objects.get(code=world.COUNTY_CODE)
    assert set(Unit.objects.filter(kind=UnitKind.DEPARTMENT).values_list("parent", flat=True)) == {county.pk}
    # Every unit is marked as demo data and has a code; territorial codes nest in their parent's.
    for unit in Unit.objects.select_related("parent"):
        assert unit.name.endswith(world.DEMO) and unit.code
        if unit.is_territorial and unit.parent and unit.parent.kind != UnitKind.CITY:
            assert unit.code.startswith(unit.parent.code) and len(unit.code) > len(unit.parent.code)
    assert len(Unit.objects.get(code=world.SUBDISTRICT_CODE).code) == 9
    for community in Unit.objects.filter(kind=UnitKind.COMMUNITY):
        assert 10 <= community.children.count() <= 14
        assert len(community.code) == 12


def test_categories(demo_world, db):
    top = Category.objects.filter(parent__isnull=True)
    assert top.count() == 10
    assert Category.objects.filter(parent__isnull=False).count() == 40
    assert all(c.default_lead_unit_id for c in Category.objects.all())
    gas = Category.objects.get(name="燃气泄漏")
    assert (gas.handle_limit, gas.handle_limit_unit, gas.arrival_required) == (2, LimitUnit.CLOCK_HOURS, True)
    outage = Category.objects.get(name="停电")
    assert (outage.handle_limit, outage.handle_limit_unit) == (24, LimitUnit.CLOCK_HOURS)
    assert outage.default_lead_unit.name.startswith("盘州市供电局")
    enquiry = Category.objects.get(name="低保政策咨询")
    assert (enquiry.handle_limit, enquiry.handle_limit_unit) == (3, LimitUnit.WORKING_DAYS)


def test_grids_tile_communities_and_subdistrict(demo_world, db):
    subdistrict = Unit.objects.get(kind=UnitKind.SUBDISTRICT)
    area = shape(json.loads(subdistrict.polygon))
    assert area.is_valid and area.contains(shape({"type": "Point", "coordinates": [104.47, 25.71]}))
    communities = []
    for community in Unit.objects.filter(kind=UnitKind.COMMUNITY):
        outline = shape(json.loads(community.polygon))
        grids = [shape(json.loads(p)) for p in community.children.values_list("polygon", flat=True)]
        assert all(g.is_valid and g.geom_type == "Polygon" and g.area > 0 for g in grids)
        assert unary_union(grids).symmetric_difference(outline).area < 1e-12
        communities.append(outline)
    assert unary_union(communities).symmetric_difference(area).area < 1e-12
    grids = [
        shape(json.loads(p))
        for p in Unit.objects.filter(kind=UnitKind.GRID).values_list("polygon", flat=True)
    ]
    tree = STRtree(grids)
    left, right = tree.query(grids, predicate="intersects")
    overlaps = [
        (i, j)
        for i, j in zip(left, right, strict=True)
        if i < j and grids[i].intersection(grids[j]).area > 1e-12
    ]
    assert overlaps == []
    assert sum(g.area for g in grids) == pytest.approx(area.area)
    # The bounding-box columns were set by create_unit.
    grid = Unit.objects.get(code=world.FOCUS_GRID)
    assert (grid.min_lng, grid.min_lat, grid.max_lng, grid.max_lat) == pytest.approx(
        shape(json.loads(grid.polygon)).bounds
    )


def test_personas_sit_where_the_story_needs_them(demo_world, db):
    grid = Unit.objects.get(code=world.FOCUS_GRID)
    group = Unit.objects.get(code=world.FOCUS_GROUP)
    community = Unit.objects.get(code=world.FOCUS_COMMUNITY)
    assert grid.path.startswith(community.path) and group.path.startswith(grid.path)
    assert group.kind == UnitKind.HOUSEHOLD_GROUP
    community_staff = User.objects.get(username="community1")
    assert set(units_visible_to(community_staff)) == set(Unit.objects.filter(path__startswith=community.path))
    dispatcher = User.objects.get(username="dispatcher1")
    assert units_visible_to(dispatcher).filter(kind=UnitKind.COMMUNITY).count() == 16
    assert User.objects.get(username="admin").is_superuser


def test_second_load_and_command_change_nothing(demo_world, db):
    before = _counts()
    again = load_world()
    assert not again.changed_anything
    out = StringIO()
    call_command("demo", "--no-serve", "--no-history", stdout=out)  # history: test_history.py
    assert _counts() == before
    text = out.getvalue()
    assert "无需改动" in text and world.PASSWORD in text
    assert all(a.username in text for a in world.DEMO_ACCOUNTS)


def test_reload_restores_the_definition(demo_world, db):
    before = _counts()
    grid = Unit.objects.get(code=world.grid_code(2, 1))
    Unit.objects.filter(pk=grid.pk).update(name="改过的名字")
    # Raw SQL: a plain delete would collect rows of every app that points at units.
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Unit._meta.db_table} WHERE code = %s", [world.grid_code(2, 1) + "00101"]
        )
    report = load_world()
    assert report.created == {UnitKind.HOUSEHOLD_GROUP: 1}
    assert report.updated == {UnitKind.GRID: 1}
    assert Unit.objects.get(pk=grid.pk).name == f"盘江社区第01网格{world.DEMO}"
    after = _counts()
    assert after["units"] == before["units"] and after["unit_audit"] == before["unit_audit"] + 2


@pytest.mark.parametrize("account", world.DEMO_ACCOUNTS, ids=lambda a: a.username)
def test_every_demo_login_reaches_its_desk(demo_world, db, account):
    client = Client()
    response = client.post("/login/", {"username": account.username, "password": world.PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    desk = client.get("/desk/")
    assert desk.status_code == 200
    page = desk.content.decode()
    assert str(account.role.label) in page
    assert Unit.objects.get(code=account.unit_code).name in page
    # The pages the desk sends a role to for its duties open for it (filing: /report/ and /my/).
    pages = re.findall(r'<a class="button" href="([^"]+)"', page)
    if account.role in (Role.RESIDENT, Role.HOUSEHOLD_LEADER, Role.MOBILE_REPORTER, Role.GRID_WORKER):
        assert "/report/" in pages, account.username
    for url in pages:
        assert client.get(url).status_code == 200, (account.username, url)


@pytest.mark.skipif(not DOCS.exists(), reason="docs/ is not shipped with the package")
def test_docs_list_the_demo_logins(demo_world, db):
    names = dict(Unit.objects.values_list("code", "name"))
    assert world.accounts_table(names) in DOCS.read_text(encoding="utf-8")
