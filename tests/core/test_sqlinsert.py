"""The hot paths' one-statement insert: the same rows ``Model.save`` would write."""
from __future__ import annotations

import datetime

import pytest

from yingji.core import sqlinsert
from yingji.core.models import AuditEntry, Job


def test_insert_writes_what_save_would(world):
    at = datetime.datetime(2026, 11, 29, 8, 30, tzinfo=datetime.timezone.utc)
    entries = [AuditEntry(at=at, actor=world.admin, actor_name="管理员", action="test.insert", content_type_id=1,
                          object_id=i, object_repr=f"对象{i}", changes={"名称": [None, f"值{i}"], "n": [1, 2]},
                          note="", request_id="r1", ip="127.0.0.1") for i in range(3)]
    assert sqlinsert.insert(entries) == []
    rows = list(AuditEntry.objects.filter(action="test.insert").order_by("object_id"))
    assert [(r.object_id, r.at, r.actor_id, r.changes, r.ip) for r in rows] == [
        (i, at, world.admin.pk, {"名称": [None, f"值{i}"], "n": [1, 2]}, "127.0.0.1") for i in range(3)]


def test_returning_pk_auto_now_and_ignored_conflicts(world):
    now = datetime.datetime.now(datetime.timezone.utc)
    job = Job(kind="stats.refresh", params={"a": 1}, area=world.county, run_after=now, idempotency_key="k-1")
    [pk] = sqlinsert.insert([job], returning_pk=True, ignore_conflicts=True)
    assert job.pk == pk and not job._state.adding and job.created_at is not None   # auto_now_add filled
    again = Job(kind="stats.refresh", params={}, area=world.county, run_after=now, idempotency_key="k-1")
    assert sqlinsert.insert([again], returning_pk=True, ignore_conflicts=True) == [] and again.pk is None
    assert Job.objects.get(idempotency_key="k-1").params == {"a": 1}
    assert sqlinsert.insert([]) == []
    with pytest.raises(ValueError):
        sqlinsert.insert([again, again], returning_pk=True, ignore_conflicts=True)


def test_values_of_another_type_are_converted_as_save_converts_them(world):
    """Plain values (str, int, bool, None of the column's own type) are sent as they are; any
    other value goes through the field's conversion: a lazy translation, a number given as text,
    a bool for an integer column, an enum member."""
    from django.utils.translation import gettext_lazy

    from yingji.hazards.models import Level

    at = datetime.datetime(2026, 11, 29, 8, 30, tzinfo=datetime.timezone.utc)
    odd = AuditEntry(at=at, actor_id=str(world.admin.pk), actor_name=gettext_lazy("系统"), action=Level.MAJOR,
                     content_type_id=True, object_id="7", object_repr="对象", changes={}, note="", request_id="",
                     ip=None)
    plain = AuditEntry(at=at, actor_id=world.admin.pk, actor_name="系统", action="major", content_type_id=1,
                       object_id=7, object_repr="对象", changes={}, note="", request_id="", ip=None)
    sqlinsert.insert([odd, plain])
    rows = list(AuditEntry.objects.filter(action="major").order_by("id")
                .values_list("actor_id", "actor_name", "action", "content_type_id", "object_id"))
    assert rows == [(world.admin.pk, "系统", "major", 1, 7)] * 2
