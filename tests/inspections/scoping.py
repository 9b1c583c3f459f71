"""Factories of this app's scoped models for the generic scoping test (see tests/scoping_factories.py)."""
from __future__ import annotations

from urllib.parse import quote

from tests.scoping_factories import api_items, factory, html_has, unique


def _organising_area(area):
    from yingji.core.models import AreaLevel

    return area if area.level < AreaLevel.GRID else area.parent


@factory(
    "inspections.Campaign",
    detail_urls=[lambda c: f"/campaigns/{c.pk}/", lambda c: f"/api/v1/inspections/campaigns/{c.pk}",
                 lambda c: f"/api/v1/inspections/campaigns/{c.pk}/progress"],
    edit_urls=[lambda c: f"/campaigns/{c.pk}/edit/"],
    list_urls=[
        (lambda c: f"/api/v1/inspections/campaigns?q={quote(c.name)}&limit=500", api_items),
        (lambda c: f"/campaigns/?q={quote(c.name)}", html_has('href="/campaigns/{obj.pk}/"')),
    ],
)
def make_campaign(world, area, sector=None):
    """An active campaign organised by ``area`` (a grid's village for a grid). Organised at the
    county or a town, its scope is a new area below it: a campaign concerns the people of the
    areas it covers (and those inside its organising area), so this one concerns no persona below."""
    from yingji.core import services as core_services
    from yingji.core.models import AreaLevel

    from .factories import make_campaign as make

    organising = _organising_area(area)
    scope = []
    if organising.level <= AreaLevel.TOWN:
        scope = [core_services.create_area(world.admin, parent=organising, name=unique("专项范围区域"))]
    return make(world, organising, name=unique("范围测试行动"), scope_areas=scope)


@factory(
    "inspections.CampaignAssignment",
    capabilities_from="inspections.Campaign",
    detail_urls=[lambda a: f"/api/v1/inspections/campaigns/{a.campaign_id}"],
    list_urls=[(lambda a: f"/api/v1/inspections/campaigns/{a.campaign_id}",
                lambda r, a: r.status_code == 200 and a.pk in {x["id"] for x in r.json()["assignments"]})],
)
def make_assignment(world, area, sector=None):
    """A task in a campaign organised by ``area``, given to that area."""
    from yingji.inspections import services

    campaign = make_campaign(world, area)
    return services.add_assignment(world.admin, campaign, task=unique("排查任务"), area=campaign.area)


@factory(
    "inspections.Inspection",
    detail_urls=[lambda i: f"/inspections/{i.pk}/", lambda i: f"/api/v1/inspections/{i.pk}"],
    list_urls=[
        (lambda i: f"/api/v1/inspections?site_id={i.site_id}&include_archived=true&limit=500", api_items),
        (lambda i: f"/inspections/?site={i.site_id}", html_has('href="/inspections/{obj.pk}/"')),
    ],
)
def make_inspection(world, area, sector=None):
    """A completed town check of a new site in ``area`` (and ``sector``)."""
    from .factories import completed_inspection

    return completed_inspection(world, area, sector)


@factory(
    "inspections.InspectionResult",
    detail_urls=[lambda r: f"/api/v1/inspections/{r.inspection_id}"],
    list_urls=[(lambda r: f"/api/v1/inspections/{r.inspection_id}",
                lambda resp, r: resp.status_code == 200 and r.pk in {x["id"] for x in resp.json()["results"]})],
)
def make_result(world, area, sector=None):
    """One answered item of a completed inspection in ``area`` (and ``sector``)."""
    return make_inspection(world, area, sector).results.order_by("id").first()
