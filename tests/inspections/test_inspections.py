"""Inspections: who may start which mode, answering items, hazards from failed items, completing."""
from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.core.models import AuditEntry
from yingji.hazards.models import Hazard, Level, Source, State
from yingji.inspections import services
from yingji.inspections.models import Inspection, InspectionResult, InspectionState, Mode, Result

from .factories import answer_all, make_campaign, photo, start


def _result(inspection, code):
    return inspection.results.select_related("item").get(item__code=code)


# ---------------------------------------------------------------- starting: modes per persona

def test_grid_worker_starts_a_grid_patrol_but_not_a_town_check(world, site_a):
    insp = services.start_inspection(world.grid, site_a, Mode.GRID, latitude="29.71", longitude="120.24",
                                     gps_accuracy="12", place="东门")
    assert insp.lead == world.grid and insp.area == site_a.area and insp.state == InspectionState.IN_PROGRESS
    assert insp.gps_accuracy == 12 and str(insp.latitude) == "29.710000" and insp.place == "东门"
    assert insp.items_total == 3 and insp.results.filter(result=Result.PENDING).count() == 3
    assert list(insp.versions.all()) == [_result(insp, "G-01").item.version]
    with pytest.raises(Forbidden, match="您无权发起“镇街检查”"):
        services.start_inspection(world.grid, site_a, Mode.TOWN)
    with pytest.raises(Forbidden, match="企业自查"):
        services.start_inspection(world.grid, site_a, Mode.SELF)


def test_enterprise_self_inspects_only_its_own_site(world, site_a, site_b):
    insp = services.start_inspection(world.enterprise, site_a, Mode.SELF)
    assert insp.lead == world.enterprise and insp.mode == Mode.SELF
    with pytest.raises(Forbidden):
        services.start_inspection(world.enterprise, site_a, Mode.SPOT)
    with pytest.raises(NotFound):  # not bound: out of scope looks absent
        services.start_inspection(world.enterprise, site_b, Mode.SELF)


def test_officers_start_checks_in_their_scope_only(world, site_a, site_b):
    assert services.start_inspection(world.town_a, site_a, Mode.TOWN).mode == Mode.TOWN
    assert services.start_inspection(world.town_a, site_a, Mode.SELF).mode == Mode.SELF  # officer guides it
    spot = services.start_inspection(world.inspector, site_a, Mode.SPOT)
    assert spot.sector == world.sectors["industry_trade"]  # the inspector's own sector, from the site
    with pytest.raises(Forbidden, match="网格巡查"):
        services.start_inspection(world.town_a, site_a, Mode.GRID)
    with pytest.raises(NotFound):
        services.start_inspection(world.town_a, site_b, Mode.TOWN)
    with pytest.raises(NotFound):  # the construction department does not see an industry & trade site
        services.start_inspection(world.dept, site_a, Mode.DEPARTMENT)


def test_leader_can_start_nothing(world, site_a):
    for mode in Mode.values:
        with pytest.raises(Forbidden):
            services.start_inspection(world.leader, site_a, mode)
    assert not Inspection.objects.exists()


def test_start_validates_input(world, site_a):
    with pytest.raises(InvalidInput, match="请选择检查方式"):
        services.start_inspection(world.admin, site_a, "")
    with pytest.raises(InvalidInput, match="检查方式无效"):
        services.start_inspection(world.admin, site_a, "nonsense")
    with pytest.raises(InvalidInput, match="请选择监管对象"):
        services.start_inspection(world.admin, None, Mode.TOWN)
    with pytest.raises(InvalidInput, match="经度和纬度须同时填写"):
        services.start_inspection(world.admin, site_a, Mode.TOWN, latitude="29.7")
    with pytest.raises(InvalidInput, match="定位精度须在0到100000之间"):
        services.start_inspection(world.admin, site_a, Mode.TOWN, gps_accuracy="-3")
    with pytest.raises(InvalidInput, match="定位精度须为数字"):
        services.start_inspection(world.admin, site_a, Mode.TOWN, gps_accuracy="abc")
    with pytest.raises(InvalidInput, match="行业领域无效"):
        services.start_inspection(world.admin, site_a, Mode.TOWN, sector=999999)
    with pytest.raises(InvalidInput, match="检查人员无效"):
        services.start_inspection(world.admin, site_a, Mode.TOWN, inspectors=[999999])
    with pytest.raises(InvalidInput, match="无权检查该监管对象"):
        services.start_inspection(world.admin, site_a, Mode.TOWN, inspectors=[world.town_b.pk])
    with pytest.raises(InvalidInput, match="幂等键"):
        services.start_inspection(world.admin, site_a, Mode.TOWN, idempotency_key="bad key!")
    with pytest.raises(Forbidden, match="请先登录"):
        services.start_inspection(None, site_a, Mode.TOWN)
    assert not Inspection.objects.exists()


