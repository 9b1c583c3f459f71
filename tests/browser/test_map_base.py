"""The risk map is readable without tiles (closed networks, no YINGJI_MAP_TILE_URL): town names as
a base layer, a legend, and risk colours that stay apart (with the level's letter, not colour alone)."""
from __future__ import annotations

import pytest
from django.test import override_settings
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

GROUPS = {  # colour -> (town key, centre); far apart so each is its own cluster at the county view
    "red": ("a", 29.80, 120.10),
    "orange": ("a", 29.80, 120.40),
    "yellow": ("b", 29.62, 120.10),
    "blue": ("b", 29.62, 120.40),
}


def _located_sites(world):
    from yingji.registry import services
    from yingji.registry.models import Site

    for colour, (town, lat, lng) in GROUPS.items():
        village = world.villages[f"{town}1"]
        for i in range(3):
            site = services.create_site(world.admin, kind="small_place", area=village, name=f"{colour}场所{i}",
                                        latitude=f"{lat + i * 0.001:.6f}", longitude=f"{lng + i * 0.001:.6f}")
            # fixed colours (in production the risk engine sets them)
            Site.objects.filter(pk=site.pk).update(risk_colour=colour)


def _rgb(css: str) -> tuple[int, ...]:
    return tuple(int(float(x)) for x in css[css.index("(") + 1:css.index(")")].split(",")[:3])


def _luma(rgb) -> float:
    r, g, b = rgb
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@override_settings(MAP_TILE_URL="")
def test_the_map_without_tiles_shows_towns_legend_and_distinct_colours(browser_world, page, live_server):
    _located_sites(browser_world)
    login(page, live_server, "admin", PASSWORD)
    page.goto("/sites/map/")
    expect(page.get_by_test_id("map-offline")).to_be_visible()
    assert page.locator(".leaflet-tile").count() == 0

    # the towns, labelled at the centroid of their sites
    labels = page.locator(".town-label .town-name")
    expect(labels.filter(has_text="大唐街道")).to_be_visible()
    expect(labels.filter(has_text="店口镇")).to_be_visible()

    # the legend names every level next to its swatch and letter
    legend = page.get_by_test_id("map-legend")
    expect(legend).to_be_visible()
    for name in ("红", "橙", "黄", "蓝", "未评定"):
        expect(legend).to_contain_text(name)

    # one cluster per colour, each with its letter, the colours far apart (also in lightness,
    # which is what a colour-blind reader still sees)
    expect(page.locator(".cluster-icon")).to_have_count(4)
    colours = {}
    for key in GROUPS:
        badge = page.locator(f'.cluster-icon div[data-colour="{key}"]')
        expect(badge).to_have_count(1)
        expect(badge.locator(".cluster-letter")).to_have_text({"red": "红", "orange": "橙", "yellow": "黄",
                                                               "blue": "蓝"}[key])
        colours[key] = _rgb(badge.evaluate("e => getComputedStyle(e).backgroundColor"))
    keys = list(colours)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            distance = sum((x - y) ** 2 for x, y in zip(colours[a], colours[b])) ** 0.5
            assert distance > 100, (a, b, colours[a], colours[b])
    # red and orange (the pair lost before) differ clearly in lightness
    assert abs(_luma(colours["red"]) - _luma(colours["orange"])) > 60, colours
