"""``yingji risk_recompute [--batch N]``: regrade every live site under the active rule set now
(synchronously; the same work as the ``risk.recompute`` job). Prints the time taken."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from yingji.core import audit

from ...models import Reason
from ...services import active_ruleset, recompute_all

class Command(BaseCommand):
    help = "Regrade every live site under the active risk rule set."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=5000)

    def handle(self, *args, **opts):
        ruleset = active_ruleset()
        if ruleset is None:
            raise CommandError("没有现行的风险分级规则 (no active rule set)")
        if not 1 <= opts["batch"] <= 50_000:
            raise CommandError("--batch must be between 1 and 50000")
        with audit.context(request_id="risk-recompute-cli"):
            result = recompute_all(ruleset, batch=opts["batch"], reason=Reason.RULE_CHANGE,
                                   progress=lambda done, total, msg="": self.stdout.write(f"  {done:>9,} / {total:,}"))
        self.stdout.write(self.style.SUCCESS(
            f"已评定 {result['sites']} 个对象,新增评定记录 {result['assessments']} 条,等级变化 "
            f"{result['colour_changes']} 个,用时 {result['seconds']} 秒"))
