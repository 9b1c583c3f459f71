"""Edges of the job queue: refused input, lost leases seen by the handler, odd handler results,
the worker surviving database errors, and the audit export's own refusals and file handling."""
from __future__ import annotations

import datetime
import threading

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, OperationalError, connection
from django.utils import timezone

from yingji.core import audit, jobs, services
from yingji.core.errors import Conflict, Forbidden, InvalidInput
from yingji.core.models import Area, AreaLevel, AuditEntry, Job, JobStatus


def actions(job) -> list[str]:
    ct = ContentType.objects.get_for_model(Job)
    return list(AuditEntry.objects.filter(content_type=ct, object_id=job.pk).order_by("id")
                .values_list("action", flat=True))


def lose_lease(job) -> None:
    """Another worker reclaimed the job (as reclaim_expired does after the lease ran out)."""
    Job.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED, claimed_by="", lease_until=None)


# ---------------------------------------------------------------- handler registry

def test_a_kind_cannot_be_registered_twice_with_another_function(monkeypatch):
    registered = jobs.HANDLERS["core.echo"]
    monkeypatch.setitem(jobs.HANDLERS, "core.echo", registered)  # put back whatever happens below

    def other(job, progress):
        return {}

    with pytest.raises(ValueError, match="core.echo"):
        jobs.job_handler("core.echo")(other)
    assert jobs.get_handler("core.echo") is registered
    # Registering the same function again (a module imported twice) is harmless.
    assert jobs.job_handler("core.echo", label=registered.label)(jobs.echo) is jobs.echo
    assert jobs.get_handler("core.echo").func is jobs.echo


# ---------------------------------------------------------------- enqueue refusals

def test_enqueue_refuses_params_that_cannot_be_stored_as_json(world):
    with pytest.raises(InvalidInput) as exc:
        jobs.enqueue(world.admin, "core.echo", area=world.county, params={"ids": {1, 2}})
    assert exc.value.message == "任务参数无法保存为JSON"
    assert exc.value.detail == {"params": "无法保存为JSON"}
    assert not Job.objects.exists()


def test_enqueue_needs_an_area_and_a_logged_in_actor(world):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(InvalidInput) as exc:
        jobs.enqueue(world.admin, "core.echo", area=None)
    assert exc.value.message == "请选择任务所属区域"
    with pytest.raises(Forbidden) as exc:
        jobs.enqueue(AnonymousUser(), "core.echo", area=world.county)
    assert exc.value.message == "请先登录"
    assert not Job.objects.exists()


def test_enqueue_refuses_an_archived_area_for_people_but_not_the_system(world):
    grid = world.grids["b2g2"]
    services.archive_area(world.admin, grid)
    grid.refresh_from_db()
    with pytest.raises(InvalidInput) as exc:
        jobs.enqueue(world.admin, "core.echo", area=grid)
    assert exc.value.message == "该区域已归档"
    assert exc.value.detail == {"area": "该区域已归档"}
    assert not Job.objects.exists()


@pytest.mark.parametrize("value", ["abc", None, [], 21, 0])
def test_enqueue_refuses_bad_max_attempts(world, value, settings):
    if value is None:
        settings.JOB_MAX_ATTEMPTS = 99  # a misconfigured default is refused as well
    with pytest.raises(InvalidInput) as exc:
        jobs.enqueue(world.admin, "core.echo", area=world.county, max_attempts=value)
    assert exc.value.message == "最多尝试次数须在1到20之间"
    assert exc.value.detail == {"max_attempts": "最多尝试次数无效"}
    assert not Job.objects.exists()


def test_enqueue_accepts_a_numeric_string_for_max_attempts(world):
    job = jobs.enqueue(world.admin, "core.echo", area=world.county, max_attempts="3")
    assert job.max_attempts == 3


def test_naive_run_after_is_taken_as_local_time(world):
    naive = datetime.datetime(2030, 5, 1, 8, 30)
    job = jobs.enqueue(world.admin, "core.echo", area=world.county, run_after=naive)
    job.refresh_from_db()
    assert job.run_after == timezone.make_aware(naive)
    assert timezone.localtime(job.run_after).strftime("%Y-%m-%d %H:%M") == "2030-05-01 08:30"
    assert jobs.claim_next("w") is None  # not due before then


