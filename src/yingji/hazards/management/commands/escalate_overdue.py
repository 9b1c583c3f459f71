"""``yingji escalate_overdue [--enqueue]``: flag overdue hazards and escalate them one level.

Meant for cron or a systemd timer (the platform has no scheduler of its own), e.g. hourly::

    0 * * * *  yingji escalate_overdue            # run now, in this process
    0 * * * *  yingji escalate_overdue --enqueue  # or queue the job for ``yingji worker``

With ``--enqueue`` the job's idempotency key is the current hour, so overlapping timers queue
one job per hour at most.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from yingji.core import audit, jobs
from yingji.core.models import Area

from ... import services


class Command(BaseCommand):
    help = "Flag hazards past their deadline as overdue and escalate them one level up."

    def add_arguments(self, parser):
        parser.add_argument("--enqueue", action="store_true", help="queue a job for the worker instead")

    def handle(self, *args, **opts):
        with audit.context(request_id="hazards-escalate-cli"):
            if opts["enqueue"]:
                root = Area.objects.filter(parent__isnull=True, archived_at__isnull=True).order_by("id").first()
                if root is None:
                    raise CommandError("没有行政区域,无法创建任务 (no root area)")
                key = "hazards.escalate:" + timezone.now().strftime("%Y%m%d%H")
                job = jobs.enqueue(None, "hazards.escalate_overdue", area=root, idempotency_key=key)
                self.stdout.write(self.style.SUCCESS(f"已排队任务 #{job.pk}(隐患超期升级)"))
                return
            result = services.escalate_overdue()
        self.stdout.write(self.style.SUCCESS(
            f"检查 {result['candidates']} 条,升级 {result['escalated']} 条(新超期 {result['newly_overdue']} 条)"))
