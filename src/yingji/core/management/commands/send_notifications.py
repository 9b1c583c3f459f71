"""``yingji send_notifications [--once]``: deliver the notification outbox.

Without ``--once`` it runs until SIGTERM/SIGINT, sending due messages and sleeping ``--poll``
seconds when there are none (an alternative to ``yingji worker`` for deployments that set
``YINGJI_NOTIFY_DELIVERY=off``). With ``--once`` it sends what is due now and exits, e.g. from
cron. Several senders may run at once: each message is claimed by a conditional update.
"""
from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection

from ... import notifications


class Command(BaseCommand):
    help = "Send due notification messages (SMS, government messaging, log) from the outbox."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="send what is due now, then exit")
        parser.add_argument("--poll", type=float, default=None,
                            help="seconds to wait when nothing is due (default WORKER_POLL_SECONDS)")
        parser.add_argument("--limit", type=int, default=notifications.BATCH, help="messages claimed per round")

    def handle(self, *args, once=False, poll=None, limit=notifications.BATCH, **opts):
        if limit < 1 or limit > 1000:
            raise CommandError("--limit must be between 1 and 1000")
        if poll is not None and poll <= 0:
            raise CommandError("--poll must be positive")
        poll = float(settings.WORKER_POLL_SECONDS if poll is None else poll)
        notifications.channels()  # a bad configuration fails here, loudly
        totals = {"sent": 0, "pending": 0, "failed": 0, "skipped": 0}
        stop = threading.Event()
        previous = {}
        if not once and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.getsignal(sig)
                signal.signal(sig, lambda signum, frame: stop.set())
        try:
            while not stop.is_set():
                if not connection.in_atomic_block:
                    close_old_connections()
                stats = notifications.deliver_all_due(limit=limit)
                for key, value in stats.items():
                    totals[key] = totals.get(key, 0) + value
                if once:
                    break
                if not sum(stats.values()):
                    stop.wait(poll)
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
        self.stdout.write(f"已发送 {totals['sent']} 条,待重试 {totals['pending']} 条,失败 {totals['failed']} 条 "
                          f"(sent {totals['sent']}, retry {totals['pending']}, failed {totals['failed']})")