def test_idempotency_key_length_is_limited_and_blank_key_means_none(world):
    with pytest.raises(InvalidInput) as exc:
        jobs.enqueue(world.admin, "core.echo", area=world.county, idempotency_key="k" * 101)
    assert exc.value.message == "幂等键不能超过100个字符"
    assert exc.value.detail == {"idempotency_key": "幂等键过长"}
    assert not Job.objects.exists()
    a = jobs.enqueue(world.admin, "core.echo", area=world.county, idempotency_key="   ")
    b = jobs.enqueue(world.admin, "core.echo", area=world.county, idempotency_key="")
    assert a.pk != b.pk and a.idempotency_key is None and b.idempotency_key is None
    ok = jobs.enqueue(world.admin, "core.echo", area=world.county, idempotency_key=" " + "k" * 100 + " ")
    assert ok.idempotency_key == "k" * 100


def test_integrity_error_that_is_not_a_key_race_is_not_hidden(world, monkeypatch):
    def failing_save(self, *args, **kwargs):
        raise IntegrityError("some other constraint")

    monkeypatch.setattr(Job, "save", failing_save)
    with pytest.raises(IntegrityError, match="some other constraint"):
        jobs.enqueue(world.admin, "core.echo", area=world.county)
    with pytest.raises(IntegrityError, match="some other constraint"):
        jobs.enqueue(world.admin, "core.echo", area=world.county, idempotency_key="fresh-key")
    monkeypatch.undo()
    assert not Job.objects.exists()
    assert not AuditEntry.objects.filter(action="job.enqueue").exists()


def test_enqueue_coalesced_refuses_unknown_kinds(world):
    with pytest.raises(InvalidInput) as exc:
        jobs.enqueue_coalesced("nope.unknown", area=world.county, params={}, run_after=timezone.now(), key="k1")
    assert exc.value.message == "未知的任务类型:nope.unknown"
    assert not Job.objects.exists()


def test_enqueue_coalesced_queues_once_and_reports_the_status_of_a_started_job(world):
    now = timezone.now()
    assert jobs.enqueue_coalesced("core.echo", area=world.area_a, params={}, run_after=now, key="c:1") == "queued"
    assert jobs.enqueue_coalesced("core.echo", area=world.area_a, params={}, run_after=now, key="c:1") == "queued"
    job = Job.objects.get(idempotency_key="c:1")
    assert actions(job) == ["job.enqueue"]  # the coalesced request writes nothing
    jobs.claim_next("w")
    assert jobs.enqueue_coalesced("core.echo", area=world.area_a, params={}, run_after=now, key="c:1") == "running"
    assert Job.objects.filter(idempotency_key="c:1").count() == 1


# ---------------------------------------------------------------- cancel

def test_cancel_needs_a_logged_in_actor(world):
    job = jobs.enqueue(world.town_a, "core.echo", area=world.area_a)
    with pytest.raises(Forbidden) as exc:
        jobs.cancel_job(None, job)
    assert exc.value.message == "请先登录"
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert actions(job) == ["job.enqueue"]


def test_cancel_loses_to_a_worker_that_claimed_the_job_a_moment_before(world, monkeypatch):
    job = jobs.enqueue(world.town_a, "core.echo", area=world.area_a)
    original = Job.objects.select_for_update

    class ClaimedRightAfterTheRead:
        def get(self, **kwargs):
            row = original().get(**kwargs)  # still queued when read …
            assert jobs.try_claim(row.pk, "fast-worker") is not None  # … claimed before the update
            return row

    monkeypatch.setattr(Job.objects, "select_for_update", lambda *a, **k: ClaimedRightAfterTheRead())
    with pytest.raises(Conflict) as exc:
        jobs.cancel_job(world.town_a, job)
    monkeypatch.undo()
    assert exc.value.message == "任务已开始执行,不能取消"
    job.refresh_from_db()
    # (The simulated claim ran inside the cancel's transaction and was rolled back with it; a real
    # worker's claim is its own transaction.) The cancel wrote nothing.
    assert job.status != JobStatus.CANCELLED and job.finished_at is None
    assert "job.cancel" not in actions(job)


# ---------------------------------------------------------------- claiming, both strategies

