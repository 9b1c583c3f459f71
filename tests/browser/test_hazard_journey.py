"""Headless browser: one hazard's whole life with three people — a grid worker reports it on a
phone, the town officer accepts it, the enterprise rectifies, the town officer sends it back once
and then verifies it."""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.hazards.factories import TINY_PNG

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def _act(pg, action: str, fields: dict | None = None, files=None):
    box = pg.locator(f'[data-testid="action-{action}"]')
    box.locator("summary").click()
    for name, value in (fields or {}).items():
        box.locator(f'[name="{name}"]').fill(value)
    if files:
        box.locator('input[name="files"]').set_input_files(files)
    if box.locator("form[data-confirm]").count():  # irreversible steps ask first (send back, verify)
        pg.once("dialog", lambda dialog: dialog.accept())
    with pg.expect_navigation():
        box.locator('button[type="submit"]').click()


def test_hazard_whole_life_three_people(browser_world, new_page, live_server, tmp_path):
    from yingji.hazards.models import Hazard
    from yingji.registry import services as registry_services

    from tests.hazards.factories import make_site

    world = browser_world
    site = make_site(world, world.villages["a1"], world.sectors["industry_trade"], name="大唐某袜厂")
    registry_services.bind_site_manager(world.admin, world.enterprise, site)
    shot = tmp_path / "现场.png"
    shot.write_bytes(TINY_PNG)

    # 1. the grid worker, on a phone, reports it with a photo
    grid = new_page(**PHONE)
    login(grid, live_server, "grid", PASSWORD)
    grid.goto("/hazards/report/")
    grid.get_by_role("link", name="大唐某袜厂").click()
    grid.locator('[name="category"]').select_option("fire")
    grid.locator('[name="description"]').fill("仓库消防通道堆放纸箱")
    grid.locator('input[name="files"]').set_input_files(str(shot))
    with grid.expect_navigation():
        grid.get_by_role("button", name="上报", exact=True).click()
    assert "已上报" in grid.locator('[data-testid="hazard-state"]').inner_text()
    assert grid.locator('[data-testid="hazard-actions"]').count() == 0  # a grid worker only reports
    hazard = Hazard.objects.get()
    url = f"/hazards/{hazard.pk}/"

    # 2. found by the government side: the town officer accepts it and sets the deadline; the
    # enterprise submits its rectification with evidence
    town = new_page()
    login(town, live_server, "town_a", PASSWORD)
    town.goto(url)
    due = (timezone.localdate() + datetime.timedelta(days=7)).isoformat()
    _act(town, "accept", {"responsible_person": "王五", "deadline": due})
    assert "整改中" in town.locator('[data-testid="hazard-state"]').inner_text()
    ent = new_page()
    login(ent, live_server, "enterprise", PASSWORD)
    ent.goto(url)
    _act(ent, "submit_rectification", {"description": "纸箱已清走"}, files=str(shot))
    assert "已提交整改" in ent.locator('[data-testid="hazard-state"]').inner_text()

    # 3. the town officer sends it back once, with a reason
    town.goto(url)
    _act(town, "send_back", {"reason": "照片看不清通道全貌"})
    assert "整改中" in town.locator('[data-testid="hazard-state"]').inner_text()

    # 4. the enterprise rectifies again; the town officer verifies and closes it
    ent.goto(url)
    _act(ent, "submit_rectification", {"description": "已补拍通道全景"}, files=str(shot))
    town.goto(url)
    _act(town, "verify", {"note": "现场核实合格"})
    assert "已销号" in town.locator('[data-testid="hazard-state"]').inner_text()
    timeline = town.locator('[data-testid="hazard-timeline"]').inner_text()
    for step in ("上报", "受理", "提交整改", "退回", "验收销号"):
        assert step in timeline
    assert "照片看不清通道全貌" in timeline
    hazard.refresh_from_db()
    assert hazard.state == "closed" and hazard.closed_by == world.town_a
