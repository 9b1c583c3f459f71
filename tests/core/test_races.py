"""Two administrators acting on one area, account, role or attachment at once: each transition
writes only if the row is still as the service read it (conditional UPDATE), so the call that read
first and writes second gets a Conflict and writes nothing (tests/races.py)."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yingji.core import attachments, roles, services
from yingji.core.models import Area

from tests.races import lost_race, second_admin

from .test_attachments import image_bytes

pytestmark = pytest.mark.django_db

AREA_STALE = "该区域已被他人移动或归档,请刷新后重试"


@pytest.fixture
def admin2(world):
    return second_admin(world)


@pytest.fixture
def empty_village(world):
    return services.create_area(world.admin, parent=world.area_a, name="大唐街道新村", kind="村")


def test_create_under_a_parent_archived_meanwhile(world, admin2, empty_village, monkeypatch):
    stale = Area.objects.get(pk=empty_village.pk)
    lost_race(monkeypatch, services, "require",
              winner=lambda: services.archive_area(admin2, empty_village),
              loser=lambda: services.create_area(world.admin, parent=stale, name="新网格"), message=AREA_STALE)


def test_move_twice(world, admin2, empty_village, monkeypatch):
    _err, won = lost_race(monkeypatch, services, "require_editable",
                          winner=lambda: services.move_area(admin2, empty_village, world.area_b),
                          loser=lambda: services.move_area(world.admin, empty_village, world.area_b),
                          message=AREA_STALE)
    assert won.code.startswith(world.area_b.code)


def test_move_while_archived(world, admin2, empty_village, monkeypatch):
    lost_race(monkeypatch, services, "require_editable",
              winner=lambda: services.archive_area(admin2, empty_village),
              loser=lambda: services.move_area(world.admin, empty_village, world.area_b), message=AREA_STALE)


def test_archive_twice(world, admin2, empty_village, monkeypatch):
    lost_race(monkeypatch, services, "require_editable",
              winner=lambda: services.archive_area(admin2, empty_village),
              loser=lambda: services.archive_area(world.admin, empty_village), message=AREA_STALE)


def test_rename_while_moved_keeps_the_move(world, admin2, monkeypatch):
    """A rename from a row read before a move writes only the name (the old full save put the
    village back under its old town with its old code, its grids left under the new one)."""
    village = world.villages["a2"]
    original = services.require_editable
    moved = {}

    def editable(obj, user, *args, **kwargs):
        result = original(obj, user, *args, **kwargs)
        if not moved and isinstance(obj, Area) and user == world.admin:
            moved["area"] = services.move_area(admin2, village, world.area_b)
        return result

    monkeypatch.setattr(services, "require_editable", editable)
    services.update_area(world.admin, village, name="大唐街道改名村")
    monkeypatch.undo()
    village.refresh_from_db()
    assert village.name == "大唐街道改名村"
    assert village.code == moved["area"].code and village.parent_id == world.area_b.pk
    assert all(g.code.startswith(village.code) for g in village.children.all())


def test_deactivate_twice(world, admin2, monkeypatch):
    lost_race(monkeypatch, services, "require_editable",
              winner=lambda: services.set_user_active(admin2, world.grid, False),
              loser=lambda: services.set_user_active(world.admin, world.grid, False),
              message="该账号已被他人启用或停用,请刷新后重试")


def test_revoke_role_twice(world, admin2, monkeypatch):
    extra = services.grant_role(world.admin, world.grid, role=roles.GRID_WORKER, area=world.villages["a2"])
    lost_race(monkeypatch, services, "require_editable",
              winner=lambda: services.revoke_role(admin2, extra),
              loser=lambda: services.revoke_role(world.admin, extra), message="该角色已被他人撤销,请刷新后重试")


def test_archive_attachment_twice(world, admin2, monkeypatch):
    att = attachments.add_attachment(world.admin, world.area_a, SimpleUploadedFile("现场.png", image_bytes()))
    lost_race(monkeypatch, attachments, "_load_for_archive",
              winner=lambda: attachments.archive_attachment(admin2, att),
              loser=lambda: attachments.archive_attachment(world.admin, att),
              message="该附件已被他人归档,请刷新后重试")
