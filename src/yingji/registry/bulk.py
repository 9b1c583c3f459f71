"""Bulk write helpers of the site registry's import and seed paths.

:func:`record_audit_many` writes the same audit rows as ``core.audit.record_many`` — one entry
per object, same actor/request/ip context, same transaction — but takes plain ``(pk, repr,
changes)`` tuples instead of model instances and, on PostgreSQL, sends them with one ``COPY``
instead of a multi-row INSERT whose JSON parameters psycopg has to quote client-side (that
quoting alone was a third of the import's write time); on SQLite with one ``executemany`` of
plain rows (the ORM's ``bulk_create`` of model instances was most of the import's write time).

:func:`drop_search_indexes` / :func:`create_search_indexes` take the secondary indexes of
``registry_site`` (trigram GIN and btree) off around a bulk load and rebuild them afterwards
(PostgreSQL only): building an index once over 2M rows is far cheaper than maintaining it row
by row.
"""
from __future__ import annotations

import datetime
import decimal
import json
import uuid

from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from yingji.core import audit

AUDIT_COLUMNS = ("at", "actor_id", "actor_name", "action", "content_type_id", "object_id", "object_repr",
                 "changes", "note", "request_id", "ip")


def _json_default(value):
    """What ``audit._plain`` does, for the types json cannot encode itself."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def record_audit_many(model, action: str, items, actor=None, note: str = "") -> int:
    """One audit entry per ``(pk, repr, changes)`` of ``model`` rows, in the current transaction.

    Same rows as ``audit.record_many(action, [(obj, changes), ...], note=note, actor=actor)``.
    Returns the number of entries written."""
    items = list(items)
    if not items:
        return 0
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        raise RuntimeError("audit entries must be written inside the transaction of the change")
    from yingji.core.models import AuditEntry

    ctx = audit.current()
    actor = actor if actor is not None else ctx.actor
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    actor_id = actor.pk if actor is not None else None
    actor_name = (str(actor) if actor is not None else "系统")[:64]
    ct_id = ContentType.objects.get_for_model(model).pk
    at = timezone.now()
    note = note[:500]
    dumps = json.JSONEncoder(default=_json_default, ensure_ascii=False).encode
    request_id, ip = ctx.request_id, ctx.ip
    if conn.vendor != "postgresql":
        # One executemany of plain rows: no model instances, no per-row SQL compilation (the ORM's
        # bulk_create of the entries was most of the import's write time on SQLite).
        at_db = conn.ops.adapt_datetimefield_value(at)
        sql = "INSERT INTO %s (%s) VALUES (%s)" % (AuditEntry._meta.db_table, ", ".join(AUDIT_COLUMNS),
                                                   ", ".join(["%s"] * len(AUDIT_COLUMNS)))
        rows = [(at_db, actor_id, actor_name, action, ct_id, pk, str(text)[:200], dumps(changes or {}), note,
                 (request_id or "")[:64], ip) for pk, text, changes in items]
        with conn.cursor() as cursor:
            cursor.executemany(sql, rows)
        audit._written.set(audit._written.get() + len(items))  # noqa: SLF001
        return len(items)
    with conn.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy("COPY %s (%s) FROM STDIN" % (AuditEntry._meta.db_table, ", ".join(AUDIT_COLUMNS))) as copy:
            write = copy.write_row
            for pk, text, changes in items:
                write((at, actor_id, actor_name, action, ct_id, pk, str(text)[:200], dumps(changes or {}), note,
                       request_id, ip))
    audit._written.set(audit._written.get() + len(items))  # noqa: SLF001 - counts for the strict-audit check
    return len(items)


def any_of(values, sql_type: str = "bigint"):
    """Right-hand side for ``field__in=``: on PostgreSQL ``IN (SELECT unnest(%s::type[]))`` with
    the values as ONE array parameter (a 2,000-item ``IN (%s, %s, …)`` costs more to build and
    to bind than to run); elsewhere the plain list."""
    values = list(values)
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%%s::%s[])" % sql_type, [values])
    return values


# ---------------------------------------------------------------- secondary indexes around a bulk load

def site_secondary_indexes() -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of every index of registry_site except the primary key and
    the unique constraints (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = 'registry_site' AND NOT x.indisprimary AND NOT x.indisunique "
            "ORDER BY i.relname")
        return list(cursor.fetchall())


def drop_search_indexes() -> list[tuple[str, str]]:
    """Drop the secondary indexes of registry_site; returns what :func:`create_search_indexes`
    needs to rebuild them. PostgreSQL only (a no-op returning [] elsewhere)."""
    if connection.vendor != "postgresql":
        return []
    indexes = site_secondary_indexes()
    with connection.cursor() as cursor:
        for name, _sql in indexes:
            cursor.execute('DROP INDEX IF EXISTS "%s"' % name)
    return indexes


def create_search_indexes(indexes: list[tuple[str, str]], log=None) -> None:
    """Recreate indexes dropped by :func:`drop_search_indexes` (idempotent), then ANALYZE."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        # The load's deferred foreign-key checks must run before an index can be built in the
        # same transaction ("pending trigger events").
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for name, sql in indexes:
            if log:
                log(name)
            cursor.execute(sql.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute("ANALYZE registry_site")
