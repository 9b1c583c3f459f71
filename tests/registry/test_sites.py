"""Site services, scoping and pages: permissions, state checks, audit, host/tenant, bindings."""
from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from yingji.core.errors import Forbidden, InvalidInput, NotFound
from yingji.core.models import AuditEntry, User
from yingji.core.scoping import HardDeleteForbidden, forget_grants
from yingji.registry import services
from yingji.registry.models import Site, SiteBinding

from .conftest import CODES, local_enterprise


def entries(site, action=None):
    qs = AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(Site), object_id=site.pk)
    if action:
        qs = qs.filter(action=action)
    return list(qs.order_by("id"))


def visible_names(user):
    forget_grants(user)
    return set(Site.objects.visible_to(user).values_list("name", flat=True))


# ---------------------------------------------------------------- create

def test_create_site_normalises_and_audits(world):
    site = services.create_site(world.town_a, kind="enterprise", name=" 诸暨市鑫泰袜业有限公司 ",
                                credit_code=CODES[10].lower(), area=world.villages["a1"], industry="17",
                                sectors=["industry_trade"], traits=["dust"])
    assert site.name == "诸暨市鑫泰袜业有限公司"
    assert site.name_pinyin == "zjsxtwyyxgs"
    assert site.credit_code == CODES[10]
    assert site.industry.code == "17"
    assert [t.code for t in site.traits.all()] == ["dust"]
    [entry] = entries(site, "site.create")
    assert entry.actor == world.town_a
    assert entry.changes["name"] == [None, "诸暨市鑫泰袜业有限公司"]
    assert entry.changes["traits"] == [None, ["dust"]]


def test_invalid_credit_code_is_rejected_with_reason(world):
    bad = CODES[11][:17] + ("0" if CODES[11][17] != "0" else "1")
    with pytest.raises(InvalidInput) as exc:
        services.create_site(world.admin, kind="enterprise", name="坏代码企业", credit_code=bad,
                             area=world.area_a)
    assert "校验位错误" in exc.value.message
    assert "credit_code" in exc.value.detail
    with pytest.raises(InvalidInput) as exc:
        services.create_site(world.admin, kind="enterprise", name="短代码企业", credit_code="91330681", area=world.area_a)
    assert "长度应为18位" in exc.value.message
    assert not Site.objects.filter(name__in=["坏代码企业", "短代码企业"]).exists()


def test_code_required_only_where_kind_needs_it(world):
    with pytest.raises(InvalidInput) as exc:
        services.create_site(world.admin, kind="enterprise", name="无代码企业", area=world.area_a)
    assert exc.value.detail["credit_code"] == "企业须填写统一社会信用代码"
    shop = services.create_site(world.admin, kind="small_place", name="无代码小店", area=world.area_a)
    assert shop.credit_code is None
    rental = services.create_site(world.admin, kind="rental_housing", name="王某出租房", area=world.area_a)
    assert rental.credit_code is None


def test_duplicate_credit_code_rejected_until_archived(reg):
    admin = reg.world.admin
    with pytest.raises(InvalidInput) as exc:
        services.create_site(admin, kind="enterprise", name="重复企业", credit_code=CODES[0],
                             area=reg.world.area_a)
    assert "已登记" in exc.value.message
    services.archive_site(admin, reg.socks)
    again = services.create_site(admin, kind="enterprise", name="重新登记企业", credit_code=CODES[0],
                                 area=reg.world.area_a)
    assert again.credit_code == CODES[0]


@pytest.mark.parametrize("field,value,message", [
    ("name", "", "名称不能为空"),
    ("kind", "castle", "类别无效"),
    ("status", "sleeping", "经营状态无效"),
    ("risk_colour", "red", "未知字段"),
    ("employees", "many", "从业人数须为整数"),
    ("legal_rep_phone", "12345", "法定代表人电话格式不正确"),
    ("latitude", "120.2", "经度和纬度须同时填写"),
    ("industry", "99", "国民经济行业代码无效"),
    ("traits", ["flying"], "风险特征不存在"),
    ("sectors", ["nope"], "监管行业领域不存在"),
])
def test_bad_fields_give_chinese_errors(world, field, value, message):
    fields = {"kind": "small_place", "name": "测试场所", "area": world.area_a, field: value}
    with pytest.raises(InvalidInput) as exc:
        services.create_site(world.admin, **fields)
    assert message in exc.value.message


