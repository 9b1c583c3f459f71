"""What the inspections app contributes (registered from ``InspectionsConfig.ready``): the "my
inspections in progress" to-do line and panel, campaign progress on the home page, inspections by
number in the global search, a site's inspections on its profile, and the resolver of the
inspection a hazard is reported in (hazards sits below inspections)."""
from __future__ import annotations

import re

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from yingji.core import contrib, roles
from yingji.core.contrib import Figure, Panel, Row, SearchResult, SiteActivity
from yingji.core.worklist import WorkItem, bounded

from .models import Campaign, CampaignStatus, Inspection, InspectionState

CAMPAIGNS_SHOWN = 3
MINE_SHOWN = 8
NUMBER_RE = re.compile(r"^(?:#|JC|jc)?\s*(\d{1,12})$")


def _mine(user):
    return Inspection.objects.visible_to(user).filter(lead_id=user.pk, state=InspectionState.IN_PROGRESS,
                                                      archived_at__isnull=True)


def _reports(user) -> bool:
    from yingji.core.scoping import grants_for

    return any(g.allows(roles.REPORT) for g in grants_for(user))


def work_items(user) -> list[WorkItem]:
    if not _reports(user):
        return []
    return [WorkItem(_("我进行中的检查"), bounded(_mine(user)), "/inspections/?state=in_progress&mine=on")]


def my_inspections_panel(user) -> Panel:
    """A grid worker's inspections of today: the ones they lead that are still open."""
    rows = list(_mine(user).select_related("site").order_by("-started_at", "-id")[:MINE_SHOWN])
    links = [Row(label=f"#{i.pk} {i.site.name}", url=reverse("inspections:detail", args=[i.pk]), cells=[
        Figure(_("检查方式"), i.get_mode_display()),
        Figure(_("检查时间"), timezone.localtime(i.started_at).strftime("%m-%d %H:%M"))]) for i in rows]
    return Panel(key="inspections.mine", title=_("我的检查任务"), links=links,
                 figures=[Figure(_("进行中"), bounded(_mine(user)), "/inspections/?state=in_progress&mine=on")],
                 more_url="/inspections/new/", empty_text=_("没有进行中的检查,可从“开始检查”发起"))


def campaign_overall(campaign: Campaign, user) -> dict:
    """Coverage of one campaign as ``user`` may see it (the overall line of campaign_progress)."""
    from .services import _pct, _progress_sets

    sets = _progress_sets(campaign, user)
    n_sites, n_inspected = sets["sites"].count(), sets["inspected"].count()
    return {"sites": n_sites, "inspected": n_inspected, "coverage": _pct(n_inspected, n_sites)}


def campaigns_panel(user) -> Panel:
    active = (Campaign.objects.visible_to(user).filter(status=CampaignStatus.ACTIVE, archived_at__isnull=True)
              .order_by("-starts_on", "-id"))
    rows = []
    for c in active[:CAMPAIGNS_SHOWN]:
        p = campaign_overall(c, user)
        rows.append(Row(label=c.name, url=reverse("inspections:campaign_detail", args=[c.pk]), cells=[
            Figure(_("范围内对象"), p["sites"]), Figure(_("已检查"), p["inspected"]),
            Figure(_("覆盖率"), f"{p['coverage']}%" if p["coverage"] is not None else "—"),
            Figure(_("截止"), c.ends_on.strftime("%m-%d"), urgent=c.ends_on < timezone.localdate())]))
    return Panel(key="inspections.campaigns", title=_("专项行动进度"),
                 columns=[_("专项行动"), _("范围内对象"), _("已检查"), _("覆盖率"), _("截止")], rows=rows,
                 figures=[Figure(_("进行中的专项行动"), bounded(active), "/campaigns/?status=active")],
                 as_of=timezone.now(), more_url="/campaigns/?status=active", empty_text=_("没有进行中的专项行动"))


def search(user, q: str, limit: int) -> list[SearchResult]:
    m = NUMBER_RE.match(q.strip())
    if not m:
        return []
    rows = (Inspection.objects.visible_to(user).filter(pk=int(m.group(1)), archived_at__isnull=True)
            .select_related("site")[:limit])
    return [SearchResult(_("检查"), f"#{i.pk} {i.site.name}", reverse("inspections:detail", args=[i.pk]),
                         f"{i.get_mode_display()} · {i.get_state_display()}") for i in rows]


def site_activity(user, site) -> SiteActivity:
    from yingji.registry.views_activity import PER_SOURCE, Activity

    rows = (Inspection.objects.visible_to(user).filter(site=site, archived_at__isnull=True)
            .select_related("campaign").order_by("-started_at", "-id")[:PER_SOURCE])
    out = []
    for i in rows:
        title = i.get_mode_display() + (f" · {i.campaign.name}" if i.campaign_id else "")
        status = i.get_state_display()
        if i.items_failed:
            status += " · " + _("不符合%(n)d项") % {"n": i.items_failed}
        out.append(Activity(i.started_at, _("检查"), title, status, reverse("inspections:detail", args=[i.pk])))
    return SiteActivity(items=out)


def resolve_for_hazard(actor, pk):
    """The live inspection ``pk`` the actor may edit (a hazard reported in it), or None."""
    return Inspection.objects.restrict(actor, "edit").filter(pk=pk, archived_at__isnull=True).first()


def register() -> None:
    from yingji.hazards import contrib as hazards_contrib

    contrib.register_work_items(work_items, key="inspections", order=20)
    contrib.register_home_panel("inspections.mine", my_inspections_panel, order=25, roles={roles.GRID_WORKER})
    contrib.register_home_panel("inspections.campaigns", campaigns_panel, order=30, roles=contrib.OVERVIEW_ROLES)
    contrib.register_search_provider("inspections", search, order=30)
    contrib.register_site_activity("inspections", site_activity, order=20)
    hazards_contrib.set_inspection_resolver(resolve_for_hazard)
