"""What the registry contributes (registered from ``RegistryConfig.ready``): sites in the global
search (name, credit code or pinyin initials: ``queries.site_search``) and an enterprise
manager's own sites on the home page."""
from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from yingji.core import contrib, roles
from yingji.core.contrib import Figure, Panel, Row, SearchResult
from yingji.core.errors import InvalidInput
from yingji.core.worklist import bounded

from . import queries
from .models import RiskColour, Site

MY_SITES = 8


def search(user, q: str, limit: int) -> list[SearchResult]:
    try:
        qs = queries.site_search(user, q=q)
    except InvalidInput:
        return []
    rows = qs.select_related("area").order_by("id")[:limit]
    return [SearchResult(_("监管对象"), s.name, reverse("registry:detail", args=[s.pk]),
                         " · ".join(x for x in (s.credit_code or "", s.area.name) if x)) for s in rows]


def my_sites_panel(user) -> Panel:
    """An enterprise manager's own sites (the sites bound to them), nothing of the county."""
    live = Site.objects.visible_to(user).filter(archived_at__isnull=True)
    links = [Row(label=s.name, url=reverse("registry:detail", args=[s.pk]), cells=[
        Figure(_("风险等级"), s.get_risk_colour_display() if s.risk_colour else _("未评定"),
               urgent=s.risk_colour == RiskColour.RED),
        Figure(_("区域"), s.area.name)])
        for s in live.select_related("area").order_by("name", "id")[:MY_SITES]]
    figures = [Figure(_("我的监管对象"), bounded(live), "/sites/"),
               Figure(_("红色、橙色风险"), bounded(live.filter(risk_colour__in=[RiskColour.RED, RiskColour.ORANGE])),
                      "/sites/?colour=red", urgent=True)]
    return Panel(key="registry.my_sites", title=_("我的企业"), figures=figures, links=links, more_url="/sites/",
                 empty_text=_("您的账号尚未绑定企业,请联系属地镇街"))


def register() -> None:
    contrib.register_search_provider("registry", search, order=10)
    contrib.register_home_panel("registry.my_sites", my_sites_panel, order=5, roles={roles.ENTERPRISE})