def test_archived_site_cannot_be_inspected(world, site_a):
    from yingji.registry import services as registry_services

    registry_services.archive_site(world.admin, site_a, reason="已注销")
    with pytest.raises(InvalidInput, match="已归档"):
        services.start_inspection(world.admin, site_a, Mode.TOWN)


def test_start_is_idempotent(world, site_a):
    first = services.start_inspection(world.town_a, site_a, Mode.TOWN, idempotency_key="start-key-0001")
    again = services.start_inspection(world.town_a, site_a, Mode.TOWN, idempotency_key="start-key-0001")
    assert again.pk == first.pk and Inspection.objects.count() == 1
    assert InspectionResult.objects.count() == 3
    assert AuditEntry.objects.filter(action="inspection.start_repeat", object_id=first.pk).exists()
    with pytest.raises(Conflict, match="幂等键已被其他操作使用"):
        services.start_inspection(world.admin, site_a, Mode.TOWN, idempotency_key="start-key-0001")


def test_co_inspectors_may_answer(world, site_a):
    insp = services.start_inspection(world.town_a, site_a, Mode.TOWN, inspectors=[world.grid.pk, world.town_a.pk])
    assert list(insp.inspectors.all()) == [world.grid]  # the lead is not listed twice
    services.record_result(world.grid, insp, _result(insp, "G-01"), Result.PASS)
    with pytest.raises(Forbidden, match="只有本次检查的检查人员"):
        services.record_result(world.admin, insp, _result(insp, "G-01"), Result.PASS)


# ---------------------------------------------------------------- campaigns at start

def test_campaign_must_be_active_and_cover_the_site(world, site_a, site_b):
    draft = make_campaign(world, world.county, activate=False, name="筹备中行动")
    with pytest.raises(InvalidInput, match="未在进行中"):
        services.start_inspection(world.admin, site_a, Mode.TOWN, campaign=draft)
    only_b = make_campaign(world, world.county, scope_areas=[world.area_b], name="店口行动")
    with pytest.raises(InvalidInput, match="不在专项行动“店口行动”的范围内"):
        services.start_inspection(world.admin, site_a, Mode.TOWN, campaign=only_b)
    town_b_campaign = make_campaign(world, world.area_b, actor=world.town_b, name="店口镇自己的行动")
    with pytest.raises(InvalidInput, match="专项行动不存在或无权访问"):
        services.start_inspection(world.town_a, site_a, Mode.TOWN, campaign=town_b_campaign)
    county = make_campaign(world, world.county, name="全市行动")
    insp = services.start_inspection(world.town_a, site_a, Mode.TOWN, campaign=county.pk)
    assert insp.campaign == county


# ---------------------------------------------------------------- answering

