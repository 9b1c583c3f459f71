"""Background jobs of the hazards module (auto-discovered by ``yingji.core.jobs``).

``hazards.escalate_overdue`` flags open hazards past their deadline as overdue and escalates each
one level up (town, then county), one transaction per hazard. ``yingji worker`` queues it hourly
(``YINGJI_SCHEDULE``); ``yingji escalate_overdue`` runs it at once.

``hazards.remind_due`` tells the reporter, the site's enterprise managers, the responsible officer
and the rectifier of every hazard due within three days, once a day (``YINGJI_SCHEDULE``, daily).

``hazards.feed_risk`` recomputes one site's dynamic risk factors (open, open major and overdue
hazards) and regrades it. Every report and transition queues it in its own transaction, one job
per site per ``HAZARD_RISK_FEED_SECONDS`` slot (see ``services._queue_risk_feed``), so many
reports for one site cause one regrade, outside the request.
"""
from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yingji.core.jobs import JobError, job_handler

from . import services


@job_handler("hazards.escalate_overdue", label=gettext_lazy("隐患超期升级"))
def escalate_overdue(job, progress) -> dict:
    """No params. Safe to run any number of times: a hazard is escalated at most once per
    ``HAZARD_ESCALATION_DAYS`` (default 7) and never above the county."""
    return services.escalate_overdue(progress=progress)


@job_handler("hazards.remind_due", label=gettext_lazy("隐患整改期限提醒"))
def remind_due(job, progress) -> dict:
    """No params. Safe to run any number of times: one reminder per hazard and person per day."""
    return services.remind_due(progress=progress)


# Queued by the system after every hazard change: its routine runs are not audited (the regrade's
# changes are, as ``risk.dynamic_factors`` / ``risk.assess``; failures are, like any job's).
@job_handler(services.RISK_FEED_JOB, label=gettext_lazy("隐患计入风险等级"), audit_runs=False,
             subject=("registry.Site", "site"))
def feed_risk(job, progress) -> dict:
    """Params: ``site`` (id). Counts the site's hazards now and stores them in its risk factors;
    safe to run again (a run that changes nothing writes nothing)."""
    try:
        site_id = int((job.params or {}).get("site"))
    except (TypeError, ValueError):
        raise JobError(_("任务参数无效:监管对象不存在")) from None
    return services.feed_risk(site_id)
