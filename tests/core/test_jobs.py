"""Background jobs: queueing, claiming (SQLite compare-and-set, PostgreSQL SKIP LOCKED), retries,
lease reclaim, scope of pages/API, the audit trail of a job's life, and the audit export."""
from __future__ import annotations

import datetime
import os
import signal
import threading

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from yingji.core import jobs
from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.core.models import Area, AreaLevel, AuditEntry, Job, JobStatus


def actions(job) -> list[str]:
    ct = ContentType.objects.get_for_model(Job)
    return list(AuditEntry.objects.filter(content_type=ct, object_id=job.pk).order_by("id")
                .values_list("action", flat=True))


def make_due(job) -> None:
    Job.objects.filter(pk=job.pk).update(run_after=timezone.now() - datetime.timedelta(seconds=1))


# ---------------------------------------------------------------- enqueue and run

def test_enqueue_and_run_once_succeeds_with_progress_and_audit_trail(world):
    job = jobs.enqueue(world.town_a, "core.echo", area=world.area_a, params={"steps": 5, "echo": "你好"})
    assert job.status == JobStatus.QUEUED and job.created_by == world.town_a

    assert jobs.run_worker(worker_id="w-test", once=True) == 1

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.result == {"echo": "你好", "steps": 5, "attempt": 1}
    assert (job.progress_done, job.progress_total, job.percent) == (5, 5, 100)
    assert job.message == "第5步,共5步"
    assert job.attempts == 1 and job.finished_at is not None and job.lease_until is None
    assert actions(job) == ["job.enqueue", "job.start", "job.succeeded"]
    enqueue_entry = AuditEntry.objects.get(object_id=job.pk, action="job.enqueue",
                                           content_type=ContentType.objects.get_for_model(Job))
    assert enqueue_entry.actor == world.town_a
    assert AuditEntry.objects.get(object_id=job.pk, action="job.succeeded",
                                  content_type=ContentType.objects.get_for_model(Job)).actor is None


def test_routine_runs_of_system_bookkeeping_are_not_audited_but_failures_are(world, monkeypatch):
    outcome = {"fail": False}

    def regrade(job, progress):
        if outcome["fail"]:
            raise jobs.JobError("监管对象不存在")
        return {"ok": True}

    monkeypatch.setitem(jobs.HANDLERS, "test.bookkeeping", None)  # the registration is undone after the test
    del jobs.HANDLERS["test.bookkeeping"]
    jobs.job_handler("test.bookkeeping", audit_runs=False)(regrade)
    now = timezone.now()
    quiet = jobs.enqueue_coalesced("test.bookkeeping", area=world.area_a, params={}, run_after=now, key="bk:1")
    assert quiet == JobStatus.QUEUED
    assert jobs.run_worker(worker_id="w", once=True) == 1
    job = Job.objects.get(idempotency_key="bk:1")
    assert job.status == JobStatus.SUCCEEDED and job.result == {"ok": True} and job.started_at and job.finished_at
    assert actions(job) == ["job.enqueue"]  # queued: audited; routine start and success: the job row only
    outcome["fail"] = True
    jobs.enqueue_coalesced("test.bookkeeping", area=world.area_a, params={}, run_after=now, key="bk:2")
    jobs.run_worker(worker_id="w", once=True)
    job = Job.objects.get(idempotency_key="bk:2")
    assert job.status == JobStatus.FAILED and actions(job) == ["job.enqueue", "job.failed"]
    # every other kind keeps its whole life in the audit trail
    echo = jobs.enqueue(world.town_a, "core.echo", area=world.area_a)
    jobs.run_worker(worker_id="w", once=True)
    assert actions(echo) == ["job.enqueue", "job.start", "job.succeeded"]


def test_enqueue_rejects_unknown_kind_and_bad_input(world):
    with pytest.raises(InvalidInput) as exc:
        jobs.enqueue(world.admin, "nope.unknown", area=world.county)
    assert exc.value.message == "未知的任务类型:nope.unknown"
    with pytest.raises(InvalidInput) as exc:
        jobs.enqueue(world.admin, "core.echo", area=world.county, params=["not", "a", "dict"])
    assert "JSON对象" in exc.value.message
    with pytest.raises(InvalidInput) as exc:
        jobs.enqueue(world.admin, "core.echo", area=world.county, max_attempts=0)
    assert exc.value.message == "最多尝试次数须在1到20之间"
    assert not Job.objects.exists()


