"""Background jobs of listed supervision (auto-discovered by ``yingji.core.jobs``).

``supervision.remind`` sends the deadline reminders of active listings (see
``services.remind_due``); ``yingji worker`` queues it hourly (``YINGJI_SCHEDULE``), and each
reminder goes out once per deadline however often it runs.
"""
from __future__ import annotations

from django.utils.translation import gettext_lazy

from yingji.core.jobs import job_handler

from . import services


@job_handler("supervision.remind", label=gettext_lazy("挂牌督办期限提醒"))
def remind(job, progress) -> dict:
    """No params."""
    return services.remind_due()
