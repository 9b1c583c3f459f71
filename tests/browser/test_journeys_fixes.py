"""Headless browser: the journeys of the usability issue that broke, driven as a user does.

- the campaign page's 检查记录 link (and the campaign filter of the inspection list) answered 400;
- date inputs were prefilled as 2026/12/01, which <input type=date> drops: campaign edits failed
  and deadlines were silently lost — every form with a date is saved here and read back;
- a validation error on the hazard report form dropped the attached photo;
- the site icon.
"""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tests.browser.conftest import PHONE, login
from tests.conftest import PASSWORD
from tests.hazards.factories import TINY_PNG

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def in_days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


def _submit(pg, button):
    with pg.expect_navigation() as nav:
        button.click()
    return nav.value


def _act(pg, action: str, fields: dict):
    """Open the action box ``action`` of a detail page, fill ``fields`` and submit it."""
    box = pg.locator(f'[data-testid="action-{action}"]')
    if box.get_attribute("open") is None:
        box.locator("summary").click()
    for name, value in fields.items():
        box.locator(f'[name="{name}"]').fill(value)
    return _submit(pg, box.locator('button[type="submit"]'))


# ---------------------------------------------------------------- 1. campaign → its inspections

def test_campaign_page_links_to_its_inspections(browser_world, new_page, live_server):
    from tests.inspections.factories import completed_inspection, ensure_checklist, make_campaign

    world = browser_world
    ensure_checklist()
    campaign = make_campaign(world, world.county, name="全市安全生产大排查")
    other = make_campaign(world, world.county, name="另一项专项行动")
    mine = completed_inspection(world, world.villages["a1"], world.sectors["industry_trade"], campaign=campaign)
    theirs = completed_inspection(world, world.villages["a1"], world.sectors["industry_trade"], campaign=other)

    for persona in ("admin", "leader", "town_a", "grid"):
        pg = new_page()
        login(pg, live_server, persona, PASSWORD)
        pg.goto(f"/campaigns/{campaign.pk}/")
        response = _submit(pg, pg.locator("main").get_by_role("link", name="检查记录", exact=True))
        assert response.status == 200, persona
        results = pg.locator('[data-testid="inspection-results"]')
        assert results.locator(f'a[href="/inspections/{mine.pk}/"]').count() == 1, persona
        assert results.locator(f'a[href="/inspections/{theirs.pk}/"]').count() == 0, persona
        chosen = pg.locator('select[name="campaign"] option:checked').inner_text()
        assert chosen == "全市安全生产大排查", persona
        # the filter form itself: choose the other campaign and search
        pg.locator('select[name="campaign"]').select_option(label="另一项专项行动")
        response = _submit(pg, pg.get_by_role("button", name="查询"))
        assert response.status == 200
        assert results.locator(f'a[href="/inspections/{theirs.pk}/"]').count() == 1, persona


# ---------------------------------------------------------------- 2. every date input

