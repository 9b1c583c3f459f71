"""Deadline reminders of listed major hazards (job ``supervision.remind``): due soon, overdue, a
notice not published in time, an extension not decided in time; each once per deadline."""
from __future__ import annotations

import datetime

import pytest

from yingji.core import jobs
from yingji.core.models import AuditEntry, Job, JobStatus
from yingji.core.models.notifications import Notification
from yingji.supervision import services, workdays

from .factories import in_days, make_listing

pytestmark = pytest.mark.django_db


def titles(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user).order_by("id").values_list("title", flat=True))


def test_reminders_go_out_once_per_deadline(world, site_a):
    listing = make_listing(world, site=site_a, deadline=in_days(60))
    today = datetime.date.today()
    assert services.remind_due(today) == {"due_soon": 0, "overdue": 0, "notice_late": 0, "decision_late": 0}
    assert not AuditEntry.objects.filter(action="supervision.remind").exists()  # nothing due, nothing written
    # ten working days before the deadline: the site and the listing body are reminded
    day = workdays.add_working_days(listing.deadline, -5)
    counts = services.remind_due(day)
    assert counts["due_soon"] == 1
    assert any("整改期限临近" in t for t in titles(world.enterprise))
    services.remind_due(day)  # runs hourly: no second reminder for the same deadline
    assert sum("整改期限临近" in t for t in titles(world.enterprise)) == 1
    # past the deadline: escalated to the listing body (the county administrators and the lister)
    counts = services.remind_due(listing.deadline + datetime.timedelta(days=1))
    assert counts["overdue"] == 1
    assert any("已超过整改期限" in t for t in titles(world.enterprise))
    entries = AuditEntry.objects.filter(action="supervision.remind", object_id=listing.pk)
    assert entries.exists() and all(e.actor is None for e in entries)


def test_late_notice_and_late_extension_decision_are_chased(world, site_a):
    listing = make_listing(world, site=site_a, deadline=in_days(200))
    ext = services.request_extension(world.admin, listing, new_deadline=in_days(300), reason="设备采购周期长")
    counts = services.remind_due(ext.decide_due + datetime.timedelta(days=1))
    assert counts["notice_late"] == 1 and counts["decision_late"] == 1
    # the listing body's side (the county administrators, who listed it) is chased, the site is not
    assert any("延期申请未按期审批" in t for t in titles(world.admin))
    assert any("督办通知未按期公布" in t for t in titles(world.admin))
    assert not any("延期申请未按期审批" in t for t in titles(world.enterprise))


def test_the_worker_job_runs_the_reminders(world, site_a):
    make_listing(world, site=site_a, deadline=in_days(3))
    job = jobs.enqueue(None, "supervision.remind", area=world.county)
    assert jobs.run_worker(once=True) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.result["due_soon"] == 1
    assert Job.objects.filter(kind="supervision.remind").count() == 1