@pytest.mark.parametrize("skip_locked", [True, False])
def test_both_claim_strategies_take_due_jobs_in_order_and_reclaim_expired_leases(world, monkeypatch,
                                                                                  skip_locked):
    if skip_locked and not connection.features.has_select_for_update_skip_locked:
        # SQLite ignores FOR UPDATE: the PostgreSQL path's logic still runs, without row locks.
        monkeypatch.setattr(jobs, "_skip_locked", lambda: True)
    if not skip_locked:
        monkeypatch.setattr(jobs, "_skip_locked", lambda: False)
    first = jobs.enqueue(None, "core.echo", area=world.area_a)
    second = jobs.enqueue(None, "core.echo", area=world.area_a)
    taken = jobs.claim_next("dead")
    assert taken.pk == first.pk
    Job.objects.filter(pk=first.pk).update(lease_until=timezone.now() - datetime.timedelta(seconds=1))
    # The expired one goes back to the end of the queue (due now); the one waiting longer goes first.
    assert jobs.claim_next("w2").pk == second.pk
    again = jobs.claim_next("w2")
    assert again.pk == first.pk and again.claimed_by == "w2" and again.attempts == 2
    assert jobs.claim_next("w2") is None
    assert actions(first) == ["job.enqueue", "job.start", "job.reclaim", "job.start"]


def test_reclaim_skips_a_job_another_worker_reclaimed_meanwhile(world, monkeypatch):
    job = jobs.enqueue(None, "core.echo", area=world.area_a)
    jobs.claim_next("dead")
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - datetime.timedelta(seconds=1))
    original = jobs._skip_locked

    def other_worker_first():
        # Between listing the expired jobs and re-reading this one, another worker reclaimed it.
        lose_lease(job)
        return original()

    monkeypatch.setattr(jobs, "_skip_locked", other_worker_first)
    assert jobs.reclaim_expired() == 0
    monkeypatch.undo()
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert "job.reclaim" not in actions(job) and "job.failed" not in actions(job)


# ---------------------------------------------------------------- handlers that lose their lease

@jobs.job_handler("test_edges.progress_after_lease_lost")
def _progress_after_lease_lost(job, progress):
    lose_lease(job)
    progress(1, 2, "还在干活")  # refused: raises JobLeaseLost
    return {"never": True}


@jobs.job_handler("test_edges.fail_after_lease_lost")
def _fail_after_lease_lost(job, progress):
    lose_lease(job)
    raise RuntimeError("broke after losing the job")


@jobs.job_handler("test_edges.finish_after_lease_lost")
def _finish_after_lease_lost(job, progress):
    lose_lease(job)
    return {"stale": True}


@pytest.mark.parametrize("kind", ["test_edges.progress_after_lease_lost", "test_edges.fail_after_lease_lost",
                                  "test_edges.finish_after_lease_lost"])
def test_a_worker_that_lost_its_lease_changes_nothing(world, kind):
    job = jobs.enqueue(None, kind, area=world.area_a, max_attempts=1)
    claimed = jobs.claim_next("slow-worker")
    jobs.run_job(claimed)
    job.refresh_from_db()
    # The row is as the other worker left it: queued again, no result, no error, no failure.
    assert job.status == JobStatus.QUEUED and job.claimed_by == ""
    assert job.result in ({}, None) and job.error == "" and job.finished_at is None
    assert job.message == ""
    assert actions(job) == ["job.enqueue", "job.start"]


# ---------------------------------------------------------------- odd handler results

@jobs.job_handler("test_edges.returns_none")
def _returns_none(job, progress):
    return None


@jobs.job_handler("test_edges.returns_list")
def _returns_list(job, progress):
    return ["a", "b"]


@jobs.job_handler("test_edges.returns_set")
def _returns_set(job, progress):
    return {"ids": {1, 2}}


def test_handler_returning_nothing_succeeds_with_an_empty_result(world):
    job = jobs.enqueue(None, "test_edges.returns_none", area=world.area_a)
    jobs.run_worker(worker_id="w", once=True)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.result == {}
    assert actions(job)[-1] == "job.succeeded"


@pytest.mark.parametrize("kind, message", [("test_edges.returns_list", "任务结果须为JSON对象"),
                                           ("test_edges.returns_set", "任务结果无法保存为JSON")])