def test_implausible_coordinates_rejected(world):
    with pytest.raises(InvalidInput) as exc:
        services.create_site(world.admin, kind="small_place", name="坐标填反", area=world.area_a,
                             latitude="120.2", longitude="29.7")
    assert "经纬度超出范围" in exc.value.message and "填反" in exc.value.message
    with pytest.raises(InvalidInput) as exc:
        services.create_site(world.admin, kind="small_place", name="坐标在海外", area=world.area_a,
                             latitude="29.7", longitude="20.5")
    assert "坐标不在中国境内" in exc.value.message
    site = services.create_site(world.admin, kind="small_place", name="坐标正常", area=world.area_a,
                                latitude="29.7131234", longitude="120.2441")
    assert str(site.latitude) == "29.713123" and str(site.longitude) == "120.244100"


def test_create_permissions(world):
    sectors = world.sectors
    # town B cannot file a site in town A: the area is not theirs
    with pytest.raises(InvalidInput) as exc:
        services.create_site(world.town_b, kind="small_place", name="越界小店", area=world.villages["a1"])
    assert "不在您的管辖范围" in exc.value.message
    # grid workers and leaders can see but not edit
    for persona in ("grid", "leader"):
        with pytest.raises(Forbidden):
            services.create_site(world.users[persona], kind="small_place", name="只读用户小店",
                                 area=world.villages["a1"])
    # a construction officer may file construction sites, not industry & trade ones
    works = services.create_site(world.dept, kind="construction", name="新建学校工程", area=world.area_b,
                                 sectors=[sectors["construction"]])
    assert works.pk
    with pytest.raises(Forbidden):
        services.create_site(world.dept, kind="small_place", name="工贸小厂", area=world.area_b,
                             sectors=[sectors["industry_trade"]])
    assert not Site.objects.filter(name__in=["越界小店", "只读用户小店", "工贸小厂"]).exists()


# ---------------------------------------------------------------- scoping

def test_town_sees_only_its_town(reg):
    w = reg.world
    assert visible_names(w.town_a) == {"诸暨市大唐袜业有限公司", "诸暨市大江新宇袜业有限公司", "大唐安置房工程",
                                       "诸暨市大唐金属表面处理中心"}
    assert visible_names(w.town_b) == {"浙江店口管业有限公司", "店口便利店"}
    assert visible_names(w.grid) == {"诸暨市大唐袜业有限公司", "大唐安置房工程", "诸暨市大唐金属表面处理中心"}
    assert len(visible_names(w.admin)) == 6
    assert len(visible_names(w.leader)) == 6


def test_sector_officers_see_only_their_sectors(reg):
    w = reg.world
    assert visible_names(w.dept) == {"大唐安置房工程"}
    assert visible_names(w.inspector) == {"诸暨市大唐袜业有限公司", "诸暨市大江新宇袜业有限公司",
                                          "诸暨市大唐金属表面处理中心", "浙江店口管业有限公司"}


def test_enterprise_sees_only_bound_sites(reg):
    w = reg.world
    assert visible_names(w.enterprise) == set()
    binding = services.bind_site_manager(w.admin, w.enterprise, reg.socks)
    services.bind_site_manager(w.admin, w.enterprise, reg.pipes)
    assert visible_names(w.enterprise) == {"诸暨市大唐袜业有限公司", "浙江店口管业有限公司"}
    with pytest.raises(InvalidInput) as exc:
        services.bind_site_manager(w.admin, w.enterprise, reg.socks)
    assert "已绑定" in exc.value.message
    # enterprise managers read, they do not edit the registry
    assert not Site.objects.editable_by(w.enterprise).exists()
    with pytest.raises(Forbidden):
        services.update_site(w.enterprise, reg.socks, name="自己改名")
    services.unbind_site_manager(w.admin, binding)
    assert visible_names(w.enterprise) == {"浙江店口管业有限公司"}
    assert SiteBinding.objects.get(pk=binding.pk).revoked_by == w.admin
    actions = [e.action for e in entries(reg.socks)]
    assert "site.bind_manager" in actions and "site.unbind_manager" in actions


def test_binding_needs_manage_users_over_the_site(reg):
    w = reg.world
    with pytest.raises(NotFound):
        services.bind_site_manager(w.town_b, w.enterprise, reg.socks)   # not their town
    with pytest.raises(Forbidden):
        services.bind_site_manager(w.inspector, w.enterprise, reg.socks)  # sees it, may not manage users
    with pytest.raises(InvalidInput) as exc:
        services.bind_site_manager(w.admin, w.grid, reg.socks)
    assert "工作人员账号" in exc.value.message
    assert not SiteBinding.objects.exists()


