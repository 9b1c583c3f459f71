"""Edges of the core write services: sector-narrowed administrators, an area whose codes are used
up, missing parents, archived areas, a username race, organisation changes, unknown fields."""
from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from tests.conftest import PASSWORD
from yingji.core import roles, services
from yingji.core.errors import Forbidden, InvalidInput
from yingji.core.models import Area, AreaLevel, AuditEntry, Organisation, OrgKind, RoleAssignment, Sector, User


def entries(obj, action):
    return AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(type(obj)), object_id=obj.pk,
                                     action=action)


@pytest.fixture
def narrowed_admin(world):
    """A county administrator narrowed to the 工贸 sector."""
    return services.create_user(world.admin, username="admin_it", password=PASSWORD, display_name="工贸管理员",
                                role=roles.CITY_ADMIN, area=world.county,
                                sectors=[world.sectors["industry_trade"]], must_change_password=False)


def test_sector_narrowed_grant_counts_only_for_its_own_sectors(world, narrowed_admin):
    it, cons = world.sectors["industry_trade"], world.sectors["construction"]
    assert services.can(narrowed_admin, roles.MANAGE_USERS, world.county, [it.pk])
    assert not services.can(narrowed_admin, roles.MANAGE_USERS, world.county, [cons.pk])
    assert not services.can(narrowed_admin, roles.MANAGE_USERS, world.county, [it.pk, cons.pk])
    assert not services.can(narrowed_admin, roles.MANAGE_USERS, world.county)  # all sectors: not theirs
    assert not services.can(world.dept, roles.VIEW, world.area_a)  # 住建 only, no sector named
    assert services.can(world.dept, roles.VIEW, world.area_a, [cons.pk])


def test_sector_narrowed_admin_grants_only_inside_its_sector(world, narrowed_admin):
    it, cons = world.sectors["industry_trade"], world.sectors["construction"]
    with pytest.raises(Forbidden) as exc:
        services.create_user(narrowed_admin, username="cons_officer", password=PASSWORD, role=roles.DEPT_OFFICER,
                             area=world.county, sectors=[cons])
    assert exc.value.message == "无权执行此操作"
    with pytest.raises(Forbidden):  # a role over every sector is beyond a 工贸-only administrator too
        services.create_user(narrowed_admin, username="town_officer2", password=PASSWORD,
                             role=roles.TOWN_OFFICER, area=world.area_a)
    assert not User.objects.filter(username__in=["cons_officer", "town_officer2"]).exists()
    ok = services.create_user(narrowed_admin, username="it_officer", password=PASSWORD, role=roles.INSPECTOR,
                              area=world.area_a, sectors=[it])
    assignment = RoleAssignment.objects.get(user=ok)
    assert list(assignment.sectors.values_list("pk", flat=True)) == [it.pk]
    assert entries(ok, "user.grant_role").get().actor == narrowed_admin


def test_create_area_when_every_code_under_the_parent_is_used(world):
    village = world.villages["b2"]
    existing = set(Area.objects.filter(parent=village).values_list("code", flat=True))
    Area.objects.bulk_create([
        Area(code=f"{village.code}{n:03d}", name=f"网格{n}", level=AreaLevel.GRID, parent=village)
        for n in range(1, 1000) if f"{village.code}{n:03d}" not in existing])
    before = Area.objects.count()
    with pytest.raises(InvalidInput) as exc:
        services.create_area(world.admin, parent=village, name="第一千个网格")
    assert exc.value.message == "该区域下的编码已用尽"
    assert Area.objects.count() == before
    assert not AuditEntry.objects.filter(action="area.create", object_repr__contains="第一千个网格").exists()


def test_create_area_needs_a_parent(world):
    before = Area.objects.count()
    with pytest.raises(InvalidInput) as exc:
        services.create_area(world.admin, parent=None, name="新镇")
    assert exc.value.message == "请选择上级区域"
    assert exc.value.detail == {"parent": "请选择上级区域"}
    assert Area.objects.count() == before