def test_enqueue_needs_view_on_area(world):
    with pytest.raises(NotFound):
        jobs.enqueue(world.town_b, "core.echo", area=world.area_a)
    with pytest.raises(NotFound):
        jobs.enqueue(world.grid, "core.echo", area=world.area_a)  # grid worker sees only village a1
    with pytest.raises((NotFound, Forbidden)):
        jobs.enqueue(world.enterprise, "core.echo", area=world.county)
    # A sector-narrowed county officer may queue a job for the county (jobs are scoped by area only).
    job = jobs.enqueue(world.dept, "core.echo", area=world.county)
    assert Job.objects.visible_to(world.dept).filter(pk=job.pk).exists()
    # The system (scheduled work) may queue anywhere.
    assert jobs.enqueue(None, "core.echo", area=world.area_b).created_by is None


def test_idempotency_key_returns_the_same_job(world):
    first = jobs.enqueue(world.town_a, "core.echo", area=world.area_a, idempotency_key="daily-2026-01-01")
    again = jobs.enqueue(world.town_a, "core.echo", area=world.area_a, idempotency_key="daily-2026-01-01")
    assert again.pk == first.pk
    assert Job.objects.count() == 1
    assert actions(first) == ["job.enqueue", "job.enqueue_repeat"]
    # Someone who cannot see that job learns nothing about it.
    with pytest.raises(Conflict) as exc:
        jobs.enqueue(world.town_b, "core.echo", area=world.area_b, idempotency_key="daily-2026-01-01")
    assert exc.value.message == "该幂等键已被其他任务使用"
    with pytest.raises(Conflict):
        jobs.enqueue(world.town_a, "core.audit_export", area=world.area_a, idempotency_key="daily-2026-01-01")
    assert Job.objects.count() == 1


def test_idempotency_key_race_hits_unique_constraint_and_returns_existing(world, monkeypatch):
    existing = jobs.enqueue(None, "core.echo", area=world.area_a, idempotency_key="race-key")
    original_filter = Job.objects.filter
    calls = {"n": 0}

    def stale_first_lookup(*args, **kwargs):
        # The first look-up runs "before the other request committed": it finds nothing.
        calls["n"] += 1
        if calls["n"] == 1 and kwargs.get("idempotency_key") == "race-key":
            return Job.objects.none()
        return original_filter(*args, **kwargs)

    monkeypatch.setattr(Job.objects, "filter", stale_first_lookup)
    again = jobs.enqueue(None, "core.echo", area=world.area_a, idempotency_key="race-key")
    monkeypatch.undo()
    assert again.pk == existing.pk
    assert Job.objects.filter(idempotency_key="race-key").count() == 1


# ---------------------------------------------------------------- failures and retries

def test_failing_handler_is_retried_then_marked_failed(world):
    job = jobs.enqueue(None, "core.echo", area=world.area_a, params={"fail_times": 99}, max_attempts=2)
    before = timezone.now()
    assert jobs.run_worker(worker_id="w1", once=True) == 1  # fails, goes back to the queue for later
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.attempts == 1
    assert "planned failure on attempt 1" in job.error and "Traceback" in job.error
    assert job.run_after >= before + datetime.timedelta(seconds=jobs.RETRY_BASE_SECONDS)
    assert job.claimed_by == "" and job.lease_until is None
    assert jobs.claim_next("w1") is None  # not due yet: backoff

    make_due(job)
    jobs.run_worker(worker_id="w1", once=True)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.attempts == 2
    assert "planned failure on attempt 2" in job.error
    assert job.finished_at is not None
    assert actions(job) == ["job.enqueue", "job.start", "job.retry", "job.start", "job.failed"]
    assert jobs.claim_next("w1") is None


