import os

from django.core.management import BaseCommand, call_command


class Command(BaseCommand):
    help = "Serve the platform (default 127.0.0.1:8000; YINGJI_BIND overrides)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default=os.environ.get("YINGJI_BIND", "127.0.0.1:8000"))

    def handle(self, *args, **opts):
        call_command("runserver", opts["addrport"], use_reloader=False, use_threading=True)
