"""Who sees which assessments: a site's grade and history are scoped exactly like the site
(area subtree, sectors, enterprise bindings); out of scope answers 404 on pages and API."""
from __future__ import annotations

import pytest

from yingji.core.scoping import forget_grants
from yingji.registry.models import Site
from yingji.risk import services
from yingji.risk.models import SiteRiskAssessment

from .factories import make_assessment, make_site

PERSONAS = ("admin", "leader", "dept", "inspector", "town_a", "town_b", "grid", "enterprise")


@pytest.fixture
def graded(world):
    """Graded sites across the tree: town A (grid, village, town level), town B, the county;
    supervised by 工贸, 建设施工 or no sector."""
    s = world.sectors
    places = {"a_grid": world.grids["a1g1"], "a_village": world.villages["a2"], "a_town": world.area_a,
              "b_village": world.villages["b1"], "county": world.county}
    sites = {}
    for key, area in places.items():
        for sector in ("industry_trade", "construction", None):
            site = make_site(world, area, s[sector] if sector else None, industry="26")
            services.assess_site(None, site)
            services.set_dynamic_factors(site, open_hazards=1)   # two assessments per site
            sites[(key, sector)] = site
    return sites


@pytest.mark.parametrize("persona", PERSONAS)
def test_assessments_are_visible_exactly_where_their_site_is(world, graded, persona):
    user = world.users[persona]
    forget_grants(user)
    sites = set(Site.objects.visible_to(user).filter(pk__in=[s.pk for s in graded.values()])
                .values_list("pk", flat=True))
    seen = SiteRiskAssessment.objects.visible_to(user).filter(site__in=graded.values())
    assert set(seen.values_list("site_id", flat=True)) == sites
    assert seen.count() == 2 * len(sites)
    assert not SiteRiskAssessment.objects.editable_by(user).exists()   # history is never edited


def test_town_b_never_sees_town_a_assessments(world, graded):
    seen = set(SiteRiskAssessment.objects.visible_to(world.town_b).values_list("site_id", flat=True))
    town_a_sites = {s.pk for (key, _s), s in graded.items() if key.startswith("a_")}
    assert seen and not seen & town_a_sites
    assert seen == {s.pk for (key, _s), s in graded.items() if key.startswith("b_")}


def test_sector_bound_inspector_sees_only_own_sector(world, graded):
    seen = set(SiteRiskAssessment.objects.visible_to(world.inspector).values_list("site_id", flat=True))
    assert seen == {s.pk for (_k, sector), s in graded.items() if sector == "industry_trade"}


def test_town_b_gets_404_on_town_a_site_risk_page_and_api(world, graded, client, api_client):
    site = graded[("a_grid", "industry_trade")]
    client.force_login(world.town_a)
    assert client.get(f"/risk/sites/{site.pk}/").status_code == 200
    client.force_login(world.town_b)
    page = client.get(f"/risk/sites/{site.pk}/")
    assert page.status_code == 404 and "记录不存在或无权访问" in page.content.decode()
    assert client.post(f"/risk/sites/{site.pk}/assess/").status_code == 404
    api = api_client.as_user(world.town_b)
    for url in (f"/api/v1/risk/sites/{site.pk}", f"/api/v1/risk/sites/{site.pk}/history"):
        response = api.get(url)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    api = api_client.as_user(world.town_a)
    assert api.get(f"/api/v1/risk/sites/{site.pk}").json()["colour"] == "yellow"   # 10 + 20 + 3
    assert len(api.get(f"/api/v1/risk/sites/{site.pk}/history").json()["items"]) == 2


def test_enterprise_user_sees_only_bound_sites(world, graded, client, api_client):
    from yingji.registry.services import bind_site_manager

    mine = graded[("b_village", None)]
    other = graded[("b_village", "industry_trade")]
    ent = world.enterprise
    assert not SiteRiskAssessment.objects.visible_to(ent).exists()
    bind_site_manager(world.admin, ent, mine)
    forget_grants(ent)
    assert set(SiteRiskAssessment.objects.visible_to(ent).values_list("site_id", flat=True)) == {mine.pk}
    client.force_login(ent)
    assert client.get(f"/risk/sites/{mine.pk}/").status_code == 200
    assert client.get(f"/risk/sites/{other.pk}/").status_code == 404
    api = api_client.as_user(ent)
    assert api.get(f"/api/v1/risk/sites/{mine.pk}").status_code == 200
    assert api.get(f"/api/v1/risk/sites/{other.pk}/history").status_code == 404


def test_factory_passes_the_generic_scoping_test(world, monkeypatch):
    """``make_assessment`` under the generic ORM rule and HTTP checks of ``tests/core/test_scoping``
    (as if registered in ``tests/scoping_factories.py``), for every persona."""
    from tests import scoping_factories as sf
    from tests.core import test_scoping as generic

    label = "risk.SiteRiskAssessment"
    monkeypatch.setitem(sf.FACTORIES, label, make_assessment)
    monkeypatch.setitem(sf.DETAIL_URLS, label, [lambda a: f"/risk/sites/{a.site_id}/",
                                                 lambda a: f"/api/v1/risk/sites/{a.site_id}"])
    monkeypatch.setitem(sf.EDIT_URLS, label, [])
    monkeypatch.setitem(sf.LIST_URLS, label, [(lambda a: f"/api/v1/risk/sites/{a.site_id}/history",
                                               sf.api_items)])
    for persona in PERSONAS:
        generic.test_orm_rule(world, label, persona)
    for persona in ("town_b", "inspector", "dept", "grid"):
        generic.test_pages_and_api(world, label, persona)
