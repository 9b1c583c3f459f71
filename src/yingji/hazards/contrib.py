"""What the hazards app contributes to the shared pages (registered from ``HazardsConfig.ready``):
to-do lines, the follow-up panel of grid workers and enterprises, hazards by number in the global
search, a site's hazards on its profile, and the open-hazard counts the risk explanation shows."""
from __future__ import annotations

import re

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from yingji.core import contrib, roles
from yingji.core.contrib import Figure, Panel, Row, SearchResult, SiteActivity
from yingji.core.scoping import grants_for
from yingji.core.worklist import WorkItem, bounded

from .models import OPEN_STATES, Hazard, Level, State

FOLLOW_UP = 8
NUMBER_RE = re.compile(r"^(?:#|YH|yh)?\s*(\d{1,12})$")


def _live():
    return Hazard.objects.filter(archived_at__isnull=True)


def work_items(user) -> list[WorkItem]:
    grants = grants_for(user)
    officer = any(g.allows(roles.EDIT) and g.site_ids is None for g in grants)
    rectifier = officer or any(g.site_ids is not None and g.allows(roles.REPORT) for g in grants)
    items = []
    if rectifier:
        items += [
            # who accepts and who verifies: hazards.models.HANDLING (by the finder's side and level)
            WorkItem(_("待受理隐患"), bounded(_live().restrict(user, "accept").filter(state=State.REPORTED)),
                     "/hazards/?state=reported"),
            WorkItem(_("整改中隐患"), bounded(_live().restrict(user, "rectify").filter(state=State.RECTIFYING)),
                     "/hazards/?state=rectifying"),
        ]
    if rectifier:  # officers; enterprises close their self-found general hazards (自查自改)
        items.append(WorkItem(_("待验收销号"), bounded(_live().restrict(user, "verify").filter(state=State.SUBMITTED)),
                              "/hazards/?state=submitted"))
    if grants:
        items.append(WorkItem(_("超期未整改"), bounded(_live().visible_to(user).filter(state__in=OPEN_STATES,
                                                                                     is_overdue=True)),
                              "/hazards/?overdue=on", urgent=True))
    return items


def follow_up_panel(user) -> Panel:
    """Open hazards to follow up, earliest deadline first: a grid worker's community, an
    enterprise's own sites."""
    today = timezone.localdate()
    open_ = _live().visible_to(user).filter(state__in=OPEN_STATES)
    rows = list(open_.select_related("site").order_by("deadline", "id")[:FOLLOW_UP])
    links = []
    for h in rows:
        due = ""
        if h.deadline is not None:
            days = (h.deadline - today).days
            due = (_("超期%(n)d天") % {"n": -days} if days < 0 else _("今天到期") if days == 0
                   else _("%(n)d天后到期") % {"n": days})
        links.append(Row(label=f"#{h.pk} {h.title}", url=reverse("hazards:detail", args=[h.pk]), cells=[
            Figure(_("状态"), h.get_state_display()), Figure(_("整改期限"), due, urgent=h.is_overdue or (
                h.deadline is not None and h.deadline <= today))]))
    figures = [
        Figure(_("未销号隐患"), bounded(open_), "/hazards/?state=open"),
        Figure(_("超期未整改"), bounded(open_.filter(is_overdue=True)), "/hazards/?overdue=on", urgent=True),
        Figure(_("今天到期"), bounded(open_.filter(deadline=today)), "/hazards/?state=open", urgent=True),
    ]
    return Panel(key="hazards.follow_up", title=_("待跟进隐患"), figures=figures, links=links,
                 more_url="/hazards/?state=open", empty_text=_("没有待跟进的隐患"))


def search(user, q: str, limit: int) -> list[SearchResult]:
    m = NUMBER_RE.match(q.strip())
    if not m:
        return []
    pk = int(m.group(1))
    rows = _live().visible_to(user).exclude(state=State.DRAFT).filter(pk=pk).select_related("site")[:limit]
    return [SearchResult(_("隐患"), f"#{h.pk} {h.title}", reverse("hazards:detail", args=[h.pk]),
                         " · ".join(x for x in (h.get_state_display(), h.site.name if h.site_id else "") if x))
            for h in rows]


def site_activity(user, site) -> SiteActivity:
    from yingji.registry.views_activity import PER_SOURCE, Activity

    visible = Hazard.objects.visible_to(user).filter(site=site, archived_at__isnull=True)
    rows = visible.exclude(state=State.DRAFT).order_by("-reported_at", "-id")[:PER_SOURCE]
    items = [Activity(h.reported_at, _("隐患"), h.title, h.get_state_display(),
                      reverse("hazards:detail", args=[h.pk]), "red" if h.level == Level.MAJOR else "")
             for h in rows]
    return SiteActivity(items=items, counts={"open_hazards": visible.filter(state__in=OPEN_STATES).count()})


def open_counts(user, site) -> dict:
    """A site's open, open major and overdue hazards (``user`` None: all of them) — the risk
    explanation's dynamic factors."""
    from django.db.models import Count, Q

    hazards = Hazard.objects.all() if user is None else Hazard.objects.visible_to(user)
    return hazards.filter(site_id=site.pk, state__in=OPEN_STATES, archived_at__isnull=True).aggregate(
        open_hazards=Count("id"), open_major_hazards=Count("id", filter=Q(level=Level.MAJOR)),
        overdue_hazards=Count("id", filter=Q(is_overdue=True)))


def _no_inspection(actor, pk):
    return None


# The inspections app (above hazards) installs how a hazard finds the inspection it is reported
# in: ``resolver(actor, pk)`` -> the inspection the actor may edit, or None.
_inspection_resolver = _no_inspection


def set_inspection_resolver(resolver) -> None:
    global _inspection_resolver
    _inspection_resolver = resolver


def resolve_inspection(actor, pk):
    return _inspection_resolver(actor, pk)


def register() -> None:
    from yingji.risk import queries as risk_queries

    contrib.register_work_items(work_items, key="hazards", order=10)
    contrib.register_home_panel("hazards.follow_up", follow_up_panel, order=20,
                                roles={roles.GRID_WORKER, roles.ENTERPRISE})
    contrib.register_search_provider("hazards", search, order=20)
    contrib.register_site_activity("hazards", site_activity, order=10)
    risk_queries.set_open_counts_source(open_counts)
