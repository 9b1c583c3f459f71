"""Background jobs of the hazards module (auto-discovered by ``yingji.core.jobs``).

``hazards.escalate_overdue`` flags open hazards past their deadline as overdue and escalates each
one level up (town, then county), one transaction per hazard. ``yingji worker`` queues it hourly
(``YINGJI_SCHEDULE``); ``yingji escalate_overdue`` runs it at once.
"""
from __future__ import annotations

from django.utils.translation import gettext_lazy

from yingji.core.jobs import job_handler

from . import services


@job_handler("hazards.escalate_overdue", label=gettext_lazy("隐患超期升级"))
def escalate_overdue(job, progress) -> dict:
    """No params. Safe to run any number of times: a hazard is escalated at most once per
    ``HAZARD_ESCALATION_DAYS`` (default 7) and never above the county."""
    return services.escalate_overdue(progress=progress)
