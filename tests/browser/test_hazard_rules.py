"""Headless browser, one journey per rule of the hazard flow:

* who accepts: the enterprise sees a hazard the grid worker found on its site, has no accept
  button and is told who accepts and who verifies; the town officer accepts and sets the deadline;
* titles: an inspector fails an item with an observation, edits the proposed title (item short
  name + observation) before confirming, and the hazard list shows that title;
* sectors: reporting at a site of two sectors asks for the sector among the site's;
* notifications: the reporter and the enterprise find "accepted" in their inbox.
"""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.hazards.factories import TINY_PNG

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _site(world, name, *sectors, bind=True):
    from yingji.registry import services as registry

    site = registry.create_site(world.admin, kind="small_place", area=world.villages["a1"], name=name,
                                sectors=[world.sectors[s] for s in sectors])
    if bind:
        registry.bind_site_manager(world.admin, world.enterprise, site)
    return site


def _grid_hazard(world, site):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from yingji.hazards import services

    return services.report_hazard(world.grid, site=site, category="fire", description="仓库消防通道堆放纸箱",
                                  files=[SimpleUploadedFile("现场.png", TINY_PNG, content_type="image/png")])


def _accept(pg, due: str):
    box = pg.locator('[data-testid="action-accept"]')
    box.locator("summary").click()
    box.locator('[name="responsible_person"]').fill("王五")
    box.locator('[name="deadline"]').fill(due)
    with pg.expect_navigation():
        box.locator('button[type="submit"]').click()


def test_enterprise_is_told_who_accepts_and_the_town_accepts(browser_world, new_page, live_server):
    world = browser_world
    hazard = _grid_hazard(world, _site(world, "大唐某袜厂", "industry_trade"))
    url = f"/hazards/{hazard.pk}/"

    ent = new_page()
    login(ent, live_server, "enterprise", PASSWORD)
    ent.goto(url)
    assert ent.locator('[data-testid="action-accept"]').count() == 0
    assert "监管部门发现(网格巡查)" in ent.locator('[data-testid="hazard-finder"]').inner_text()
    assert "企业不能自行受理或验收" in ent.locator('[data-testid="hazard-handling"]').inner_text()
    assert "待属地镇街或行业监管部门受理" in ent.locator('[data-testid="hazard-next-step"]').inner_text()

    town = new_page()
    login(town, live_server, "town_a", PASSWORD)
    town.goto(url)
    due = (timezone.localdate() + datetime.timedelta(days=10)).isoformat()
    _accept(town, due)
    assert "整改中" in town.locator('[data-testid="hazard-state"]').inner_text()

    ent.goto(url)   # the enterprise now rectifies; the verify step is announced, not hidden
    assert ent.locator('[data-testid="action-submit_rectification"]').count() == 1
    assert "待属地镇街或行业监管部门验收(整改提交后)" in ent.locator('[data-testid="hazard-next-step"]').inner_text()
    hazard.refresh_from_db()
    assert hazard.deadline.isoformat() == due and hazard.state == "rectifying"


def test_inspector_edits_the_proposed_title_and_the_list_shows_it(browser_world, new_page, live_server):
    from tests.inspections.factories import ensure_checklist
    from yingji.hazards.models import Hazard
    from yingji.inspections import services as inspections

    world = browser_world
    ensure_checklist()
    site = _site(world, "大唐某五金厂", "industry_trade", bind=False)
    inspection = inspections.start_inspection(world.town_a, site, "town")

    pg = new_page()
    login(pg, live_server, "town_a", PASSWORD)
    pg.goto(f"/inspections/{inspection.pk}/")
    item = pg.locator('[data-testid="item-G-01"]')
    item.locator('input[name="note"]').fill("责任制未上墙")
    item.get_by_role("button", name="不符合", exact=True).click()
    pg.locator('[data-testid="item-G-01"] [data-testid="item-state"]').filter(has_text="不符合").wait_for()
    proposal = pg.locator('[data-testid="item-G-01"] [data-testid="hazard-proposal"]')
    title = proposal.locator('[name="title"]')
    assert title.input_value() == "是否建立全员安全生产责任制:责任制未上墙"
    title.fill("安全生产责任制:未张贴上墙")
    with pg.expect_navigation():
        proposal.get_by_role("button", name="确认隐患").click()
    assert "已登记隐患" in pg.locator("ul.messages").inner_text()
    assert Hazard.objects.get().title == "安全生产责任制:未张贴上墙"
    pg.goto("/hazards/")
    main = pg.locator("main").inner_text()
    assert "安全生产责任制:未张贴上墙" in main and "是否建立全员安全生产责任制" not in main


def test_report_at_a_two_sector_site_asks_for_the_sector(browser_world, new_page, live_server):
    from yingji.hazards.models import Hazard

    world = browser_world
    site = _site(world, "大唐某化工仓储", "industry_trade", "hazchem", bind=False)
    pg = new_page()
    login(pg, live_server, "town_a", PASSWORD)
    pg.goto(f"/hazards/report/?site={site.pk}")
    sector = pg.locator('[name="sector"]')
    assert set(sector.locator("option").all_inner_texts()) == {"请选择", "工贸", "危险化学品"}
    pg.locator('[name="category"]').select_option("fire")
    pg.locator('[name="description"]').fill("仓库通道堵塞")
    with pg.expect_navigation():
        pg.get_by_role("button", name="上报", exact=True).click()
    assert "请选择隐患所属的行业领域" in pg.locator('[data-testid="report-form"]').inner_text()
    assert not Hazard.objects.exists()
    pg.locator('[name="sector"]').select_option(label="危险化学品")
    with pg.expect_navigation():
        pg.get_by_role("button", name="上报", exact=True).click()
    assert "已上报" in pg.locator('[data-testid="hazard-state"]').inner_text()
    assert Hazard.objects.get().sector.code == "hazchem"


def test_reporter_and_enterprise_find_the_acceptance_in_their_inbox(browser_world, new_page, live_server):
    from yingji.hazards import services

    world = browser_world
    hazard = _grid_hazard(world, _site(world, "大唐某袜厂", "industry_trade"))
    services.accept(world.town_a, hazard, responsible_person="王五",
                    deadline=timezone.localdate() + datetime.timedelta(days=7))
    for username in ("grid", "enterprise"):
        pg = new_page()
        login(pg, live_server, username, PASSWORD)
        pg.goto("/inbox/")
        entry = pg.locator("ul.inbox li").filter(has_text="隐患已受理,请按期整改:仓库消防通道堆放纸箱")
        assert entry.count() == 1, username
        assert "整改责任人:王五" in entry.inner_text()
    town = new_page()
    login(town, live_server, "town_a", PASSWORD)
    town.goto("/inbox/")
    assert town.locator("ul.inbox li").filter(has_text="隐患已受理").count() == 0   # who acted is not told