def test_retry_then_success_and_backoff_grows(world):
    assert jobs.retry_delay(1) < jobs.retry_delay(2) < jobs.retry_delay(3)
    assert jobs.retry_delay(50) == datetime.timedelta(seconds=jobs.RETRY_MAX_SECONDS)
    job = jobs.enqueue(None, "core.echo", area=world.area_a, params={"fail_times": 1})
    jobs.run_worker(worker_id="w1", once=True)
    make_due(job)
    jobs.run_worker(worker_id="w1", once=True)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2 and job.result["attempt"] == 2
    assert job.error == ""


def test_job_error_fails_at_once_without_retry(world):
    job = jobs.enqueue(None, "core.echo", area=world.area_a, params={"fatal": "数据源不可用"}, max_attempts=5)
    jobs.run_worker(worker_id="w1", once=True)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert job.error == "数据源不可用"


# ---------------------------------------------------------------- claiming

def test_expired_lease_is_reclaimed_and_the_dead_worker_loses_the_job(world):
    job = jobs.enqueue(None, "core.echo", area=world.area_a, params={"steps": 2})
    dead = jobs.claim_next("dead-worker")
    assert dead.pk == job.pk and dead.status == JobStatus.RUNNING and dead.claimed_by == "dead-worker"
    assert jobs.claim_next("w2") is None  # the lease still holds: nobody else takes it

    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - datetime.timedelta(seconds=1))
    taken = jobs.claim_next("w2")
    assert taken is not None and taken.pk == job.pk
    assert taken.claimed_by == "w2" and taken.attempts == 2
    assert actions(job) == ["job.enqueue", "job.start", "job.reclaim", "job.start"]
    assert "dead-worker" in AuditEntry.objects.get(action="job.reclaim", object_id=job.pk).note

    # The old worker wakes up: its progress and its result are refused, the new owner's stand.
    with pytest.raises(jobs.JobLeaseLost):
        jobs.Progress(dead)(1, 2)
    assert jobs._succeed(dead, {"stale": True}) is False
    jobs.run_job(taken)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.result["attempt"] == 2


def test_expired_lease_with_attempts_used_up_is_marked_failed(world):
    job = jobs.enqueue(None, "core.echo", area=world.area_a, max_attempts=1)
    jobs.claim_next("dead-worker")
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - datetime.timedelta(seconds=1))
    assert jobs.claim_next("w2") is None
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.finished_at is not None
    assert "租约" in job.error and "dead-worker" in job.error
    assert actions(job)[-1] == "job.failed"


def test_compare_and_set_claim_gives_a_job_to_one_worker_only(world):
    job = jobs.enqueue(None, "core.echo", area=world.area_a)
    # Both workers saw the job as queued; only the first conditional update changes the row.
    first = jobs.try_claim(job.pk, "w1")
    second = jobs.try_claim(job.pk, "w2")
    assert first is not None and first.claimed_by == "w1"
    assert second is None
    job.refresh_from_db()
    assert job.claimed_by == "w1" and job.attempts == 1
    assert actions(job).count("job.start") == 1


