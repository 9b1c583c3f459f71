"""Campaigns: creation and scope validation, visibility, assignments, sites in scope, progress."""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.core.models import AuditEntry, Notification
from yingji.hazards import services as hazard_services
from yingji.hazards.models import OPEN_STATES, Hazard, Level, State
from yingji.inspections import services
from yingji.inspections.models import Campaign, CampaignStatus, Inspection, InspectionState, Mode, Result
from yingji.registry.models import Site

from .factories import answer_all, completed_inspection, make_campaign, make_site, photo, start

TODAY = datetime.date(2026, 3, 1)


def test_create_validates_dates_scope_and_permission(world):
    base = dict(name="燃气安全专项", starts_on="2026-03-01", ends_on="2026-06-30")
    with pytest.raises(InvalidInput, match="结束日期不能早于开始日期"):
        services.create_campaign(world.admin, area=world.county, **{**base, "ends_on": "2026-02-01"})
    with pytest.raises(InvalidInput, match="开始日期格式不正确"):
        services.create_campaign(world.admin, area=world.county, **{**base, "starts_on": "2026/03/01"})
    with pytest.raises(InvalidInput, match="名称不能为空"):
        services.create_campaign(world.admin, area=world.county, **{**base, "name": " "})
    with pytest.raises(InvalidInput, match="请选择组织区域"):
        services.create_campaign(world.admin, area=None, **base)
    with pytest.raises(InvalidInput, match="范围区域须在组织区域之内:店口镇"):
        services.create_campaign(world.admin, area=world.area_a, scope_areas=[world.area_b], **base)
    with pytest.raises(InvalidInput, match="范围区域不存在或无权访问"):
        services.create_campaign(world.town_a, area=world.area_a, scope_areas=[999999], **base)
    with pytest.raises(InvalidInput, match="组织区域不存在或无权访问"):
        services.create_campaign(world.town_a, area=world.county, **base)
    with pytest.raises(InvalidInput, match="目标覆盖率须在0到100之间"):
        services.create_campaign(world.admin, area=world.county, target_coverage="120", **base)
    with pytest.raises(InvalidInput, match="目标覆盖率须为数字"):
        services.create_campaign(world.admin, area=world.county, target_coverage="很多", **base)
    with pytest.raises(InvalidInput, match="对象类别无效"):
        services.create_campaign(world.admin, area=world.county, scope_kinds=["castle"], **base)
    with pytest.raises(InvalidInput, match="行业领域无效"):
        services.create_campaign(world.admin, area=world.county, scope_sectors=[999999], **base)
    with pytest.raises(InvalidInput, match="风险特征无效"):
        services.create_campaign(world.admin, area=world.county, scope_traits=[999999], **base)
    with pytest.raises(InvalidInput, match="牵头单位无效"):
        services.create_campaign(world.admin, area=world.county, organiser=999999, **base)
    with pytest.raises(InvalidInput, match="专项行动最长三年"):
        services.create_campaign(world.admin, area=world.county, **{**base, "ends_on": "2030-01-01"})
    with pytest.raises(Forbidden, match="您无权在该区域组织专项行动"):
        services.create_campaign(world.leader, area=world.county, **base)
    with pytest.raises(Forbidden, match="请先登录"):
        services.create_campaign(None, area=world.county, **base)
    assert not Campaign.objects.exists()
    from yingji.core.models import Organisation

    org = Organisation.objects.get(code="yjj")
    c = services.create_campaign(world.town_a, area=world.area_a, scope_areas=[world.villages["a1"]],
                                 scope_sectors=[world.sectors["industry_trade"]], scope_kinds=["small_place"],
                                 organiser=org, target_coverage="95%", target_note="全覆盖", **base)
    assert c.status == CampaignStatus.DRAFT and c.created_by == world.town_a and str(c.target_coverage) == "95.00"
    assert list(c.scope_areas.all()) == [world.villages["a1"]] and c.scope_kinds == ["small_place"]
    entry = AuditEntry.objects.get(action="campaign.create", object_id=c.pk)
    assert entry.changes["scope_areas"] == [None, [world.villages["a1"].pk]]


