"""Headless browser: the inspector starts an inspection from a campaign on a phone — the campaign
page's 开始检查 offers the campaign's target sites, and the start form comes with the campaign
preselected and the inspector's usual mode (执法抽查) chosen, so one tap starts it."""
from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, horizontal_overflow, login, screenshot
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_inspector_starts_an_inspection_from_a_campaign(browser_world, new_page, live_server):
    from tests.inspections.factories import ensure_checklist, make_campaign, make_site
    from yingji.inspections.models import Inspection

    world = browser_world
    ensure_checklist()
    trade = world.sectors["industry_trade"]
    site = make_site(world, world.villages["a1"], trade, name="大唐某袜厂")
    make_site(world, world.villages["a1"], world.sectors["construction"], name="大唐某工地")  # not a target
    campaign = make_campaign(world, world.county, name="工贸企业专项检查", scope_sectors=[trade])

    pg = new_page(**PHONE)
    login(pg, live_server, "inspector", PASSWORD)
    pg.goto(f"/campaigns/{campaign.pk}/")
    with pg.expect_navigation():
        pg.locator('[data-testid="campaign-start"]').click()
    assert "工贸企业专项检查" in pg.locator('[data-testid="start-campaign"]').inner_text()
    choices = pg.locator("ul.site-choices").inner_text()
    assert "大唐某袜厂" in choices and "大唐某工地" not in choices
    with pg.expect_navigation():
        pg.get_by_role("link", name="大唐某袜厂").click()
    assert "大唐某袜厂" in pg.locator('[data-testid="chosen-site"]').inner_text()
    assert pg.locator('[name="campaign"]').input_value() == str(campaign.pk)
    assert pg.locator('[name="mode"]').input_value() == "spot"
    assert horizontal_overflow(pg) == 0
    screenshot(pg, "inspection-start-from-campaign-phone")
    with pg.expect_navigation():
        pg.locator('[data-testid="start-form"]').get_by_role("button", name="开始检查").click()
    inspection = Inspection.objects.get()
    assert (inspection.site, inspection.campaign, inspection.mode, inspection.lead) == (
        site, campaign, "spot", world.inspector)
