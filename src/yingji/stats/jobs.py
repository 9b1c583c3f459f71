"""Background jobs of the figures (auto-discovered by ``yingji.core.jobs``).

``stats.refresh`` recomputes the rollups the figures are read from. ``yingji worker`` queues it
every 10 minutes (``YINGJI_SCHEDULE``); ``yingji refresh_figures`` runs it at once; administrators
can also queue it from the figures page ("立即刷新").
"""
from __future__ import annotations

from django.utils.translation import gettext_lazy

from yingji.core.jobs import job_handler

from . import services


@job_handler(services.JOB_KIND, label=gettext_lazy("刷新统计数据"))
def refresh_figures(job, progress) -> dict:
    """No params. Safe to run any number of times: the rollups depend only on the records."""
    run = services.refresh_rollups(progress=progress)
    return {"run": run.pk, "as_of": run.as_of, "hazards": run.hazards, "inspections": run.inspections,
            "rows": run.hazard_rows + run.inspection_rows, "duration_ms": run.duration_ms}
