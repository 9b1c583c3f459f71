"""Two officers acting on one campaign or inspection at once: each transition writes only if the
record is still in the state the service read (conditional UPDATE), so the call that read first and
writes second gets a Conflict and writes nothing (tests/races.py). One real concurrent test on
PostgreSQL at the end."""
from __future__ import annotations

import pytest

from yingji.core.errors import Conflict
from yingji.inspections import services
from yingji.inspections.models import Campaign, CampaignStatus

from tests.races import at_once, lost_race, postgres_only

from .factories import answer_all, make_campaign, photo, start

CAMPAIGN_STALE = "该专项行动已被他人处理,请刷新后重试"
INSPECTION_STALE = "该检查已被他人完成或归档,请刷新后重试"
RESULT_STALE = "该检查项已被他人修改,请刷新后重试"


def town_campaign(world, **kwargs):
    return make_campaign(world, world.area_a, actor=world.town_a, **kwargs)


def two_inspectors(world, site):
    """An inspection of ``site`` led by town A's officer with the county admin as co-inspector."""
    return start(world, site, actor=world.town_a, inspectors=[world.admin.pk])


def result_of(inspection, code):
    return inspection.results.select_related("item").get(item__code=code)


# ---------------------------------------------------------------- campaigns

def test_activate_twice(world, monkeypatch):
    c = town_campaign(world, activate=False)
    lost_race(monkeypatch, services, "_load_campaign_for_edit",
              winner=lambda: services.activate_campaign(world.admin, c.pk),
              loser=lambda: services.activate_campaign(world.town_a, c.pk), message=CAMPAIGN_STALE)


def test_activate_while_archived(world, monkeypatch):
    c = town_campaign(world, activate=False)
    lost_race(monkeypatch, services, "_load_campaign_for_edit",
              winner=lambda: services.archive_campaign(world.admin, c.pk, reason="重复创建"),
              loser=lambda: services.activate_campaign(world.town_a, c.pk), message=CAMPAIGN_STALE)


def test_close_twice(world, monkeypatch):
    c = town_campaign(world)
    lost_race(monkeypatch, services, "_load_campaign_for_edit",
              winner=lambda: services.close_campaign(world.admin, c.pk),
              loser=lambda: services.close_campaign(world.town_a, c.pk), message=CAMPAIGN_STALE)


def test_archive_twice(world, monkeypatch):
    c = town_campaign(world)
    lost_race(monkeypatch, services, "_load_campaign_for_edit",
              winner=lambda: services.archive_campaign(world.admin, c.pk, reason="重复创建"),
              loser=lambda: services.archive_campaign(world.town_a, c.pk, reason="重复创建"), message=CAMPAIGN_STALE)


def test_update_while_closed_keeps_it_closed(world, monkeypatch):
    c = town_campaign(world)
    _err, won = lost_race(monkeypatch, services, "_load_campaign_for_edit",
                          winner=lambda: services.close_campaign(world.admin, c.pk),
                          loser=lambda: services.update_campaign(world.town_a, c.pk, name="改名"),
                          message=CAMPAIGN_STALE)
    assert won.status == CampaignStatus.CLOSED


def test_assign_while_closed(world, monkeypatch):
    c = town_campaign(world)
    lost_race(monkeypatch, services, "_load_campaign_for_edit",
              winner=lambda: services.close_campaign(world.admin, c.pk),
              loser=lambda: services.add_assignment(world.town_a, c.pk, task="补查", area=world.area_a),
              message=CAMPAIGN_STALE)


def test_revoke_assignment_twice(world, monkeypatch):
    c = town_campaign(world)
    a = services.add_assignment(world.town_a, c, task="排查", area=world.area_a)
    lost_race(monkeypatch, services, "_load_campaign_for_edit",
              winner=lambda: services.revoke_assignment(world.admin, a.pk),
              loser=lambda: services.revoke_assignment(world.town_a, a.pk), message="该分工已撤销")


def test_start_inspection_while_the_campaign_closes(world, site_a, monkeypatch):
    c = town_campaign(world)
    start(world, site_a, actor=world.town_a)  # the checklist exists
    lost_race(monkeypatch, services, "_resolve_campaign",
              winner=lambda: services.close_campaign(world.admin, c.pk),
              loser=lambda: services.start_inspection(world.town_a, site_a.pk, "town", campaign=c.pk),
              message=CAMPAIGN_STALE)


# ---------------------------------------------------------------- inspections

def test_record_result_while_completed(world, site_a, monkeypatch):
    insp = two_inspectors(world, site_a)
    answer_all(world.town_a, insp)
    row = result_of(insp, "G-01")
    lost_race(monkeypatch, services, "_load_result",
              winner=lambda: services.complete_inspection(world.admin, insp.pk, summary="未发现问题"),
              loser=lambda: services.record_result(world.town_a, insp.pk, row.item_id, "na"),
              message=INSPECTION_STALE)


