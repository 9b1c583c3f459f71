"""The map's base layer without tiles: town labels at the centroid of the user's visible sites."""
from __future__ import annotations

import pytest

from yingji.core.models import Area
from yingji.registry import maps, services


@pytest.fixture
def located(world):
    for i, (lat, lng) in enumerate([("29.700000", "120.100000"), ("29.800000", "120.300000")]):
        services.create_site(world.admin, kind="small_place", area=world.villages["a1"], name=f"大唐场所{i}",
                             latitude=lat, longitude=lng)
    services.create_site(world.admin, kind="small_place", area=world.villages["b1"], name="店口场所",
                         latitude="29.600000", longitude="120.400000")
    return world


def test_town_labels_sit_at_the_centroid_of_the_visible_sites(located):
    w = located
    labels = {t["name"]: t for t in maps.town_labels(w.admin, Area.objects.all())}
    assert labels["大唐街道"]["lat"] == pytest.approx(29.75) and labels["大唐街道"]["lng"] == pytest.approx(120.2)
    assert labels["大唐街道"]["sites"] == 2
    assert labels["店口镇"]["lat"] == pytest.approx(29.6)
    # a town officer of 店口镇 sees only their town's sites: 大唐街道 has no label for them
    own = {t["name"] for t in maps.town_labels(w.town_b, Area.objects.filter(code__startswith=w.area_b.code))}
    assert own == {"店口镇"}


def test_a_town_with_coordinates_keeps_them(located):
    w = located
    Area.objects.filter(pk=w.area_b.pk).update(latitude="29.650000", longitude="120.350000")
    labels = {t["name"]: t for t in maps.town_labels(w.admin, Area.objects.all())}
    assert labels["店口镇"]["lat"] == pytest.approx(29.65) and labels["店口镇"]["lng"] == pytest.approx(120.35)
