"""Bad input to the hazard services gets a clear Chinese error on the right field, never a 500 and
never a half-written hazard."""
from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.hazards import services
from yingji.hazards.models import Hazard

from .factories import make_hazard, make_site, photo

pytestmark = pytest.mark.django_db


def report(world, **fields):
    fields.setdefault("description", "消防通道堆放杂物")
    fields.setdefault("area", world.villages["a1"])
    fields.setdefault("sector", world.sectors["hazchem"])
    return services.report_hazard(world.town_a, **fields)


@pytest.mark.parametrize("fields, field, message", [
    ({"responsible_phone": "12345"}, "responsible_phone", "责任人电话格式不正确"),
    ({"fixed_on_spot": True, "rectification_description": "已整改", "cost": "一百元",
      "rectification_files": ["x"]}, "cost", "整改资金须为数字"),
    ({"fixed_on_spot": True, "rectification_description": "已整改", "cost": "-5",
      "rectification_files": ["x"]}, "cost", "整改资金须在0到100亿元之间"),
    ({"fixed_on_spot": True, "rectification_description": "已整改", "cost": "NaN",
      "rectification_files": ["x"]}, "cost", "整改资金须在0到100亿元之间"),
    ({"site": "abc"}, "site", "监管对象无效"),
    ({"area": None}, "area", "未选择监管对象时须选择所属区域"),
    ({"area": "x"}, "area", "所属区域无效"),
    ({"sector": "no-such-sector"}, "sector", "行业领域无效"),
    ({"level": "huge"}, "level", "隐患等级无效"),
    ({"deadline": "2026-13-40"}, "deadline", "整改期限格式不正确"),
    ({"checklist_item": 1}, "checklist_item", "检查项须随检查记录一起提交"),
    ({"inspection": 999999}, "inspection", "检查记录不存在"),
])
def test_report_input_errors_name_the_field(world, fields, field, message):
    with pytest.raises(InvalidInput) as exc:
        report(world, **fields)
    assert message in exc.value.message and field in exc.value.detail
    assert not Hazard.objects.exists()


def test_report_refusals(world):
    with pytest.raises(InvalidInput, match="一次最多上传9个文件"):
        report(world, files=[photo(f"{i}.png") for i in range(10)])
    with pytest.raises(Forbidden, match="请先登录"):
        services.report_hazard(AnonymousUser(), area=world.villages["a1"], description="x")
    with pytest.raises(NotFound):
        report(world, area=world.area_b)  # another town's area looks absent
    with pytest.raises(NotFound):
        report(world, site=999999)
    site = make_site(world, world.villages["a1"])
    from yingji.registry import services as registry

    registry.archive_site(world.admin, site, reason="已注销")
    with pytest.raises(InvalidInput, match="该监管对象已归档"):
        report(world, site=site)
    assert not Hazard.objects.exists()
    # a sector given by its code works as well as by its id
    hazard = report(world, sector=world.sectors["industry_trade"].code)
    assert hazard.sector == world.sectors["industry_trade"]


def test_transition_input_errors(world):
    hazard = make_hazard(world, world.villages["a1"])
    with pytest.raises(NotFound):
        services.accept(world.town_a, "not-a-number", responsible_person="张三")
    with pytest.raises(InvalidInput, match="版本号无效"):
        services.accept(world.town_a, hazard, responsible_person="张三", version="v2")
    today = timezone.localdate()
    with pytest.raises(InvalidInput, match="请填写整改责任人"):
        services.accept(world.town_a, hazard, deadline=today)
    with pytest.raises(InvalidInput, match="请填写整改期限"):
        services.accept(world.town_a, hazard, responsible_person="张三")
    with pytest.raises(InvalidInput, match="整改期限不能早于今天"):
        services.accept(world.town_a, hazard, responsible_person="张三", deadline=today - datetime.timedelta(days=1))
    with pytest.raises(InvalidInput, match="整改期限最长一年"):
        services.accept(world.town_a, hazard, responsible_person="张三", deadline=today + datetime.timedelta(days=400))
    accepted = services.accept(world.town_a, hazard, responsible_person="张三", deadline=today,
                               idempotency_key="accept-key-0001")
    # the same key for another action is refused, not silently reused
    with pytest.raises(Conflict, match="该幂等键已被其他操作使用"):
        services.submit_rectification(world.town_a, accepted, description="已整改", files=[photo()],
                                      idempotency_key="accept-key-0001")
    assert Hazard.objects.get(pk=hazard.pk).state == "rectifying"


def test_report_site_out_of_scope_or_out_of_range_looks_absent(world):
    """The report's site is read with one prepared statement and its scope decided in Python:
    another town's site, even an archived one, answers as absent — as does a key no column holds."""
    from yingji.registry import services as registry

    other = make_site(world, world.area_b)
    with pytest.raises(NotFound, match="监管对象不存在或无权访问"):
        services.report_hazard(world.town_a, site=other, description="x")
    registry.archive_site(world.admin, other, reason="已注销")
    with pytest.raises(NotFound, match="监管对象不存在或无权访问"):
        services.report_hazard(world.town_a, site=other.pk, description="x")
    with pytest.raises(NotFound):
        services.report_hazard(world.town_a, site=2**70, description="x")
    with pytest.raises(InvalidInput, match="监管对象无效"):
        services.report_hazard(world.town_a, site="abc", description="x")
    mine = make_site(world, world.villages["a1"], world.sectors["industry_trade"])
    hazard = services.report_hazard(world.town_a, site=str(mine.pk), description="消防通道堵塞")
    assert hazard.site_id == mine.pk and hazard.area_id == mine.area_id
