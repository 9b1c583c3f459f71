"""The risk map page: the site list's filters over a Leaflet map fed by ``/api/v1/map/sites``.

The page itself holds no site data; ``static/registry/map.js`` asks the API for clusters of the
current viewport and filters (debounced). Tiles come from ``settings.MAP_TILE_URL`` (Tianditu in
production); without it the map still draws the markers on a plain background (closed networks).
"""
from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from yingji.core.models import Area, AreaLevel
from yingji.core.scoping import grants_for

from . import forms, maps

# Initial zoom by the level of the user's area.
LEVEL_ZOOM = {AreaLevel.COUNTY: 11, AreaLevel.TOWN: 13, AreaLevel.VILLAGE: 14, AreaLevel.GRID: 15}
DEFAULT_CENTRE = (29.713, 120.244)   # 诸暨市
DEFAULT_ZOOM = 10


def _tile_layers() -> list[dict]:
    """``MAP_TILE_URL`` may list several templates separated by ``|`` or whitespace (Tianditu's
    base map plus its annotation layer). ``{s}`` subdomains: Tianditu uses t0-t7."""
    urls = [u for u in re.split(r"[|\s]+", settings.MAP_TILE_URL or "") if u]
    layers = []
    for url in urls:
        subdomains = getattr(settings, "MAP_TILE_SUBDOMAINS", "") or ("01234567" if "tianditu" in url else "abc")
        layers.append({"url": url, "subdomains": subdomains,
                       "attribution": getattr(settings, "MAP_TILE_ATTRIBUTION", "")
                       or ("天地图" if "tianditu" in url else "")})
    return layers


def _initial_view(user) -> dict:
    """Centre on the broadest area the user holds a grant for (or the county)."""
    grants = sorted(grants_for(user), key=lambda g: len(g.area_code))
    candidates = [g.area_id for g in grants if g.site_ids is None]
    area = None
    if candidates:
        found = {a.pk: a for a in Area.objects.filter(pk__in=candidates, latitude__isnull=False,
                                                      longitude__isnull=False)}
        area = next((found[pk] for pk in candidates if pk in found), None)
    if area is None:
        area = (Area.objects.filter(level=AreaLevel.COUNTY, latitude__isnull=False, longitude__isnull=False)
                .order_by("code").first())
    if area is None:
        return {"lat": DEFAULT_CENTRE[0], "lng": DEFAULT_CENTRE[1], "zoom": DEFAULT_ZOOM}
    return {"lat": float(area.latitude), "lng": float(area.longitude), "zoom": LEVEL_ZOOM.get(area.level, 12)}


def _texts() -> dict:
    return {
        "total": _("视野内 %(n)s 家"), "as_of": _("(聚合数据截至 %(t)s)"), "unlocated": _("%(n)s 家未标注坐标"), "loading": _("加载中…"),
        "failed": _("加载失败,请稍后再试"), "zoom_in": _("放大查看"), "sites": _("家"), "open": _("查看详情"),
        "as_of": _("更新于"), "none": _("未评定"), "red": _("红"), "orange": _("橙"), "yellow": _("黄"),
        "blue": _("蓝"),
        "legend": _("风险等级"), "letter_red": _("红"), "letter_orange": _("橙"), "letter_yellow": _("黄"),
        "letter_blue": _("蓝"), "letter_none": "", "town": _("镇街名称(位于其企业的中心)"), "town_sample": _("某镇"),
    }


@login_required
def site_map(request):
    form = forms.SiteFilterForm(request.GET or None, user=request.user)
    if request.GET:
        form.is_valid()   # show field errors; the API answers the same errors for the markers
    # Centres of the areas in the filter, so choosing an area pans the map to it.
    area_centres = {str(a["pk"]): [float(a["latitude"]), float(a["longitude"]), LEVEL_ZOOM.get(a["level"], 13)]
                    for a in form.fields["area"].queryset.filter(latitude__isnull=False, longitude__isnull=False)
                    .values("pk", "latitude", "longitude", "level")}
    query = request.GET.copy()
    query.pop("cursor", None)
    return render(request, "registry/map.html", {
        "form": form,
        "map_config": {
            "api": reverse("api:map_sites"),
            "tiles": _tile_layers(),
            "view": _initial_view(request.user),
            "areas": area_centres,
            "towns": maps.town_labels(request.user, form.fields["area"].queryset),
            "list_url": reverse("registry:list"),
            "text": _texts(),
        },
        "offline": not _tile_layers(),
        "query": query.urlencode(),
    })
