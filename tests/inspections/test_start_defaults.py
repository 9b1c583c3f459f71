"""Starting an inspection: the mode defaults to the role's usual one (``queries.DEFAULT_MODE_BY_ROLE``)
on the start form and in the API when ``mode`` is omitted; started from a campaign (the campaign
page's 开始检查 link, ``?campaign=ID``) the site choices are the campaign's targets and the campaign
is preselected."""
from __future__ import annotations

import re

import pytest

from yingji.inspections import queries
from yingji.inspections.models import Inspection, Mode
from yingji.registry import services as registry_services

from .factories import make_campaign, make_site

# persona → (the mode preselected for them, the site they inspect: key of the ``sites`` fixture)
EXPECTED = {
    "enterprise": (Mode.SELF, "trade"),
    "grid": (Mode.GRID, "trade"),
    "town_a": (Mode.TOWN, "trade"),
    "inspector": (Mode.SPOT, "trade"),
    "dept": (Mode.DEPARTMENT, "construction"),
    "admin": (Mode.DEPARTMENT, "trade"),
}


@pytest.fixture
def sites(world, checklist):
    trade = make_site(world, world.villages["a1"], world.sectors["industry_trade"], name="大唐某袜厂")
    registry_services.bind_site_manager(world.admin, world.enterprise, trade)
    construction = make_site(world, world.villages["a1"], world.sectors["construction"], name="大唐某工地")
    return {"trade": trade, "construction": construction}


def _selected(html: str, name: str) -> str | None:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no {name} select"
    chosen = re.search(r'<option value="([^"]*)"[^>]*\bselected\b', select.group(1))
    return chosen.group(1) if chosen else None


@pytest.mark.parametrize("persona", sorted(EXPECTED))
def test_the_start_form_preselects_the_roles_usual_mode(world, sites, client, persona):
    mode, key = EXPECTED[persona]
    user, site = world.users[persona], sites[key]
    assert queries.default_mode(user, site) == mode
    client.force_login(user)
    r = client.get(f"/inspections/new/?site={site.pk}")
    assert r.status_code == 200
    assert _selected(r.content.decode(), "mode") == mode


@pytest.mark.parametrize("persona", sorted(EXPECTED))
def test_the_api_uses_the_roles_usual_mode_when_mode_is_omitted(world, sites, client, persona):
    mode, key = EXPECTED[persona]
    client.force_login(world.users[persona])
    r = client.post("/api/v1/inspections", {"site_id": sites[key].pk}, content_type="application/json")
    assert r.status_code == 201, r.content
    assert r.json()["mode"] == mode and Inspection.objects.get(pk=r.json()["id"]).mode == mode


def test_an_explicit_mode_still_wins_and_a_missing_site_is_still_an_error(world, sites, client):
    client.force_login(world.town_a)
    r = client.post("/api/v1/inspections", {"site_id": sites["trade"].pk, "mode": Mode.SELF},
                    content_type="application/json")
    assert r.status_code == 201 and r.json()["mode"] == Mode.SELF
    r = client.post("/api/v1/inspections", {}, content_type="application/json")
    assert r.status_code == 422 and r.json()["detail"].get("site")
    r = client.post("/api/v1/inspections", {"site_id": 999999}, content_type="application/json")
    assert r.status_code == 404


def test_starting_from_a_campaign_offers_its_targets_and_preselects_it(world, sites, client):
    campaign = make_campaign(world, world.county, name="工贸专项", scope_sectors=[world.sectors["industry_trade"]])
    client.force_login(world.town_a)
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert f'href="/inspections/new/?campaign={campaign.pk}"' in page  # 开始检查 on the campaign page

    html = client.get(f"/inspections/new/?campaign={campaign.pk}").content.decode()
    assert "工贸专项" in html
    assert "大唐某袜厂" in html and "大唐某工地" not in html  # only the campaign's target sites
    assert f'href="?site={sites["trade"].pk}&amp;campaign={campaign.pk}"' in html
    assert f'<input type="hidden" name="campaign" value="{campaign.pk}">' in html  # the search keeps it

    url = f"/inspections/new/?site={sites['trade'].pk}&campaign={campaign.pk}"
    html = client.get(url).content.decode()
    assert _selected(html, "campaign") == str(campaign.pk) and _selected(html, "mode") == Mode.TOWN
    form = {"site": sites["trade"].pk, "mode": Mode.TOWN, "campaign": campaign.pk, "place": "现场"}
    r = client.post(url, form)
    assert r.status_code == 302
    inspection = Inspection.objects.get(site=sites["trade"])
    assert inspection.campaign_id == campaign.pk and inspection.lead == world.town_a


def test_a_site_outside_the_campaign_is_said_so(world, sites, client):
    campaign = make_campaign(world, world.county, scope_sectors=[world.sectors["industry_trade"]])
    client.force_login(world.town_a)
    html = client.get(f"/inspections/new/?site={sites['construction'].pk}&campaign={campaign.pk}").content.decode()
    assert 'data-testid="outside-campaign"' in html and _selected(html, "campaign") in (None, "")


def test_a_closed_or_invisible_campaign_is_not_preselected(world, sites, client):
    other = make_campaign(world, world.area_b, actor=world.town_b, name="店口专项")  # not town A's business
    client.force_login(world.town_a)
    html = client.get(f"/inspections/new/?site={sites['trade'].pk}&campaign={other.pk}").content.decode()
    assert "店口专项" not in html
    html = client.get("/inspections/new/?campaign=abc").content.decode()
    assert "大唐某袜厂" in html  # an unusable parameter is ignored
