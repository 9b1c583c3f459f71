"""Edges of the inspection services: clearing a campaign's scope, moving a campaign out of one's
own reach, sector choice for officers of several sectors, races on the start key, on linking a
hazard and on completing, and a result given with the wrong inspection."""
from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError
from django.utils import timezone

from tests.conftest import PASSWORD
from yingji.core import roles
from yingji.core import services as core_services
from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.core.models import AuditEntry, Sector
from yingji.hazards.models import Hazard
from yingji.inspections import services
from yingji.inspections.models import Campaign, Inspection, InspectionResult, InspectionState, Mode, Result

from .factories import answer_all, make_campaign, make_site, start


def _result(inspection, code):
    return inspection.results.select_related("item").get(item__code=code)


def audit_actions(obj) -> list[str]:
    ct = ContentType.objects.get_for_model(type(obj))
    return list(AuditEntry.objects.filter(content_type=ct, object_id=obj.pk).order_by("id")
                .values_list("action", flat=True))


# ---------------------------------------------------------------- campaigns

def test_scope_can_be_cleared_with_an_empty_value(world):
    campaign = make_campaign(world, world.county, activate=False, scope_areas=[world.area_a],
                             scope_sectors=[world.sectors["hazchem"]])
    campaign = services.update_campaign(world.admin, campaign, scope_areas=None, scope_sectors="")
    assert list(campaign.scope_areas.all()) == [] and list(campaign.scope_sectors.all()) == []
    changes = AuditEntry.objects.filter(action="campaign.update", object_id=campaign.pk).get().changes
    assert set(changes) == {"scope_areas", "scope_sectors"}
    # A single value (not a list) is taken as a list of one.
    campaign = services.update_campaign(world.admin, campaign, scope_areas=world.villages["b1"].pk)
    assert list(campaign.scope_areas.all()) == [world.villages["b1"]]


def test_campaign_cannot_be_moved_out_of_the_editors_reach(world):
    campaign = make_campaign(world, world.area_a, actor=world.town_a, activate=False, name="大唐自查")
    # The town officer also reads the whole county (a leader's role): the county is visible, not theirs.
    core_services.grant_role(world.admin, world.town_a, role=roles.LEADER, area=world.county)
    with pytest.raises(Forbidden) as exc:
        services.update_campaign(world.town_a, campaign, area=world.county)
    assert exc.value.message == "您无权在该区域组织专项行动"
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert campaign.area == world.area_a
    assert "campaign.update" not in audit_actions(campaign)


# ---------------------------------------------------------------- starting: sectors

@pytest.fixture
def officer_two_sectors(world):
    return core_services.create_user(world.admin, username="two_sectors", password=PASSWORD,
                                     role=roles.INSPECTOR, area=world.county,
                                     sectors=[world.sectors["industry_trade"], world.sectors["hazchem"]],
                                     must_change_password=False)


def test_officer_with_a_second_role_inspects_another_sectors_site_under_their_own_sector(world, checklist):
    it = world.sectors["industry_trade"]
    # The town officer of 大唐 is also a 工贸 inspector of the county.
    core_services.grant_role(world.admin, world.town_a, role=roles.INSPECTOR, area=world.county, sectors=[it])
    works = make_site(world, world.villages["a1"], world.sectors["construction"], name="大唐安置房工地")
    insp = services.start_inspection(world.town_a, works, Mode.TOWN)
    assert insp.sector == it  # their own (only) sector, the site's sector not being theirs


def test_officer_of_several_sectors_must_name_one_when_the_sites_sector_is_retired(world, checklist,
                                                                                    officer_two_sectors):
    hazchem = world.sectors["hazchem"]
    site = make_site(world, world.villages["a1"], hazchem, name="大唐某化工仓库")
    Sector.objects.filter(pk=hazchem.pk).update(archived_at=timezone.now())  # the sector was retired
    with pytest.raises(InvalidInput) as exc:
        services.start_inspection(officer_two_sectors, site, Mode.SPOT)
    assert exc.value.message == "请选择您负责的行业领域"
    assert exc.value.detail == {"sector": "请选择您负责的行业领域"}
    assert not Inspection.objects.exists()
    insp = services.start_inspection(officer_two_sectors, site, Mode.SPOT, sector=world.sectors["industry_trade"])
    assert insp.sector == world.sectors["industry_trade"]


def test_an_officers_archived_only_sector_is_never_the_inspections_sector(world, checklist):
    """A second role whose only sector was archived: the inspection is not filed under it."""
    it = world.sectors["industry_trade"]
    core_services.grant_role(world.admin, world.town_a, role=roles.INSPECTOR, area=world.county, sectors=[it])
    works = make_site(world, world.villages["a1"], world.sectors["construction"], name="大唐安置房工地")
    Sector.objects.filter(pk=it.pk).update(archived_at=timezone.now())
    insp = services.start_inspection(world.town_a, works, Mode.TOWN)
    assert insp.sector_id != it.pk


