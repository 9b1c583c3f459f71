"""Every hazard has a sector: decided by the checklist module, the inspection, the reporter's own
sector or the site's only one — else the reporter must choose one (422 in Chinese, a required
choice among the site's sectors on the form). Older sector-less hazards are filled by
``yingji fill_hazard_sectors`` where the sector can be told."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from yingji.core.errors import Forbidden, InvalidInput
from yingji.core.models import AuditEntry
from yingji.hazards import services
from yingji.hazards.models import Hazard

from .factories import make_site

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_sector_site(world):
    from yingji.registry import services as registry

    return registry.create_site(world.admin, kind="small_place", area=world.villages["a1"], name="大唐某化工仓储",
                                sectors=[world.sectors["industry_trade"], world.sectors["hazchem"]])


def test_a_site_of_two_sectors_asks_which(world, two_sector_site):
    with pytest.raises(InvalidInput) as exc:
        services.report_hazard(world.town_a, site=two_sector_site, description="仓库通道堵塞")
    assert exc.value.message == "该监管对象涉及多个行业领域(工贸、危险化学品),请选择隐患所属的行业领域"
    assert set(exc.value.detail) == {"sector"}
    assert not Hazard.objects.exists()
    hazard = services.report_hazard(world.town_a, site=two_sector_site, description="仓库通道堵塞",
                                    sector=world.sectors["hazchem"])
    assert hazard.sector == world.sectors["hazchem"]
    # a sector-bound inspector reports in the sector he is responsible for, without asking
    assert services.report_hazard(world.inspector, site=two_sector_site,
                                  description="叉车无证").sector == world.sectors["industry_trade"]


def test_no_site_and_no_sector_of_ones_own_asks_for_one(world):
    with pytest.raises(InvalidInput) as exc:
        services.report_hazard(world.admin, area=world.villages["a1"], description="河道护栏缺失")
    assert exc.value.detail == {"sector": "请选择隐患所属的行业领域"}
    # a person who may not report there at all is refused first, not asked for a sector
    with pytest.raises(Forbidden):
        services.report_hazard(world.leader, area=world.villages["a1"], description="河道护栏缺失")


def test_api_requires_the_sector_when_ambiguous(world, two_sector_site, api_client):
    client = api_client.as_user(world.town_a)
    r = client.post("/api/v1/hazards", {"site_id": two_sector_site.pk, "description": "仓库通道堵塞"})
    assert r.status_code == 422
    body = r.json()
    assert "请选择隐患所属的行业领域" in body["message"] and "sector" in body["detail"]
    r = client.post("/api/v1/hazards", {"site_id": two_sector_site.pk, "description": "仓库通道堵塞",
                                        "sector_id": world.sectors["industry_trade"].pk})
    assert r.status_code == 201


def test_report_form_requires_a_choice_among_the_sites_sectors(world, two_sector_site):
    c = Client()
    c.force_login(world.town_a)
    html = c.get(f"/hazards/report/?site={two_sector_site.pk}").content.decode()
    assert "该监管对象涉及多个行业领域,请选择隐患所属的行业领域" in html
    assert f'value="{world.sectors["hazchem"].pk}"' in html
    assert f'value="{world.sectors["construction"].pk}"' not in html      # not one of the site's
    data = {"site": two_sector_site.pk, "level": "general", "category": "fire", "description": "仓库通道堵塞",
            "idempotency_key": "form-sector-00001"}
    r = c.post("/hazards/report/", data)
    assert r.status_code == 400 and not Hazard.objects.exists()
    r = c.post("/hazards/report/", {**data, "sector": world.sectors["hazchem"].pk})
    assert r.status_code == 302 and Hazard.objects.get().sector == world.sectors["hazchem"]


def test_a_failed_item_takes_the_sector_of_its_checklist_module(world, two_sector_site):
    from tests.inspections.factories import ensure_checklist
    from yingji.inspections import services as inspections
    from yingji.inspections.models import Result

    ensure_checklist("t-hazchem", items=[("W-01", "危险化学品按性质分类分区储存", "general", "hazchem", False)],
                     sectors=[world.sectors["hazchem"]], applies_to_all=True)
    inspection = inspections.start_inspection(world.town_a, two_sector_site, "town")
    assert inspection.sector is None                                # the site has two: not decided
    row = inspection.results.get(item__code="W-01")
    inspections.record_result(world.town_a, inspection, row, Result.FAIL, note="混存")
    assert inspections.hazard_sector_choices(world.town_a, row) == []   # the module decides
    hazard = inspections.confirm_hazard(world.town_a, row)
    assert hazard.sector == world.sectors["hazchem"]


def test_a_failed_general_item_at_a_two_sector_site_asks_which(world, two_sector_site):
    from tests.inspections.factories import ensure_checklist
    from yingji.inspections import services as inspections
    from yingji.inspections.models import Result

    ensure_checklist()
    inspection = inspections.start_inspection(world.town_a, two_sector_site, "town")
    row = inspection.results.get(item__code="G-01")
    inspections.record_result(world.town_a, inspection, row, Result.FAIL, note="未建立")
    choices = inspections.hazard_sector_choices(world.town_a, row)
    assert [s.code for s in choices] == ["industry_trade", "hazchem"]
    with pytest.raises(InvalidInput, match="请选择隐患所属的行业领域"):
        inspections.confirm_hazard(world.town_a, row)
    hazard = inspections.confirm_hazard(world.town_a, row, sector=world.sectors["industry_trade"].pk)
    assert hazard.sector == world.sectors["industry_trade"]


def test_fill_hazard_sectors_fills_what_can_be_told(world, two_sector_site):
    one = make_site(world, world.villages["a2"], world.sectors["construction"])
    by_site = services.report_hazard(world.town_a, site=one, description="脚手架未验收")
    ambiguous = services.report_hazard(world.town_a, site=two_sector_site, description="通道堵塞",
                                       sector=world.sectors["hazchem"])
    by_reporter = services.report_hazard(world.inspector, area=world.villages["a1"], description="叉车无证")
    Hazard.objects.update(sector=None)                          # as reported before every hazard had one
    call_command("fill_hazard_sectors")
    got = dict(Hazard.objects.values_list("pk", "sector__code"))
    assert got == {by_site.pk: "construction", ambiguous.pk: None, by_reporter.pk: "industry_trade"}
    assert AuditEntry.objects.filter(action="hazard.fill_sector").count() == 2
    assert services.fill_missing_sectors() == {"candidates": 1, "filled": 0, "undetermined": 1}
