"""The audit trail: who did what to which record, when and from where.

``record()`` writes one entry; it must run inside the transaction of the change it describes
(services wrap their work in ``transaction.atomic`` and call it there). The actor, request id
and client address come from a context variable set by the middleware, the API auth or a
management command (``audit.context(...)``), or are passed explicitly.

Service functions are declared with ``@service("name")``: the decorator opens the transaction
and, when ``YINGJI_STRICT_AUDIT`` is on (it is in tests), refuses to commit a service call that
wrote no audit entry — so a write path without an audit entry fails the suite.
"""
from __future__ import annotations

import contextvars
import datetime
import decimal
import functools
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone


@dataclass
class AuditContext:
    actor: object | None = None
    request_id: str = ""
    ip: str | None = None


_context: contextvars.ContextVar[AuditContext] = contextvars.ContextVar("yingji_audit", default=AuditContext())
_written: contextvars.ContextVar[int] = contextvars.ContextVar("yingji_audit_written", default=0)
# Entries of a ``@service(..., batch_audit=True)`` call, inserted together before it commits.
_batch: contextvars.ContextVar[list | None] = contextvars.ContextVar("yingji_audit_batch", default=None)

# Every service name → number of calls and of calls that wrote audit entries (for the suite).
SERVICE_REGISTRY: dict[str, dict[str, int]] = {}


class AuditMissing(AssertionError):
    pass


def current() -> AuditContext:
    return _context.get()


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


@contextmanager
def context(actor=None, request_id: str | None = None, ip: str | None = None):
    token = _context.set(AuditContext(actor=actor, request_id=request_id or new_request_id(), ip=ip))
    try:
        yield
    finally:
        _context.reset(token)


def set_actor(actor) -> None:
    """Bind the authenticated user to the current request's context (after auth runs)."""
    ctx = _context.get()
    _context.set(AuditContext(actor=actor, request_id=ctx.request_id or new_request_id(), ip=ctx.ip))


def _plain(value):
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict:
    """Concrete field values of ``obj`` (FKs as ids), for before/after comparison."""
    result = {}
    for f in obj._meta.concrete_fields:
        if fields is not None and f.name not in fields:
            continue
        if f.name in {"password", "key_hash"}:
            continue
        result[f.name] = _plain(getattr(obj, f.attname))
    return result


def diff(before: dict, after: dict) -> dict:
    """``{field: [before, after]}`` for fields whose value changed."""
    keys = set(before) | set(after)
    return {k: [before.get(k), after.get(k)] for k in sorted(keys) if before.get(k) != after.get(k)}


def _entry(action: str, obj: models.Model, changes: dict | None, note: str, actor, at):
    from .models import AuditEntry

    ctx = _context.get()
    actor = actor if actor is not None else ctx.actor
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEntry(
        at=at or timezone.now(),
        actor=actor,
        actor_name=(str(actor) if actor is not None else "系统")[:64],
        action=action,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=obj.pk,
        object_repr=str(obj)[:200],
        changes=_plain(changes or {}),
        note=note[:500],
        request_id=(ctx.request_id or "")[:64],  # the column's length
        ip=ctx.ip,
    )


def record(action: str, obj: models.Model, changes: dict | None = None, note: str = "", actor=None):
    """Write one audit entry for ``obj`` in the current transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record must run inside the transaction of the change")
    entry = _entry(action, obj, changes, note, actor, None)
    batch = _batch.get()
    if batch is not None:
        batch.append(entry)  # inserted with the others when the service's work is done
    else:
        entry.save(force_insert=True)
    _written.set(_written.get() + 1)
    return entry


def record_many(action: str, items: list[tuple[models.Model, dict]], note: str = "", actor=None):
    """Bulk paths: one entry per object, inserted in batches, same transaction."""
    from .models import AuditEntry

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record_many must run inside the transaction of the change")
    at = timezone.now()
    entries = [_entry(action, obj, changes, note, actor, at) for obj, changes in items]
    AuditEntry.objects.bulk_create(entries, batch_size=1000)
    _written.set(_written.get() + len(entries))
    return entries


def _flush_batch() -> None:
    entries = _batch.get()
    if not entries:
        return
    # One multi-row INSERT, without bulk_create's batching and returned ids (nobody reads them).
    from .sqlinsert import insert

    insert(entries)
    entries.clear()


def strict() -> bool:
    return os.environ.get("YINGJI_STRICT_AUDIT", "") in {"1", "true", "yes"}


def service(name: str, *, batch_audit: bool = False):
    """Declare a write service: one transaction, and (in strict mode) at least one audit entry.

    ``batch_audit``: the call's audit entries are inserted in one statement at the end of its
    work, still inside its transaction (for hot paths that write several). Only for services
    that never record an entry inside a savepoint they roll back and carry on from — a batched
    entry would outlive its savepoint."""

    def decorate(func):
        stats = SERVICE_REGISTRY.setdefault(name, {"calls": 0, "audited": 0})

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            token = _written.set(0)
            batch_token = _batch.set([]) if batch_audit and _batch.get() is None else None
            try:
                with transaction.atomic():
                    result = func(*args, **kwargs)
                    if batch_token is not None:
                        _flush_batch()
                    wrote = _written.get()
                    stats["calls"] += 1
                    if wrote:
                        stats["audited"] += 1
                    elif strict():
                        raise AuditMissing(f"service {name} wrote no audit entry")
                return result
            finally:
                if batch_token is not None:
                    _batch.reset(batch_token)
                inner = _written.get()
                _written.reset(token)
                _written.set(_written.get() + inner)

        wrapper.service_name = name
        return wrapper

    return decorate