def test_a_sector_that_is_not_the_officers_is_refused(world, site_a):
    with pytest.raises(Forbidden) as exc:
        services.start_inspection(world.inspector, site_a, Mode.SPOT, sector=world.sectors["construction"])
    assert exc.value.message == "您无权检查该监管对象"
    assert not Inspection.objects.exists()
    assert not AuditEntry.objects.filter(action="inspection.start").exists()


# ---------------------------------------------------------------- starting: key race

def test_start_key_race_returns_the_first_inspection(world, site_a, monkeypatch):
    key = "start-race-0001"
    first = start(world, site_a, actor=world.town_a, idempotency_key=key)
    original = Inspection.objects.filter
    calls = {"n": 0}

    def stale_first_lookup(*args, **kwargs):
        if kwargs.get("idempotency_key") == key:
            calls["n"] += 1
            if calls["n"] == 1:  # "before the other request committed"
                return Inspection.objects.none()
        return original(*args, **kwargs)

    monkeypatch.setattr(Inspection.objects, "filter", stale_first_lookup)
    again = services.start_inspection(world.town_a, site_a, Mode.TOWN, idempotency_key=key)
    monkeypatch.undo()
    assert again.pk == first.pk
    assert Inspection.objects.count() == 1
    assert audit_actions(first) == ["inspection.start", "inspection.start_repeat"]


def test_integrity_error_that_is_not_a_key_race_surfaces(world, site_a, monkeypatch):
    def failing_save(self, *args, **kwargs):
        raise IntegrityError("another constraint")

    monkeypatch.setattr(Inspection, "save", failing_save)
    for key in (None, "start-race-0002"):
        with pytest.raises(IntegrityError, match="another constraint"):
            services.start_inspection(world.town_a, site_a, Mode.TOWN, idempotency_key=key)
    monkeypatch.undo()
    assert not Inspection.objects.exists()
    assert not AuditEntry.objects.filter(action="inspection.start").exists()


# ---------------------------------------------------------------- results and hazards

def test_result_of_another_inspection_is_not_found(world, site_a, site_b):
    mine = start(world, site_a, actor=world.admin)
    other = start(world, site_b, actor=world.admin)
    foreign = _result(other, "G-01")
    with pytest.raises(NotFound):
        services.record_result(world.admin, mine, foreign, Result.PASS)
    assert InspectionResult.objects.get(pk=foreign.pk).result == Result.PENDING
    assert _result(mine, "G-01").result == Result.PENDING


def test_hazard_linked_by_a_concurrent_request_is_refused(world, site_a, monkeypatch):
    from yingji.hazards import services as hazard_services

    insp = start(world, site_a, actor=world.town_a)
    g1 = _result(insp, "G-01")
    services.record_result(world.town_a, insp, g1, Result.FAIL, note="责任制未上墙")
    other = hazard_services.report_hazard(world.town_a, site=site_a, description="另一人登记的隐患")
    original = hazard_services.report_hazard

    def report_while_other_links(*args, **kwargs):
        hazard = original(*args, **kwargs)
        InspectionResult.objects.filter(pk=g1.pk).update(hazard=other)  # the other request got there first
        return hazard

    monkeypatch.setattr(hazard_services, "report_hazard", report_while_other_links)
    hazards_before = Hazard.objects.count()
    with pytest.raises(Conflict) as exc:
        services.confirm_hazard(world.town_a, g1)
    monkeypatch.undo()
    assert exc.value.message == "该检查项已登记隐患"
    assert exc.value.code == "hazard_linked"
    assert Hazard.objects.count() == hazards_before  # this call's hazard was rolled back
    assert "inspection.confirm_hazard" not in audit_actions(g1)


def test_completion_that_loses_to_a_concurrent_completion_is_refused(world, site_a, monkeypatch):
    insp = start(world, site_a, actor=world.town_a)
    answer_all(world.town_a, insp)
    original = services._text

    def text(field, value, *args, **kwargs):
        if field == "summary":  # another request completed it after this one loaded the row
            Inspection.objects.filter(pk=insp.pk).update(state=InspectionState.COMPLETED)
        return original(field, value, *args, **kwargs)

    monkeypatch.setattr(services, "_text", text)
    with pytest.raises(Conflict) as exc:
        services.complete_inspection(world.town_a, insp, summary="未发现问题")
    monkeypatch.undo()
    assert exc.value.message == "该检查已完成,不能再修改"
    assert exc.value.code == "invalid_state"
    assert "inspection.complete" not in audit_actions(insp)


def test_completing_an_inspection_out_of_scope_is_not_found(world, site_a):
    insp = start(world, site_a, actor=world.town_a)
    answer_all(world.town_a, insp)
    for actor, pk in ((world.town_b, insp.pk), (world.town_a, 999999)):
        with pytest.raises(NotFound) as exc:
            services.complete_inspection(actor, pk, summary="未发现问题")
        assert exc.value.message == "记录不存在或无权访问"
    assert Inspection.objects.get(pk=insp.pk).state == InspectionState.IN_PROGRESS
    assert "inspection.complete" not in audit_actions(insp)
