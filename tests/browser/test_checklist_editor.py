"""Headless browser on a phone (390 px): the administrator revises a seeded module, adds an item,
publishes; a town officer reads the new version. Skipped without Chromium."""
from __future__ import annotations

import pytest

from tests.browser.conftest import horizontal_overflow, login, screenshot
from tests.conftest import PASSWORD, build_world

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def seeded_world(transactional_db):
    """Personas plus the seeded checklists (a transactional test starts from flushed tables)."""
    from yingji.checklists import services

    world = build_world()
    services.load_seed(None)
    return world


def test_admin_revises_a_module_on_a_phone(seeded_world, new_page, live_server):
    from yingji.checklists.models import ChecklistModule, VersionStatus

    gas = ChecklistModule.objects.get(code="gas")
    admin = new_page(**PHONE)
    login(admin, live_server, "admin", PASSWORD)
    admin.goto("/checklists/")
    assert horizontal_overflow(admin) <= 0
    admin.get_by_role("link", name="燃气使用").click()
    assert "RQ-01" in admin.content()
    assert horizontal_overflow(admin) <= 0
    with admin.expect_navigation():
        admin.locator('[data-testid="revise"]').click()
    assert "正在编辑草稿" in admin.content()
    assert horizontal_overflow(admin) <= 0
    screenshot(admin, "checklists-draft-phone")
    admin.locator('[data-testid="add-item-1"]').click()
    admin.locator('[name="code"]').fill("RQ-10")
    admin.locator('[name="question"]').fill("燃气报警装置每季度测试并有记录")
    admin.locator('[name="basis"]').fill("《安全生产法》第三十六条")
    admin.locator('[name="category"]').select_option("gas")
    with admin.expect_navigation():
        admin.get_by_role("button", name="保存").click()
    assert "已添加检查项 RQ-10" in admin.content()
    admin.locator('[name="note"]').fill("增加报警装置测试要求")
    with admin.expect_navigation():
        admin.locator('[data-testid="publish-button"]').click()
    assert "已发布第2版" in admin.content()
    assert gas.versions.get(number=2).status == VersionStatus.PUBLISHED
    assert gas.versions.get(number=1).status == VersionStatus.SUPERSEDED

    town = new_page(**PHONE)
    login(town, live_server, "town_a", PASSWORD)
    town.goto(f"/checklists/versions/{gas.versions.get(number=2).pk}/")
    text = town.locator("main").inner_text()
    assert "RQ-10" in text and "相对第1版有1处变化" in text and "新增" in text
    assert horizontal_overflow(town) <= 0
    assert town.locator('[data-testid="editor"]').count() == 0