def test_campaign_visibility(world):
    county = make_campaign(world, world.county, name="全市大排查")
    town_a = make_campaign(world, world.area_a, actor=world.town_a, name="大唐自查")
    only_b = make_campaign(world, world.county, scope_areas=[world.area_b], name="店口燃气专项")

    def seen(user):
        return set(Campaign.objects.visible_to(user).values_list("name", flat=True))

    assert seen(world.town_a) == {"全市大排查", "大唐自查"}  # a county campaign concerns town A
    assert seen(world.town_b) == {"全市大排查", "店口燃气专项"}  # town A's own is not town B's business
    assert seen(world.grid) == {"全市大排查", "大唐自查"}
    assert seen(world.leader) == {"全市大排查", "大唐自查", "店口燃气专项"}
    assert seen(world.enterprise) == set()
    # editing: EDIT over the organising area only
    assert services.can_edit_campaign(world.town_a, town_a)
    assert not services.can_edit_campaign(world.town_a, county)
    with pytest.raises(Forbidden, match="您无权修改该专项行动"):
        services.update_campaign(world.town_a, county, name="改名")
    with pytest.raises(NotFound):
        services.update_campaign(world.town_b, town_a, name="改名")
    with pytest.raises(NotFound):
        services.get_campaign(world.town_b, "abc")
    assert services.get_campaign(world.town_a, county.pk) == county
    with pytest.raises(NotFound):
        services.get_campaign(world.town_a, only_b.pk)


def test_update_and_status_changes(world):
    c = make_campaign(world, world.county, activate=False, name="秋季行动")
    c = services.update_campaign(world.admin, c, name="秋季攻坚行动", scope_areas=[world.area_a],
                                 target_coverage=None)
    assert c.name == "秋季攻坚行动" and list(c.scope_areas.all()) == [world.area_a]
    entry = AuditEntry.objects.filter(action="campaign.update", object_id=c.pk).latest("id")
    assert entry.changes["name"] == ["秋季行动", "秋季攻坚行动"]
    with pytest.raises(InvalidInput, match="不能修改该字段"):
        services.update_campaign(world.admin, c, status="closed")
    with pytest.raises(InvalidInput, match="范围区域须在组织区域之内"):
        services.update_campaign(world.admin, c, area=world.area_b)  # the kept scope area lies elsewhere
    with pytest.raises(Conflict, match="不能结束"):
        services.close_campaign(world.admin, c)
    c = services.activate_campaign(world.admin, c)
    assert c.status == CampaignStatus.ACTIVE
    with pytest.raises(Conflict, match="不能启动"):
        services.activate_campaign(world.admin, c)
    c = services.close_campaign(world.admin, c)
    assert c.status == CampaignStatus.CLOSED
    with pytest.raises(Conflict, match="专项行动已结束,不能修改"):
        services.update_campaign(world.admin, c, name="再改")
    with pytest.raises(Conflict, match="专项行动已结束,不能再分派任务"):
        services.add_assignment(world.admin, c, task="补查", area=world.area_a)
    assert AuditEntry.objects.filter(action="campaign.close", object_id=c.pk).exists()


def test_assignments_notify_and_revoke(world):
    c = make_campaign(world, world.county, name="燃气专项")
    a = services.add_assignment(world.admin, c, task="排查全部餐饮场所", area=world.area_a, target_sites="120")
    assert a.target_sites == 120
    note = Notification.objects.get(recipient=world.town_a)
    assert note.title == "专项行动任务:燃气专项" and note.link == f"/campaigns/{c.pk}/"
    services.add_assignment(world.admin, c, task="抽查", user=world.inspector)
    assert Notification.objects.filter(recipient=world.inspector, body="抽查").exists()
    from yingji.core.models import Organisation

    org = services.add_assignment(world.admin, c, task="牵头", organisation=Organisation.objects.get(code="zj"))
    assert org.organisation.code == "zj"
    with pytest.raises(InvalidInput, match="请指定责任区域、责任单位或责任人"):
        services.add_assignment(world.admin, c, task="无人负责")
    with pytest.raises(InvalidInput, match="任务不能为空"):
        services.add_assignment(world.admin, c, task="", area=world.area_a)
    with pytest.raises(InvalidInput, match="目标检查家数须为整数"):
        services.add_assignment(world.admin, c, task="x", area=world.area_a, target_sites="很多")
    with pytest.raises(InvalidInput, match="目标检查家数须在0到1000000之间"):
        services.add_assignment(world.admin, c, task="x", area=world.area_a, target_sites=-1)
    with pytest.raises(InvalidInput, match="责任单位无效"):
        services.add_assignment(world.admin, c, task="x", organisation=999999)
    with pytest.raises(InvalidInput, match="责任人不存在或无权访问"):
        services.add_assignment(world.admin, c, task="x", user=999999)
    town_campaign = make_campaign(world, world.area_a, actor=world.town_a)
    with pytest.raises(InvalidInput, match="责任区域须在组织区域之内"):
        services.add_assignment(world.town_a, town_campaign, task="x", area=world.area_b)
    with pytest.raises(Forbidden):
        services.add_assignment(world.town_a, c, task="x", area=world.area_a)
    with pytest.raises(Forbidden):
        services.revoke_assignment(world.town_a, a)  # visible to town A, not editable
    done = services.revoke_assignment(world.admin, a)
    assert done.revoked_at is not None
    with pytest.raises(Conflict, match="该分工已撤销"):
        services.revoke_assignment(world.admin, a)
    with pytest.raises(NotFound):
        services.revoke_assignment(world.town_b, services.add_assignment(world.town_a, town_campaign, task="y",
                                                                         area=world.villages["a1"]))


