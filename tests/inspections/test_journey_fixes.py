"""Fixes from the usability issue: the campaign filter of the inspection list."""
from __future__ import annotations

import pytest

from .factories import completed_inspection, make_campaign


@pytest.mark.parametrize("persona", ["admin", "leader", "inspector", "town_a", "grid"])
def test_campaign_link_lists_its_inspections(world, client, persona):
    campaign = make_campaign(world, world.county, name="全市大排查")
    other = make_campaign(world, world.county, name="另一个行动")
    mine = completed_inspection(world, world.villages["a1"], world.sectors["industry_trade"], campaign=campaign)
    elsewhere = completed_inspection(world, world.villages["a1"], world.sectors["industry_trade"], campaign=other)
    client.force_login(getattr(world, persona))
    detail = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert f"/inspections/?campaign={campaign.pk}" in detail
    r = client.get(f"/inspections/?campaign={campaign.pk}")
    assert r.status_code == 200
    html = r.content.decode()
    assert f"/inspections/{mine.pk}/" in html and f"/inspections/{elsewhere.pk}/" not in html
