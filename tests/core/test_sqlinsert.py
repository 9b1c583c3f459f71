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