def test_handler_result_that_cannot_be_stored_fails_the_job_at_once(world, kind, message):
    job = jobs.enqueue(None, kind, area=world.area_a, max_attempts=5)
    jobs.run_worker(worker_id="w", once=True)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == 1  # no retry: it would fail the same way
    assert job.error == message
    assert actions(job)[-1] == "job.failed"
    assert message in AuditEntry.objects.filter(action="job.failed", object_id=job.pk).get().note


def test_echo_refuses_bad_params_and_sleeps_between_steps(world):
    bad = jobs.enqueue(None, "core.echo", area=world.area_a, params={"steps": "many"}, max_attempts=3)
    jobs.run_worker(worker_id="w", once=True)
    bad.refresh_from_db()
    assert bad.status == JobStatus.FAILED and bad.error == "任务参数无效" and bad.attempts == 1

    slow = jobs.enqueue(None, "core.echo", area=world.area_a, params={"steps": 2, "sleep": 0.01})
    jobs.run_worker(worker_id="w", once=True)
    slow.refresh_from_db()
    assert slow.status == JobStatus.SUCCEEDED and slow.message == "第2步,共2步"


# ---------------------------------------------------------------- schedule and worker loop

def test_schedule_without_an_area_tree_queues_nothing(db):
    assert not Area.objects.exists()
    assert jobs.enqueue_scheduled(schedule=[("stats.refresh", 600)]) == []
    assert not Job.objects.exists()


