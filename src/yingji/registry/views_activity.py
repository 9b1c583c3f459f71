"""The site profile's activity timeline (inspections, hazards, listed supervision, …).

Each module above the registry contributes its records about one site
(``core.contrib.register_site_activity``), read through the one access rule
(``visible_to``), so the timeline shows exactly what the user may see. Loaded by htmx from the
site profile so that the profile itself stays cheap.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from yingji.core import contrib
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


@login_required
def site_activity(request, pk):
    user = request.user
    site = get_visible(Site, user, pk)
    activity = contrib.site_activity(user, site)
    items = sorted(activity.items, key=lambda a: a.at, reverse=True)
    return render(request, "registry/partials/site_activity.html", {
        "site": site, "items": items, "open_hazards": activity.counts.get("open_hazards", 0),
        "per_source": PER_SOURCE,
    })
