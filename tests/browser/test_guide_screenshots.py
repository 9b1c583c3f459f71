"""Desktop pass over the main pages of the user guide (docs/guide/) for the office roles: every page
the guide describes opens for its role, and the role's guide shows on /help/.

With ``YINGJI_GUIDE_SCREENSHOTS=1`` the pages are saved as docs/guide/img/desktop-<role>-<page>.png
(viewport only, each under 250 KB); normal runs write nothing. The phone screenshots of the grid
worker and the enterprise manager come from test_phone_width.py.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

GUIDE_IMG = Path(__file__).resolve().parents[2] / "docs" / "guide" / "img"
SAVE = os.environ.get("YINGJI_GUIDE_SCREENSHOTS") == "1"
MAX_BYTES = 250_000
DESKTOP = {"viewport": {"width": 1200, "height": 760}, "device_scale_factor": 1}


def _data(world) -> dict[str, str]:
    from tests.hazards.factories import make_hazard
    from tests.inspections.factories import completed_inspection, make_campaign
    from tests.supervision.factories import make_listing
    from yingji.registry import services as registry_services

    sector = world.sectors["industry_trade"]
    site = registry_services.create_site(world.admin, kind="small_place", area=world.villages["a1"],
                                         sectors=[sector], name="大唐镇红星袜业加工点", address="大唐街道工业路8号",
                                         latitude="29.713000", longitude="120.244000")
    # a few more located sites, so the map shows clusters and both towns' names
    for i in range(6):
        village = world.villages["a2" if i % 2 else "b1"]
        registry_services.create_site(world.admin, kind="small_place", area=village, name=f"示例场所{i}",
                                      latitude=f"{29.66 + (i % 2) * 0.1 + i * 0.002:.6f}",
                                      longitude=f"{120.18 + (i % 2) * 0.12 + i * 0.002:.6f}")
    hazard = make_hazard(world, world.villages["a1"], sector, site=site, actor=world.grid,
                         description="仓库消防通道堆放纱线,影响疏散")
    campaign = make_campaign(world, world.county, name="2026年冬季消防安全专项行动")
    inspection = completed_inspection(world, world.villages["a1"], sector, site=site, campaign=campaign)
    listing = make_listing(world, world.villages["a1"], sector)
    return {"site": f"/sites/{site.pk}/", "hazard": f"/hazards/{hazard.pk}/", "campaign": f"/campaigns/{campaign.pk}/",
            "inspection": f"/inspections/{inspection.pk}/", "listing": f"/supervision/{listing.pk}/"}


# persona -> (role code, [(page name, url or data key)])
PAGES = {
    "admin": ("city_admin", [("users", "/users/"), ("areas", "/areas/"), ("import", "/sites/import/"),
                             ("campaign", "campaign"), ("audit", "/audit/")]),
    "leader": ("leader", [("stats", "/stats/"), ("map", "/sites/map/"), ("supervision", "/supervision/")]),
    "dept": ("dept_officer", [("hazards", "/hazards/"), ("supervision", "/supervision/")]),
    "inspector": ("inspector", [("start", "/inspections/new/"), ("inspection", "inspection"),
                                ("hazard", "hazard")]),
    "town_a": ("town_officer", [("hazards", "/hazards/"), ("hazard", "hazard"), ("campaign", "campaign"),
                                ("sites", "/sites/")]),
}


def test_the_guides_pages_open_for_each_role(browser_world, new_page, live_server):
    data = _data(browser_world)
    saved = []
    for persona, (role, pages) in PAGES.items():
        pg = new_page(**DESKTOP)
        login(pg, live_server, persona, PASSWORD)
        pg.goto("/help/")
        expect(pg.get_by_test_id(f"guide-{role}")).to_be_visible()
        for name, target in [("help", "/help/")] + pages:
            url = data.get(target, target)
            resp = pg.goto(url)
            assert resp.status == 200, (persona, url, resp.status)
            pg.wait_for_load_state("load")
            if SAVE:
                GUIDE_IMG.mkdir(parents=True, exist_ok=True)
                path = GUIDE_IMG / f"desktop-{role}-{name}.png"
                pg.screenshot(path=str(path))
                saved.append(path)
    for path in saved:
        assert path.stat().st_size < MAX_BYTES, (path.name, path.stat().st_size)
