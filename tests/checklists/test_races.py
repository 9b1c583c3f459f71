"""Two administrators acting on one checklist at once: publishing, discarding, editing a draft and
archiving a module write only if the version / module is still as the service read it
(conditional UPDATE), so the call that read first and writes second gets a Conflict and writes
nothing (tests/races.py)."""
from __future__ import annotations

import pytest

from yingji.checklists import services
from yingji.checklists.models import VersionStatus

from tests.races import lost_race, second_admin

pytestmark = pytest.mark.django_db

DRAFT_STALE = "该草稿已被他人发布或放弃,请刷新后重试"
MODULE_STALE = "该检查清单模块已被他人归档,请刷新后重试"


@pytest.fixture
def admin2(world):
    """A second county administrator (checklists are edited by county administrators only)."""
    return second_admin(world)


@pytest.fixture
def draft(world, module):
    return services.start_revision(world.admin, module)


def test_publish_twice(world, admin2, draft, monkeypatch):
    _err, won = lost_race(monkeypatch, services, "_lock_version",
                          winner=lambda: services.publish(admin2, draft, note="乙发布"),
                          loser=lambda: services.publish(world.admin, draft, note="甲发布"), message=DRAFT_STALE)
    assert won.status == VersionStatus.PUBLISHED


def test_publish_while_discarded(world, admin2, draft, monkeypatch):
    lost_race(monkeypatch, services, "_lock_version",
              winner=lambda: services.discard_draft(admin2, draft),
              loser=lambda: services.publish(world.admin, draft), message=DRAFT_STALE)


def test_discard_while_published(world, admin2, draft, monkeypatch):
    lost_race(monkeypatch, services, "_lock_version",
              winner=lambda: services.publish(admin2, draft),
              loser=lambda: services.discard_draft(world.admin, draft), message=DRAFT_STALE)


def test_add_section_while_published(world, admin2, draft, monkeypatch):
    lost_race(monkeypatch, services, "_lock_version",
              winner=lambda: services.publish(admin2, draft),
              loser=lambda: services.add_section(world.admin, draft, title="新分节"), message=DRAFT_STALE)


def test_update_item_while_discarded(world, admin2, draft, monkeypatch):
    item = draft.items.order_by("id").first()
    lost_race(monkeypatch, services, "_lock_version",
              winner=lambda: services.discard_draft(admin2, draft),
              loser=lambda: services.update_item(world.admin, item, question="改写的检查内容"), message=DRAFT_STALE)


def test_start_revision_twice(world, admin2, module, monkeypatch):
    _err, won = lost_race(monkeypatch, services, "draft_of",
                          winner=lambda: services.start_revision(admin2, module),
                          loser=lambda: services.start_revision(world.admin, module),
                          message="他人刚刚新建了该模块的修订草稿,请刷新后继续编辑")
    assert won.status == VersionStatus.DRAFT


def test_update_module_while_archived(world, admin2, module, monkeypatch):
    lost_race(monkeypatch, services, "_lock_module",
              winner=lambda: services.archive_module(admin2, module),
              loser=lambda: services.update_module(world.admin, module, name="改名"), message=MODULE_STALE)


def test_archive_module_twice(world, admin2, module, monkeypatch):
    lost_race(monkeypatch, services, "_lock_module",
              winner=lambda: services.archive_module(admin2, module),
              loser=lambda: services.archive_module(world.admin, module), message=MODULE_STALE)


def test_publish_while_the_module_is_archived(world, admin2, draft, monkeypatch):
    lost_race(monkeypatch, services, "_lock_version",
              winner=lambda: services.archive_module(admin2, draft.module),
              loser=lambda: services.publish(world.admin, draft), message=MODULE_STALE)
