"""What the risk app contributes (registered from ``RiskConfig.ready``): the registry's grading
hooks (a site's colour after a change, a regrade of every site) and the home page's "new risk"
panel: sites that turned red or orange recently."""
from __future__ import annotations

import datetime

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from yingji.core import contrib
from yingji.core.contrib import Figure, Panel, Row
from yingji.core.worklist import bounded

from .models import Colour, Reason, SiteRiskAssessment

NEW_RISK_DAYS = 30
NEW_RISK_SHOWN = 8


def _grade_site(actor, site):
    from .services import assess_site

    assessment = assess_site(actor, site)
    return assessment.colour if assessment is not None else None


def _regrade_all(actor, *, now: bool = False) -> None:
    from . import services

    if now:
        ruleset = services.active_ruleset()
        if ruleset is not None:
            services.recompute_all(ruleset, reason=Reason.SITE_CHANGE, actor=actor)
    else:
        services.queue_recompute(actor, reason=Reason.SITE_CHANGE)


def turned_q() -> Q:
    """An assessment that made its site red (from any other colour) or orange (from blue/yellow/none)."""
    return (Q(colour=Colour.RED) & ~Q(previous_colour=Colour.RED)) | (
        Q(colour=Colour.ORANGE) & ~Q(previous_colour__in=[Colour.RED, Colour.ORANGE]))


def new_risk(user, since: datetime.datetime):
    """Assessments since ``since`` that turned a site the user may see red or orange."""
    return (SiteRiskAssessment.objects.visible_to(user).filter(computed_at__gte=since, site__archived_at__isnull=True)
            .filter(turned_q()))


def new_risk_panel(user) -> Panel:
    since = timezone.now() - datetime.timedelta(days=NEW_RISK_DAYS)
    qs = new_risk(user, since)
    rows = list(qs.select_related("site", "site__area").order_by("-computed_at", "-id")[:NEW_RISK_SHOWN * 3])
    links, seen = [], set()
    for a in rows:
        if a.site_id in seen:
            continue
        seen.add(a.site_id)
        links.append(Row(label=a.site.name, url=reverse("risk:site", args=[a.site_id]), cells=[
            Figure(_("区域"), a.site.area.name), Figure(_("风险等级"), a.colour_label, urgent=a.colour == Colour.RED),
            Figure(_("评定时间"), timezone.localtime(a.computed_at).strftime("%m-%d"))]))
        if len(links) >= NEW_RISK_SHOWN:
            break
    figures = [
        Figure(_("转为红色"), bounded(qs.filter(colour=Colour.RED).values("site_id").distinct()), "/sites/?colour=red",
               urgent=True),
        Figure(_("转为橙色"), bounded(qs.filter(colour=Colour.ORANGE).values("site_id").distinct()),
               "/sites/?colour=orange"),
    ]
    return Panel(key="risk.new", title=_("新增风险(近%(n)d天转为红、橙色的对象)") % {"n": NEW_RISK_DAYS},
                 figures=figures, links=links, more_url="/sites/?colour=red",
                 empty_text=_("近期没有转为红、橙色的对象"))


def register() -> None:
    from yingji.registry import grading

    grading.install(grade_site=_grade_site, regrade_all=_regrade_all)
    contrib.register_home_panel("risk.new", new_risk_panel, order=40, roles=contrib.OVERVIEW_ROLES)
