"""Prepared statements for the hot statements every request runs.

On PostgreSQL a statement sent with client-side binding (Django's default) is parsed, analysed
and planned on every execution. For the short statements every API call and every report runs —
the bearer token, the user's grants, a site by its key, a site's sectors, the report path's
inserts — planning is most of their database cost: a site read by primary key with its area costs
the server 0.36 ms planned each time and 0.09 ms prepared (bench/README-hazards.md).

``cursor()`` gives a Django cursor whose statements are prepared on their first execution on a
connection (psycopg server-side binding with ``prepare=True``) and executed by name afterwards.
Only statements whose best plan does not depend on their parameters belong here — primary-key and
unique-key reads, reads by a user or site id, inserts — because PostgreSQL may settle on a
generic plan for a prepared statement; list and search queries keep the default cursor.

Off (the default cursor) on SQLite, and on PostgreSQL with ``YINGJI_PG_PREPARED=false`` (e.g. behind
a transaction-pooling PgBouncer older than 1.21). Errors are translated as on any Django cursor,
and the statements appear in ``connection.queries`` and ``CaptureQueriesContext``.
"""
from __future__ import annotations

import functools

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import DEFERRED


def enabled(using: str = DEFAULT_DB_ALIAS) -> bool:
    conn = connections[using]
    return conn.vendor == "postgresql" and conn.settings_dict.get("OPTIONS", {}).get("prepare_threshold") is not None


def cursor(using: str = DEFAULT_DB_ALIAS):
    """A cursor (use as a context manager, like ``connection.cursor()``) for hot statements."""
    conn = connections[using]
    if not enabled(using):
        return conn.cursor()
    conn.close_if_health_check_failed()
    conn.ensure_connection()
    prepared, debug = _classes()
    with conn.wrap_database_errors:
        raw = prepared(conn.connection)
    conn.validate_thread_sharing()
    return debug(raw, conn) if conn.queries_logged else conn.make_cursor(raw)


@functools.cache
def _classes():
    """Django's server-binding cursor class that prepares every statement it executes, and a
    debug wrapper that logs its statements (psycopg keeps no query text for a statement executed
    by name). Built on first use: the psycopg backend cannot be imported without psycopg."""
    from django.db.backends.postgresql.base import ServerBindingCursor
    from django.db.backends.utils import CursorDebugWrapper, CursorWrapper

    class PreparedCursor(ServerBindingCursor):
        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)

    class PreparedDebugWrapper(CursorDebugWrapper):
        def execute(self, sql, params=None):
            try:
                logged = self.db.ops.compose_sql(sql, params) if params else sql
            except Exception:  # logging only: the statement itself reports its own errors
                logged = sql
            with self.debug_sql(logged, params):
                return CursorWrapper.execute(self, sql, params)

    return PreparedCursor, PreparedDebugWrapper


def fetch(sql: str, params, using: str = DEFAULT_DB_ALIAS) -> list[tuple]:
    """The rows of one hot statement."""
    with cursor(using) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def column(meta, name: str, using: str = DEFAULT_DB_ALIAS) -> str:
    """The quoted column of the field ``name`` (or attname) of the model whose ``_meta`` is ``meta``:
    hot statements are written once, from the models' own tables and columns."""
    return connections[using].ops.quote_name(meta.get_field(name).column)


def columns(model, names: tuple[str, ...], alias: str, using: str = DEFAULT_DB_ALIAS) -> str:
    """``alias."col", …`` for the fields ``names`` of ``model`` (attnames: ``area_id``)."""
    return ", ".join(f"{alias}.{column(model._meta, name, using)}" for name in names)


def instance(model, names: tuple[str, ...], values, using: str = DEFAULT_DB_ALIAS):
    """A model instance from the raw ``values`` of its fields ``names`` (in any order), converted
    as the ORM converts them (SQLite's datetimes, booleans, JSON); fields not named are deferred."""
    conn = connections[using]
    converted = [DEFERRED] * len(model._meta.concrete_fields)
    for value, (position, expression, converters) in zip(values, _converters(model, names, using)):
        for converter in converters:
            value = converter(value, expression, conn)
        converted[position] = value
    return model.from_db(using, _attnames(model), converted)


def convert(model, name: str, value, using: str = DEFAULT_DB_ALIAS):
    """One raw value of ``model``'s field ``name``, converted as the ORM converts it."""
    ((_position, expression, converters),) = _converters(model, (name,), using)
    for converter in converters:
        value = converter(value, expression, connections[using])
    return value


@functools.cache
def _attnames(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


@functools.cache
def _converters(model, names: tuple[str, ...], using: str) -> tuple:
    conn = connections[using]
    fields = model._meta.concrete_fields
    result = []
    for name in names:
        field = model._meta.get_field(name)  # a field's name or its attname (``area`` / ``area_id``)
        expression = field.get_col(model._meta.db_table)
        converters = tuple(conn.ops.get_db_converters(expression)) + tuple(field.get_db_converters(conn))
        result.append((fields.index(field), expression, converters))
    return tuple(result)