def test_every_form_with_a_date_saves_what_was_entered(browser_world, new_page, live_server):
    from tests.hazards.factories import make_hazard
    from tests.inspections.factories import ensure_checklist, make_campaign, make_site, start
    from tests.supervision.factories import make_major_hazard
    from yingji.hazards.models import Hazard
    from yingji.inspections import services as inspection_services
    from yingji.inspections.models import Campaign
    from yingji.supervision.models import ExtensionRequest, Listing

    world = browser_world
    pg = new_page()
    login(pg, live_server, "admin", PASSWORD)

    # campaign edit: the dates are shown as they are, saving untouched keeps them, a change is saved
    campaign = make_campaign(world, world.county, name="日期测试行动", starts_on=in_days(-3), ends_on=in_days(40))
    pg.goto(f"/campaigns/{campaign.pk}/edit/")
    assert pg.locator('[name="starts_on"]').input_value() == in_days(-3).isoformat()
    assert pg.locator('[name="ends_on"]').input_value() == in_days(40).isoformat()
    _submit(pg, pg.get_by_role("button", name="保存"))
    assert pg.url.endswith(f"/campaigns/{campaign.pk}/")
    campaign.refresh_from_db()
    assert (campaign.starts_on, campaign.ends_on) == (in_days(-3), in_days(40))
    pg.goto(f"/campaigns/{campaign.pk}/edit/")
    pg.locator('[name="ends_on"]').fill(in_days(75).isoformat())
    _submit(pg, pg.get_by_role("button", name="保存"))
    campaign.refresh_from_db()
    assert (campaign.starts_on, campaign.ends_on) == (in_days(-3), in_days(75))

    # campaign new
    pg.goto("/campaigns/new/")
    pg.locator('[name="name"]').fill("新建日期行动")
    pg.locator('[name="area"]').select_option(label="大唐街道")
    pg.locator('[name="starts_on"]').fill(in_days(1).isoformat())
    pg.locator('[name="ends_on"]').fill(in_days(90).isoformat())
    _submit(pg, pg.get_by_role("button", name="保存"))
    created = Campaign.objects.get(name="新建日期行动")
    assert (created.starts_on, created.ends_on) == (in_days(1), in_days(90))

    # hazard accept: the reporter's suggested deadline is prefilled and kept; a changed one is saved
    hazard = make_hazard(world, world.villages["a1"], world.sectors["industry_trade"], actor=world.grid,
                         deadline=in_days(12))
    pg.goto(f"/hazards/{hazard.pk}/")
    box = pg.locator('[data-testid="action-accept"]')
    box.locator("summary").click()
    assert box.locator('[name="deadline"]').input_value() == in_days(12).isoformat()
    _act(pg, "accept", {"responsible_person": "王五"})
    hazard.refresh_from_db()
    assert hazard.state == "rectifying" and hazard.deadline == in_days(12)
    second = make_hazard(world, world.villages["a1"], world.sectors["industry_trade"], actor=world.grid,
                         deadline=in_days(12))
    pg.goto(f"/hazards/{second.pk}/")
    _act(pg, "accept", {"responsible_person": "赵六", "deadline": in_days(20).isoformat()})
    second.refresh_from_db()
    assert second.state == "rectifying" and second.deadline == in_days(20)

    # the hazard proposed by a failed inspection item
    ensure_checklist()
    site = make_site(world, world.villages["a1"], world.sectors["industry_trade"], name="日期测试袜厂")
    inspection = start(world, site, actor=world.admin)
    result = inspection.results.get(item__code="G-01")
    inspection_services.record_result(world.admin, inspection, result, "fail", note="责任制未上墙")
    pg.goto(f"/inspections/{inspection.pk}/")
    proposal = pg.locator('[data-testid="item-G-01"] [data-testid="hazard-proposal"]')
    proposal.locator('[name="deadline"]').fill(in_days(15).isoformat())
    _submit(pg, proposal.get_by_role("button", name="确认隐患"))
    assert Hazard.objects.get(inspection=inspection).deadline == in_days(15)

    # listed supervision: the listing's deadline, the plan's deadline (kept on re-filing), an extension
    major = make_major_hazard(world, world.villages["a1"], world.sectors["industry_trade"])
    pg.goto(f"/supervision/new/?hazard={major.pk}")
    form = pg.locator('[data-testid="listing-form"]')
    form.locator('[name="level"]').select_option("county")
    form.locator('[name="listing_body_name"]').fill("诸暨市安全生产委员会")
    form.locator('[name="notice_number"]').fill("诸安督〔2026〕9号")
    form.locator('[name="notice_text"]').fill("责令限期整改")
    form.locator('[name="deadline"]').fill(in_days(200).isoformat())
    _submit(pg, form.get_by_role("button", name="挂牌督办"))
    listing = Listing.objects.get(hazard=major)
    assert listing.deadline == in_days(200)
    _act(pg, "file_plan", {"measures": "更换泄爆装置", "funds": "50000", "responsible_people": "张三",
                           "plan_deadline": in_days(150).isoformat(), "contingency": "停用除尘系统"})
    listing.refresh_from_db()
    assert listing.plan_deadline == in_days(150), pg.locator("main").inner_text()[:2000]
    # a revision of the plan: the filed plan is prefilled, only the measures change
    box = pg.locator('[data-testid="action-file_plan"]')
    box.locator("summary").click()
    assert box.locator('[name="plan_deadline"]').input_value() == in_days(150).isoformat()
    _act(pg, "file_plan", {"measures": "更换泄爆装置,增设隔爆阀"})
    listing.refresh_from_db()
    assert listing.measures == "更换泄爆装置,增设隔爆阀" and listing.plan_deadline == in_days(150)
    _act(pg, "request_extension", {"new_deadline": in_days(300).isoformat(), "reason": "设备采购周期长"})
    assert ExtensionRequest.objects.get(listing=listing).new_deadline == in_days(300)

    # filter forms keep their dates (inspection list, audit log)
    for path, names, button in (("/inspections/", ("date_from", "date_to"), "查询"),
                                ("/audit/", ("since", "until"), "筛选")):
        pg.goto(path)
        pg.locator(f'input[type="date"][name="{names[0]}"]').fill(in_days(-30).isoformat())
        pg.locator(f'input[type="date"][name="{names[1]}"]').fill(in_days(0).isoformat())
        response = _submit(pg, pg.locator("main").get_by_role("button", name=button))
        assert response.status == 200, path
        assert f"{names[0]}={in_days(-30).isoformat()}" in pg.url
        assert pg.locator(f'input[type="date"][name="{names[0]}"]').input_value() == in_days(-30).isoformat()
        assert pg.locator(f'input[type="date"][name="{names[1]}"]').input_value() == in_days(0).isoformat()


