"""Worker heartbeats: a job whose worker is gone (no heartbeat for JOB_HEARTBEAT_TIMEOUT) is
reclaimed long before its 10-minute lease runs out; a live job that beats is never reclaimed,
however long it runs without reporting progress."""
from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone

from yingji.core import jobs
from yingji.core.models import Area, AreaLevel, AuditEntry, Job, JobStatus


def actions(job) -> list[str]:
    ct = ContentType.objects.get_for_model(Job)
    return list(AuditEntry.objects.filter(content_type=ct, object_id=job.pk).order_by("id")
                .values_list("action", flat=True))


def test_claim_starts_the_heartbeat(world):
    job = jobs.enqueue(None, "core.echo", area=world.area_a)
    before = timezone.now()
    claimed = jobs.claim_next("w1")
    assert claimed.pk == job.pk and claimed.heartbeat_at is not None and claimed.heartbeat_at >= before


def test_a_job_with_a_stale_heartbeat_is_reclaimed_although_its_lease_still_runs(world, settings):
    settings.JOB_LEASE_SECONDS = 600
    settings.JOB_HEARTBEAT_TIMEOUT = 50
    job = jobs.enqueue(None, "core.echo", area=world.area_a, params={"steps": 1})
    dead = jobs.claim_next("killed-worker")
    assert dead.pk == job.pk
    now = timezone.now()
    # The worker was killed 51 s ago: its last heartbeat is that old, its lease has 9 minutes left.
    Job.objects.filter(pk=job.pk).update(heartbeat_at=now - datetime.timedelta(seconds=51),
                                         lease_until=now + datetime.timedelta(seconds=549))
    taken = jobs.claim_next("w2")
    assert taken is not None and taken.pk == job.pk and taken.claimed_by == "w2" and taken.attempts == 2
    assert actions(job) == ["job.enqueue", "job.start", "job.reclaim", "job.start"]
    note = AuditEntry.objects.get(action="job.reclaim", object_id=job.pk).note
    assert "killed-worker" in note and "心跳" in note
    # The killed worker's late writes are refused, the new owner's result stands.
    with pytest.raises(jobs.JobLeaseLost):
        jobs.Progress(dead)(1, 1)
    assert jobs.Heartbeat(dead).beat() is False
    jobs.run_job(taken)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.result["attempt"] == 2


def test_a_recent_heartbeat_keeps_the_job(world, settings):
    settings.JOB_HEARTBEAT_TIMEOUT = 50
    job = jobs.enqueue(None, "core.echo", area=world.area_a)
    jobs.claim_next("w1")
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - datetime.timedelta(seconds=40))
    assert jobs.claim_next("w2") is None
    assert jobs.reclaim_expired() == 0
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.claimed_by == "w1"


def test_a_beat_extends_the_lease_and_a_lost_job_stops_the_handler(world, settings):
    settings.JOB_LEASE_SECONDS = 600
    job = jobs.enqueue(None, "core.echo", area=world.area_a)
    claimed = jobs.claim_next("w1")
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() + datetime.timedelta(seconds=5),
                                         heartbeat_at=timezone.now() - datetime.timedelta(seconds=9))
    beat = jobs.Heartbeat(claimed)
    assert beat.beat() is True
    job.refresh_from_db()
    assert job.lease_until > timezone.now() + datetime.timedelta(seconds=590)
    assert job.heartbeat_at > timezone.now() - datetime.timedelta(seconds=2)
    # Another worker reclaimed it meanwhile: the next beat notices, and the next progress call stops the handler.
    Job.objects.filter(pk=job.pk).update(claimed_by="w2")
    assert beat.beat() is False and beat.lost.is_set()
    with pytest.raises(jobs.JobLeaseLost):
        jobs.Progress(claimed, heartbeat=beat)(1, 10)


@pytest.mark.django_db(transaction=True)
def test_live_long_job_is_not_reclaimed_and_a_dead_workers_job_is_within_the_window(settings):
    """Real threads and timing, with the periods scaled down (beat 0.2 s, timeout 1 s, lease 1 s):
    a handler that runs 3 s without reporting progress keeps its job, because its worker's heartbeat
    thread beats; a job claimed by a worker that then dies is taken by another worker within the
    timeout plus one reclaim check."""
    settings.JOB_HEARTBEAT_SECONDS = 0.2
    settings.JOB_HEARTBEAT_TIMEOUT = 1
    settings.JOB_LEASE_SECONDS = 1
    area = Area.objects.create(code="330681", name="诸暨市", level=AreaLevel.COUNTY)
    checks: list[int] = []

    @jobs.job_handler("test.long_silent")
    def long_silent(job, progress):
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            time.sleep(0.25)
            checks.append(jobs.reclaim_expired())  # what any other worker's check would do
        return {"ok": True}

    try:
        live = jobs.enqueue(None, "test.long_silent", area=area)
        claimed = jobs.claim_next("live-worker")
        assert claimed.pk == live.pk
        jobs.run_job(claimed)
        live.refresh_from_db()
        assert live.status == JobStatus.SUCCEEDED and live.attempts == 1, live.error
        assert checks and not any(checks)
        assert "job.reclaim" not in actions(live)

        # A worker claims a job and is killed before running it: no heartbeat from then on.
        dead = jobs.enqueue(None, "core.echo", area=area)
        assert jobs.claim_next("killed-worker").pk == dead.pk
        killed_at = time.monotonic()
        taken = None
        while taken is None and time.monotonic() - killed_at < 5:
            time.sleep(0.1)
            taken = jobs.claim_next("w2")
        waited = time.monotonic() - killed_at
        assert taken is not None and taken.pk == dead.pk and taken.claimed_by == "w2"
        assert 1.0 <= waited < 2.0  # the timeout (1 s), not the lease or anything longer
    finally:
        jobs.HANDLERS.pop("test.long_silent", None)
        connection.close()
