"""Reading and writing rows without building ORM queries, for the API's per-request path.

The reads and writes that every API request or case step makes are written as SQL because building
them through the ORM cost more Python than the database spent on them (decision 0005,
docs/performance.md "api-lifecycle"):

- `fetch(Model, sql, params)` reads like `Model.objects.raw` (converters, deferred fields, extra
  columns as attributes), with the column-to-field plan worked out once per statement;
- a joined row comes back as aliased columns (`columns("n", "unit__", UNIT_FIELDS)`) and becomes an
  instance through `related(...)`; fields not read stay deferred, so touching one costs a query
  instead of giving a wrong value;
- the rows of a one-to-many part come back as one JSON column from a subquery (`json_objects`) and
  become instances through `from_json`;
- instances are built without `Model.__init__` (`_instance`), as `from_db` would build them;
- `update(instance, fields)` and `insert(instance)` write as `save()` does, with statements built
  once per model and field list, and without model signals; `insert_many(instances)` writes new
  rows of one model in one statement, `write_together` updates and inserts of several in one.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from django.db import DatabaseError, connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import signals
from django.db.models.base import ModelState
from django.db.models.sql import Query

M = TypeVar("M", bound=models.Model)


@contextmanager
def _cursor(connection: BaseDatabaseWrapper) -> Iterator[Any]:
    """`connection.cursor()`, but on PostgreSQL over one psycopg cursor kept with the connection.

    A fresh psycopg cursor looks up a dumper for every parameter and a loader for every column again
    on its first run: with Django's wrapper around it, 45-50 µs a statement on the reference machine
    against a reused one, more for the locked case's hundred columns, and an API step makes eight
    to twelve statements through here. The wrapper is still Django's (query logging, execute
    wrappers, error translation); each use fetches its results before the next can start, and the
    connection is per thread. A new connection (after a close or a failed health check) gets a new
    cursor."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    kept = getattr(connection, "_civicgrid_cursor", None)
    if kept is None or kept.connection is not raw or kept.closed:
        kept = connection._civicgrid_cursor = connection.create_cursor()  # type: ignore[attr-defined]
    with connection.wrap_database_errors:
        yield connection._prepare_cursor(kept)  # type: ignore[attr-defined]


# The unit columns that scope checks, pages and replies read; polygons and bounding boxes stay behind.
UNIT_FIELDS = ("id", "kind", "name", "code", "parent_id", "path", "depth", "is_active")


class _Plan(NamedTuple):
    names: list[str]  # attnames of the model's fields the statement selects, in field order
    positions: list[int]  # where each of them is in a row
    extras: list[tuple[str, int]]  # other columns, set as attributes
    converters: list[tuple[int, list[Any], Any]]  # (position, converters, column) as the ORM applies


_PLANS: dict[tuple[str, type[models.Model], str], _Plan] = {}


def fetch(model: type[M], sql: str, params: Sequence[Any] = ()) -> list[M]:
    """`model.objects.raw(sql, params)` as a list, with the mapping of columns to fields worked out
    once per statement: RawQuerySet redoes it on every run (fields × columns), which for a step's
    locked case with its joined rows cost more than the query."""
    connection = connections[router.db_for_read(model)]
    key = (connection.alias, model, sql)
    with _cursor(connection) as cursor:
        cursor.execute(sql, params)
        plan = _PLANS.get(key)
        if plan is None:
            if len(_PLANS) > 2000:  # statements with IN lists come in many lengths; keep it bounded
                _PLANS.clear()
            plan = _PLANS[key] = _plan(connection, model, [c[0] for c in cursor.description])
        found = cursor.fetchall()
    out = []
    for row in found:
        values = list(row)
        for pos, converters, column in plan.converters:
            value = values[pos]
            for converter in converters:
                value = converter(value, column, connection)
            values[pos] = value
        instance = _instance(model, connection.alias, plan.names, [values[p] for p in plan.positions])
        for name, pos in plan.extras:
            setattr(instance, name, values[pos])
        out.append(instance)
    return out


