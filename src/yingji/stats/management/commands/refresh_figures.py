"""``yingji refresh_figures [--enqueue]``: recompute the figures (统计) from the records.

``yingji worker`` queues the refresh every 10 minutes by itself (``YINGJI_SCHEDULE``); this
command is for running it at once, or from cron where no worker schedules it::

    */10 * * * *  yingji refresh_figures            # run now, in this process
    */10 * * * *  yingji refresh_figures --enqueue  # or queue the job for ``yingji worker``

With ``--enqueue`` the job's idempotency key is the current 10-minute slot, so overlapping
timers queue one job per slot at most.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from yingji.core import audit, jobs
from yingji.core.models import Area

from ... import services


class Command(BaseCommand):
    help = "Recompute the pre-aggregated figures (hazards and inspections) from the records."

    def add_arguments(self, parser):
        parser.add_argument("--enqueue", action="store_true", help="queue a job for the worker instead")

    def handle(self, *args, **opts):
        with audit.context(request_id="stats-refresh-cli"):
            if opts["enqueue"]:
                root = Area.objects.filter(parent__isnull=True, archived_at__isnull=True).order_by("id").first()
                if root is None:
                    raise CommandError("没有行政区域,无法创建任务 (no root area)")
                now = timezone.now()
                key = f"{services.JOB_KIND}:cron:{now:%Y%m%d%H}{now.minute // 10}"
                job = jobs.enqueue(None, services.JOB_KIND, area=root, idempotency_key=key)
                self.stdout.write(self.style.SUCCESS(f"已排队任务 #{job.pk}(刷新统计数据)"))
                return
            run = services.refresh_rollups()
        self.stdout.write(self.style.SUCCESS(
            f"统计数据已刷新:隐患 {run.hazards} 条,检查 {run.inspections} 次,汇总 "
            f"{run.hazard_rows + run.inspection_rows} 行,用时 {run.duration_ms} 毫秒"))
