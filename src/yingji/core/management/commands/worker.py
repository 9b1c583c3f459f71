import logging

from django.core.management import BaseCommand, CommandError

from ... import jobs


class Command(BaseCommand):
    help = ("Run the background-job worker: claim due jobs and run them until SIGTERM/SIGINT "
            "(the current job is finished first). Several workers may run at once on PostgreSQL.")

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run the jobs that are due now, then exit")
        parser.add_argument("--max-jobs", type=int, default=None, help="exit after running N jobs")
        parser.add_argument("--poll", type=float, default=None,
                            help="seconds to wait when the queue is empty (default WORKER_POLL_SECONDS)")
        parser.add_argument("--worker-id", default=None, help="name shown in claimed_by (default host:pid:random)")
        parser.add_argument("--no-schedule", action="store_true",
                            help="do not queue the periodic jobs of YINGJI_SCHEDULE (another worker does)")

    def handle(self, *args, once=False, max_jobs=None, poll=None, worker_id=None, **opts):
        if max_jobs is not None and max_jobs < 1:
            raise CommandError("--max-jobs must be at least 1")
        if poll is not None and poll <= 0:
            raise CommandError("--poll must be positive")
        logger = logging.getLogger("yingji.jobs")
        if opts.get("verbosity", 1) >= 2:
            logger.setLevel(logging.DEBUG)
        jobs.autodiscover()
        logger.info("registered job kinds: %s", ", ".join(sorted(jobs.HANDLERS)))
        schedule = not once and not opts.get("no_schedule")
        if schedule:
            from django.conf import settings

            jobs.check_schedule()
            logger.info("periodic jobs: %s", ", ".join(f"{k} every {p}s" for k, p in settings.JOB_SCHEDULE) or "none")
        ran = jobs.run_worker(worker_id=worker_id, once=once, max_jobs=max_jobs, poll=poll, schedule=schedule)
        self.stdout.write(f"worker finished: {ran} job(s) run")