def test_record_result_rules(world, site_a):
    insp = start(world, site_a, actor=world.town_a)
    g1, g2 = _result(insp, "G-01"), _result(insp, "G-02")
    row = services.record_result(world.town_a, insp, g1.item, Result.PASS, note="制度齐全")
    assert row.result == Result.PASS and row.answered_by == world.town_a and row.note == "制度齐全"
    with pytest.raises(InvalidInput, match="该检查项不符合时须拍照上传"):
        services.record_result(world.town_a, insp, g2, Result.FAIL, note="通道堆物")
    row = services.record_result(world.town_a, insp, g2, Result.FAIL, note="通道堆物", files=[photo()])
    insp.refresh_from_db()
    assert row.result == Result.FAIL and insp.items_failed == 1
    from yingji.core import attachments

    assert attachments.attachments_for(world.town_a, row).count() == 1
    # a photo taken before counts: answering again without a new one is fine
    services.record_result(world.town_a, insp, g2, Result.FAIL, note="通道堆放纸箱")
    with pytest.raises(InvalidInput, match="请选择符合、不符合或不适用"):
        services.record_result(world.town_a, insp, g1, "maybe")
    with pytest.raises(InvalidInput, match="情况说明不能超过1000个字"):
        services.record_result(world.town_a, insp, g1, Result.PASS, note="长" * 1001)
    with pytest.raises(InvalidInput, match="一次最多上传9个文件"):
        services.record_result(world.town_a, insp, g1, Result.PASS, files=[photo()] * 10)
    with pytest.raises(NotFound):
        services.record_result(world.town_a, insp, 999999, Result.PASS)
    with pytest.raises(NotFound):  # out of scope
        services.record_result(world.town_b, insp, g1, Result.PASS)
    with pytest.raises(Forbidden, match="您无权填写该检查记录"):  # visible, view only
        services.record_result(world.leader, insp, g1, Result.PASS)


def test_failed_item_becomes_a_hazard_linked_to_the_campaign(world, site_a):
    campaign = make_campaign(world, world.county, name="消防专项")
    insp = start(world, site_a, actor=world.town_a, campaign=campaign, latitude="29.7", longitude="120.2")
    g1 = _result(insp, "G-01")
    services.record_result(world.town_a, insp, g1, Result.FAIL, note="责任制未上墙")
    with pytest.raises(Conflict, match="只有“不符合”的检查项可以登记隐患"):
        services.confirm_hazard(world.town_a, _result(insp, "G-02"))
    hazard = services.confirm_hazard(world.town_a, g1, responsible_person="李四", idempotency_key="confirm-0001")
    assert hazard.state == State.REPORTED and hazard.source == Source.INSPECTION
    assert hazard.inspection == insp and hazard.campaign == campaign and hazard.checklist_item == g1.item
    assert hazard.site == site_a and hazard.level == Level.GENERAL and hazard.category == "management"
    assert hazard.description == "是否建立全员安全生产责任制\n责任制未上墙"
    # titled with what was found (item short name + observation), not the requirement
    assert hazard.title == "是否建立全员安全生产责任制:责任制未上墙" and hazard.responsible_unit == "大唐某袜厂"
    assert hazard.sector == world.sectors["industry_trade"] and str(hazard.latitude) == "29.700000"
    g1.refresh_from_db()
    assert g1.hazard == hazard
    insp.refresh_from_db()
    assert insp.hazards_found == 1
    # a retry returns the same hazard; a second confirm is refused
    assert services.confirm_hazard(world.town_a, g1, idempotency_key="confirm-0001").pk == hazard.pk
    with pytest.raises(Conflict, match="该检查项已登记隐患"):
        services.confirm_hazard(world.town_a, g1)
    with pytest.raises(Conflict, match="不能再改为“符合”"):
        services.record_result(world.town_a, insp, g1, Result.PASS)


def test_confirm_with_edited_values(world, site_a):
    insp = start(world, site_a, actor=world.inspector)
    g3 = _result(insp, "G-03")
    services.record_result(world.inspector, insp, g3, Result.FAIL)
    hazard = services.confirm_hazard(world.inspector, g3.pk, title="除尘器无泄爆片", description="布袋除尘器未设泄爆",
                                     category="dust", deadline="2099-01-01", files=[photo()])
    assert hazard.level == Level.MAJOR  # from the item
    assert hazard.title == "除尘器无泄爆片" and hazard.description == "布袋除尘器未设泄爆"
    with pytest.raises(InvalidInput, match="隐患类别无效"):
        g1 = _result(insp, "G-01")
        services.record_result(world.inspector, insp, g1, Result.FAIL)
        services.confirm_hazard(world.inspector, g1, category="nonsense")