def test_sites_in_scope_filters_by_area_sector_trait_and_kind(world, checklist):
    from yingji.registry.models import RiskTrait

    trade = world.sectors["industry_trade"]
    s1 = make_site(world, world.villages["a1"], trade, kind="small_place")
    s2 = make_site(world, world.grids["a2g1"], trade, kind="crowded_place")
    s3 = make_site(world, world.villages["b1"], trade)
    s4 = make_site(world, world.villages["a1"], world.sectors["construction"])
    archived = make_site(world, world.villages["a1"], trade)
    from yingji.registry import services as registry_services

    registry_services.archive_site(world.admin, archived, reason="注销")
    dust = RiskTrait.objects.get(code="dust")
    s1.traits.add(dust)

    def ids(c):
        return set(services.sites_in_scope(c).values_list("pk", flat=True))

    everything = make_campaign(world, world.county)
    assert {s1.pk, s2.pk, s3.pk, s4.pk} <= ids(everything) and archived.pk not in ids(everything)
    town = make_campaign(world, world.area_a, actor=world.town_a)
    assert ids(town) == {s1.pk, s2.pk, s4.pk}
    narrowed = make_campaign(world, world.county, scope_areas=[world.villages["a2"], world.villages["b1"]],
                             scope_sectors=[trade])
    assert ids(narrowed) == {s2.pk, s3.pk}
    assert ids(make_campaign(world, world.county, scope_traits=[dust])) == {s1.pk}
    assert ids(make_campaign(world, world.area_a, scope_kinds=["crowded_place"])) == {s2.pk}
    assert [c.pk for c in services.campaigns_for_site(world.town_a, s2)] == sorted(
        [c.pk for c in Campaign.objects.filter(status=CampaignStatus.ACTIVE)
         if s2.pk in ids(c) and Campaign.objects.visible_to(world.town_a).filter(pk=c.pk).exists()], reverse=True)


# ---------------------------------------------------------------- progress reconciles with the records

