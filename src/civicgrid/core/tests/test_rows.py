"""core.rows: written-out reads of joined rows and prebuilt writes behave as the ORM's save()."""

from datetime import timedelta

import pytest
import time_machine
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from civicgrid.core import rows
from civicgrid.core.models import AuditEntry, Unit, UnitKind
from civicgrid.people.models import Membership


@pytest.mark.django_db
def test_insert_fills_defaults_and_auto_times_and_keeps_json_like_save():
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        entry = rows.insert(
            AuditEntry(action="x.test", object_type="t", object_id="1", after={"a": [1, "二"]})
        )
    assert entry.pk is not None and not entry._state.adding
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.at == start and stored.after == {"a": [1, "二"]} and stored.before is None
    again = rows.insert(AuditEntry(action="x.test", object_type="t", object_id="2"))
    assert again.pk > entry.pk  # keys come back from the database, not guessed


@pytest.mark.django_db
def test_insert_many_writes_each_chunk_in_one_statement_and_keys_the_rows_in_order(monkeypatch):
    monkeypatch.setattr(rows, "MANY", 2)
    entries = [
        AuditEntry(action="x.many", object_type="t", object_id=str(n), after={"n": n}) for n in range(5)
    ]
    with CaptureQueriesContext(connection) as ctx:
        written = rows.insert_many(entries)
    inserts = [q for q in ctx.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == (3 if connection.features.can_return_rows_from_bulk_insert else 5)
    assert written == entries and all(not e._state.adding for e in entries)
    stored = {e.pk: (e.object_id, e.after) for e in AuditEntry.objects.filter(action="x.many")}
    assert stored == {e.pk: (str(n), {"n": n}) for n, e in enumerate(entries)}
    assert rows.insert_many([]) == []


@pytest.mark.django_db
def test_update_writes_only_the_named_fields_and_stamps_auto_now():
    unit = Unit.objects.create(kind=UnitKind.DEPARTMENT, name="旧名", code="D-1", path="/")
    Unit.objects.filter(pk=unit.pk).update(code="D-other")  # a concurrent change to another column
    later = timezone.now() + timedelta(hours=1)
    unit.name = "新名"
    with time_machine.travel(later, tick=False), CaptureQueriesContext(connection) as ctx:
        rows.update(unit, ["name", "updated_at"])
    assert len(ctx.captured_queries) == 1
    unit.refresh_from_db()
    assert (unit.name, unit.code, unit.updated_at) == ("新名", "D-other", later)
    gone = Unit(pk=unit.pk + 1000, kind=UnitKind.DEPARTMENT, name="无", code="D-2", path="/")
    with pytest.raises(DatabaseError):
        rows.update(gone, ["name"])


@pytest.mark.django_db(transaction=True)
def test_write_together_writes_every_row_in_one_statement_where_it_can_and_none_without_the_row():
    """Updates, then inserts in runs of one model; a new row's foreign key to another new row gets its
    key (a filing's step and its case)."""
    from django.db import transaction

    unit = Unit.objects.create(kind=UnitKind.DEPARTMENT, name="旧名", code="D-1", path="/")
    unit.name = "新名"
    parent = Unit(kind=UnitKind.DEPARTMENT, name="上级", code="D-P", path="/p/")
    child = Unit(kind=UnitKind.DEPARTMENT, name="下级", code="D-C", path="/p/c/", parent=parent)
    entries = [AuditEntry(action=f"x.both{n}", object_type="unit", object_id=str(n)) for n in (1, 2)]
    with CaptureQueriesContext(connection) as ctx, transaction.atomic():
        rows.write_together([(unit, ["name", "updated_at"])], [parent, child, *entries])
    writes = [q for q in ctx.captured_queries if q["sql"].startswith(("UPDATE", "INSERT", "WITH"))]
    assert len(writes) == (1 if connection.vendor == "postgresql" else 4)
    assert Unit.objects.get(pk=unit.pk).name == "新名"
    assert child.parent_id == parent.pk and Unit.objects.get(pk=child.pk).parent_id == parent.pk
    assert [AuditEntry.objects.get(pk=e.pk).action for e in entries] == ["x.both1", "x.both2"]
    assert not any(i._state.adding for i in [parent, child, *entries])
    gone = Unit(pk=unit.pk + 1000, kind=UnitKind.DEPARTMENT, name="无", code="D-2", path="/")
    lost = AuditEntry(action="x.gone", object_type="unit", object_id="2")
    with pytest.raises(DatabaseError), transaction.atomic():
        rows.write_together([(gone, ["name"])], [lost])
    assert not AuditEntry.objects.filter(action="x.gone").exists()  # the step's transaction rolled back
    orphan = Unit(kind=UnitKind.DEPARTMENT, name="孤儿", code="D-O", path="/o/", parent=Unit(name="未存"))
    with pytest.raises(ValueError, match="unsaved"), transaction.atomic():
        rows.write_together([], [orphan])


@pytest.mark.django_db
def test_related_rows_come_from_aliased_columns_with_the_rest_deferred(world):
    sql = (
        "SELECT m.id, m.user_id, m.unit_id, m.role, m.created_at, "
        + rows.columns("n", "unit__", rows.UNIT_FIELDS)
        + " FROM people_membership m JOIN core_unit n ON n.id = m.unit_id WHERE m.user_id = %s"
    )
    member = next(iter(Membership.objects.raw(sql, [world.users["staff_a1"].pk])))
    unit = rows.related(member, Unit, "unit__", rows.UNIT_FIELDS)
    assert unit is not None and unit.pk == member.unit_id and unit.path.startswith("/")
    assert "polygon" in unit.get_deferred_fields()
    with CaptureQueriesContext(connection) as ctx:
        assert unit.polygon == Unit.objects.get(pk=unit.pk).polygon  # read when touched, not wrong
    assert len(ctx.captured_queries) == 2
    member.unit__id = None
    assert rows.related(member, Unit, "unit__", rows.UNIT_FIELDS) is None  # an outer join's missing row


@pytest.mark.django_db
def test_fetch_reads_like_raw_with_converters_and_extra_columns_each_run():
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        first = rows.insert(AuditEntry(action="x.a", object_type="t", object_id="1", after={"k": 1}))
        rows.insert(AuditEntry(action="x.b", object_type="t", object_id="2", after=None))
    sql = (
        "SELECT id, at, action, after, object_id || '!' AS shout FROM core_auditentry"
        " WHERE action LIKE %s ORDER BY id"
    )
    for _ in range(2):  # the second run takes the plan made by the first
        found = rows.fetch(AuditEntry, sql, ["x.%"])
        assert [(e.pk, e.at, e.action, e.after, e.shout) for e in found] == [  # type: ignore[attr-defined]
            (first.pk, start, "x.a", {"k": 1}, "1!"),
            (first.pk + 1, start, "x.b", None, "2!"),
        ]
        assert found[0].at.tzinfo is not None  # aware on SQLite too, as the ORM gives it
        assert "object_repr" in found[0].get_deferred_fields()
    assert rows.fetch(AuditEntry, sql, ["none.%"]) == []


@pytest.mark.django_db
def test_fetched_instances_equal_the_orms_in_every_attribute_and_state(world):
    user = world.users["staff_a1"]
    sql = (
        "SELECT id, user_id, unit_id, role, created_at FROM people_membership WHERE user_id = %s ORDER BY id"
    )
    ours = rows.fetch(Membership, sql, [user.pk])
    orms = list(Membership.objects.raw(sql, [user.pk]))
    assert ours and len(ours) == len(orms)
    for mine, theirs in zip(ours, orms, strict=True):
        assert type(mine) is Membership and mine == theirs
        plain = {k: v for k, v in vars(mine).items() if k != "_state"}
        assert plain == {k: v for k, v in vars(theirs).items() if k != "_state"}
        assert (mine._state.adding, mine._state.db) == (False, theirs._state.db) == (False, "default")
        assert mine.get_deferred_fields() == theirs.get_deferred_fields()
        assert mine.unit == theirs.unit and mine.unit.pk == mine.unit_id  # relations load as usual
    unit = Unit.objects.get(pk=ours[0].unit_id)
    [whole] = rows.fetch(Unit, "SELECT * FROM core_unit WHERE id = %s", [unit.pk])
    assert whole.get_deferred_fields() == set() and whole.polygon == unit.polygon
    whole.name = "改名"
    whole.save(update_fields=["name"])  # an instance of ours saves as the ORM's does
    assert Unit.objects.get(pk=unit.pk).name == "改名"


@pytest.mark.django_db
def test_models_with_init_receivers_are_built_by_the_orm(world, monkeypatch):
    from django.db.models.signals import post_init

    seen: list[int] = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    monkeypatch.setattr(rows, "_PLAIN", {})
    post_init.connect(receiver, sender=Membership)
    try:
        found = rows.fetch(
            Membership, "SELECT * FROM people_membership WHERE user_id = %s", [world.users["staff_a1"].pk]
        )
    finally:
        post_init.disconnect(receiver, sender=Membership)
    assert found and seen == [m.pk for m in found]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_statements_share_one_cursor_per_connection_and_a_new_connection_gets_its_own(world):
    sql = "SELECT * FROM core_unit WHERE code = %s"
    rows.fetch(Unit, sql, ["520281001001"])
    kept = connection._civicgrid_cursor
    with CaptureQueriesContext(connection) as ctx:  # Django's wrapper still logs every statement
        assert rows.fetch(Unit, sql, ["520281001002"])[0].name == "甲二社区"
    assert connection._civicgrid_cursor is kept and len(ctx.captured_queries) == 1
    connection.close()
    assert rows.fetch(Unit, sql, ["520281002001"])[0].name == "乙一社区"
    assert connection._civicgrid_cursor is not kept and not connection._civicgrid_cursor.closed