def test_fix_on_spot_closes_the_hazard_with_evidence(world, site_a):
    insp = start(world, site_a, actor=world.town_a)
    g2 = _result(insp, "G-02")
    services.record_result(world.town_a, insp, g2, Result.FAIL, note="通道堆物", files=[photo()])
    with pytest.raises(InvalidInput, match="当场整改须上传整改后的照片或材料"):
        services.fix_on_spot(world.town_a, g2, rectification_description="已清理")
    hazard = services.fix_on_spot(world.town_a, g2, rectification_description="已当场清理通道",
                                  files=[photo("清理后.png")])
    assert hazard.state == State.CLOSED and hazard.fixed_on_spot and hazard.closed_by == world.town_a
    rect = hazard.rectifications.get()
    assert rect.description == "已当场清理通道"
    from yingji.core import attachments

    assert attachments.attachments_for(world.town_a, rect).count() == 1
    g2.refresh_from_db()
    assert g2.hazard == hazard
    assert AuditEntry.objects.filter(action="inspection.fix_on_spot", object_id=g2.pk).exists()


def test_major_items_cannot_be_fixed_on_the_spot(world, site_a):
    insp = start(world, site_a, actor=world.town_a)
    g3 = _result(insp, "G-03")
    services.record_result(world.town_a, insp, g3, Result.FAIL)
    with pytest.raises(InvalidInput, match="重大隐患不能当场整改销号"):
        services.fix_on_spot(world.town_a, g3, rectification_description="已整改", files=[photo()])
    g3.refresh_from_db()
    assert g3.hazard is None and not Hazard.objects.exists()


def test_grid_worker_reports_but_cannot_fix_on_the_spot(world, site_a):
    insp = services.start_inspection(world.grid, site_a, Mode.GRID)
    g2 = _result(insp, "G-02")
    services.record_result(world.grid, insp, g2, Result.FAIL, files=[photo()])
    with pytest.raises(Forbidden, match="只有监管检查人员可以登记当场整改"):
        services.fix_on_spot(world.grid, g2, rectification_description="已清理", files=[photo()])
    hazard = services.confirm_hazard(world.grid, g2)
    assert hazard.state == State.REPORTED and hazard.reported_by == world.grid


# ---------------------------------------------------------------- completing

def test_complete_refuses_pending_and_unresolved_items(world, site_a):
    insp = start(world, site_a, actor=world.town_a)
    with pytest.raises(Conflict, match="还有3项未检查"):
        services.complete_inspection(world.town_a, insp)
    services.record_result(world.town_a, insp, _result(insp, "G-01"), Result.PASS)
    services.record_result(world.town_a, insp, _result(insp, "G-02"), Result.NOT_APPLICABLE)
    g3 = _result(insp, "G-03")
    services.record_result(world.town_a, insp, g3, Result.FAIL)
    with pytest.raises(Conflict, match="有1个不符合项尚未登记隐患或当场整改"):
        services.complete_inspection(world.town_a, insp)
    with pytest.raises(Forbidden):
        services.complete_inspection(world.inspector, insp)  # not one of its inspectors
    hazard = services.confirm_hazard(world.town_a, g3)
    done = services.complete_inspection(world.town_a, insp, summary="发现重大隐患1项")
    assert done.state == InspectionState.COMPLETED and done.completed_at is not None
    assert (done.items_total, done.items_failed, done.hazards_found) == (3, 1, 1)
    assert done.summary == "发现重大隐患1项" and hazard.level == Level.MAJOR
    entry = AuditEntry.objects.get(action="inspection.complete", object_id=done.pk,
                                   content_type=ContentType.objects.get_for_model(Inspection))
    assert entry.changes["state"] == ["in_progress", "completed"] and entry.actor == world.town_a
    # completed: frozen
    with pytest.raises(Conflict, match="该检查已完成"):
        services.record_result(world.town_a, done, _result(done, "G-01"), Result.FAIL)
    with pytest.raises(Conflict, match="该检查已完成"):
        services.complete_inspection(world.town_a, done)


