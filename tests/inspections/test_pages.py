"""Inspection and campaign pages: start on a phone, answer with htmx, hazards, complete; campaigns."""
from __future__ import annotations

import pytest

from yingji.hazards.models import Hazard, State
from yingji.inspections import services
from yingji.inspections.models import Campaign, CampaignAssignment, Inspection, InspectionState, Mode, Result

from .factories import TINY_PNG, answer_all, make_campaign, photo, start


def _png(name="现场.png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, TINY_PNG, content_type="image/png")


def test_start_page_offers_allowed_modes_and_starts(world, client, site_a):
    campaign = make_campaign(world, world.county, name="全市大排查")
    client.force_login(world.grid)
    html = client.get(f"/inspections/new/?site={site_a.pk}").content.decode()
    assert 'value="grid"' in html and 'value="town"' not in html and "全市大排查" in html
    # the position is asked for by core/app.js (data-geolocate), filling these inputs
    assert "data-geolocate" in html and 'name="gps_accuracy"' in html
    r = client.post("/inspections/new/", {"site": site_a.pk, "mode": "grid", "campaign": campaign.pk,
                                          "latitude": "29.71", "longitude": "120.24", "gps_accuracy": "8",
                                          "idempotency_key": "page-start-0001"})
    insp = Inspection.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/inspections/{insp.pk}/"
    assert insp.campaign == campaign and insp.gps_accuracy == 8 and insp.lead == world.grid
    # a double submit lands on the same inspection
    r = client.post("/inspections/new/", {"site": site_a.pk, "mode": "grid", "idempotency_key": "page-start-0001"})
    assert r["Location"] == f"/inspections/{insp.pk}/" and Inspection.objects.count() == 1
    # a mode the user may not use is refused with a Chinese form error
    r = client.post("/inspections/new/", {"site": site_a.pk, "mode": "spot"})
    assert r.status_code == 400 and "选择一个有效的选项" in r.content.decode()


def test_start_page_site_search_and_scope(world, client, site_a, site_b):
    client.force_login(world.town_a)
    html = client.get("/inspections/new/?q=袜厂").content.decode()
    assert f"?site={site_a.pk}" in html and "五金厂" not in html
    assert client.get(f"/inspections/new/?site={site_b.pk}").status_code == 404
    client.force_login(world.leader)
    assert client.get("/inspections/new/").status_code == 404


def test_answer_with_htmx_and_without(world, client, site_a):
    insp = start(world, site_a, actor=world.town_a)
    g1 = insp.results.get(item__code="G-01")
    g2 = insp.results.get(item__code="G-02")
    client.force_login(world.town_a)
    r = client.post(f"/inspections/{insp.pk}/results/{g1.pk}/", {"result": "pass", "note": "齐全"},
                    HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and f'id="item-{g1.pk}"' in r.content.decode() and "符合" in r.content.decode()
    g1.refresh_from_db()
    assert g1.result == Result.PASS and g1.note == "齐全"
    r = client.post(f"/inspections/{insp.pk}/results/{g2.pk}/", {"result": "fail"}, HTTP_HX_REQUEST="true")
    assert "该检查项不符合时须拍照上传" in r.content.decode()
    r = client.post(f"/inspections/{insp.pk}/results/{g2.pk}/", {"result": "fail", "note": "通道堆物",
                                                                "files": _png()}, HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert 'data-testid="hazard-proposal"' in html and "疏散通道、安全出口是否畅通" in html
    assert 'data-testid="fix-proposal"' in html
    r = client.post(f"/inspections/{insp.pk}/results/{g2.pk}/", {"result": "bogus"})
    assert r.status_code == 302 and r["Location"].endswith(f"#item-{g2.pk}")
    # out of scope: 404
    client.force_login(world.town_b)
    assert client.post(f"/inspections/{insp.pk}/results/{g1.pk}/", {"result": "pass"}).status_code == 404


def test_confirm_fix_and_complete_through_pages(world, client, site_a):
    insp = start(world, site_a, actor=world.town_a)
    rows = {r.item.code: r for r in insp.results.select_related("item")}
    client.force_login(world.town_a)
    r = client.post(f"/inspections/{insp.pk}/complete/", {"summary": "x"}, follow=True)
    assert "还有3项未检查" in r.content.decode()
    services.record_result(world.town_a, insp, rows["G-01"], Result.FAIL, note="未上墙")
    services.record_result(world.town_a, insp, rows["G-02"], Result.FAIL, files=[photo()])
    services.record_result(world.town_a, insp, rows["G-03"], Result.NOT_APPLICABLE)
    html = client.get(f"/inspections/{insp.pk}/").content.decode()
    assert html.count('data-testid="hazard-proposal"') == 2
    r = client.post(f"/inspections/{insp.pk}/results/{rows['G-01'].pk}/hazard/", {
        "title": "责任制未上墙", "description": "安全生产责任制未公示", "level": "general", "category": "management",
        "deadline": "2099-12-31", "responsible_person": "王五", "idempotency_key": "page-hazard-01"})
    assert r.status_code == 302
    hazard = Hazard.objects.get(title="责任制未上墙")
    assert hazard.inspection == insp and hazard.responsible_person == "王五"
    r = client.post(f"/inspections/{insp.pk}/results/{rows['G-02'].pk}/fix/", {
        "rectification_description": "已清理", "files": _png("清理后.png")}, follow=True)
    assert "已登记当场整改" in r.content.decode()
    fixed = Hazard.objects.get(checklist_item=rows["G-02"].item)
    assert fixed.state == State.CLOSED and fixed.fixed_on_spot
    r = client.post(f"/inspections/{insp.pk}/complete/", {"summary": "发现2处问题"}, follow=True)
    html = r.content.decode()
    assert "检查已完成" in html and 'data-testid="complete"' not in html  # read-only now
    assert f'href="/hazards/{hazard.pk}/"' in html and f'href="/hazards/{fixed.pk}/"' in html
    insp.refresh_from_db()
    assert insp.state == InspectionState.COMPLETED and insp.hazards_found == 2


def test_hazard_form_errors_are_shown(world, client, site_a):
    insp = start(world, site_a, actor=world.town_a)
    g3 = insp.results.get(item__code="G-03")
    services.record_result(world.town_a, insp, g3, Result.FAIL)
    client.force_login(world.town_a)
    html = client.get(f"/inspections/{insp.pk}/").content.decode()
    assert "重大隐患不能当场整改" in html
    r = client.post(f"/inspections/{insp.pk}/results/{g3.pk}/hazard/", {"description": ""}, follow=True)
    assert "这个字段是必填项" in r.content.decode() or "必填" in r.content.decode()
    r = client.post(f"/inspections/{insp.pk}/results/{g3.pk}/fix/", {"rectification_description": "已整改",
                                                                    "files": _png()}, follow=True)
    assert "重大隐患不能当场整改销号" in r.content.decode()
    r = client.post(f"/inspections/{insp.pk}/results/{g3.pk}/fix/", {}, follow=True)
    assert r.status_code == 400 and "当场整改未登记" in r.content.decode() and not Hazard.objects.exists()


def test_a_refused_hazard_form_keeps_what_was_typed(world, client, site_a):
    insp = start(world, site_a, actor=world.town_a)
    g1 = insp.results.get(item__code="G-01")
    services.record_result(world.town_a, insp, g1, Result.FAIL)
    client.force_login(world.town_a)
    r = client.post(f"/inspections/{insp.pk}/results/{g1.pk}/hazard/", {
        "title": "安全生产责任制未建立", "description": "未见全员安全生产责任制文件", "level": "general",
        "category": "management", "deadline": "2026-02-30", "responsible_person": "王五",
        "idempotency_key": "h-typed-000001"})
    html = r.content.decode()
    assert r.status_code == 400 and "隐患未登记" in html
    assert "未见全员安全生产责任制文件" in html and 'value="王五"' in html  # nothing typed is lost
    assert not Hazard.objects.exists()


def test_list_filters_and_archive(world, client, site_a, site_b):
    a = start(world, site_a, actor=world.town_a)
    b = start(world, site_b, actor=world.town_b)
    client.force_login(world.admin)
    html = client.get("/inspections/").content.decode()
    assert f'href="/inspections/{a.pk}/"' in html and f'href="/inspections/{b.pk}/"' in html
    html = client.get(f"/inspections/?area={world.area_a.pk}&mode=town&state=in_progress").content.decode()
    assert f'href="/inspections/{a.pk}/"' in html and f'href="/inspections/{b.pk}/"' not in html
    r = client.get("/inspections/?date_from=2026-05-01&date_to=2026-04-01")
    assert r.status_code == 400 and "结束日期不能早于开始日期" in r.content.decode()
    client.force_login(world.town_a)
    html = client.get("/inspections/").content.decode()
    assert f'href="/inspections/{b.pk}/"' not in html
    r = client.post(f"/inspections/{a.pk}/archive/", {"reason": "重复"}, follow=True)
    assert "已归档" in r.content.decode()
    a.refresh_from_db()
    assert a.archived_at is not None
    assert f'href="/inspections/{a.pk}/"' not in client.get("/inspections/").content.decode()


def test_campaign_pages(world, client, site_a):
    client.force_login(world.admin)
    assert client.get("/campaigns/new/").status_code == 200
    r = client.post("/campaigns/new/", {"name": "燃气安全专项", "area": world.county.pk, "starts_on": "2026-03-01",
                                        "ends_on": "2026-02-01"})
    assert r.status_code == 400 and "结束日期不能早于开始日期" in r.content.decode()
    r = client.post("/campaigns/new/", {"name": "燃气安全专项", "area": world.county.pk, "starts_on": "2026-03-01",
                                        "ends_on": "2026-06-30", "scope_areas": [world.area_a.pk],
                                        "target_coverage": "90"})
    campaign = Campaign.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/campaigns/{campaign.pk}/"
    r = client.post(f"/campaigns/{campaign.pk}/activate/", follow=True)
    assert "专项行动已启动" in r.content.decode()
    r = client.post(f"/campaigns/{campaign.pk}/assignments/", {"task": "排查餐饮场所", "area": world.area_a.pk,
                                                              "target_sites": "10"}, follow=True)
    assert "已分派任务" in r.content.decode()
    insp = start(world, site_a, actor=world.town_a, campaign=campaign)
    answer_all(world.town_a, insp)
    services.complete_inspection(world.town_a, insp)
    html = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "echarts.min.js" in html and 'id="chart-data"' in html and "100.0%" in html
    assert 'data-testid="progress-by-area"' in html and "大唐街道" in html
    r = client.post(f"/campaigns/{campaign.pk}/edit/", {"name": "燃气安全专项(延长)", "area": world.county.pk,
                                                        "starts_on": "2026-03-01", "ends_on": "2026-08-31",
                                                        "scope_areas": [world.area_a.pk]})
    assert r.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "燃气安全专项(延长)" and campaign.ends_on.isoformat() == "2026-08-31"
    a = CampaignAssignment.objects.get()
    r = client.post(f"/campaigns/{campaign.pk}/assignments/{a.pk}/revoke/", follow=True)
    assert "已撤销分工" in r.content.decode()
    html = client.get("/campaigns/?status=active").content.decode()
    assert f'href="/campaigns/{campaign.pk}/"' in html
    r = client.post(f"/campaigns/{campaign.pk}/close/", follow=True)
    assert "专项行动已结束" in r.content.decode()
    r = client.post(f"/campaigns/{campaign.pk}/close/", follow=True)
    assert "不能结束" in r.content.decode()
    assert client.post(f"/campaigns/{campaign.pk}/nonsense/").status_code == 404
    # a town officer sees the county campaign but may not edit it
    client.force_login(world.town_a)
    assert client.get(f"/campaigns/{campaign.pk}/").status_code == 200
    assert client.get(f"/campaigns/{campaign.pk}/edit/").status_code == 403
    client.force_login(world.town_b)
    assert client.get(f"/campaigns/{campaign.pk}/").status_code == 404


def test_assignment_form_errors(world, client):
    campaign = make_campaign(world, world.county)
    client.force_login(world.admin)
    r = client.post(f"/campaigns/{campaign.pk}/assignments/", {"task": ""}, follow=True)
    assert "必填" in r.content.decode()
    r = client.post(f"/campaigns/{campaign.pk}/assignments/", {"task": "无人"}, follow=True)
    assert "请指定责任区域、责任单位或责任人" in r.content.decode()


@pytest.mark.parametrize("persona", ["leader", "grid"])
def test_campaign_creation_needs_edit(world, client, persona):
    client.force_login(world.users[persona])
    assert client.get("/campaigns/new/").status_code == 404
    assert client.get("/campaigns/").status_code == 200
    assert Mode.GRID  # modes are data, not pages


def test_start_page_offers_colleagues_who_can_see_the_site(world, client, site_a):
    from yingji.inspections.models import Inspection

    client.force_login(world.admin)
    import re

    html = client.get(f"/inspections/new/?site={site_a.pk}").content.decode()
    select = re.search(r'<select name="inspectors".*?</select>', html, re.S).group(0)
    offered = {int(v) for v in re.findall(r'<option value="(\d+)"', select)}
    assert {world.town_a.pk, world.inspector.pk} <= offered
    assert world.town_b.pk not in offered  # another town's officer cannot see the site
    assert world.enterprise.pk not in offered and world.admin.pk not in offered
    r = client.post("/inspections/new/", {"site": site_a.pk, "mode": "town", "inspectors": [world.town_a.pk],
                                          "idempotency_key": "page-start-colleague-1"})
    assert r.status_code == 302
    inspection = Inspection.objects.get(idempotency_key="page-start-colleague-1")
    assert list(inspection.inspectors.all()) == [world.town_a]
    # a colleague not offered is refused with a Chinese error, nothing is started
    r = client.post("/inspections/new/", {"site": site_a.pk, "mode": "town", "inspectors": [world.town_b.pk],
                                          "idempotency_key": "page-start-colleague-2"})
    assert r.status_code == 400 and not Inspection.objects.filter(idempotency_key="page-start-colleague-2").exists()
