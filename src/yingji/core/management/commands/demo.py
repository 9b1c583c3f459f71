from importlib import import_module

from django.conf import settings
from django.core.management import BaseCommand, call_command

# Each app that contributes demo data has a ``demo.build()``; core first.
DEMO_MODULES = ["yingji.core.demo", "yingji.registry.demo", "yingji.checklists.demo",
                "yingji.inspections.demo", "yingji.hazards.demo",
                "yingji.supervision.demo",
                "yingji.stats.demo"]


class Command(BaseCommand):
    help = "Migrate the database, load the deterministic demo data and print one login per role."

    def add_arguments(self, parser):
        parser.add_argument("--no-migrate", action="store_true")

    def handle(self, *args, **opts):
        if not opts["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        logins = []
        for name in DEMO_MODULES:
            result = import_module(name).build()
            if result:
                logins.extend(result)
        from yingji.core.demo import DEMO_PASSWORD

        self.stdout.write(self.style.SUCCESS("演示数据已就绪 (demo data ready) — database: %s"
                                             % settings.DATABASES["default"]["NAME"]))
        self.stdout.write("演示账号 (demo logins), 密码 password: %s" % DEMO_PASSWORD)
        for username, role, area in logins:
            self.stdout.write(f"  {username:<12} {role}  [{area}]")
