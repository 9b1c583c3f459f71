"""Edges of the registry services: anonymous callers, field limits, archived areas / sites / hosts,
a credit-code race, very deep host chains, and bindings to inactive accounts or already undone."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType

from yingji.core import services as core_services
from yingji.core.errors import Forbidden, InvalidInput
from yingji.core.models import AuditEntry, User
from yingji.registry import services
from yingji.registry.models import Industry, Site, SiteBinding

from .conftest import CODES, local_enterprise


def entries(site, action):
    return AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(Site), object_id=site.pk,
                                     action=action)


def test_anonymous_callers_are_refused(world):
    for actor in (None, AnonymousUser()):
        with pytest.raises(Forbidden) as exc:
            services.create_site(actor, kind="small_place", name="无名小店", area=world.area_a)
        assert exc.value.message == "请先登录"
    assert not Site.objects.exists()


@pytest.mark.parametrize("fields, message, field", [
    ({"name": "厂" * 101}, "名称不能超过100个字", "name"),
    ({"address": "路" * 201}, "地址不能超过200个字", "address"),
    ({"kind": ""}, "请选择类别", "kind"),
    ({"status": None}, "请选择经营状态", "status"),
    ({"employees": -1}, "从业人数须在0到1000000之间", "employees"),
    ({"employees": 1_000_001}, "从业人数须在0到1000000之间", "employees"),
    ({"area": None}, "请选择所属区域", "area"),
    ({"area": ""}, "请选择所属区域", "area"),
    ({"area": "大唐"}, "编号无效", "area"),
])
def test_field_limits_give_chinese_errors(world, fields, message, field):
    data = {"kind": "small_place", "name": "测试场所", "area": world.area_a, **fields}
    with pytest.raises(InvalidInput) as exc:
        services.create_site(world.admin, **data)
    assert exc.value.message == message
    assert exc.value.detail == {field: message}
    assert not Site.objects.exists()


def test_create_site_needs_an_area(world):
    with pytest.raises(InvalidInput) as exc:
        services.create_site(world.admin, kind="small_place", name="没有区域的小店")
    assert exc.value.message == "请选择所属区域"
    assert exc.value.detail == {"area": "请选择所属区域"}
    assert not Site.objects.exists()


def test_no_site_in_an_archived_area(world):
    grid = world.grids["b2g2"]
    core_services.archive_area(world.admin, grid)
    grid.refresh_from_db()
    for area in (grid, grid.pk, str(grid.pk)):
        with pytest.raises(InvalidInput) as exc:
            services.create_site(world.admin, kind="small_place", name="网格小店", area=area)
        assert exc.value.message == "所属区域已归档"
    assert not Site.objects.exists()


def test_industry_can_be_given_as_a_record(world):
    industry = Industry.objects.get(code="17")
    site = services.create_site(world.admin, kind="small_place", name="袜子作坊", area=world.area_a,
                                industry=industry)
    assert Site.objects.get(pk=site.pk).industry == industry
    assert entries(site, "site.create").get().changes["industry"][1] == industry.pk


def test_credit_code_registered_by_a_concurrent_request_is_reported(world, monkeypatch):
    first = services.create_site(world.admin, kind="enterprise", name="先登记的企业", credit_code=CODES[5],
                                 area=world.area_a)
    original = Site.objects.filter

    def stale_duplicate_check(*args, **kwargs):
        if kwargs.get("credit_code") == CODES[5]:  # "before the other request committed"
            return Site.objects.none()
        return original(*args, **kwargs)

    monkeypatch.setattr(Site.objects, "filter", stale_duplicate_check)
    with pytest.raises(InvalidInput) as exc:
        services.create_site(world.admin, kind="enterprise", name="后登记的企业", credit_code=CODES[5],
                             area=world.area_b)
    monkeypatch.undo()
    assert exc.value.message == f"统一社会信用代码{CODES[5]}已登记"
    assert exc.value.detail == {"credit_code": exc.value.message}
    assert list(Site.objects.values_list("pk", flat=True)) == [first.pk]
    assert not AuditEntry.objects.filter(action="site.create", object_repr__contains="后登记").exists()


# ---------------------------------------------------------------- host / tenant

def test_archived_tenant_or_host_cannot_be_linked(reg):
    w = reg.world
    services.archive_site(w.admin, reg.shop, reason="已关停")
    with pytest.raises(InvalidInput) as exc:
        services.set_host(w.admin, reg.shop, reg.pipes)
    assert exc.value.message == "该监管对象已归档,不能修改"
    with pytest.raises(InvalidInput) as exc:
        services.set_host(w.admin, reg.pipes, reg.shop)
    assert exc.value.message == "所选厂房/园区已归档"
    assert exc.value.detail == {"host": "所选厂房/园区已归档"}
    assert Site.objects.get(pk=reg.pipes.pk).host_id is None and Site.objects.get(pk=reg.shop.pk).host_id is None
    assert not entries(reg.pipes, "site.set_host").exists()


def test_host_chain_deeper_than_the_limit_is_refused(world):
    chain = [services.create_site(world.admin, kind="small_place", name=f"园中园{i}", area=world.area_a)
             for i in range(services.MAX_HOST_DEPTH + 2)]
    for tenant, host in zip(chain[1:], chain):
        services.set_host(world.admin, tenant, host)
    newcomer = services.create_site(world.admin, kind="small_place", name="新入驻企业", area=world.area_a)
    with pytest.raises(InvalidInput) as exc:
        services.set_host(world.admin, newcomer, chain[-1])
    assert exc.value.message == "挂靠层级过深"
    assert exc.value.detail == {"host": "挂靠层级过深"}
    assert Site.objects.get(pk=newcomer.pk).host_id is None
    assert not entries(newcomer, "site.set_host").exists()
    services.set_host(world.admin, newcomer, chain[-2])  # one level less is fine
    assert Site.objects.get(pk=newcomer.pk).host_id == chain[-2].pk


# ---------------------------------------------------------------- safety manager bindings

def test_no_binding_to_an_archived_site(reg):
    w = reg.world
    services.archive_site(w.admin, reg.shop, reason="已关停")
    with pytest.raises(InvalidInput) as exc:
        services.bind_site_manager(w.admin, w.enterprise, reg.shop)
    assert exc.value.message == "该监管对象已归档"
    assert not SiteBinding.objects.exists()


def test_no_binding_of_a_missing_or_deactivated_account(reg):
    w = reg.world
    with pytest.raises(InvalidInput) as exc:
        services.bind_site_manager(w.admin, None, reg.socks)
    assert exc.value.message == "账号不存在或已停用"
    assert exc.value.detail == {"user": "账号不存在或已停用"}
    core_services.set_user_active(w.admin, w.enterprise, False)
    with pytest.raises(InvalidInput) as exc:
        services.bind_site_manager(w.admin, User.objects.get(pk=w.enterprise.pk), reg.socks)
    assert exc.value.message == "账号不存在或已停用"
    assert not SiteBinding.objects.exists()
    assert not entries(reg.socks, "site.bind_manager").exists()


def test_unbinding_twice_is_refused(reg):
    w = reg.world
    binding = services.bind_site_manager(w.town_a, local_enterprise(w), reg.socks)
    services.unbind_site_manager(w.town_a, binding)
    with pytest.raises(InvalidInput) as exc:
        services.unbind_site_manager(w.town_a, binding)
    assert exc.value.message == "该绑定已解除"
    assert entries(reg.socks, "site.unbind_manager").count() == 1