def test_binding_grants_enterprise_role_to_a_new_account(reg):
    from yingji.core import roles
    from yingji.core.models import RoleAssignment

    w = reg.world
    person = User.objects.create_user(username="ent_new", password="x-Long-pass-1")
    binding = services.bind_site_manager(w.admin, person, reg.socks2)  # no role: a county administrator's
    assert binding.assignment.role == roles.ENTERPRISE
    assert RoleAssignment.objects.filter(user=person, role=roles.ENTERPRISE, revoked_at__isnull=True).count() == 1
    assert visible_names(person) == {"诸暨市大江新宇袜业有限公司"}


# ---------------------------------------------------------------- update / archive

def test_update_site_audits_diff_and_keeps_pinyin(reg):
    w = reg.world
    site = services.update_site(w.town_a, reg.socks2, name="诸暨市大江新宇针织有限公司", employees="35",
                                traits=["crowded"])
    assert site.name_pinyin == "zjsdjxyzzyxgs"
    [entry] = entries(site, "site.update")
    assert entry.changes["name"] == ["诸暨市大江新宇袜业有限公司", "诸暨市大江新宇针织有限公司"]
    assert entry.changes["employees"] == [None, 35]
    assert entry.changes["traits"] == [[], ["crowded"]]
    assert "address" not in entry.changes


def test_update_scope_checks(reg):
    w = reg.world
    with pytest.raises(NotFound):
        services.update_site(w.town_b, reg.socks, name="改名")
    with pytest.raises(Forbidden):
        services.update_site(w.grid, reg.socks, name="改名")
    # moving a site into another town needs that town
    with pytest.raises(InvalidInput):
        services.update_site(w.town_a, reg.socks, area=w.villages["b1"])
    # a sector officer cannot take their own sector off a site (it would leave their scope)
    with pytest.raises(InvalidInput) as exc:
        services.update_site(w.dept, reg.works, sectors=["industry_trade"])
    assert "超出您的管辖范围" in exc.value.message
    assert [s.code for s in Site.objects.get(pk=reg.works.pk).sectors.all()] == ["construction"]
    assert Site.objects.get(pk=reg.socks.pk).name == "诸暨市大唐袜业有限公司"
    # the county admin can move it
    moved = services.update_site(w.admin, reg.socks, area=w.villages["b1"])
    assert moved.area == w.villages["b1"]
    assert "诸暨市大唐袜业有限公司" in visible_names(w.town_b)
    assert "诸暨市大唐袜业有限公司" not in visible_names(w.town_a)


def test_archive_site(reg):
    w = reg.world
    with pytest.raises(NotFound):
        services.archive_site(w.town_b, reg.socks)
    site = services.archive_site(w.town_a, reg.socks, reason="企业已注销")
    assert site.is_archived and site.archived_by == w.town_a
    [entry] = entries(site, "site.archive")
    assert entry.note == "企业已注销"
    with pytest.raises(InvalidInput) as exc:
        services.archive_site(w.town_a, site)
    assert "已归档" in exc.value.message
    with pytest.raises(InvalidInput):
        services.update_site(w.town_a, site, name="改名")
    with pytest.raises(HardDeleteForbidden):
        site.delete()
    with pytest.raises(HardDeleteForbidden):
        Site.objects.filter(pk=site.pk).delete()


# ---------------------------------------------------------------- host / tenants (厂中厂)

def test_host_and_tenants_both_directions(reg):
    w = reg.world
    services.set_host(w.town_a, reg.socks, reg.park)
    services.set_host(w.town_a, reg.socks2, reg.park)
    park = Site.objects.get(pk=reg.park.pk)
    assert set(park.tenants.values_list("name", flat=True)) == {"诸暨市大唐袜业有限公司", "诸暨市大江新宇袜业有限公司"}
    assert Site.objects.get(pk=reg.socks.pk).host == park
    assert [e.action for e in entries(park, "site.tenant_added")] == ["site.tenant_added"] * 2
    assert entries(reg.socks, "site.set_host")[0].changes == {"host": [None, park.pk]}
    # a host with live tenants cannot be archived
    with pytest.raises(InvalidInput) as exc:
        services.archive_site(w.town_a, park)
    assert "入驻企业" in exc.value.message
    # clearing the host
    services.set_host(w.town_a, reg.socks, None)
    assert Site.objects.get(pk=reg.socks.pk).host is None
    assert entries(park, "site.tenant_removed")


def test_host_rules(reg):
    w = reg.world
    with pytest.raises(InvalidInput) as exc:
        services.set_host(w.town_a, reg.park, reg.park)
    assert "自己" in exc.value.message
    services.set_host(w.town_a, reg.socks, reg.park)
    services.set_host(w.town_a, reg.socks2, reg.socks)
    with pytest.raises(InvalidInput) as exc:
        services.set_host(w.town_a, reg.park, reg.socks2)   # park → socks2 → socks → park
    assert "循环" in exc.value.message
    with pytest.raises(NotFound):
        services.set_host(w.town_a, reg.socks, reg.pipes)   # host out of town A's scope
    with pytest.raises(InvalidInput) as exc:
        services.set_host(w.town_a, reg.socks, reg.park)
    assert "没有变化" in exc.value.message
    # the county admin may link across towns
    services.set_host(w.admin, reg.shop, reg.pipes)
    assert Site.objects.get(pk=reg.shop.pk).host_id == reg.pipes.pk