def _naive(campaign, user, today):
    """The figures recomputed record by record in Python, straight from the definitions."""
    visible_sites = set(Site.objects.visible_to(user).values_list("pk", flat=True))
    scope_codes = [a.code for a in campaign.scope_areas.all()] or [campaign.area.code]
    sectors = set(campaign.scope_sectors.values_list("pk", flat=True))
    sites = []
    for s in Site.objects.all().select_related("area"):
        if s.pk not in visible_sites or s.archived_at is not None:
            continue
        if not any(s.area.code.startswith(c) for c in scope_codes):
            continue
        if sectors and not sectors & set(s.sectors.values_list("pk", flat=True)):
            continue
        sites.append(s)
    visible_insp = set(Inspection.objects.visible_to(user).values_list("pk", flat=True))
    insps = [i for i in Inspection.objects.select_related("area").all() if i.pk in visible_insp
             and i.campaign_id == campaign.pk and i.archived_at is None and i.state == InspectionState.COMPLETED]
    visible_h = set(Hazard.objects.visible_to(user).values_list("pk", flat=True))
    hazards = [h for h in Hazard.objects.select_related("area").all() if h.pk in visible_h
               and h.campaign_id == campaign.pk and h.archived_at is None]

    def figures(site_list, insp_list, hazard_list):
        inspected = {i.site_id for i in insp_list} & {s.pk for s in site_list}
        return {
            "sites_in_scope": len(site_list), "sites_inspected": len(inspected),
            "coverage": round(len(inspected) * 100.0 / len(site_list), 1) if site_list else None,
            "inspections": len(insp_list), "hazards_found": len(hazard_list),
            "hazards_closed": sum(h.state == State.CLOSED for h in hazard_list),
            "major_hazards": sum(h.level == Level.MAJOR for h in hazard_list),
            "open_overdue": sum(bool(h.state in OPEN_STATES and (h.is_overdue or (h.deadline and h.deadline < today)))
                                for h in hazard_list),
        }

    result = {"overall": figures(sites, insps, hazards), "by_area": {}, "by_sector": {}}
    for child in campaign.area.children.all():
        inside = [s for s in sites if s.area.code.startswith(child.code)]
        result["by_area"][child.pk] = figures(
            inside, [i for i in insps if i.area.code.startswith(child.code)],
            [h for h in hazards if h.area.code.startswith(child.code)])
    for sector_id in sectors or {sid for s in sites for sid in s.sectors.values_list("pk", flat=True)}:
        result["by_sector"][sector_id] = figures(
            [s for s in sites if sector_id in set(s.sectors.values_list("pk", flat=True))],
            # by the site's sector membership (see test_campaign_figures.py for the full definitions)
            [i for i in insps if sector_id in set(i.site.sectors.values_list("pk", flat=True))],
            [h for h in hazards if h.site_id and sector_id in set(h.site.sectors.values_list("pk", flat=True))])
    return result


def _strip(row):
    return {k: v for k, v in row.items() if k not in ("key", "label", "target_coverage", "in_progress",
                                                      "inspections_outside")}


def test_progress_reconciles_with_a_naive_recount(world, checklist):
    trade, construction = world.sectors["industry_trade"], world.sectors["construction"]
    campaign = make_campaign(world, world.county, name="大排查大整治", target_coverage="90")
    sites = {
        "a1": make_site(world, world.villages["a1"], trade), "a1b": make_site(world, world.grids["a1g2"], trade),
        "a2": make_site(world, world.villages["a2"], construction), "b1": make_site(world, world.villages["b1"], trade),
        "b2": make_site(world, world.villages["b2"], construction),
    }
    make_site(world, world.villages["b2"], trade)  # never inspected
    # two completed inspections of the same site count once as inspected
    completed_inspection(world, None, trade, site=sites["a1"], campaign=campaign, actor=world.town_a)
    completed_inspection(world, None, trade, site=sites["a1"], campaign=campaign, actor=world.town_a)
    completed_inspection(world, None, construction, site=sites["b2"], campaign=campaign)
    # one in progress (not counted), one outside the campaign, one archived
    start(world, sites["a2"], campaign=campaign)
    completed_inspection(world, None, trade, site=sites["b1"])
    gone = completed_inspection(world, None, trade, site=sites["a1b"], campaign=campaign)
    services.archive_inspection(world.admin, gone, reason="录入错误")
    # hazards: a major one open and overdue in town B, a fixed-on-spot one in town A, one general open
    insp = start(world, sites["b1"], campaign=campaign, actor=world.town_b)
    rows = {r.item.code: r for r in insp.results.select_related("item")}
    services.record_result(world.town_b, insp, rows["G-03"], Result.FAIL)
    major = services.confirm_hazard(world.town_b, rows["G-03"], deadline=TODAY - datetime.timedelta(days=3))
    services.record_result(world.town_b, insp, rows["G-02"], Result.FAIL, files=[photo()])
    services.fix_on_spot(world.town_b, rows["G-02"], rectification_description="已清理", files=[photo()])
    services.record_result(world.town_b, insp, rows["G-01"], Result.FAIL)
    services.confirm_hazard(world.town_b, rows["G-01"], deadline=TODAY + datetime.timedelta(days=10))
    services.complete_inspection(world.town_b, insp)
    insp_a = start(world, sites["a1b"], campaign=campaign, actor=world.town_a)
    row = insp_a.results.get(item__code="G-01")
    services.record_result(world.town_a, insp_a, row, Result.FAIL)
    services.confirm_hazard(world.town_a, row)
    assert major.level == Level.MAJOR

    for persona in ("admin", "leader", "town_a", "town_b", "grid", "inspector", "dept"):
        user = world.users[persona]
        got = services.campaign_progress(campaign, user, today=TODAY)
        want = _naive(campaign, user, TODAY)
        assert _strip(got["overall"]) == want["overall"], persona
        by_area = {r["key"]: _strip(r) for r in got["by_area"]}
        assert by_area == {k: v for k, v in want["by_area"].items() if k in by_area}, persona
        by_sector = {r["key"]: _strip(r) for r in got["by_sector"]}
        assert by_sector == {k: v for k, v in want["by_sector"].items() if v["sites_in_scope"] or v["inspections"]
                             or k in by_sector}, persona
    admin = services.campaign_progress(campaign, world.admin, today=TODAY)["overall"]
    assert admin["sites_inspected"] == 3 and admin["inspections"] == 4 and admin["hazards_found"] == 4
    assert admin["major_hazards"] == 1 and admin["hazards_closed"] == 1 and admin["open_overdue"] == 1
    assert admin["target_coverage"] == 90.0
    town_a = services.campaign_progress(campaign, world.town_a, today=TODAY)
    assert [r["label"] for r in town_a["by_area"]] == ["大唐街道"]  # town B's row is not town A's business
    assert town_a["overall"]["hazards_found"] == 1
    assert Hazard.objects.filter(campaign=campaign).count() == 4


