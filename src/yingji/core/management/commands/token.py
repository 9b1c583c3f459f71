from django.core.management import BaseCommand, CommandError

from yingji.core import audit, services
from yingji.core.errors import YingjiError
from yingji.core.models import ApiToken, User


class Command(BaseCommand):
    help = "API bearer tokens: `token create USERNAME [--name N]`, `token list USERNAME`, `token revoke PREFIX`."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["create", "list", "revoke"])
        parser.add_argument("target", help="username (create, list) or token prefix (revoke)")
        parser.add_argument("--name", default="cli")

    def handle(self, *args, **o):
        try:
            with audit.context(request_id="cli-token"):
                if o["action"] == "revoke":
                    token = ApiToken.objects.filter(prefix=o["target"], revoked_at__isnull=True).first()
                    if token is None:
                        raise CommandError("令牌不存在或已撤销")
                    services.revoke_token(None, token)
                    self.stdout.write("已撤销")
                    return
                user = User.objects.filter(username=o["target"]).first()
                if user is None:
                    raise CommandError(f"用户不存在: {o['target']}")
                if o["action"] == "list":
                    for t in ApiToken.objects.filter(user=user):
                        state = "revoked" if t.revoked_at else "active"
                        self.stdout.write(f"{t.prefix}  {t.name}  {t.created_at:%Y-%m-%d %H:%M}  {state}")
                    return
                _token, key = services.create_token(None, user, o["name"])
        except YingjiError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(key)
