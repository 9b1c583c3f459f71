"""The figures page in a real browser on a 390px phone: charts drawn (ECharts), no JavaScript
error, nothing wider than the screen; the administrator's refresh button queues the job."""
from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, horizontal_overflow, login, screenshot
from tests.conftest import PASSWORD
from tests.stats.conftest import build_data

pytestmark = pytest.mark.browser


def test_figures_page_on_a_phone(transactional_db, new_page, live_server):  # noqa: F811
    from tests.conftest import build_world
    from yingji.core.models import Job
    from yingji.stats import services

    world = build_world()
    build_data(world)
    services.refresh_rollups()

    page = new_page(**PHONE)
    login(page, live_server, "town_a", PASSWORD)
    page.goto(f"{live_server.url}/stats/")
    page.wait_for_selector("#chart-month canvas")
    assert page.locator("#chart-area canvas").count() == 1
    assert page.locator("#chart-mode canvas").count() == 1
    assert page.locator('[data-figure="found"]').inner_text().startswith("5")
    assert "数据截至" in page.locator('[data-testid="as-of"]').inner_text()
    assert horizontal_overflow(page) <= 1
    page.get_by_label("隐患等级").select_option("major")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url("**level=major**")
    assert page.locator('[data-figure="found"]').inner_text().startswith("1")
    screenshot(page, "stats-phone-town-a")

    admin = new_page()
    login(admin, live_server, "admin", PASSWORD)
    admin.goto(f"{live_server.url}/stats/")
    admin.get_by_role("button", name="立即刷新").click()
    admin.wait_for_selector("text=已排队刷新任务")
    assert Job.objects.filter(kind="stats.refresh").count() == 1