def test_enterprise_and_unrelated_town_see_no_progress(world, checklist):
    campaign = make_campaign(world, world.area_a, actor=world.town_a)
    with pytest.raises(NotFound):
        services.get_campaign(world.town_b, campaign.pk)
    with pytest.raises(NotFound):
        services.get_campaign(world.enterprise, campaign.pk)
    empty = services.campaign_progress(campaign, world.enterprise, today=TODAY)
    assert empty["overall"]["sites_in_scope"] == 0 and empty["overall"]["coverage"] is None


def test_grid_patrol_in_a_campaign_counts(world, checklist):
    site = make_site(world, world.villages["a1"], world.sectors["industry_trade"])
    campaign = make_campaign(world, world.county)
    insp = services.start_inspection(world.grid, site, Mode.GRID, campaign=campaign)
    answer_all(world.grid, insp)
    services.complete_inspection(world.grid, insp)
    got = services.campaign_progress(campaign, world.grid, today=timezone.localdate())
    assert got["overall"]["sites_inspected"] == 1 and got["overall"]["coverage"] == 100.0
    assert hazard_services  # the hazards service is the one place hazards are made


def test_archive_campaign(world, checklist):
    c = make_campaign(world, world.county, name="误建行动")
    with pytest.raises(InvalidInput, match="归档理由不能为空"):
        services.archive_campaign(world.admin, c)
    with pytest.raises(Forbidden):
        services.archive_campaign(world.town_a, c, reason="误建")
    c = services.archive_campaign(world.admin, c, reason="误建")
    assert c.archived_at is not None
    with pytest.raises(Conflict, match="该专项行动已归档"):
        services.update_campaign(world.admin, c, name="再改")
    site = make_site(world, world.villages["a1"], world.sectors["industry_trade"])
    with pytest.raises(InvalidInput, match="专项行动不存在或无权访问"):
        services.start_inspection(world.admin, site, Mode.TOWN, campaign=c)
    assert AuditEntry.objects.filter(action="campaign.archive", object_id=c.pk, note="误建").exists()


def test_input_shapes(world):
    """Dates as date/datetime objects, single ids instead of lists, bad ids."""
    c = services.create_campaign(world.admin, name="形状测试", area=world.county.pk,
                                 starts_on=timezone.now(), ends_on=timezone.localdate(),
                                 scope_areas=world.area_a.pk, scope_sectors=str(world.sectors["hazchem"].pk))
    assert list(c.scope_areas.all()) == [world.area_a] and list(c.scope_sectors.all()) == [world.sectors["hazchem"]]
    with pytest.raises(InvalidInput, match="请填写结束日期"):
        services.update_campaign(world.admin, c, ends_on="")
    with pytest.raises(InvalidInput, match="范围区域无效"):
        services.update_campaign(world.admin, c, scope_areas=["abc"])
