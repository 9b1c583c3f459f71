"""The home page of every role in a real browser: the role's panels, no JavaScript error or CSP
violation, nothing wider than the screen; a screenshot per role for the user guide
(docs/guide/img/home-<role>.png: phones for grid workers and enterprises, desktop for the others)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.conftest import horizontal_overflow, login, nav_labels
from tests.conftest import PASSWORD
from tests.stats.conftest import build_data

pytestmark = pytest.mark.browser

GUIDE_IMG = Path(__file__).resolve().parents[2] / "docs" / "guide" / "img"
PHONE_375 = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True,
             "device_scale_factor": 1}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1}

# role → (username, viewport, panels that must be there, panels that must not)
ROLES = {
    "leader": ("leader", DESKTOP, {"stats.overview", "inspections.campaigns", "supervision.listings", "risk.new"},
               {"registry.my_sites", "hazards.follow_up"}),
    "admin": ("admin", DESKTOP, {"stats.overview", "risk.new"}, {"registry.my_sites"}),
    "town": ("town_a", DESKTOP, {"stats.overview", "supervision.listings"}, {"registry.my_sites"}),
    "dept": ("dept", DESKTOP, {"stats.overview"}, {"registry.my_sites", "hazards.follow_up"}),
    "inspector": ("inspector", DESKTOP, {"stats.overview"}, {"registry.my_sites"}),
    "grid": ("grid", PHONE_375, {"hazards.follow_up", "inspections.mine"}, {"stats.overview", "risk.new"}),
    "enterprise": ("enterprise", PHONE_375, {"registry.my_sites", "hazards.follow_up"},
                   {"stats.overview", "risk.new", "supervision.listings", "inspections.campaigns"}),
}
MAX_BYTES = 300 * 1024


@pytest.fixture
def home_data(transactional_db):
    from tests.conftest import build_world
    from yingji.hazards import services as hz
    from yingji.stats import services

    world = build_world()
    d = build_data(world)
    hz.feed_risk(d.site_b.pk)
    services.refresh_rollups()
    return world


@pytest.mark.parametrize("role", list(ROLES))
def test_home_page_of_each_role(home_data, new_page, live_server, role):
    username, viewport, present, absent = ROLES[role]
    page = new_page(**viewport)
    login(page, live_server, username, PASSWORD)
    page.goto(f"{live_server.url}/")
    shown = set(page.locator("[data-panel]").evaluate_all("els => els.map(e => e.dataset.panel)"))
    assert present <= shown, shown
    assert not absent & shown, shown
    assert horizontal_overflow(page) <= 1
    if role == "enterprise":
        assert not {"统计分析", "专项行动", "挂牌督办", "风险地图", "行政区域"} & set(nav_labels(page))
        assert "店口" not in page.locator("main").inner_text()
    if role == "town":
        assert "店口" not in page.locator("main").inner_text()
    if "stats.overview" in present:
        assert "数据截至" in page.locator('[data-panel="stats.overview"]').inner_text()
        # a number leads to the filtered list it counts
        page.locator('[data-panel="stats.overview"] a[data-figure="未销号隐患"]').click()
        page.wait_for_url("**/hazards/?state=open")
        page.go_back()
    # the guide's screenshot: taken every run, written into docs/ only when asked
    # (YINGJI_GUIDE_SCREENSHOTS=1), so that a test run leaves the tree as it was
    shot = page.screenshot(full_page=False)
    assert len(shot) < MAX_BYTES
    if os.environ.get("YINGJI_GUIDE_SCREENSHOTS") == "1":
        GUIDE_IMG.mkdir(parents=True, exist_ok=True)
        (GUIDE_IMG / f"home-{role}.png").write_bytes(shot)
