"""The site profile's activity timeline (inspections, hazards, listed supervision, …).

Each module contributes its records about one site, read through the one access rule
(``visible_to``), so the timeline shows exactly what the user may see. Loaded by htmx from the
site profile so that the profile itself stays cheap.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from yingji.core.services import get_visible

from .models import Site

PER_SOURCE = 20


@dataclass
class Activity:
    at: datetime
    kind: str
    title: str
    status: str
    url: str
    tag: str = ""


def _hazards(user, site) -> tuple[list[Activity], int]:
    from yingji.hazards.models import OPEN_STATES, Hazard, Level

    visible = Hazard.objects.visible_to(user).filter(site=site, archived_at__isnull=True)
    rows = visible.exclude(state="draft").order_by("-reported_at", "-id")[:PER_SOURCE]
    items = [Activity(h.reported_at, _("隐患"), h.title, h.get_state_display(),
                      reverse("hazards:detail", args=[h.pk]), "red" if h.level == Level.MAJOR else "")
             for h in rows]
    return items, visible.filter(state__in=OPEN_STATES).count()


def _inspections(user, site) -> list[Activity]:
    from yingji.inspections.models import Inspection

    rows = (Inspection.objects.visible_to(user).filter(site=site, archived_at__isnull=True)
            .select_related("campaign").order_by("-started_at", "-id")[:PER_SOURCE])
    out = []
    for i in rows:
        title = i.get_mode_display() + (f" · {i.campaign.name}" if i.campaign_id else "")
        status = i.get_state_display()
        if i.items_failed:
            status += " · " + _("不符合%(n)d项") % {"n": i.items_failed}
        out.append(Activity(i.started_at, _("检查"), title, status, reverse("inspections:detail", args=[i.pk])))
    return out


@login_required
def site_activity(request, pk):
    user = request.user
    site = get_visible(Site, user, pk)
    hazards, open_hazards = _hazards(user, site)
    items = hazards + _inspections(user, site)
    items.sort(key=lambda a: a.at, reverse=True)
    return render(request, "registry/partials/site_activity.html", {
        "site": site, "items": items, "open_hazards": open_hazards, "per_source": PER_SOURCE,
    })