def _plan(connection: BaseDatabaseWrapper, model: type[models.Model], columns: list[str]) -> _Plan:
    """What RawModelIterable works out for each run (django.db.models.query), once."""
    by_column = {f.column: f for f in model._meta.concrete_fields}
    selected = [f for f in model._meta.concrete_fields if f.column in columns]
    assert model._meta.pk in selected, f"a read of {model._meta.label} must select its primary key"
    extras = [(name, pos) for pos, name in enumerate(columns) if name not in by_column]
    cols = [
        f.get_col(f.model._meta.db_table) if (f := by_column.get(name)) is not None else None
        for name in columns
    ]
    compiler = connection.ops.compiler("SQLCompiler")(Query(model), connection, connection.alias)
    found = compiler.get_converters(cols)  # type: ignore[arg-type]  # None for columns of no field
    converters = [(pos, convs, col) for pos, (convs, col) in found.items()]
    return _Plan(
        [f.attname for f in selected], [columns.index(str(f.column)) for f in selected], extras, converters
    )


def columns(alias: str, prefix: str, fields: Sequence[str]) -> str:
    """`alias.field AS prefixfield, …` for a SELECT list."""
    return ", ".join(f"{alias}.{name} AS {prefix}{name}" for name in fields)


def related(row: models.Model, model: type[M], prefix: str, fields: Sequence[str]) -> M | None:
    """The `model` instance whose aliased columns `row` carries; None for a missing (outer-joined) row.

    `fields` are attnames in the model's field order, the first one its primary key."""
    values = [getattr(row, f"{prefix}{name}") for name in fields]
    if values[0] is None:
        return None
    return _instance(model, row._state.db, fields, values)


def json_objects(vendor: str, values: dict[str, str]) -> str:
    """An aggregate of a subquery's rows as one JSON array of objects, each key the value of its SQL
    expression: one column instead of a join or a statement (`from_json` reads it back). NULL when
    there are no rows."""
    pairs = ", ".join(f"'{key}', {expression}" for key, expression in values.items())
    if vendor == "postgresql":
        return f"json_agg(json_build_object({pairs}))"
    return f"json_group_array(json_object({pairs}))"  # SQLite


def from_json(model: type[M], value: Any, db: str | None) -> list[M]:
    """Instances of `model` from a `json_objects` column, each field's value as the ORM would give it
    (time stamps aware); other keys become attributes, as in `fetch`, and the fields not in the
    objects stay deferred."""
    found = json.loads(value) if isinstance(value, str) else (value or [])
    if not found:
        return []
    key = (model, tuple(found[0]))
    plan = _JSON_PLANS.get(key)
    if plan is None:
        plan = _JSON_PLANS[key] = _json_plan(model, list(found[0]))
    names, converters, extras = plan
    out = []
    for item in found:
        values = [item[name] if convert is None else convert(item[name]) for name, convert in converters]
        instance = _instance(model, db, names, values)
        for name in extras:
            setattr(instance, name, item[name])
        out.append(instance)
    return out


_JSON_PLANS: dict[tuple[type[models.Model], tuple[str, ...]], tuple[list[str], list[Any], list[str]]] = {}

# Field types whose values JSON already carries as the ORM gives them (numbers, strings); the rest go
# through their field (booleans are 0/1 on SQLite, time stamps are text).
_AS_IS = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
    "CharField",
    "TextField",
}


def _json_plan(model: type[models.Model], keys: list[str]) -> tuple[list[str], list[Any], list[str]]:
    fields = {f.attname: f for f in model._meta.concrete_fields}
    names = [name for name in fields if name in keys]
    converters: list[Any] = []
    for name in names:
        field = fields[name]
        target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
        if target.get_internal_type() in _AS_IS:
            converters.append((name, None))
        elif isinstance(target, models.DateTimeField):
            converters.append((name, _aware))
        else:
            converters.append((name, field.to_python))
    return names, converters, [key for key in keys if key not in fields]


def _aware(value: str | None) -> datetime | None:
    if value is None:
        return None
    stamp = datetime.fromisoformat(value)
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)  # SQLite keeps UTC bare


# Whether a model's instances may be built without __init__ (worked out on first use: receivers are
# connected as the apps load).
_PLAIN: dict[type[models.Model], bool] = {}