# ---------------------------------------------------------------- pages

def test_list_and_detail_pages_are_scoped(reg, client):
    w = reg.world
    client.force_login(w.town_b)
    body = client.get("/sites/").content.decode()
    assert "浙江店口管业有限公司" in body and "诸暨市大唐袜业有限公司" not in body
    assert client.get(f"/sites/{reg.socks.pk}/").status_code == 404
    assert client.get(f"/sites/{reg.socks.pk}/edit/").status_code == 404
    r = client.post(f"/sites/{reg.socks.pk}/archive/")
    assert r.status_code == 404
    assert not Site.objects.get(pk=reg.socks.pk).is_archived
    client.force_login(w.grid)
    assert client.get(f"/sites/{reg.socks.pk}/").status_code == 200
    assert client.get(f"/sites/{reg.socks.pk}/edit/").status_code == 403


def test_profile_page_shows_everything(reg, client):
    w = reg.world
    services.set_host(w.admin, reg.socks, reg.park)
    client.force_login(w.town_a)
    body = client.get(f"/sites/{reg.park.pk}/").content.decode()
    assert "诸暨市大唐金属表面处理中心" in body
    assert "金属表面处理" in body and "涉危险化学品" in body   # traits
    assert "橙(较大风险)" in body
    assert f'href="/sites/{reg.socks.pk}/"' in body          # tenant listed
    assert "时间线" in body and "site.tenant_added" in body
    body = client.get(f"/sites/{reg.socks.pk}/").content.decode()
    assert f'href="/sites/{reg.park.pk}/"' in body            # host listed
    assert "王建华" in body and "13805751234" in body


def test_create_and_edit_pages(reg, client):
    w = reg.world
    client.force_login(w.town_a)
    assert client.get("/sites/new/").status_code == 200
    r = client.post("/sites/new/", {"kind": "enterprise", "name": "诸暨市页面袜业有限公司", "credit_code": "91330681",
                                     "area": w.villages["a1"].pk, "status": "operating"})
    assert r.status_code == 400
    assert "长度应为18位" in r.content.decode()
    r = client.post("/sites/new/", {"kind": "enterprise", "name": "诸暨市页面袜业有限公司", "credit_code": CODES[20],
                                     "area": w.villages["a1"].pk, "status": "operating",
                                     "sectors": [w.sectors["industry_trade"].pk], "industry": ""})
    assert r.status_code == 302
    site = Site.objects.get(name="诸暨市页面袜业有限公司")
    assert r["Location"] == f"/sites/{site.pk}/"
    r = client.post(f"/sites/{site.pk}/edit/", {"kind": "enterprise", "name": "诸暨市页面针织有限公司",
                                                "credit_code": CODES[20], "area": w.villages["a1"].pk,
                                                "status": "suspended"})
    assert r.status_code == 302
    site.refresh_from_db()
    assert site.name == "诸暨市页面针织有限公司" and site.status == "suspended"
    # the area dropdown offers only town A's areas
    body = client.get("/sites/new/").content.decode()
    assert w.villages["a1"].name in body and w.villages["b1"].name not in body


def test_host_and_binding_pages(reg, client):
    w = reg.world
    client.force_login(w.town_a)
    r = client.post(f"/sites/{reg.socks.pk}/host/", {"host": CODES[2]})
    assert r.status_code == 302
    assert Site.objects.get(pk=reg.socks.pk).host_id == reg.park.pk
    r = client.post(f"/sites/{reg.socks2.pk}/host/", {"host": "浙江店口管业有限公司"}, follow=True)
    assert "没有找到" in r.content.decode()
    ent = local_enterprise(w)
    r = client.post(f"/sites/{reg.socks.pk}/managers/", {"username": "ent_a"})
    assert r.status_code == 302
    assert visible_names(ent) == {"诸暨市大唐袜业有限公司"}
    binding = SiteBinding.objects.get()
    r = client.post(f"/sites/{reg.socks.pk}/managers/{binding.pk}/revoke/")
    assert r.status_code == 302
    assert visible_names(ent) == set()


def test_navigation_has_registry_entry(world, client):
    client.force_login(world.grid)
    body = client.get("/").content.decode()
    assert 'href="/sites/"' in body and "监管对象" in body