def test_record_one_item_twice(world, site_a, monkeypatch):
    insp = two_inspectors(world, site_a)
    row = result_of(insp, "G-01")
    _err, won = lost_race(monkeypatch, services, "_load_result",
                          winner=lambda: services.record_result(world.admin, insp.pk, row.item_id, "fail", note="甲"),
                          loser=lambda: services.record_result(world.town_a, insp.pk, row.item_id, "pass"),
                          message=RESULT_STALE)
    assert won.result == "fail"


def test_pass_remaining_while_archived(world, site_a, monkeypatch):
    insp = two_inspectors(world, site_a)
    lost_race(monkeypatch, services, "_load_inspection",
              winner=lambda: services.archive_inspection(world.admin, insp.pk, reason="误建"),
              loser=lambda: services.pass_remaining(world.town_a, insp.pk), message=INSPECTION_STALE)


def test_confirm_hazard_twice(world, site_a, monkeypatch):
    insp = two_inspectors(world, site_a)
    services.record_result(world.town_a, insp, result_of(insp, "G-01").item_id, "fail", note="未建立")
    row = result_of(insp, "G-01")
    lost_race(monkeypatch, services, "_load_result",
              winner=lambda: services.confirm_hazard(world.admin, row.pk),
              loser=lambda: services.confirm_hazard(world.town_a, row.pk), message="该检查项已登记隐患")


def test_confirm_hazard_while_the_item_is_changed_to_pass(world, site_a, monkeypatch):
    insp = two_inspectors(world, site_a)
    services.record_result(world.town_a, insp, result_of(insp, "G-01").item_id, "fail", note="未建立")
    row = result_of(insp, "G-01")
    lost_race(monkeypatch, services, "_load_result",
              winner=lambda: services.record_result(world.admin, insp.pk, row.item_id, "pass", note="已建立"),
              loser=lambda: services.confirm_hazard(world.town_a, row.pk), message=RESULT_STALE)


def test_fix_on_spot_while_a_hazard_is_confirmed(world, site_a, monkeypatch):
    insp = two_inspectors(world, site_a)
    services.record_result(world.town_a, insp, result_of(insp, "G-01").item_id, "fail", note="未建立")
    row = result_of(insp, "G-01")
    lost_race(monkeypatch, services, "_load_result",
              winner=lambda: services.confirm_hazard(world.admin, row.pk),
              loser=lambda: services.fix_on_spot(world.town_a, row.pk, rectification_description="已补建",
                                                 files=[photo()]),
              message="该检查项已登记隐患")


def test_complete_twice(world, site_a, monkeypatch):
    insp = two_inspectors(world, site_a)
    answer_all(world.town_a, insp)
    lost_race(monkeypatch, services, "_load_inspection",
              winner=lambda: services.complete_inspection(world.admin, insp.pk, summary="甲"),
              loser=lambda: services.complete_inspection(world.town_a, insp.pk, summary="乙"),
              message="该检查已完成,不能再修改")


def test_complete_while_archived(world, site_a, monkeypatch):
    insp = two_inspectors(world, site_a)
    answer_all(world.town_a, insp)
    lost_race(monkeypatch, services, "_load_inspection",
              winner=lambda: services.archive_inspection(world.admin, insp.pk, reason="误建"),
              loser=lambda: services.complete_inspection(world.town_a, insp.pk, summary="未发现问题"),
              message=INSPECTION_STALE)


def test_archive_inspection_twice(world, site_a, monkeypatch):
    insp = two_inspectors(world, site_a)
    lost_race(monkeypatch, services, "_text",  # the first call after its read of the row
              winner=lambda: services.archive_inspection(world.admin, insp.pk, reason="误建"),
              loser=lambda: services.archive_inspection(world.town_a, insp.pk, reason="误建"),
              message="该检查记录已被他人归档,请刷新后重试")


# ---------------------------------------------------------------- real concurrency (PostgreSQL)

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_closes_at_once_one_winner(world, round_):
    postgres_only()
    c = town_campaign(world)
    results = at_once(lambda: services.close_campaign(world.town_a, c.pk),
                      lambda: services.close_campaign(world.admin, c.pk))
    assert sum(isinstance(r, Campaign) for r in results) == 1, results
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    from yingji.core.models import AuditEntry

    assert AuditEntry.objects.filter(action="campaign.close", object_id=c.pk).count() == 1



@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_start_and_close_at_once_never_start_in_a_closed_campaign(world, site_a, round_):
    """Either the start wins (and the close waits for it) or the close wins (and the start is
    refused): an inspection is never added to a campaign after it closed."""
    postgres_only()
    from yingji.core.models import AuditEntry
    from yingji.inspections.models import Inspection

    c = town_campaign(world)
    results = at_once(lambda: services.start_inspection(world.town_a, site_a.pk, "town", campaign=c.pk),
                      lambda: services.close_campaign(world.admin, c.pk))
    started, closed = results
    assert isinstance(closed, Campaign), results
    if isinstance(started, Inspection):
        start_entry = AuditEntry.objects.get(action="inspection.start", object_id=started.pk)
        close_entry = AuditEntry.objects.get(action="campaign.close", object_id=c.pk)
        assert start_entry.pk < close_entry.pk
    else:
        assert isinstance(started, Exception) and not Inspection.objects.filter(campaign=c).exists(), results