def _instance(model: type[M], db: str | None, names: Sequence[str], values: list[Any]) -> M:
    """`model.from_db(db, names, values)` without Model.__init__, which sets every field through its
    descriptor and sends two signals: for a case row that was 15 µs of a step's Python, 4 here.
    Fields not named stay deferred, as from_db leaves them. Models with init signal receivers (e.g.
    an ImageField's dimensions) or their own from_db go the ORM's way."""
    if model not in _PLAIN:
        _PLAIN[model] = (
            model.from_db.__func__ is models.Model.from_db.__func__  # type: ignore[attr-defined]
            and not signals.pre_init.has_listeners(model)
            and not signals.post_init.has_listeners(model)
        )
    if not _PLAIN[model]:
        return model.from_db(db, list(names), values)
    instance = model.__new__(model)
    instance.__dict__.update(zip(names, values, strict=True))
    state = instance._state = ModelState()
    state.adding, state.db = False, db
    return instance


# --- writes ---------------------------------------------------------------------------------------

_STATEMENTS: dict[tuple[str, type[models.Model], tuple[str, ...], int], tuple[str, list[models.Field]]] = {}


def _statement(
    connection: BaseDatabaseWrapper, model: type[models.Model], fields: tuple[str, ...], count: int = 1
) -> tuple[str, list[models.Field]]:
    """An UPDATE of `fields` by primary key, or with no fields an INSERT of every column for `count`
    rows, built once."""
    key = (connection.alias, model, fields, count)
    if key not in _STATEMENTS:
        meta, quote = model._meta, connection.ops.quote_name
        assert meta.pk is not None
        table, pk = quote(meta.db_table), quote(str(meta.pk.column))
        targets: list[models.Field]
        if fields:
            targets = [f for f in (meta.get_field(name) for name in fields) if isinstance(f, models.Field)]
            assert len(targets) == len(fields), f"not all of {fields} are columns of {meta.label}"
            columns = ", ".join(f"{quote(str(f.column))} = %s" for f in targets)
            sql = f"UPDATE {table} SET {columns} WHERE {pk} = %s"
        else:
            targets = _insert_targets(model)
            names = ", ".join(quote(str(f.column)) for f in targets)
            row = f"({', '.join(['%s'] * len(targets))})"
            sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([row] * count)}"
            if connection.features.can_return_columns_from_insert:
                sql += f" RETURNING {pk}"
        _STATEMENTS[key] = (sql, targets)
    return _STATEMENTS[key]


def _values(
    connection: BaseDatabaseWrapper, targets: list[models.Field], instance: models.Model, add: bool
) -> list:
    """The instance's values for `targets` as save() would write them (auto_now and defaults applied)."""
    return [f.get_db_prep_save(f.pre_save(instance, add), connection) for f in targets]


def _added(instance: M, key: Any, connection: BaseDatabaseWrapper) -> M:
    """The new instance as save() leaves it: its key set, no longer adding, on this database."""
    instance.pk = key
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


def update(instance: models.Model, fields: Sequence[str]) -> None:
    """Writes `fields` of a saved row as `instance.save(update_fields=fields)` does (auto_now fields
    take the time), with the statement built once per model and field list. Sends no model signals:
    the models written this way have no receivers (an API step's case row)."""
    model = type(instance)
    connection = connections[instance._state.db or router.db_for_write(model)]
    sql, targets = _statement(connection, model, tuple(fields))
    with _cursor(connection) as cursor:
        cursor.execute(sql, [*_values(connection, targets, instance, False), instance.pk])
        if cursor.rowcount != 1:
            raise DatabaseError(f"{model._meta.label} {instance.pk}: the update found no row")


def insert(instance: M) -> M:
    """Inserts a new row as `instance.save()` does (defaults, auto_now_add) and sets its primary key,
    with the statement built once per model. Sends no model signals (see `update`)."""
    model = type(instance)
    connection = connections[router.db_for_write(model)]
    sql, targets = _statement(connection, model, ())
    with _cursor(connection) as cursor:
        cursor.execute(sql, _values(connection, targets, instance, True))
        if connection.features.can_return_columns_from_insert:
            key = cursor.fetchone()[0]
        else:
            pk_column = str(model._meta.pk.column)  # type: ignore[union-attr]
            key = connection.ops.last_insert_id(cursor, model._meta.db_table, pk_column)
    return _added(instance, key, connection)


