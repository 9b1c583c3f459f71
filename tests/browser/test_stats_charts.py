"""The figures charts in a real browser: every town labelled on the area chart (23 towns, as in
the county), the data table under the chart, and a working PNG download."""
from __future__ import annotations

import pytest

from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.stats.conftest import build_data

pytestmark = pytest.mark.browser


def test_area_chart_labels_every_town_and_downloads_a_png(transactional_db, new_page, live_server, tmp_path):
    from tests.conftest import build_world
    from yingji.core import services as core_services
    from yingji.stats import services

    world = build_world()
    for i in range(21):  # 23 towns, like the county
        core_services.create_area(world.admin, parent=world.county, name=f"测试{i + 1:02d}镇", kind="镇",
                                  code=f"330681{201 + i:03d}")
    build_data(world)
    services.refresh_rollups()

    page = new_page()
    login(page, live_server, "leader", PASSWORD)
    page.goto(f"{live_server.url}/stats/?from=2000-01")
    page.wait_for_selector("#chart-area canvas")
    names = page.evaluate("JSON.parse(document.getElementById('stats-chart-data').textContent).areas")
    assert len(names) >= 2  # the areas with hazards (towns without any are not charted)
    option = page.evaluate("""() => { const o = window.yingjiCharts.area.getOption();
        return {data: o.yAxis[0].data, interval: o.yAxis[0].axisLabel.interval}; }""")
    assert option["interval"] == 0  # ECharts skips no label
    assert option["data"] == names
    height = page.evaluate("document.getElementById('chart-area').clientHeight")
    assert height >= len(names) * 26 + 70 - 1  # room for every label
    # the table under the chart: one row per area
    page.get_by_test_id("chart-card-area").get_by_text("查看数据表").click()
    rows = page.get_by_test_id("chart-table-area").locator("tbody tr")
    assert rows.count() == len(names)
    assert [rows.nth(i).locator("th").inner_text() for i in range(rows.count())] == names

    link = page.get_by_test_id("chart-png-area")
    assert link.is_visible()
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "按区域.png"
    path = tmp_path / "chart.png"
    download.save_as(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
