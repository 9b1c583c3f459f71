"""Core write services: areas, people and roles, tokens, reference data — permission, state,
Chinese errors, and the audit entry each writes (action, actor, changes)."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType

from tests.conftest import PASSWORD
from yingji.core import audit, roles, services
from yingji.core.errors import Forbidden, InvalidInput, NotFound
from yingji.core.models import ApiToken, Area, AreaLevel, AuditEntry, Organisation, OrgKind, RoleAssignment, Sector, User
from yingji.core.scoping import forget_grants

NEW_PASSWORD = "Another-pass-2026!"


def entries(obj, action=None):
    qs = AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(type(obj)), object_id=obj.pk)
    if action:
        qs = qs.filter(action=action)
    return qs.order_by("id")


def last_entry(obj, action):
    entry = entries(obj, action).last()
    assert entry is not None, f"no audit entry {action} for {obj!r}"
    return entry


def fresh(user):
    """The user re-read, with no cached grants."""
    u = User.objects.get(pk=user.pk)
    forget_grants(u)
    return u


def visible(model, user, obj) -> bool:
    return model.objects.visible_to(fresh(user)).filter(pk=obj.pk).exists()


# ================================================================ areas

def test_create_area_numbers_child_and_audits(world):
    village = services.create_area(world.admin, parent=world.area_a, name=" 新村 ", kind="村")
    assert village.code == world.area_a.code + "003"  # 001 and 002 exist
    assert (village.level, village.parent_id, village.name) == (AreaLevel.VILLAGE, world.area_a.pk, "新村")
    e = last_entry(village, "area.create")
    assert e.actor == world.admin
    assert e.changes["code"] == [None, village.code]
    assert e.changes["name"] == [None, "新村"]
    assert e.changes["parent"] == [None, world.area_a.pk]


@pytest.mark.parametrize("kwargs, message", [
    (dict(name=""), "名称不能为空"),
    (dict(name="名" * 65), "名称不能超过64个字"),
    (dict(name="甲村", code="330681005"), "区划代码须为12位数字且以上级代码330681005开头"),
    (dict(name="甲村", code="330681104001"), "区划代码须为12位数字"),
    (dict(name="甲村", code="33068100500x"), "区划代码须为12位数字"),
    (dict(name="甲村", latitude="abc", longitude="120"), "经纬度格式不正确"),
    (dict(name="甲村", latitude="95", longitude="120"), "经纬度超出范围"),
])
def test_create_area_rejects_bad_input(world, kwargs, message):
    with pytest.raises(InvalidInput) as exc:
        services.create_area(world.admin, parent=world.area_a, **kwargs)
    assert message in exc.value.message


def test_create_area_refuses_duplicate_code_grid_parent_archived_parent(world):
    with pytest.raises(InvalidInput, match="区划代码已存在"):
        services.create_area(world.admin, parent=world.area_a, name="重复", code=world.villages["a1"].code)
    with pytest.raises(InvalidInput, match="网格下不能再设下级区域"):
        services.create_area(world.admin, parent=world.grids["a1g1"], name="子网格")
    spare = services.create_area(world.admin, parent=world.area_a, name="待撤村")
    services.archive_area(world.admin, spare)
    with pytest.raises(InvalidInput, match="上级区域已归档"):
        services.create_area(world.admin, parent=fresh_area(spare), name="x")


def fresh_area(area):
    return Area.objects.get(pk=area.pk)


def test_create_area_permission(world):
    # town officer: may see town A but not manage areas → Forbidden; town B is out of scope → NotFound
    with pytest.raises(Forbidden):
        services.create_area(world.town_a, parent=world.area_a, name="x")
    with pytest.raises(NotFound):
        services.create_area(world.town_a, parent=world.area_b, name="x")
    with pytest.raises(NotFound):
        services.create_area(world.enterprise, parent=world.area_a, name="x")
    with pytest.raises(Forbidden, match="请先登录"):
        services.create_area(None, parent=world.area_a, name="x")
    assert not Area.objects.filter(name="x").exists()


def test_update_area_audits_changes(world):
    v = world.villages["a1"]
    services.update_area(world.admin, v, name="大唐新村", latitude="29.767", longitude="120.208")
    v.refresh_from_db()
    assert v.name == "大唐新村"
    e = last_entry(v, "area.update")
    assert e.actor == world.admin
    assert e.changes["name"] == ["大唐街道1村", "大唐新村"]
    assert float(e.changes["latitude"][1]) == 29.767 and e.changes["latitude"][0] is None
    with pytest.raises(Forbidden):
        services.update_area(world.town_a, v, name="y")
    with pytest.raises(NotFound):
        services.update_area(world.town_b, v, name="y")


def test_move_village_to_other_town(world):
    a1 = world.villages["a1"]
    old_codes = {a.pk: a.code for a in Area.objects.filter(code__startswith=a1.code)}
    assert len(old_codes) == 3  # the village and its two grids
    assert visible(Area, world.town_a, a1) and not visible(Area, world.town_b, a1)
    grid_role = RoleAssignment.objects.get(user=world.grid)
    assert visible(RoleAssignment, world.town_a, grid_role)

    moved = services.move_area(world.admin, a1, world.area_b)

    assert moved.parent_id == world.area_b.pk
    assert moved.code == world.area_b.code + "003"
    for area in Area.objects.filter(pk__in=old_codes):
        assert area.code.startswith(moved.code)
        assert area.code[len(moved.code):] == old_codes[area.pk][len(old_codes[a1.pk]):]
    # town A no longer sees it, town B does; so do the records below it (the grid worker's role)
    assert not visible(Area, world.town_a, a1) and visible(Area, world.town_b, a1)
    assert not visible(Area, world.town_a, world.grids["a1g1"]) and visible(Area, world.town_b, world.grids["a1g1"])
    assert not visible(RoleAssignment, world.town_a, grid_role) and visible(RoleAssignment, world.town_b, grid_role)
    assert visible(Area, world.grid, world.grids["a1g1"])
    # one audit entry per moved area, with before/after codes
    for pk, old in old_codes.items():
        area = Area.objects.get(pk=pk)
        (e,) = entries(area, "area.move")
        assert e.actor == world.admin
        assert e.changes["code"] == [old, area.code]
        assert "店口镇" in e.note
    assert last_entry(a1, "area.move").changes["parent"] == [world.area_a.pk, world.area_b.pk]


def test_move_refusals(world):
    a1, a2 = world.villages["a1"], world.villages["a2"]
    with pytest.raises(InvalidInput, match="目标上级区域层级不符"):
        services.move_area(world.admin, a1, a2)
    with pytest.raises(InvalidInput, match="目标上级区域层级不符"):
        services.move_area(world.admin, a1, world.county)
    with pytest.raises(InvalidInput, match="该区域已在所选上级区域之下"):
        services.move_area(world.admin, a1, world.area_a)
    with pytest.raises(InvalidInput, match="不能移动最上级区域"):
        services.move_area(world.admin, world.county, world.area_a)
    town_c = services.create_area(world.admin, parent=world.county, name="次坞镇")
    services.archive_area(world.admin, town_c)
    with pytest.raises(InvalidInput, match="目标上级区域已归档"):
        services.move_area(world.admin, a1, fresh_area(town_c))
    # without permission: town A's officer sees the village but may not manage areas; town B's does not see it
    with pytest.raises(Forbidden):
        services.move_area(world.town_a, a1, world.area_b)
    with pytest.raises(NotFound):
        services.move_area(world.town_b, a1, world.area_b)
    # an administrator bound to town A cannot move a village out of it
    local = services.create_user(world.admin, username="admin_a", password=PASSWORD, role=roles.CITY_ADMIN,
                                 area=world.area_a, must_change_password=False)
    with pytest.raises(NotFound):
        services.move_area(local, world.grids["a1g1"], world.villages["b1"])
    services.move_area(local, world.grids["a1g1"], a2)  # inside town A: allowed
    assert fresh_area(world.grids["a1g1"]).parent_id == a2.pk
    assert not entries(a1, "area.move").exists()


def test_archive_area(world):
    g = world.grids["a2g1"]
    services.archive_area(world.admin, g)
    g.refresh_from_db()
    assert g.is_archived and g.archived_by == world.admin
    e = last_entry(g, "area.archive")
    assert e.actor == world.admin and e.changes["archived_at"][0] is None
    with pytest.raises(InvalidInput, match="该区域下还有未归档的下级区域"):
        services.archive_area(world.admin, world.area_b)
    services.create_user(world.admin, username="grid_a2g2", password=PASSWORD, role=roles.GRID_WORKER,
                         area=world.grids["a2g2"])
    with pytest.raises(InvalidInput, match="该区域还有在岗人员"):
        services.archive_area(world.admin, world.grids["a2g2"])
    with pytest.raises(InvalidInput, match="不能归档最上级区域"):
        services.archive_area(world.admin, world.county)
    with pytest.raises(Forbidden):
        services.archive_area(world.town_a, world.grids["a1g2"])
    with pytest.raises(NotFound):
        services.archive_area(world.town_b, world.grids["a1g2"])
    assert not fresh_area(world.grids["a1g2"]).is_archived


# ================================================================ people and roles

def test_create_user_by_admin_audits_user_and_role(world):
    u = services.create_user(world.admin, username="zhang.san", password=PASSWORD, display_name="张三",
                             phone="13800000000", role=roles.DEPT_OFFICER, area=world.county,
                             sectors=[world.sectors["construction"]])
    assert u.must_change_password and u.check_password(PASSWORD)
    (a,) = u.assignments.all()
    assert (a.role, a.area_id, a.granted_by_id) == (roles.DEPT_OFFICER, world.county.pk, world.admin.pk)
    assert list(a.sectors.all()) == [world.sectors["construction"]]
    e = last_entry(u, "user.create")
    assert e.actor == world.admin and e.changes["username"] == [None, "zhang.san"]
    assert "password" not in e.changes
    g = last_entry(u, "user.grant_role")
    assert g.actor == world.admin
    assert g.changes == {"role": [None, roles.DEPT_OFFICER], "area": [None, world.county.code],
                         "sectors": [None, [world.sectors["construction"].pk]]}


@pytest.mark.parametrize("kwargs, message", [
    (dict(username="ab"), "用户名须为3-150位字母、数字或 _ . @ -"),
    (dict(username="张三"), "用户名须为3-150位字母、数字或 _ . @ -"),
    (dict(username="TOWN_A"), "用户名已被使用"),
    (dict(password="12345678"), "密码"),
    (dict(password="short"), "密码太短,至少需要8个字符"),
    (dict(password=""), "请输入密码"),
    (dict(phone="12345"), "手机号格式不正确"),
    (dict(role="root"), "角色无效"),
    (dict(area=None), "请选择管辖区域"),
    (dict(role=roles.GRID_WORKER, sectors="construction"), "该角色不能限定行业领域"),
])
def test_create_user_rejects_bad_input(world, kwargs, message):
    if kwargs.get("sectors") == "construction":
        kwargs["sectors"] = [world.sectors["construction"]]
    data = dict(username="new_user", password=PASSWORD, role=roles.GRID_WORKER, area=world.villages["a1"])
    data.update(kwargs)
    with pytest.raises(InvalidInput) as exc:
        services.create_user(world.admin, **data)
    assert message in exc.value.message
    assert re.search(r"[\u4e00-\u9fff]", exc.value.message)
    assert not User.objects.filter(username="new_user").exists()


@pytest.mark.parametrize("role", [roles.GRID_WORKER, roles.ENTERPRISE, roles.TOWN_OFFICER])
def test_town_officer_grants_local_roles_inside_town(world, role):
    u = services.create_user(world.town_a, username=f"local_{role}", password=PASSWORD, role=role,
                             area=world.villages["a2"])
    assert u.assignments.get().granted_by == world.town_a
    assert last_entry(u, "user.grant_role").actor == world.town_a
    assert visible(User, world.town_a, u) and not visible(User, world.town_b, u)


@pytest.mark.parametrize("role", [roles.CITY_ADMIN, roles.LEADER, roles.DEPT_OFFICER, roles.INSPECTOR])
def test_town_officer_cannot_grant_county_roles(world, role):
    with pytest.raises(Forbidden) as exc:
        services.create_user(world.town_a, username="climber", password=PASSWORD, role=role, area=world.area_a)
    assert str(roles.ROLE_LABELS[role]) in exc.value.message
    with pytest.raises(Forbidden):
        services.grant_role(world.town_a, world.grid, role=role, area=world.villages["a1"])
    assert not User.objects.filter(username="climber").exists()
    assert not RoleAssignment.objects.filter(user=world.grid, role=role).exists()


def test_town_officer_cannot_grant_in_other_town_or_county(world):
    with pytest.raises(NotFound):
        services.create_user(world.town_a, username="outsider", password=PASSWORD, role=roles.GRID_WORKER,
                             area=world.villages["b1"])
    with pytest.raises(NotFound):
        services.grant_role(world.town_a, world.grid, role=roles.GRID_WORKER, area=world.area_b)
    with pytest.raises(NotFound):
        services.grant_role(world.town_a, world.grid, role=roles.GRID_WORKER, area=world.county)
    # roles without manage_users grant nothing (the area is visible to them: Forbidden, not NotFound)
    with pytest.raises(Forbidden):
        services.grant_role(world.leader, world.grid, role=roles.GRID_WORKER, area=world.villages["a2"])
    with pytest.raises(NotFound):
        services.grant_role(world.enterprise, world.grid, role=roles.GRID_WORKER, area=world.villages["a2"])
    with pytest.raises(Forbidden):
        services.grant_role(world.grid, world.grid, role=roles.GRID_WORKER, area=world.villages["a1"])


def test_only_console_creates_superusers(world):
    with pytest.raises(Forbidden, match="只能在控制台创建超级管理员"):
        services.create_user(world.admin, username="root2", password=PASSWORD, role=roles.CITY_ADMIN,
                             area=world.county, is_superuser=True)
    root = services.create_user(None, username="root2", password=PASSWORD, role=roles.CITY_ADMIN,
                                area=world.county, is_superuser=True)
    assert root.is_superuser and root.is_staff
    assert last_entry(root, "user.create").changes["is_superuser"] == [None, True]


def test_grant_and_revoke_role(world):
    a = services.grant_role(world.town_a, world.grid, role=roles.GRID_WORKER, area=world.villages["a2"])
    assert a.granted_by == world.town_a
    e = last_entry(world.grid, "user.grant_role")
    assert e.actor == world.town_a
    assert e.changes["role"] == [None, roles.GRID_WORKER] and e.changes["area"] == [None, world.villages["a2"].code]
    assert visible(Area, world.grid, world.villages["a2"])
    with pytest.raises(InvalidInput, match="该用户已有此角色"):
        services.grant_role(world.town_a, world.grid, role=roles.GRID_WORKER, area=world.villages["a2"])

    with pytest.raises(NotFound):
        services.revoke_role(world.town_b, a)
    with pytest.raises(NotFound):
        services.revoke_role(world.leader, a)
    services.revoke_role(world.town_a, a)
    a.refresh_from_db()
    assert a.revoked_at is not None and a.revoked_by == world.town_a
    e = last_entry(world.grid, "user.revoke_role")
    assert e.actor == world.town_a
    assert e.changes == {"role": [roles.GRID_WORKER, None], "area": [world.villages["a2"].code, None]}
    assert not visible(Area, world.grid, world.villages["a2"])
    with pytest.raises(InvalidInput, match="该角色已撤销"):
        services.revoke_role(world.town_a, a)


def test_admin_cannot_revoke_own_admin_role(world):
    own = RoleAssignment.objects.get(user=world.admin)
    with pytest.raises(Forbidden, match="不能更改或撤销自己的角色"):
        services.revoke_role(world.admin, own)


def test_town_officer_cannot_take_over_people_with_roles_beyond_their_reach(world):
    """A person who also holds a role the town officer could not have granted (elsewhere, or a
    county role) is visible to the officer but not manageable: no password reset, no deactivation,
    no revoking the role the officer could not grant."""
    mixed = services.create_user(world.admin, username="mixed", password=PASSWORD, role=roles.TOWN_OFFICER,
                                 area=world.area_a, must_change_password=False)
    services.grant_role(world.admin, mixed, role=roles.TOWN_OFFICER, area=world.area_b)
    local_admin = services.create_user(world.admin, username="admin_a", password=PASSWORD,
                                       role=roles.CITY_ADMIN, area=world.area_a, must_change_password=False)
    for person in (mixed, local_admin):
        assert visible(User, world.town_a, person)
        with pytest.raises(Forbidden):
            services.reset_password(world.town_a, person, NEW_PASSWORD)
        with pytest.raises(Forbidden):
            services.set_user_active(world.town_a, person, False)
        with pytest.raises(Forbidden):
            services.update_user(world.town_a, person, display_name="改名")
        assert fresh(person).check_password(PASSWORD) and fresh(person).is_active
    with pytest.raises(Forbidden):
        services.revoke_role(world.town_a, local_admin.assignments.get())
    assert local_admin.assignments.get().revoked_at is None
    # nor the role in town A that they could have granted: the person's whole scope is not theirs
    with pytest.raises(Forbidden):
        services.revoke_role(world.town_a, mixed.assignments.get(area=world.area_a))
    services.revoke_role(world.admin, mixed.assignments.get(area=world.area_a))
    # … and town B's officer now fully manages the person
    services.reset_password(world.town_b, fresh(mixed), NEW_PASSWORD)
    assert fresh(mixed).check_password(NEW_PASSWORD)


def test_deactivate_and_activate(world):
    services.set_user_active(world.town_a, world.grid, False)
    grid = fresh(world.grid)
    assert not grid.is_active and grid.archived_at is not None
    e = last_entry(grid, "user.deactivate")
    assert e.actor == world.town_a and e.changes == {"is_active": [True, False]}
    assert not Area.objects.visible_to(grid).exists()  # an inactive account sees nothing
    with pytest.raises(InvalidInput, match="账号已是该状态"):
        services.set_user_active(world.town_a, grid, False)
    services.set_user_active(world.town_a, grid, True)
    assert fresh(grid).is_active and last_entry(grid, "user.activate").changes == {"is_active": [False, True]}
    with pytest.raises(InvalidInput, match="不能停用自己的账号"):
        services.set_user_active(world.town_a, world.town_a, False)
    with pytest.raises(NotFound):
        services.set_user_active(world.town_b, grid, False)
    with pytest.raises(NotFound):
        services.set_user_active(world.leader, grid, False)


def test_reset_password(world):
    services.reset_password(world.town_a, world.grid, NEW_PASSWORD)
    grid = fresh(world.grid)
    assert grid.check_password(NEW_PASSWORD) and grid.must_change_password
    e = last_entry(grid, "user.reset_password")
    assert e.actor == world.town_a and e.changes == {"password": ["***", "***"]}
    assert NEW_PASSWORD not in str(e.changes)
    with pytest.raises(InvalidInput) as exc:
        services.reset_password(world.town_a, grid, "123")
    assert "密码" in exc.value.message
    with pytest.raises(NotFound):
        services.reset_password(world.town_b, grid, NEW_PASSWORD)


def test_change_own_password(world):
    with pytest.raises(InvalidInput, match="原密码不正确") as exc:
        services.change_own_password(world.grid, "wrong", NEW_PASSWORD)
    assert exc.value.detail == {"old_password": "原密码不正确"}
    with pytest.raises(InvalidInput, match="新密码不能与原密码相同"):
        services.change_own_password(world.grid, PASSWORD, PASSWORD)
    with pytest.raises(InvalidInput, match="密码"):
        services.change_own_password(world.grid, PASSWORD, "grid")
    services.reset_password(world.admin, world.grid, NEW_PASSWORD)
    grid = fresh(world.grid)
    services.change_own_password(grid, NEW_PASSWORD, "Third-pass-2026!")
    grid = fresh(grid)
    assert grid.check_password("Third-pass-2026!") and not grid.must_change_password
    e = last_entry(grid, "user.change_password")
    assert e.actor == grid and e.changes == {"password": ["***", "***"]}


def test_update_user(world):
    services.update_user(world.town_a, world.grid, display_name="王网格", phone="0575-87012345")
    grid = fresh(world.grid)
    assert (grid.display_name, grid.phone) == ("王网格", "0575-87012345")
    e = last_entry(grid, "user.update")
    assert e.actor == world.town_a and e.changes["display_name"] == ["grid", "王网格"]
    with pytest.raises(InvalidInput, match="手机号格式不正确"):
        services.update_user(world.town_a, grid, phone="abc")
    services.update_user(world.grid, grid, display_name="自己改")  # one's own profile
    assert fresh(grid).display_name == "自己改"
    with pytest.raises(NotFound):
        services.update_user(world.town_b, grid, display_name="x")


def test_login_and_logout_are_audited(world):
    services.record_login(world.grid)
    services.record_logout(world.grid)
    assert last_entry(world.grid, "auth.login").actor == world.grid
    assert last_entry(world.grid, "auth.logout").actor == world.grid


# ================================================================ tokens

def test_tokens_create_use_revoke(world, client):
    token, key = services.create_token(world.town_a, world.town_a, "手机")
    assert key.startswith("yj_") and token.prefix == key[:10]
    assert ApiToken.objects.get(pk=token.pk).key_hash == ApiToken.hash(key) and key not in token.key_hash
    e = last_entry(world.town_a, "token.create")
    assert e.actor == world.town_a and e.changes == {"token": [None, f"{token.prefix}… (手机)"]}
    assert key not in str(e.changes)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    assert client.get("/api/v1/me", **auth).status_code == 200

    with pytest.raises(NotFound):
        services.revoke_token(world.town_b, token)
    services.revoke_token(world.town_a, token)
    e = last_entry(world.town_a, "token.revoke")
    assert e.actor == world.town_a and e.changes == {"token": [f"{token.prefix}… (手机)", None]}
    r = client.get("/api/v1/me", **auth)
    assert r.status_code == 401
    assert r.json() == {"code": "unauthenticated", "message": "未登录或令牌无效", "detail": {}}
    with pytest.raises(InvalidInput, match="令牌已撤销"):
        services.revoke_token(world.town_a, ApiToken.objects.get(pk=token.pk))


def test_token_last_use_is_kept_at_most_once_a_minute(world, monkeypatch):
    import datetime

    from django.utils import timezone

    token, key = services.create_token(None, world.grid, "cli")
    assert services.user_for_token(key) == world.grid
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    assert services.user_for_token(key) == world.grid  # within a minute: no write
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    later = timezone.now() + datetime.timedelta(seconds=61)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert services.user_for_token(key) == world.grid
    assert ApiToken.objects.get(pk=token.pk).last_used_at == later
    assert services.user_for_token("yj_not-a-token") is None and services.user_for_token("other") is None


def test_token_of_deactivated_user_stops_working(world, client):
    _t, key = services.create_token(None, world.grid, "cli")
    assert last_entry(world.grid, "token.create").actor is None
    services.set_user_active(world.town_a, world.grid, False)
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401
    with pytest.raises(InvalidInput, match="账号已停用"):
        services.create_token(None, fresh(world.grid))


def test_tokens_for_others_need_user_management(world):
    with pytest.raises(NotFound):
        services.create_token(world.town_b, world.grid)
    with pytest.raises(NotFound):
        services.create_token(world.leader, world.grid)


# ================================================================ reference data

def test_save_organisation_and_sector_by_admin_only(world):
    org = services.save_organisation(world.admin, code="jt", name="诸暨市交通运输局", kind=OrgKind.DEPARTMENT,
                                     area=world.county)
    e = last_entry(org, "organisation.save")
    assert e.actor == world.admin and e.changes["code"] == [None, "jt"]
    services.save_organisation(world.admin, org, short_name="交通局")
    assert last_entry(org, "organisation.save").changes == {"short_name": ["", "交通局"],
                                                            "updated_at": last_entry(org, "organisation.save")
                                                            .changes["updated_at"]}
    sector = services.save_sector(world.admin, code="road", name="道路运输", department=org)
    e = last_entry(sector, "sector.save")
    assert e.actor == world.admin and e.changes["name"] == [None, "道路运输"]

    for persona in ("leader", "dept", "inspector", "town_a", "grid", "enterprise"):
        with pytest.raises(Forbidden):
            services.save_organisation(world.users[persona], org, name="改名")
        with pytest.raises(Forbidden):
            services.save_sector(world.users[persona], sector, name="改名")
    assert Organisation.objects.get(pk=org.pk).name == "诸暨市交通运输局"
    assert Sector.objects.get(pk=sector.pk).name == "道路运输"


def test_reference_data_input_errors(world):
    with pytest.raises(InvalidInput, match="编码已存在"):
        services.save_organisation(world.admin, code="yjj", name="重复", kind=OrgKind.DEPARTMENT, area=world.county)
    with pytest.raises(InvalidInput, match="未知字段"):
        services.save_organisation(world.admin, code="x1", name="x", kind=OrgKind.DEPARTMENT, area=world.county,
                                   archived_at=None)
    with pytest.raises(InvalidInput, match="编码、类型和所属区域不能为空"):
        services.save_organisation(world.admin, name="无编码")
    with pytest.raises(InvalidInput, match="编码和主管部门不能为空"):
        services.save_sector(world.admin, code="s1", name="无部门")
    with pytest.raises(InvalidInput, match="编码已存在"):
        services.save_sector(world.admin, code="hazchem", name="重复", department=world.sectors["hazchem"].department)


# ================================================================ every service is exercised

SERVICE_MODULES = ("services", "attachments", "jobs")


def _import_service_modules() -> dict[str, str]:
    """Import every app's services/attachments/jobs modules, and any other module of ours that
    declares a service; returns service name → public function name."""
    from django.apps import apps

    modules = []
    for config in apps.get_app_configs():
        if not config.name.startswith("yingji."):
            continue
        names = set(SERVICE_MODULES)
        for path in Path(config.path).glob("*.py"):
            if "@service(" in path.read_text(encoding="utf-8") or "audit.service(" in path.read_text(encoding="utf-8"):
                names.add(path.stem)
        for mod in sorted(names):
            try:
                modules.append(importlib.import_module(f"{config.name}.{mod}"))
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.{mod}":
                    raise
    functions = {}
    for module in modules:
        for attr, value in vars(module).items():
            name = getattr(value, "service_name", None)
            if isinstance(name, str) and not attr.startswith("_"):
                functions.setdefault(name, attr)
    return functions


def test_every_service_is_referenced_by_the_tests():
    """Every registered write service is called somewhere under tests/ (by function or service
    name); with strict audit mode that backs "every write path exercised by the tests writes an
    audit entry"."""
    functions = _import_service_modules()
    assert "core.create_area" in audit.SERVICE_REGISTRY
    tests_dir = Path(__file__).resolve().parents[1]
    text = "\n".join(p.read_text(encoding="utf-8") for p in tests_dir.rglob("*.py"))
    missing = []
    for name in sorted(audit.SERVICE_REGISTRY):
        func = functions.get(name) or name.rsplit(".", 1)[-1]
        if f'"{name}"' in text or re.search(rf"(?<![\w]){re.escape(func)}\(", text):
            continue
        missing.append(f"{name} ({func})")
    assert not missing, "services no test calls: " + ", ".join(missing)


def test_superusers_are_managed_at_the_console_only(world):
    root = services.create_user(None, username="root", password=PASSWORD, role=roles.CITY_ADMIN, area=world.county,
                                is_superuser=True, must_change_password=False)
    assert visible(User, world.admin, root)
    with pytest.raises(Forbidden):
        services.reset_password(world.admin, root, NEW_PASSWORD)
    with pytest.raises(Forbidden):
        services.set_user_active(world.admin, root, False)
    assert fresh(root).check_password(PASSWORD) and fresh(root).is_active
    services.change_own_password(root, PASSWORD, NEW_PASSWORD)  # their own password they change themselves
    assert fresh(root).check_password(NEW_PASSWORD)