def write_together(
    updates: Sequence[tuple[models.Model, Sequence[str]]], inserts: Sequence[models.Model]
) -> None:
    """`update(instance, fields)` for each update, then `insert` for each new instance, in one
    statement where the database can write inside a WITH (PostgreSQL): a case step writes its case,
    its step and sometimes assignments, and each statement a step sheds is a round trip and its share
    of both processes' work (docs/performance.md, "api-lifecycle"). Elsewhere they run one after the
    other. A new instance whose foreign key points at another one inserted here gets that one's new
    key (a filing's step, its case). Runs of instances of one model are inserted as one.

    An update that finds no row raises DatabaseError, inside the caller's transaction, which then
    rolls back everything written here."""
    model = type(updates[0][0] if updates else inserts[0])
    connection = connections[router.db_for_write(model)]
    groups = _runs(inserts)
    if connection.vendor != "postgresql":
        for instance, fields in updates:
            update(instance, fields)
        for group in groups:
            for instance in group:
                _link(instance)
            insert_many(group)
        return
    placed = {id(instance): (n, k) for n, group in enumerate(groups) for k, instance in enumerate(group)}
    refs = tuple(
        tuple(
            (k, i, *placed[id(target)])
            for k, instance in enumerate(group)
            for i, target in _pending_targets(instance)
            if id(target) in placed
        )
        for group in groups
    )
    shape = (
        connection.alias,
        tuple((type(i), tuple(fields)) for i, fields in updates),
        tuple((type(group[0]), len(group)) for group in groups),
        refs,
    )
    sql = _TOGETHER.get(shape)
    if sql is None:
        if len(_TOGETHER) > 2000:  # shapes vary with the number of notices; keep it bounded
            _TOGETHER.clear()
        sql = _TOGETHER[shape] = _together_sql(connection, updates, groups, refs)
    params: list[Any] = []
    for instance, fields in updates:
        _, targets = _statement(connection, type(instance), tuple(fields))
        params += [*_values(connection, targets, instance, False), instance.pk]
    for group, group_refs in zip(groups, refs, strict=True):
        skip = {(k, i) for k, i, *_ in group_refs}
        targets = _insert_targets(type(group[0]))
        for k, instance in enumerate(group):
            params += [
                value
                for i, value in enumerate(_values(connection, targets, instance, True))
                if (k, i) not in skip
            ]
    with _cursor(connection) as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    counts, keys = found[: len(updates)], found[len(updates) :]
    for (instance, _), count in zip(updates, counts, strict=True):
        if count != 1:
            raise DatabaseError(f"{type(instance)._meta.label} {instance.pk}: the update found no row")
    for group, group_keys in zip(groups, keys, strict=True):
        for instance, key in zip(group, group_keys, strict=True):
            _added(instance, key, connection)
    for group in groups:
        for instance in group:
            _link(instance)


_TOGETHER: dict[tuple, str] = {}


def _runs(instances: Sequence[models.Model]) -> list[list[models.Model]]:
    """The instances in runs of one model, in order; an instance pointing at one of its run starts
    the next (one INSERT cannot refer to its own rows). An instance may point only at unsaved ones
    written before it, as save() refuses to lose a relation to an unsaved instance."""
    runs: list[list[models.Model]] = []
    earlier: set[int] = set()
    for instance in instances:
        targets = {id(target) for _, target in _pending_targets(instance)}
        if not targets <= earlier:
            raise ValueError(
                f"a new {type(instance)._meta.label} points at an unsaved row not written before it"
            )
        if runs and type(runs[-1][0]) is type(instance) and not targets & {id(i) for i in runs[-1]}:
            runs[-1].append(instance)
        else:
            runs.append([instance])
        earlier.add(id(instance))
    return runs


