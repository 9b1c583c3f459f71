"""A hazard found by a failed checklist item is titled with what was found — the item's short
name and the inspector's observation — not with the requirement's text; the title can be edited
before the hazard is confirmed, and it is what the public list of listed major hazards shows."""
from __future__ import annotations

import pytest
from django.test import Client

from tests.inspections.factories import ensure_checklist
from yingji.hazards.models import Hazard
from yingji.inspections import services as inspections
from yingji.inspections.models import Result

pytestmark = pytest.mark.django_db


def failed(world, site, code, note=""):
    from .factories import photo

    ensure_checklist()
    inspection = inspections.start_inspection(world.town_a, site, "town")
    row = inspection.results.get(item__code=code)
    inspections.record_result(world.town_a, inspection, row, Result.FAIL, note=note, files=[photo()])
    row.refresh_from_db()
    return inspection, row


class _Item:
    def __init__(self, question):
        self.question = question


@pytest.mark.parametrize("question, label", [
    ("疏散通道、安全出口畅通,未被占用、堵塞、封闭", "疏散通道、安全出口畅通"),
    ("应当按规定配置灭火器等消防器材", "配置灭火器等消防器材"),
    ("生产经营场所与员工宿舍不在同一座建筑物内或保持安全距离;设有疏散通道", "生产经营场所与员工宿舍不在同一座建筑物…"),
])
def test_item_short_label(question, label):
    assert inspections.item_label(_Item(question)) == label


def test_title_is_item_label_and_observation(world, site_a):
    _i, row = failed(world, site_a, "G-02", note="堆放杂物")
    assert inspections.hazard_proposal(row)["title"] == "疏散通道、安全出口是否畅通:堆放杂物"
    hazard = inspections.confirm_hazard(world.town_a, row)
    assert hazard.title == "疏散通道、安全出口是否畅通:堆放杂物"
    assert hazard.description.startswith("疏散通道、安全出口是否畅通")     # the requirement stays in the text


def test_title_without_observation_says_not_met(world, site_a):
    _i, row = failed(world, site_a, "G-01")
    assert inspections.confirm_hazard(world.town_a, row).title == "未符合:是否建立全员安全生产责任制"


def test_inspector_edits_the_proposed_title_before_confirming(world, site_a):
    inspection, row = failed(world, site_a, "G-01", note="未上墙")
    c = Client()
    c.force_login(world.town_a)
    html = c.get(f"/inspections/{inspection.pk}/").content.decode()
    assert 'value="是否建立全员安全生产责任制:未上墙"' in html and "隐患标题(确认前可修改)" in html
    r = c.post(f"/inspections/{inspection.pk}/results/{row.pk}/hazard/",
               {"title": "责任制:未张贴上墙", "description": "责任制未上墙", "level": "general",
                "category": "management", "idempotency_key": "h-title-000001"})
    assert r.status_code == 302, r.content.decode()[:500]
    assert Hazard.objects.get().title == "责任制:未张贴上墙"


def test_public_list_shows_what_was_found(world, site_a):
    from tests.supervision.factories import in_days
    from yingji.supervision import services as supervision

    _i, row = failed(world, site_a, "G-03", note="泄爆片缺失")
    hazard = inspections.confirm_hazard(world.town_a, row)
    listing = supervision.list_hazard(world.admin, hazard, level="county", notice_number="诸安督〔2025〕1号",
                                      notice_text="责令限期整改", deadline=in_days(100),
                                      listing_body_name="诸暨市安全生产委员会")
    supervision.publish_notice(world.admin, listing)
    html = Client().get("/public/major-hazards/").content.decode()
    assert "粉尘涉爆场所是否按规定设置泄爆装置:泄爆片缺失" in html
