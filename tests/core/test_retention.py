"""Retention: the periodic job core.cleanup deletes finished job rows past their retention (in
batches, through the one audited purge path) and removes expired export and import files —
never an attachment, never the file of a job that has not finished."""
from __future__ import annotations

import datetime
import os
import time

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone

from yingji.core import jobs
from yingji.core.models import AuditEntry, Job, JobStatus
from yingji.core.scoping import HardDeleteForbidden

DAY = datetime.timedelta(days=1)


def finished_job(area, status, age_days, **extra):
    job = jobs.enqueue(None, "core.echo", area=area, params=extra.pop("params", {}))
    finished = None if status in (JobStatus.QUEUED, JobStatus.RUNNING) else timezone.now() - age_days * DAY
    Job.objects.filter(pk=job.pk).update(status=status, finished_at=finished, **extra)
    return job


def touch(path, age_days: float, data: bytes = b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = time.time() - age_days * 86400
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.JOB_RETENTION_DAYS = 30
    settings.JOB_FAILED_RETENTION_DAYS = 180
    settings.EXPORT_RETENTION_DAYS = 7
    settings.IMPORT_RETENTION_DAYS = 30
    return tmp_path


def run_cleanup(area):
    job = jobs.enqueue(None, "core.cleanup", area=area)
    claimed = jobs.try_claim(job.pk, "w")
    jobs.run_job(claimed)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    return job


def test_cleanup_is_scheduled_daily_by_default():
    assert ("core.cleanup", 86400) in django_settings.JOB_SCHEDULE
    jobs.check_schedule()


def test_finished_jobs_past_their_retention_are_purged_and_the_run_is_audited_once(world, media):
    area = world.area_a
    old_ok = finished_job(area, JobStatus.SUCCEEDED, 31)
    young_ok = finished_job(area, JobStatus.SUCCEEDED, 29)
    old_cancelled = finished_job(area, JobStatus.CANCELLED, 31)
    failed_kept = finished_job(area, JobStatus.FAILED, 179)
    failed_old = finished_job(area, JobStatus.FAILED, 181)
    queued = finished_job(area, JobStatus.QUEUED, 0)
    Job.objects.filter(pk=queued.pk).update(created_at=timezone.now() - 400 * DAY)
    running = finished_job(area, JobStatus.RUNNING, 0, started_at=timezone.now() - 400 * DAY)

    cleanup = run_cleanup(world.county)
    left = set(Job.objects.values_list("pk", flat=True))
    assert {old_ok.pk, old_cancelled.pk, failed_old.pk}.isdisjoint(left)
    assert {young_ok.pk, failed_kept.pk, queued.pk, running.pk, cleanup.pk} <= left
    assert cleanup.result["jobs_succeeded"] == 1 and cleanup.result["jobs_cancelled"] == 1
    assert cleanup.result["jobs_failed"] == 1
    purges = AuditEntry.objects.filter(action="job.purge")
    assert purges.count() == 1
    entry = purges.get()
    assert entry.object_id == cleanup.pk and entry.actor is None
    assert entry.changes["jobs_succeeded"] == [None, 1] and entry.changes["jobs_failed"] == [None, 1]
    assert "删除任务记录3条" in entry.note
    # The audit trail of the purged jobs stays.
    assert AuditEntry.objects.filter(action="job.enqueue", object_id=old_ok.pk).exists()
    # The routine start/success of the cleanup itself is not audited (system bookkeeping).
    assert not AuditEntry.objects.filter(object_id=cleanup.pk, action__in=["job.start", "job.succeeded"]).exists()


def test_purge_works_in_bounded_batches(world, media, monkeypatch):
    monkeypatch.setattr(jobs, "PURGE_BATCH", 2)
    monkeypatch.setattr(jobs, "PURGE_MAX_ROWS", 5)
    for _ in range(7):
        finished_job(world.area_a, JobStatus.SUCCEEDED, 40)
    batches = []
    real = jobs._purge_job_rows
    monkeypatch.setattr(jobs, "_purge_job_rows", lambda ids: batches.append(len(ids)) or real(ids))
    first = run_cleanup(world.county)
    assert first.result["jobs_succeeded"] == 5 and batches == [2, 2, 1]
    second = run_cleanup(world.county)
    assert second.result["jobs_succeeded"] == 2  # the backlog is worked off by the next run


def test_the_purge_is_the_only_way_to_delete_jobs(world):
    job = jobs.enqueue(None, "core.echo", area=world.area_a)
    with pytest.raises(HardDeleteForbidden):
        Job.objects.filter(pk=job.pk).delete()
    with pytest.raises(HardDeleteForbidden):
        job.delete()


def test_expired_export_and_import_files_go_attachments_and_live_files_stay(world, media):
    exports = media / "exports"
    old_export = touch(exports / "audit-1-aaaa.xlsx", 8)
    new_export = touch(exports / "audit-2-bbbb.xlsx", 6)
    stale_part = touch(exports / "audit-3-cccc.xlsx.part", 2)
    fresh_part = touch(exports / "audit-4-dddd.xlsx.part", 0.1)
    foreign = touch(exports / "README.txt", 400)
    attachment = touch(media / "attachments" / "2024" / "01" / ("e" * 32 + ".jpg"), 900)
    attachment_like = touch(media / "attachments" / "audit-5-eeee.xlsx", 900)

    imports = media / "imports"
    done_long_ago = touch(imports / ("1" * 32 + ".xlsx"), 60)
    finished_job(world.area_a, JobStatus.SUCCEEDED, 31, params={"file": done_long_ago.name})
    shared = touch(imports / ("2" * 32 + ".csv"), 60)  # a dry run long ago, its real import recently
    finished_job(world.area_a, JobStatus.SUCCEEDED, 50, params={"file": shared.name})
    finished_job(world.area_a, JobStatus.SUCCEEDED, 5, params={"file": shared.name})
    in_use = touch(imports / ("3" * 32 + ".xlsx"), 60)
    finished_job(world.area_a, JobStatus.RUNNING, 0, params={"file": in_use.name})
    orphan_old = touch(imports / ("4" * 32 + ".xlsx"), 31)
    orphan_new = touch(imports / ("5" * 32 + ".xlsx"), 1)

    cleanup = run_cleanup(world.county)
    assert cleanup.result["export_files"] == 2 and cleanup.result["import_files"] == 2
    for gone in (old_export, stale_part, done_long_ago, orphan_old):
        assert not gone.exists(), gone
    for kept in (new_export, fresh_part, foreign, attachment, attachment_like, shared, in_use, orphan_new):
        assert kept.exists(), kept
    entry = AuditEntry.objects.get(action="job.purge")
    assert entry.changes["export_files"] == [None, 2] and entry.changes["import_files"] == [None, 2]


def test_a_download_of_a_cleaned_export_says_so(world, media):
    job = finished_job(world.county, JobStatus.SUCCEEDED, 8, created_by=world.admin,
                       result={"file": "audit-9-ffff.xlsx"})
    touch(media / "exports" / "audit-9-ffff.xlsx", 8)
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - DAY)  # the row stays, the file goes
    run_cleanup(world.county)
    assert Job.objects.filter(pk=job.pk).exists()
    from yingji.core.errors import NotFound

    with pytest.raises(NotFound, match="已被清理"):
        jobs.downloadable_file(world.admin, job.pk)


def test_cleanup_command(world, media, capsys):
    finished_job(world.area_a, JobStatus.SUCCEEDED, 31)
    call_command("cleanup")
    out = capsys.readouterr().out
    assert "jobs_succeeded: 1" in out
    assert AuditEntry.objects.filter(action="job.purge").count() == 1