@functools.cache
def _insert_targets(model: type[models.Model]) -> list[models.Field]:
    """The columns an INSERT of `model` writes: all but the key and generated ones."""
    return [f for f in model._meta.concrete_fields if not f.primary_key and not f.generated]


@functools.cache
def _foreign_keys(model: type[models.Model]) -> list[tuple[int, models.Field]]:
    """The foreign keys among `_insert_targets(model)`, with their positions there."""
    return [(i, f) for i, f in enumerate(_insert_targets(model)) if f.is_relation and f.many_to_one]


def _pending_targets(instance: models.Model) -> Iterator[tuple[int, models.Model]]:
    """The unsaved instances the foreign keys of `instance` point at, with the keys' positions."""
    cache = instance._state.fields_cache
    for i, field in _foreign_keys(type(instance)):
        target = cache.get(field.name)
        if target is not None and target.pk is None:
            yield i, target


def _link(instance: models.Model) -> None:
    """Sets the foreign keys of `instance` that point at instances saved since they were assigned, as
    Model.save() does (_prepare_related_fields_for_save)."""
    for _, field in _foreign_keys(type(instance)):
        if getattr(instance, field.attname) is None:
            target = instance._state.fields_cache.get(field.name)
            if target is not None and target.pk is not None:
                setattr(instance, field.attname, target.pk)


def _together_sql(
    connection: BaseDatabaseWrapper,
    updates: Sequence[tuple[models.Model, Sequence[str]]],
    groups: list[list[models.Model]],
    refs: tuple[tuple[tuple[int, int, int, int], ...], ...],
) -> str:
    quote = connection.ops.quote_name
    parts, results = [], []
    for n, (instance, fields) in enumerate(updates):
        sql, _ = _statement(connection, type(instance), tuple(fields))
        parts.append(f"u{n} AS ({sql} RETURNING 1)")
        results.append(f"(SELECT count(*) FROM u{n})")
    for n, (group, group_refs) in enumerate(zip(groups, refs, strict=True)):
        meta = type(group[0])._meta
        targets = _insert_targets(type(group[0]))
        pk = quote(str(meta.pk.column))  # type: ignore[union-attr]
        by_place = {(k, i): (j, offset) for k, i, j, offset in group_refs}
        rows_sql = []
        for k in range(len(group)):
            values = []
            for i in range(len(targets)):
                if (k, i) in by_place:
                    j, offset = by_place[(k, i)]
                    target_pk = quote(str(type(groups[j][0])._meta.pk.column))  # type: ignore[union-attr]
                    values.append(
                        f"(SELECT {target_pk} FROM i{j} ORDER BY {target_pk} OFFSET {offset} LIMIT 1)"
                    )
                else:
                    values.append("%s")
            rows_sql.append(f"({', '.join(values)})")
        names, table = ", ".join(quote(str(f.column)) for f in targets), quote(meta.db_table)
        parts.append(f"i{n} AS (INSERT INTO {table} ({names}) VALUES {', '.join(rows_sql)} RETURNING {pk})")
        results.append(f"(SELECT array_agg({pk} ORDER BY {pk}) FROM i{n})")
    return f"WITH {', '.join(parts)} SELECT {', '.join(results)}"


# Rows per INSERT in insert_many: few statements to cache, far below the databases' parameter limits.
MANY = 100


def insert_many(instances: Sequence[M]) -> list[M]:
    """Inserts new rows of one model as `insert` does, up to MANY in one statement (built once per
    model and number of rows), and sets their primary keys in order, as the database returns them."""
    if len(instances) < 2:
        return [insert(instance) for instance in instances]
    model = type(instances[0])
    connection = connections[router.db_for_write(model)]
    if not connection.features.can_return_rows_from_bulk_insert:
        return [insert(instance) for instance in instances]
    for start in range(0, len(instances), MANY):
        chunk = instances[start : start + MANY]
        sql, targets = _statement(connection, model, (), len(chunk))
        values = [value for i in chunk for value in _values(connection, targets, i, True)]
        with _cursor(connection) as cursor:
            cursor.execute(sql, values)
            keys = [row[0] for row in cursor.fetchall()]
        for instance, key in zip(chunk, keys, strict=True):
            _added(instance, key, connection)
    return list(instances)
