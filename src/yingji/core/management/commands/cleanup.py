from django.core.management import BaseCommand, CommandError

from ... import jobs
from ...models import Area


class Command(BaseCommand):
    help = ("Apply the retention rules now (what the periodic job core.cleanup does daily): delete finished "
            "job rows past YINGJI_JOB_RETENTION_DAYS / YINGJI_JOB_FAILED_RETENTION_DAYS and remove export "
            "and import files past YINGJI_EXPORT_RETENTION_DAYS / YINGJI_IMPORT_RETENTION_DAYS. "
            "Runs as a core.cleanup job, so the run is audited like the scheduled ones.")

    def handle(self, *args, **opts):
        root = Area.objects.filter(parent__isnull=True, archived_at__isnull=True).order_by("id").first()
        if root is None:
            raise CommandError("no area yet: nothing to clean")
        with jobs.audit.context(request_id="cleanup-command"):
            job = jobs.enqueue(None, "core.cleanup", area=root, max_attempts=1)
        claimed = jobs.try_claim(job.pk, f"cleanup-command:{jobs.default_worker_id()}")
        if claimed is None:
            raise CommandError(f"job {job.pk} was taken by a worker; see its result there")
        done = jobs.run_job(claimed)
        done.refresh_from_db()
        if done.status != jobs.JobStatus.SUCCEEDED:
            raise CommandError(f"cleanup failed: {done.error}")
        for key, value in done.result.items():
            self.stdout.write(f"{key}: {value}")
