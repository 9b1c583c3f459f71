"""Headless browser: an inspector on a phone starts a spot check at a site (GPS from the phone),
answers the checklist item by item (htmx), marks one item 不符合, confirms the proposed hazard and
completes the inspection."""
from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, horizontal_overflow, login, screenshot
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_inspector_inspects_on_a_phone(browser_world, new_page, live_server):
    from tests.inspections.factories import ensure_checklist, make_site
    from yingji.hazards.models import Hazard
    from yingji.inspections.models import Inspection

    world = browser_world
    ensure_checklist()
    site = make_site(world, world.villages["a1"], world.sectors["industry_trade"], name="大唐某袜厂")

    pg = new_page(**PHONE, geolocation={"latitude": 29.7123, "longitude": 120.2456, "accuracy": 9},
                  permissions=["geolocation"])
    login(pg, live_server, "inspector", PASSWORD)
    pg.goto(f"/inspections/new/?site={site.pk}")
    assert "大唐某袜厂" in pg.locator('[data-testid="chosen-site"]').inner_text()
    pg.wait_for_function("document.querySelector('input[name=latitude]').value !== ''")
    pg.locator('[name="mode"]').select_option("spot")
    with pg.expect_navigation():
        pg.get_by_role("button", name="开始检查").click()
    inspection = Inspection.objects.get()
    assert inspection.lead == world.inspector and inspection.mode == "spot"
    assert float(inspection.latitude) == pytest.approx(29.7123) and inspection.gps_accuracy == 9
    assert horizontal_overflow(pg) == 0

    def answer(code, label):
        item = pg.locator(f'[data-testid="item-{code}"]')
        item.get_by_role("button", name=label, exact=True).click()
        pg.locator(f'[data-testid="item-{code}"] [data-testid="item-state"]').filter(has_text=label).wait_for()

    answer("G-02", "符合")
    answer("G-03", "不适用")
    pg.locator('[data-testid="item-G-01"] input[name="note"]').fill("责任制未上墙")
    answer("G-01", "不符合")
    proposal = pg.locator('[data-testid="item-G-01"] [data-testid="hazard-proposal"]')
    assert proposal.locator('[name="description"]').input_value() == "是否建立全员安全生产责任制\n责任制未上墙"
    proposal.locator('[name="responsible_person"]').fill("王五")
    with pg.expect_navigation():
        proposal.get_by_role("button", name="确认隐患").click()
    assert "已登记隐患" in pg.locator("ul.messages").inner_text()
    assert pg.locator('[data-testid="item-G-01"] [data-testid="item-hazard"]').count() == 1
    pg.locator('[name="summary"]').fill("发现一般隐患1处,已责令整改")
    with pg.expect_navigation():
        pg.get_by_role("button", name="完成检查").click()
    assert "已完成" in pg.locator('[data-testid="inspection-state"]').inner_text()
    assert pg.locator('[data-testid="complete"]').count() == 0
    screenshot(pg, "inspection-completed-phone")
    assert horizontal_overflow(pg) == 0

    inspection.refresh_from_db()
    assert inspection.state == "completed" and inspection.hazards_found == 1 and inspection.items_failed == 1
    hazard = Hazard.objects.get()
    assert hazard.inspection == inspection and hazard.responsible_person == "王五" and hazard.state == "reported"
    pg.get_by_role("link", name="是否建立全员安全生产责任制").first.click()
    pg.wait_for_url(f"**/hazards/{hazard.pk}/")
