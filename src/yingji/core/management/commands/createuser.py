import getpass

from django.core.management import BaseCommand, CommandError

from yingji.core import audit, roles, services
from yingji.core.errors import YingjiError
from yingji.core.models import Area, Organisation, Sector


class Command(BaseCommand):
    help = "Create a user holding one role over an area (the console acts as the system operator)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[r for r, _ in roles.ROLE_CHOICES])
        parser.add_argument("--area", required=True, help="area code, e.g. 330681 or 330681005")
        parser.add_argument("--sector", action="append", default=[], help="sector code (repeatable)")
        parser.add_argument("--name", default="")
        parser.add_argument("--phone", default="")
        parser.add_argument("--org", default=None, help="organisation code")
        parser.add_argument("--password", default=None, help="prompted when omitted")
        parser.add_argument("--superuser", action="store_true", help="may also use the Django admin")

    def handle(self, *args, **o):
        area = Area.objects.filter(code=o["area"]).first()
        if area is None:
            raise CommandError(f"区域不存在: {o['area']}")
        sectors = list(Sector.objects.filter(code__in=o["sector"]))
        if len(sectors) != len(set(o["sector"])):
            raise CommandError("行业领域编码有误: %s" % ", ".join(o["sector"]))
        org = None
        if o["org"]:
            org = Organisation.objects.filter(code=o["org"]).first()
            if org is None:
                raise CommandError(f"单位不存在: {o['org']}")
        password = o["password"] or getpass.getpass("密码: ")
        try:
            with audit.context(request_id="cli-createuser"):
                user = services.create_user(None, username=o["username"], password=password, display_name=o["name"],
                                            phone=o["phone"], organisation=org, role=o["role"], area=area,
                                            sectors=sectors, is_superuser=o["superuser"])
        except YingjiError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(f"已创建用户 {user.username}"))