def test_claim_order_and_schedule(world):
    later = jobs.enqueue(None, "core.echo", area=world.area_a,
                         run_after=timezone.now() + datetime.timedelta(hours=1))
    a = jobs.enqueue(None, "core.echo", area=world.area_a)
    b = jobs.enqueue(None, "core.echo", area=world.area_a)
    assert jobs.claim_next("w").pk == a.pk
    assert jobs.claim_next("w").pk == b.pk
    assert jobs.claim_next("w") is None
    later.refresh_from_db()
    assert later.status == JobStatus.QUEUED


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_take_the_same_job():
    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("needs SELECT … FOR UPDATE SKIP LOCKED (PostgreSQL); SQLite is covered by the "
                    "compare-and-set test")
    area = Area.objects.create(code="330681", name="诸暨市", level=AreaLevel.COUNTY)
    for _ in range(40):
        jobs.enqueue(None, "core.echo", area=area)
    workers = 6
    barrier = threading.Barrier(workers)
    claimed: list[list[int]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []

    def work(i):
        try:
            barrier.wait()
            while True:
                job = jobs.claim_next(f"w{i}")
                if job is None:
                    break
                claimed[i].append(job.pk)
                jobs.run_job(job)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    all_claimed = [pk for ids in claimed for pk in ids]
    assert len(all_claimed) == 40
    assert len(set(all_claimed)) == 40
    assert sum(1 for ids in claimed if ids) > 1  # the work really was shared
    assert Job.objects.filter(status=JobStatus.SUCCEEDED, attempts=1).count() == 40
    assert AuditEntry.objects.filter(action="job.start").count() == 40


# ---------------------------------------------------------------- cancel

def test_cancel_only_queued_and_only_by_editors(world):
    job = jobs.enqueue(world.town_a, "core.echo", area=world.area_a)
    with pytest.raises(NotFound):
        jobs.cancel_job(world.town_b, job)
    with pytest.raises(NotFound):
        jobs.cancel_job(world.leader, job)  # another person's job: not even seen
    cancelled = jobs.cancel_job(world.town_a, job)
    assert cancelled.status == JobStatus.CANCELLED and cancelled.finished_at is not None
    assert jobs.claim_next("w") is None
    entry = AuditEntry.objects.get(action="job.cancel", object_id=job.pk)
    assert entry.actor == world.town_a
    with pytest.raises(InvalidInput) as exc:
        jobs.cancel_job(world.town_a, job)
    assert exc.value.message == "只能取消排队中的任务,该任务已取消"

    running = jobs.enqueue(world.town_a, "core.echo", area=world.area_a)
    jobs.claim_next("w")
    with pytest.raises(InvalidInput):
        jobs.cancel_job(world.town_a, running)


# ---------------------------------------------------------------- worker loop

@jobs.job_handler("test.sigterm")
def _sigterm_handler(job, progress):
    os.kill(os.getpid(), signal.SIGTERM)
    return {"ok": True}


def test_sigterm_stops_the_worker_after_the_current_job(world):
    first = jobs.enqueue(None, "test.sigterm", area=world.area_a)
    second = jobs.enqueue(None, "core.echo", area=world.area_a)
    previous = signal.getsignal(signal.SIGTERM)
    assert jobs.run_worker(worker_id="w", poll=0.05) == 1  # would poll forever without the signal
    assert signal.getsignal(signal.SIGTERM) is previous
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == JobStatus.SUCCEEDED and first.result == {"ok": True}
    assert second.status == JobStatus.QUEUED


def test_stop_event_and_max_jobs(world):
    for _ in range(3):
        jobs.enqueue(None, "core.echo", area=world.area_a)
    assert jobs.run_worker(worker_id="w", max_jobs=2) == 2
    stop = threading.Event()
    stop.set()
    assert jobs.run_worker(worker_id="w", stop_event=stop) == 0
    assert Job.objects.filter(status=JobStatus.QUEUED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_worker_survives_a_database_error_while_claiming(monkeypatch):
    from django.db import OperationalError

    stop = threading.Event()
    calls = {"n": 0}

    def flaky_claim(worker_id, now=None, reclaim=True):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("database is locked")
        stop.set()
        return None

    monkeypatch.setattr(jobs, "claim_next", flaky_claim)
    assert jobs.run_worker(worker_id="w", poll=0.05, stop_event=stop) == 0
    assert calls["n"] == 2  # kept going after the error
    with pytest.raises(OperationalError):  # --once reports it instead of looping
        calls["n"] = 0
        jobs.run_worker(worker_id="w", once=True)


def test_a_running_worker_looks_for_expired_leases_every_few_seconds(db, monkeypatch):
    stop = threading.Event()
    flags = []

    def claim(worker_id, now=None, reclaim=True):
        flags.append(reclaim)
        if len(flags) == 3:
            stop.set()
        return None

    monkeypatch.setattr(jobs, "claim_next", claim)
    jobs.run_worker(worker_id="w", poll=0.05, stop_event=stop)
    assert flags == [True, False, False]  # at start, then not again within RECLAIM_CHECK_SECONDS
    flags.clear()
    monkeypatch.setattr(jobs, "RECLAIM_CHECK_SECONDS", 0.0)
    stop.clear()
    jobs.run_worker(worker_id="w", poll=0.05, stop_event=stop)
    assert flags == [True, True, True]


def test_worker_command_runs_due_jobs(world, capsys):
    job = jobs.enqueue(None, "core.echo", area=world.area_a, params={"steps": 2})
    call_command("worker", "--once", "--poll", "0.1")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert "1 job(s) run" in capsys.readouterr().out


def test_unknown_kind_in_the_table_fails_cleanly(world):
    job = jobs.enqueue(None, "core.echo", area=world.area_a)
    Job.objects.filter(pk=job.pk).update(kind="gone.away")
    jobs.run_worker(worker_id="w", once=True)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error == "未知的任务类型:gone.away"


# ---------------------------------------------------------------- pages and API

def test_job_pages_and_api_are_scoped(world, client, api_client):
    job = jobs.enqueue(world.town_a, "core.echo", area=world.area_a)
    client.force_login(world.town_b)
    for url in (f"/jobs/{job.pk}/", f"/jobs/{job.pk}/progress/"):
        assert client.get(url).status_code == 404
    assert client.post(f"/jobs/{job.pk}/cancel/").status_code == 404
    assert f"/jobs/{job.pk}/" not in client.get("/jobs/").content.decode()
    r = api_client.as_user(world.town_b).get(f"/api/v1/jobs/{job.pk}")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert api_client.post(f"/api/v1/jobs/{job.pk}/cancel").status_code == 404
    assert api_client.get("/api/v1/jobs").json()["items"] == []
    Job.objects.get(pk=job.pk)  # untouched
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED

    client.force_login(world.town_a)
    page = client.get("/jobs/").content.decode()
    assert f"/jobs/{job.pk}/" in page and "测试任务" in page and "排队中" in page
    detail = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "job.enqueue" in detail  # the job's life from the audit trail
    r = api_client.as_user(world.town_a).get(f"/api/v1/jobs/{job.pk}")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "queued" and body["status_label"] == "排队中" and body["percent"] == 0
    assert api_client.get("/api/v1/jobs").json()["items"][0]["id"] == job.pk


def test_api_cancel_and_errors(world, api_client):
    job = jobs.enqueue(world.town_a, "core.echo", area=world.area_a)
    r = api_client.as_user(world.leader).post(f"/api/v1/jobs/{job.pk}/cancel")
    assert r.status_code == 404  # another person's job
    r = api_client.as_user(world.town_a).post(f"/api/v1/jobs/{job.pk}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = api_client.post(f"/api/v1/jobs/{job.pk}/cancel")
    assert r.status_code == 422 and r.json()["message"] == "只能取消排队中的任务,该任务已取消"
    assert api_client.get("/api/v1/jobs", status="bogus").status_code == 422
    assert api_client.get("/api/v1/jobs", cursor="!!").status_code == 422


def test_page_cancel_shows_message(world, client):
    job = jobs.enqueue(world.town_a, "core.echo", area=world.area_a)
    client.force_login(world.town_a)
    r = client.post(f"/jobs/{job.pk}/cancel/", follow=True)
    assert "已取消任务" in r.content.decode()
    r = client.post(f"/jobs/{job.pk}/cancel/", follow=True)
    assert "只能取消排队中的任务" in r.content.decode()


def test_progress_partial_polls_while_active_and_stops_when_done(world, client):
    job = jobs.enqueue(world.town_a, "core.echo", area=world.area_a)
    claimed = jobs.claim_next("w")
    jobs.Progress(claimed)(2, 5, "正在处理")
    client.force_login(world.town_a)
    html = client.get(f"/jobs/{job.pk}/progress/").content.decode()
    assert 'data-testid="job-percent">40%' in html
    assert 'hx-trigger="every 1s"' in html and 'hx-swap="outerHTML"' in html
    assert f'hx-get="/jobs/{job.pk}/progress/"' in html
    assert "执行中" in html and "正在处理" in html and 'style="width:40%"' in html

    jobs.run_job(claimed)
    html = client.get(f"/jobs/{job.pk}/progress/").content.decode()
    assert "100%" in html and "已完成" in html
    assert "hx-trigger" not in html


def test_progress_partial_shows_error_of_failed_job(world, client):
    job = jobs.enqueue(world.town_a, "core.echo", area=world.area_a, params={"fatal": "源文件格式错误"})
    jobs.run_worker(worker_id="w", once=True)
    client.force_login(world.town_a)
    html = client.get(f"/jobs/{job.pk}/progress/").content.decode()
    assert "失败" in html and "源文件格式错误" in html and "hx-trigger" not in html


def test_progress_is_throttled_but_completion_always_written(world):
    job = jobs.enqueue(None, "core.echo", area=world.area_a)
    claimed = jobs.claim_next("w")
    progress = jobs.Progress(claimed, interval=60)
    progress(1, 10, "a")
    lease_after_first = Job.objects.get(pk=job.pk).lease_until
    progress(5, 10, "b")
    row = Job.objects.get(pk=job.pk)
    assert (row.progress_done, row.message) == (1, "a")  # throttled
    progress(10, 10, "done")
    row = Job.objects.get(pk=job.pk)
    assert (row.progress_done, row.progress_total, row.message) == (10, 10, "done")
    assert row.lease_until >= lease_after_first  # progress renews the lease


# ---------------------------------------------------------------- audit export

def _read_xlsx(data: bytes) -> list[list]:
    import io

    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    rows = []
    for name in book.sheet_names:
        rows.extend(book.get_sheet_by_name(name).to_python())
    return rows


def test_audit_export_contains_only_what_the_creator_may_see(world, client, api_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(world.town_a)
    r = client.post("/jobs/export-audit/", {"action": "area.create"})
    job = Job.objects.get(kind="core.audit_export")
    assert r.status_code == 302 and r["Location"] == f"/jobs/{job.pk}/"
    assert job.created_by == world.town_a and job.area == world.area_a
    assert job.params == {"action": "area.create"}

    jobs.run_worker(worker_id="w", once=True)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.percent == 100 and job.result["rows"] == 7  # 大唐街道 itself, its 2 villages and 4 grids

    r = client.get(f"/jobs/{job.pk}/download/")
    assert r.status_code == 200
    assert "attachment" in r["Content-Disposition"]
    rows = _read_xlsx(b"".join(r.streaming_content))
    assert rows[0][:3] == ["时间", "操作人", "操作"]
    objects = [row[5] for row in rows[1:]]
    assert len(objects) == 7
    assert all(row[2] == "区域:新增" for row in rows[1:])  # the action in Chinese
    assert any(name.startswith("大唐街道1村") for name in objects)
    assert not any("店口镇" in name for name in objects)
    assert "下载文件" in client.get(f"/jobs/{job.pk}/progress/").content.decode()

    # Others: another person's job is not theirs to see, in scope or not (the file holds the creator's view).
    client.force_login(world.town_b)
    assert client.get(f"/jobs/{job.pk}/download/").status_code == 404
    client.force_login(world.admin)
    assert client.get(f"/jobs/{job.pk}/download/").status_code == 404
    r = api_client.as_user(world.town_b).get(f"/api/v1/jobs/{job.pk}/download")
    assert r.status_code == 404
    r = api_client.as_user(world.town_a).get(f"/api/v1/jobs/{job.pk}")
    assert r.json()["download_url"] == f"/api/v1/jobs/{job.pk}/download"
    r = api_client.get(f"/api/v1/jobs/{job.pk}/download")
    assert r.status_code == 200 and len(_read_xlsx(b"".join(r.streaming_content))) == 8


def test_audit_export_of_the_county_and_formula_safety(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    from yingji.core import services

    services.update_area(world.admin, world.villages["b1"], name="=HYPERLINK(\"http://x\")")
    job = jobs.enqueue(world.admin, "core.audit_export", area=world.county, params={"action": "area.update"})
    jobs.run_worker(worker_id="w", once=True)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    path = tmp_path / "exports" / job.result["file"]
    rows = _read_xlsx(path.read_bytes())
    assert len(rows) == 2
    assert rows[1][5] == '=HYPERLINK("http://x")'  # stored as text, not as a formula
    assert not list((tmp_path / "exports").glob("*.part"))


def test_audit_export_needs_view_audit_and_valid_filters(world, client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(world.grid)  # grid workers do not read the audit trail
    assert client.post("/jobs/export-audit/", {}).status_code == 404
    client.force_login(world.town_a)
    r = client.post("/jobs/export-audit/", {"since": "not-a-date"})
    assert r.status_code == 302 and r["Location"].startswith("/audit/")
    assert not Job.objects.exists()
    assert client.get("/jobs/export-audit/").status_code == 405


def test_download_of_a_job_without_file_is_404(world, client):
    job = jobs.enqueue(world.town_a, "core.echo", area=world.area_a)
    jobs.run_worker(worker_id="w", once=True)
    client.force_login(world.town_a)
    r = client.get(f"/jobs/{job.pk}/download/")
    assert r.status_code == 404 and "没有可下载的文件" in r.content.decode()


# ---------------------------------------------------------------- periodic jobs (YINGJI_SCHEDULE)

def test_periodic_jobs_are_queued_once_per_slot_whatever_the_number_of_workers(world):
    schedule = [("hazards.escalate_overdue", 3600), ("stats.refresh", 600)]
    t0 = datetime.datetime(2026, 11, 28, 9, 0, 5, tzinfo=datetime.timezone.utc)
    first = jobs.enqueue_scheduled(now=t0, schedule=schedule)
    again = jobs.enqueue_scheduled(now=t0 + datetime.timedelta(seconds=30), schedule=schedule)  # a second worker
    assert [j.kind for j in first] == ["hazards.escalate_overdue", "stats.refresh"]
    assert [j.pk for j in again] == [j.pk for j in first]
    assert all(j.area == world.county and j.created_by is None for j in first)
    later = jobs.enqueue_scheduled(now=t0 + datetime.timedelta(minutes=11), schedule=schedule)
    assert later[0].pk == first[0].pk and later[1].pk != first[1].pk  # hourly job: same slot; 10-minute: next
    assert Job.objects.filter(kind="stats.refresh").count() == 2
    assert Job.objects.filter(kind="hazards.escalate_overdue").count() == 1


def test_worker_runs_the_schedule_and_refuses_unknown_kinds(world, settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.JOB_SCHEDULE = [("no.such_job", 600)]
    with pytest.raises(ImproperlyConfigured, match="no.such_job"):
        jobs.run_worker(once=True, schedule=True)
    settings.JOB_SCHEDULE = [("stats.refresh", 600)]
    stop = threading.Event()
    stop.set()  # the loop queues nothing once stopped
    assert jobs.run_worker(stop_event=stop, schedule=True) == 0
    ran = jobs.run_worker(once=True, schedule=True)
    assert ran == 1 and Job.objects.get(kind="stats.refresh").status == JobStatus.SUCCEEDED


@pytest.mark.parametrize("raw, expected", [
    ("", []),
    ("stats.refresh=600", [("stats.refresh", 600)]),
    (" hazards.escalate_overdue=3600 , stats.refresh=600 ", [("hazards.escalate_overdue", 3600),
                                                            ("stats.refresh", 600)]),
])
def test_schedule_setting_parses(monkeypatch, raw, expected):
    from yingji.settings import env_schedule

    monkeypatch.setenv("YINGJI_TEST_SCHEDULE", raw)
    assert env_schedule("YINGJI_TEST_SCHEDULE", "x=1") == expected


@pytest.mark.parametrize("raw", ["stats.refresh", "stats.refresh=abc", "=600", "stats.refresh=30"])
def test_schedule_setting_fails_loudly(monkeypatch, raw):
    from django.core.exceptions import ImproperlyConfigured

    from yingji.settings import env_schedule

    monkeypatch.setenv("YINGJI_TEST_SCHEDULE", raw)
    with pytest.raises(ImproperlyConfigured, match="YINGJI_TEST_SCHEDULE"):
        env_schedule("YINGJI_TEST_SCHEDULE", "")