def test_no_role_can_be_granted_in_an_archived_area(world):
    grid = world.grids["b2g2"]
    services.archive_area(world.admin, grid)
    grid.refresh_from_db()
    with pytest.raises(InvalidInput) as exc:
        services.create_user(world.admin, username="late_grid", password=PASSWORD, role=roles.GRID_WORKER,
                             area=grid)
    assert exc.value.message == "该区域已归档"
    assert exc.value.detail == {"area": "该区域已归档"}
    assert not User.objects.filter(username="late_grid").exists()
    with pytest.raises(InvalidInput) as exc:
        services.grant_role(world.admin, world.grid, role=roles.GRID_WORKER, area=grid)
    assert exc.value.message == "该区域已归档"
    assert not RoleAssignment.objects.filter(area=grid).exists()


def test_username_taken_by_a_concurrent_request_is_reported_as_taken(world, monkeypatch):
    User.objects.create(username="racer", display_name="先到的人")
    original_filter = User.objects.filter

    def stale_check(*args, **kwargs):
        # The check runs "before the other request committed": it finds nothing.
        if kwargs.get("username__iexact") == "racer":
            return User.objects.none()
        return original_filter(*args, **kwargs)

    monkeypatch.setattr(User.objects, "filter", stale_check)
    with pytest.raises(InvalidInput) as exc:
        services.create_user(world.admin, username="racer", password=PASSWORD, role=roles.GRID_WORKER,
                             area=world.villages["a2"])
    monkeypatch.undo()
    assert exc.value.message == "用户名已被使用"
    assert exc.value.detail == {"username": "用户名已被使用"}
    only = User.objects.get(username="racer")
    assert only.display_name == "先到的人" and not RoleAssignment.objects.filter(user=only).exists()
    assert not AuditEntry.objects.filter(action="user.create", object_repr__contains="racer").exists()


def test_update_user_changes_and_clears_the_organisation(world):
    org = Organisation.objects.create(code="dtjd", name="大唐街道办事处", kind=OrgKind.DEPARTMENT, area=world.area_a)
    user = services.update_user(world.admin, world.town_a, organisation=org)
    assert User.objects.get(pk=user.pk).organisation == org
    entry = entries(user, "user.update").get()
    assert entry.actor == world.admin and entry.changes["organisation"][1] == org.pk
    services.update_user(world.admin, world.town_a, organisation=None)
    assert User.objects.get(pk=user.pk).organisation is None
    assert entries(user, "user.update").count() == 2
    # Not naming the organisation leaves it alone.
    services.update_user(world.admin, world.town_a, organisation=org)
    services.update_user(world.admin, world.town_a, display_name="大唐工作人员")
    assert User.objects.get(pk=user.pk).organisation == org


def test_town_officer_cannot_change_the_organisation_of_someone_in_another_town(world):
    from yingji.core.errors import NotFound

    org = Organisation.objects.create(code="dtjd", name="大唐街道办事处", kind=OrgKind.DEPARTMENT, area=world.area_a)
    with pytest.raises(NotFound):
        services.update_user(world.town_a, world.town_b, organisation=org)
    assert User.objects.get(pk=world.town_b.pk).organisation is None
    assert not entries(world.town_b, "user.update").exists()


def test_save_sector_refuses_unknown_fields(world):
    sector = world.sectors["hazchem"]
    with pytest.raises(InvalidInput) as exc:
        services.save_sector(world.admin, sector, name="危化品", colour="red", owner="x")
    assert exc.value.message == "未知字段:colour, owner"
    sector.refresh_from_db()
    assert sector.name == "危险化学品"
    assert not entries(sector, "sector.save").exists()
    with pytest.raises(InvalidInput) as exc:
        services.save_sector(world.admin, None, code="mining", colour="red")
    assert exc.value.message == "未知字段:colour"
    assert not Sector.objects.filter(code="mining").exists()