def test_worker_keeps_running_due_jobs_when_the_schedule_cannot_be_queued(world, settings, monkeypatch):
    settings.JOB_SCHEDULE = [("stats.refresh", 600)]
    due = jobs.enqueue(None, "core.echo", area=world.area_a)

    def broken_schedule(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(jobs, "enqueue_scheduled", broken_schedule)
    assert jobs.run_worker(worker_id="w", once=True, schedule=True) == 1
    due.refresh_from_db()
    assert due.status == JobStatus.SUCCEEDED
    assert not Job.objects.filter(kind="stats.refresh").exists()


def test_database_error_while_finishing_a_job_is_reported_with_once(world, monkeypatch):
    job = jobs.enqueue(None, "core.echo", area=world.area_a)

    def broken_run(job):
        raise OperationalError("server closed the connection")

    monkeypatch.setattr(jobs, "run_job", broken_run)
    with pytest.raises(OperationalError):
        jobs.run_worker(worker_id="w", once=True)
    # In a transaction (as here) the loop cannot reconnect: it reports the error too.
    job2 = jobs.enqueue(None, "core.echo", area=world.area_a)
    with pytest.raises(OperationalError):
        jobs.run_worker(worker_id="w", max_jobs=5, poll=0.05)
    assert Job.objects.filter(pk__in=[job.pk, job2.pk], status=JobStatus.RUNNING).count() == 2


@pytest.mark.django_db(transaction=True)
def test_worker_survives_a_database_error_while_finishing_a_job(monkeypatch):
    area = Area.objects.create(code="330681", name="诸暨市", level=AreaLevel.COUNTY)
    with audit.context(request_id="test-setup"):
        job = jobs.enqueue(None, "core.echo", area=area)
    calls = []

    def broken_run(claimed):
        calls.append(claimed.pk)
        raise OperationalError("server closed the connection")

    monkeypatch.setattr(jobs, "run_job", broken_run)
    stop = threading.Event()
    assert jobs.run_worker(worker_id="w", max_jobs=1, poll=0.05, stop_event=stop) == 1  # the loop went on
    assert calls == [job.pk]
    job.refresh_from_db()
    # The outcome was not written: the job stays RUNNING until its lease runs out and it is reclaimed.
    assert job.status == JobStatus.RUNNING and job.claimed_by == "w" and job.lease_until is not None


# ---------------------------------------------------------------- audit export

def test_audit_filters_parse_and_refuse_bad_values():
    assert jobs.audit_filters({"object_id": "12", "since": "2026-01-02", "until": "2026-02-03",
                               "model": "core.area", "actor": "admin", "action": "area.create"}) == {
        "object_id": 12, "since": datetime.date(2026, 1, 2), "until": datetime.date(2026, 2, 3),
        "model": "core.area", "actor": "admin", "action": "area.create", "include_system": False}
    assert jobs.audit_filters({"include_system": True}) == {"include_system": True}
    for bad in ({"object_id": "x"}, {"since": "2026-13-01"}, {"until": "昨天"}):
        with pytest.raises(jobs.JobError) as exc:
            jobs.audit_filters(bad)
        assert str(exc.value) == "导出条件无效"


@pytest.mark.parametrize("params, message", [
    ({"since": "not-a-date"}, "导出条件无效"),
    ({"model": "nope.nothing"}, "对象类型无效"),
    ({"until": "0001-01-01"}, "日期超出范围"),
])
def test_audit_export_with_bad_filters_fails_without_retry_and_without_a_file(world, params, message):
    job = jobs.enqueue(world.admin, "core.audit_export", area=world.county, params=params, max_attempts=3)
    jobs.run_worker(worker_id="w", once=True)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert job.error == message
    assert jobs.result_file(job) is None


def test_audit_export_needs_an_active_creator(world):
    system = jobs.enqueue(None, "core.audit_export", area=world.county)
    jobs.run_worker(worker_id="w", once=True)
    system.refresh_from_db()
    assert system.status == JobStatus.FAILED and system.error == "审计日志导出须由有效账号发起"

    job = jobs.enqueue(world.town_a, "core.audit_export", area=world.area_a)
    services.set_user_active(world.admin, world.town_a, False)  # left before the worker got to it
    jobs.run_worker(worker_id="w", once=True)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error == "审计日志导出须由有效账号发起"


def test_audit_export_filtered_to_one_object(world, settings):
    from tests.core.test_jobs import _read_xlsx

    services.update_area(world.admin, world.villages["a2"], name="大唐新村")
    job = jobs.enqueue(world.admin, "core.audit_export", area=world.county,
                       params={"model": "core.area", "object_id": world.villages["a2"].pk,
                               "since": timezone.localdate().isoformat(),
                               "until": timezone.localdate().isoformat()})
    jobs.run_worker(worker_id="w", once=True)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    rows = _read_xlsx(jobs.result_file(job).read_bytes())
    assert sorted(row[2] for row in rows[1:]) == ["区域:修改", "区域:新增"]
    assert {row[4] for row in rows[1:]} == {str(world.villages["a2"].pk)}


def test_audit_export_with_nothing_matching_still_gives_a_file_with_headers(world):
    from tests.core.test_jobs import _read_xlsx

    job = jobs.enqueue(world.admin, "core.audit_export", area=world.county, params={"action": "no.such.action"})
    jobs.run_worker(worker_id="w", once=True)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["rows"] == 0 and job.result["filename"].startswith("审计日志-")
    rows = _read_xlsx(jobs.result_file(job).read_bytes())
    assert rows == [[str(t) for t in jobs.AUDIT_EXPORT_HEADERS]]


def test_audit_export_reports_progress_every_500_rows(world, monkeypatch):
    area = world.villages["b1"]
    with audit.context(actor=world.admin, request_id="bulk"):
        for i in range(1001):
            audit.record("test.bulk", area, {"n": [i, i + 1]})
    messages = []

    class Recording(jobs.Progress):
        def __init__(self, job, interval=0):  # no throttling: every call is written
            super().__init__(job, interval=0)

        def flush(self):
            messages.append((self.job.progress_done, self.job.progress_total, self.job.message))
            super().flush()

    monkeypatch.setattr(jobs, "Progress", Recording)
    job = jobs.enqueue(world.admin, "core.audit_export", area=world.county, params={"action": "test.bulk"})
    claimed = jobs.claim_next("w")
    jobs.run_job(claimed)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.result["rows"] == 1001
    assert (0, 1001, "准备导出1001条记录") in messages
    assert (500, 1001, "已导出500条") in messages and (1000, 1001, "已导出1000条") in messages
    assert messages[-1] == (1001, 1001, "已导出1001条")


def test_audit_export_that_fails_while_writing_leaves_no_partial_file(world, monkeypatch, settings):
    from pathlib import Path

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(jobs.os, "replace", disk_full)
    job = jobs.enqueue(world.admin, "core.audit_export", area=world.county, max_attempts=2)
    jobs.run_worker(worker_id="w", once=True)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.attempts == 1  # an I/O error is retried
    assert "No space left on device" in job.error
    folder = Path(settings.MEDIA_ROOT) / "exports"
    assert not list(folder.glob("*.part")) and not list(folder.glob("*.xlsx"))
    assert actions(job)[-1] == "job.retry"