def test_pass_remaining_answers_every_pending_item_at_once(world, site_a):
    insp = start(world, site_a, actor=world.town_a)
    services.record_result(world.town_a, insp, _result(insp, "G-03"), Result.FAIL, note="未设泄爆口")
    with pytest.raises(Forbidden):
        services.pass_remaining(world.inspector, insp)  # not one of its inspectors
    assert services.pass_remaining(world.town_a, insp) == 2
    assert _result(insp, "G-01").result == Result.PASS and _result(insp, "G-02").answered_by == world.town_a
    assert _result(insp, "G-03").result == Result.FAIL  # answered items stay as they were
    entry = AuditEntry.objects.get(action="inspection.pass_remaining", object_id=insp.pk)
    assert entry.changes["passed"] == [None, 2] and entry.changes["items"] == [None, "G-01, G-02"]
    with pytest.raises(Conflict, match="没有未检查的项目"):
        services.pass_remaining(world.town_a, insp)
    # the page button: then only the failed item is left to resolve
    from django.test import Client

    c = Client()
    c.force_login(world.town_a)
    insp2 = start(world, site_a, actor=world.town_a)
    assert 'data-testid="pass-remaining"' in c.get(f"/inspections/{insp2.pk}/").content.decode()
    r = c.post(f"/inspections/{insp2.pk}/pass-remaining/", follow=True)
    assert "已将其余 3 项标记为符合" in r.content.decode()
    r = c.post(f"/inspections/{insp2.pk}/pass-remaining/", follow=True)
    assert "没有未检查的项目" in r.content.decode()
    done = services.complete_inspection(world.town_a, insp2)
    assert (done.items_total, done.items_failed, done.hazards_found) == (3, 0, 0)


def test_grid_worker_loses_edit_after_completion(world, site_a):
    insp = services.start_inspection(world.grid, site_a, Mode.GRID)
    assert Inspection.objects.editable_by(world.grid).filter(pk=insp.pk).exists()
    answer_all(world.grid, insp)
    services.complete_inspection(world.grid, insp)
    assert not Inspection.objects.editable_by(world.grid).filter(pk=insp.pk).exists()
    assert Inspection.objects.visible_to(world.grid).filter(pk=insp.pk).exists()
    with pytest.raises(Forbidden):
        services.record_result(world.grid, insp, insp.results.first(), Result.PASS)


def test_archive_inspection(world, site_a):
    insp = start(world, site_a, actor=world.grid, mode=Mode.GRID)
    with pytest.raises(Forbidden, match="无权归档"):
        services.archive_inspection(world.grid, insp, reason="误建")
    with pytest.raises(NotFound):
        services.archive_inspection(world.town_b, insp, reason="误建")
    with pytest.raises(InvalidInput, match="归档理由不能为空"):
        services.archive_inspection(world.town_a, insp)
    done = services.archive_inspection(world.town_a, insp, reason="重复创建")
    assert done.archived_at is not None and done.archived_by == world.town_a
    with pytest.raises(Conflict, match="已归档"):
        services.archive_inspection(world.town_a, insp, reason="再次")
    with pytest.raises(Conflict, match="已归档"):
        services.record_result(world.grid, insp, insp.results.first(), Result.PASS)
    assert AuditEntry.objects.filter(action="inspection.archive", object_id=insp.pk, note="重复创建").exists()


def test_audit_entries_for_every_step(world, site_a):
    insp = start(world, site_a, actor=world.town_a, idempotency_key="audit-start-01")
    g2 = _result(insp, "G-02")
    services.record_result(world.town_a, insp, g2, Result.FAIL, files=[photo()])
    services.confirm_hazard(world.town_a, g2)
    ct = ContentType.objects.get_for_model(InspectionResult)
    actions = set(AuditEntry.objects.filter(content_type=ct, object_id=g2.pk).values_list("action", flat=True))
    assert {"inspection.result", "inspection.confirm_hazard", "attachment.add"} <= actions
    start_entry = AuditEntry.objects.get(action="inspection.start", object_id=insp.pk)
    assert start_entry.changes["mode"] == [None, "town"] and start_entry.changes["items_total"] == [None, 3]


def test_enterprise_start_page_and_anonymous_helpers(world, client, site_a):
    from django.contrib.auth.models import AnonymousUser

    client.force_login(world.enterprise)
    html = client.get(f"/inspections/new/?site={site_a.pk}").content.decode()
    assert 'value="self"' in html and 'value="grid"' not in html
    insp = start(world, site_a, actor=world.enterprise, mode=Mode.SELF)
    assert not services.is_inspector(AnonymousUser(), insp)
    assert not services.can_record(world.leader, insp)
    with pytest.raises(NotFound):
        services.confirm_hazard(world.enterprise, 999999)
    other = start(world, site_a, actor=world.town_a)
    with pytest.raises(NotFound):  # a result of another inspection
        services.record_result(world.enterprise, insp, other.results.first(), Result.PASS)
