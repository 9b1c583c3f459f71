"""One INSERT statement for a few model instances, without the ORM's per-statement compilation
(``insert``), and one ``INSERT … SELECT`` from a values()/annotate() query (``insert_select``).

For hot write paths (a hazard report inserts a hazard, its event, a queued job and a batch of
audit entries on every request): the statement text is built once per model (and row count) from
the model's table and columns; values go through each field's ``pre_save`` and
``get_db_prep_save`` exactly as ``Model.save`` does (``auto_now`` times, JSON, time zones), except
plain values that already have the column's Python type, which those would hand back unchanged. No
signals are sent (none are connected to these models). PostgreSQL and SQLite (≥ 3.35, for
``RETURNING`` and ``ON CONFLICT DO NOTHING``) alike; on PostgreSQL the statement is prepared once
per connection (``hotsql``).
"""
from __future__ import annotations

import functools

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, router

from . import hotsql


# Field classes whose ``get_db_prep_save`` hands a value of the column's own Python type back
# unchanged, and the types that are: such values skip the field's conversion.
_PLAIN_TYPES = (
    ((models.CharField, models.TextField), frozenset({str, type(None)})),
    ((models.BooleanField,), frozenset({bool, type(None)})),
    ((models.IntegerField, models.ForeignKey), frozenset({int, type(None)})),
)


@functools.cache
def _statement(model, rows: int, returning: bool, ignore_conflicts: bool) -> tuple[str, tuple]:
    meta = model._meta
    fields = tuple(f for f in meta.local_concrete_fields if not f.primary_key)
    q = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (f"INSERT INTO {q(meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "
           f"VALUES {', '.join([row] * rows)}")
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += f" RETURNING {q(meta.pk.column)}"
    return sql, fields


@functools.cache
def _plan(model) -> tuple:
    """(field, attname, types) per inserted column: a value of one of ``types`` is taken as is;
    every other value goes through ``pre_save`` and ``get_db_prep_save``, as ``Model.save`` does."""
    plan = []
    for f in _statement(model, 1, False, False)[1]:
        types = frozenset()
        if type(f).pre_save is models.Field.pre_save and (
                not isinstance(f, models.ForeignKey) or isinstance(f.target_field, models.AutoField)):
            types = next((t for classes, t in _PLAIN_TYPES if isinstance(f, classes)), frozenset())
        plan.append((f, f.attname, types))
    return tuple(plan)


def insert(objs: list, *, returning_pk: bool = False, ignore_conflicts: bool = False) -> list:
    """Insert ``objs`` (instances of one model) in one statement. With ``returning_pk`` the new
    primary keys are set on the objects (one object only with ``ignore_conflicts``: the returned
    list is empty when a unique constraint kept it out). Returns the new primary keys."""
    if not objs:
        return []
    model = type(objs[0])
    if ignore_conflicts and returning_pk and len(objs) != 1:
        raise ValueError("ignore_conflicts with returning_pk takes one object")
    sql, _fields = _statement(model, len(objs), returning_pk, ignore_conflicts)
    conn = connections[DEFAULT_DB_ALIAS]
    plan = _plan(model)
    params = []
    for obj in objs:
        for f, attname, types in plan:
            value = getattr(obj, attname)
            if type(value) not in types:
                value = f.get_db_prep_save(f.pre_save(obj, add=True), conn)
            params.append(value)
    with hotsql.cursor() as cursor:
        cursor.execute(sql, params)
        pks = [r[0] for r in cursor.fetchall()] if returning_pk else []
    for obj, pk in zip(objs, pks):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = conn.alias
    return pks


def insert_select(model, queryset) -> int:
    """Insert the rows of ``queryset`` (a values()/annotate() query) into ``model``'s table in
    one ``INSERT … SELECT`` statement (rollups: the stats figures, the map cells). Columns are
    matched by name: a selected field by its attname, an annotation by its alias with the
    ``d_``/``m_`` prefix removed. Returns the number of rows inserted."""
    using = router.db_for_write(model)
    compiler = queryset.query.get_compiler(using=using)
    sql, params = compiler.as_sql()
    conn = connections[using]
    qn = conn.ops.quote_name
    columns = []
    for expression, _sql, alias in compiler.select:
        name = alias if alias else expression.target.attname
        if name[:2] in ("d_", "m_"):
            name = name[2:]
        columns.append(model._meta.get_field(name).column)
    statement = f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) {sql}"
    with conn.cursor() as cursor:
        cursor.execute(statement, params)
        return max(cursor.rowcount, 0)