# ---------------------------------------------------------------- 7. the photo survives an error

def test_report_keeps_the_photo_across_a_validation_error(browser_world, new_page, live_server, tmp_path):
    from tests.hazards.factories import make_site
    from yingji.core.attachments import attachments_for
    from yingji.hazards.models import Hazard

    world = browser_world
    site = make_site(world, world.villages["a1"], world.sectors["industry_trade"], name="大唐某袜厂")
    shot = tmp_path / "现场.png"
    shot.write_bytes(TINY_PNG)

    pg = new_page(**PHONE)
    login(pg, live_server, "grid", PASSWORD)
    pg.goto(f"/hazards/report/?site={site.pk}")
    form = pg.locator('[data-testid="report-form"]')
    form.locator('[name="category"]').select_option("fire")
    form.locator('[name="deadline"]').fill(in_days(10).isoformat())
    form.locator('input[name="files"]').set_input_files(str(shot))
    # the description is forgotten
    response = _submit(pg, pg.get_by_role("button", name="上报", exact=True))
    assert response.status == 400
    assert "这个字段是必填项" in form.inner_text()
    kept = form.locator('[data-testid="kept-file"]')
    assert kept.count() == 1 and "现场.png" in kept.inner_text()
    assert kept.locator('input[type="checkbox"]').is_checked()
    assert form.locator('[name="deadline"]').input_value() == in_days(10).isoformat()
    assert not Hazard.objects.exists()

    form.locator('[name="description"]').fill("仓库消防通道堆放纸箱")
    _submit(pg, pg.get_by_role("button", name="上报", exact=True))
    hazard = Hazard.objects.get()
    assert pg.url.endswith(f"/hazards/{hazard.pk}/")
    assert hazard.description == "仓库消防通道堆放纸箱" and hazard.deadline == in_days(10)
    files = list(attachments_for(world.grid, hazard))
    assert [a.original_name for a in files] == ["现场.png"] and files[0].size == len(TINY_PNG)


# ---------------------------------------------------------------- 20. the site icon

def test_the_site_has_an_icon(browser_world, page, live_server):
    page.goto("/login/")
    href = page.locator('link[rel="icon"]').get_attribute("href")
    assert page.request.get(f"{live_server.url}{href}").status == 200
    response = page.goto("/favicon.ico")
    assert response.status == 200 and response.headers["content-type"] in {"image/x-icon",
                                                                               "image/vnd.microsoft.icon"}
