"""Background jobs of risk grading: ``risk.recompute`` regrades every site after a rule change."""
from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yingji.core.jobs import JobError, job_handler

from . import services
from .models import Reason, RuleSet


@job_handler("risk.recompute", label=gettext_lazy("风险等级重算"))
def recompute(job, progress) -> dict:
    """Params: ``ruleset`` (id), ``reason`` (default rule_change). A superseded rule set is skipped: the newer version's own job
    regrades everything. Safe to run again (only changed results are written)."""
    try:
        ruleset = RuleSet.objects.get(pk=int((job.params or {}).get("ruleset")))
    except (TypeError, ValueError, RuleSet.DoesNotExist):
        raise JobError(_("任务参数无效:规则集不存在")) from None
    if not ruleset.is_active:
        return {"skipped": True, "ruleset": ruleset.pk, "version": ruleset.version,
                "message": _("该版本规则已被新版本取代,跳过")}
    reason = (job.params or {}).get("reason") or Reason.RULE_CHANGE
    if reason not in Reason.values:
        raise JobError(_("任务参数无效:重算原因"))
    return services.recompute_all(ruleset, progress=progress, reason=reason)
