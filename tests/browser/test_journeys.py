"""Each role's main journey, driven through headless Chromium against a live server.

Run alone with ``pytest tests/browser``. All tests carry ``xdist_group("browser")`` so ``--dist loadgroup``
keeps them on one worker (one Chromium). Note: with pytest 9.2 + pytest-xdist 3.8 the grouping is
silently ignored (pytest-xdist issue #1386); the tests are independent, so they still pass when split.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .conftest import (HAVE_CHROMIUM, NO_CHROMIUM_REASON, PHONE, horizontal_overflow, login, nav_go, nav_labels,
                       offscreen_nav_links, screenshot)

expect.set_options(timeout=10_000)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM_REASON),
]


def test_town_officer_journey(browser_world, page, live_server):
    w = browser_world
    login(page, live_server, "town_a", PASSWORD)
    expect(page.locator("h1")).to_have_text("工作台")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_test_id("whoami")).to_contain_text("镇街工作人员")
    assert {"首页", "行政区域", "人员与角色", "组织与行业", "审计日志"} <= set(nav_labels(page))

    # Areas: their town is the root of what they see; its villages are listed.
    nav_go(page, "行政区域")
    expect(page.locator("h1")).to_have_text("行政区域")
    main = page.locator("main")
    expect(main.get_by_role("link", name="大唐街道", exact=True)).to_be_visible()
    expect(main.get_by_role("link", name="店口镇")).to_have_count(0)
    main.get_by_role("link", name="大唐街道", exact=True).click()
    children = page.get_by_test_id("children")
    expect(children.get_by_role("link")).to_have_text(["大唐街道1村", "大唐街道2村"])

    # Another town's records never appear, neither in search nor by URL.
    page.goto("/areas/")
    page.get_by_label("名称").fill("店口")
    page.get_by_role("button", name="查询").click()
    results = page.get_by_test_id("area-results")
    expect(results).to_contain_text("没有找到匹配的区域")
    expect(results.get_by_role("link")).to_have_count(0)
    page.get_by_label("名称").fill("村")
    page.get_by_role("button", name="查询").click()
    expect(results.get_by_role("link", name=re.compile("村$"))).to_have_text(["大唐街道1村", "大唐街道2村"])

    resp = page.goto(f"/areas/{w.area_b.pk}/")
    assert resp.status == 404
    expect(page.get_by_test_id("error-message")).to_have_text("记录不存在或无权访问")
    expect(page.locator("body")).not_to_contain_text("店口镇")

    # People: town B's staff are invisible.
    page.goto("/")
    nav_go(page, "人员与角色")
    users = page.get_by_test_id("users")
    expect(users.get_by_role("link", name="grid", exact=True)).to_be_visible()
    expect(users.get_by_role("link", name="town_b", exact=True)).to_have_count(0)
    resp = page.goto(f"/users/{w.town_b.pk}/")
    assert resp.status == 404

    # Create a grid worker in their own village through the Chinese form.
    page.goto("/users/")
    page.locator("main").get_by_role("link", name="新建用户").click()
    expect(page.locator("h1")).to_have_text("新建用户")
    page.get_by_label("用户名").fill("wangge_li")
    page.get_by_label("姓名").fill("李网格")
    page.get_by_label("手机号").fill("13800138000")
    page.get_by_label("初始密码").fill("Wangge-li-2026!")
    page.get_by_label("角色").select_option(label="村社/网格员")
    area_select = page.get_by_label("管辖区域")
    options = [o.strip() for o in area_select.locator("option").all_inner_texts()]
    assert "大唐街道2村" in options and not any("店口" in o for o in options), options
    area_select.select_option(label="大唐街道2村")
    page.get_by_role("button", name="创建").click()
    expect(page.locator(".messages li.success")).to_have_text("已创建用户:李网格")

    from yingji.core.models import RoleAssignment

    ra = RoleAssignment.objects.get(user__username="wangge_li")
    assert (ra.role, ra.area_id, ra.granted_by_id) == ("grid_worker", w.villages["a2"].pk, w.town_a.pk)

    # The audit log shows who did it.
    nav_go(page, "审计日志")
    row = page.get_by_test_id("audit").locator("tbody tr").filter(has_text="用户:新增").filter(
        has_text="李网格")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("town_a")
    screenshot(page, "1-town-officer-audit")


def test_grid_worker_on_phone(browser_world, new_page, live_server):
    page = new_page(**PHONE)
    login(page, live_server, "grid", PASSWORD)
    expect(page.locator("h1")).to_have_text("工作台")
    expect(page.get_by_test_id("whoami")).to_contain_text("村社/网格员")
    labels = nav_labels(page)
    assert "行政区域" in labels
    assert "人员与角色" not in labels and "审计日志" not in labels
    assert horizontal_overflow(page) <= 1
    assert offscreen_nav_links(page) == []

    nav_go(page, "行政区域")
    main = page.locator("main")
    expect(main.get_by_role("link")).to_have_text(["大唐街道1村"])
    assert horizontal_overflow(page) <= 1
    main.get_by_role("link", name="大唐街道1村").click()
    expect(page.locator("h1")).to_contain_text("大唐街道1村")
    expect(page.get_by_test_id("children").get_by_role("link")).to_have_text(
        ["大唐街道1村1网格", "大唐街道1村2网格"])
    assert horizontal_overflow(page) <= 1
    screenshot(page, "2-grid-worker-phone")

    # Search across the tree: only their own village and its grids come back.
    page.goto("/areas/?q=" + "村")
    names = [n.strip() for n in page.get_by_test_id("area-results").get_by_role("link").all_inner_texts()]
    assert names == ["大唐街道1村", "大唐街道1村1网格", "大唐街道1村2网格"], names
    assert horizontal_overflow(page) <= 1

    w = browser_world
    for other in (w.area_a, w.area_b, w.villages["a2"]):
        resp = page.goto(f"/areas/{other.pk}/")
        assert resp.status == 404, other.name
    for path in ("/users/", "/audit/"):
        resp = page.goto(path)
        assert resp.status == 404, path
        expect(page.get_by_test_id("error-message")).to_have_text("记录不存在或无权访问")
        assert horizontal_overflow(page) <= 1


def test_city_admin_moves_village(browser_world, page, new_page, live_server):
    w = browser_world
    village = w.villages["a1"]
    login(page, live_server, "admin", PASSWORD)
    page.goto(f"/areas/{village.pk}/")
    page.locator("main").get_by_role("link", name="调整隶属").click()
    expect(page.locator("h1")).to_have_text("调整隶属:大唐街道1村")
    page.get_by_label("移至").select_option(label="店口镇")
    page.get_by_role("button", name="确认调整").click()
    expect(page.locator(".messages li.success")).to_have_text("已将大唐街道1村移至店口镇")
    expect(page.locator(".crumbs")).to_contain_text("店口镇")
    screenshot(page, "3-city-admin-moved")

    town_a = new_page()
    login(town_a, live_server, "town_a", PASSWORD)
    town_a.goto(f"/areas/{w.area_a.pk}/")
    expect(town_a.get_by_test_id("children").get_by_role("link")).to_have_text(["大唐街道2村"])
    assert town_a.goto(f"/areas/{village.pk}/").status == 404

    town_b = new_page()
    login(town_b, live_server, "town_b", PASSWORD)
    town_b.goto(f"/areas/{w.area_b.pk}/")
    expect(town_b.get_by_test_id("children").get_by_role("link", name="大唐街道1村")).to_be_visible()
    assert town_b.goto(f"/areas/{village.pk}/").status == 200
    expect(town_b.locator("h1")).to_contain_text("大唐街道1村")
    expect(town_b.locator(".crumbs")).to_contain_text("店口镇")


def test_sign_in_failure_and_sign_out(browser_world, page, live_server):
    resp = login(page, live_server, "town_a", "wrong-password")
    assert resp.status == 401
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.locator(".errorlist")).to_have_text("用户名或密码错误")
    expect(page.get_by_test_id("whoami")).to_have_count(0)
    screenshot(page, "4-sign-in-failure")
    # An unknown user gets the very same answer (no hint which usernames exist).
    assert login(page, live_server, "no_such_user", PASSWORD).status == 401
    expect(page.locator(".errorlist")).to_have_text("用户名或密码错误")

    login(page, live_server, "town_a", PASSWORD)
    expect(page.locator("h1")).to_have_text("工作台")
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.locator(".messages")).to_contain_text("您已安全退出")
    expect(page.get_by_test_id("whoami")).to_have_count(0)
    page.goto("/areas/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/areas/$"))


def test_language_switch(browser_world, page, live_server):
    login(page, live_server, "leader", PASSWORD)
    page.goto("/areas/")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "zh-CN")
    page.get_by_role("button", name="English").click()
    expect(html).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/areas/$"))
    screenshot(page, "5-language-en")
    page.get_by_role("button", name="中文").click()
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(page).to_have_url(re.compile(r"/areas/$"))
    expect(page.locator("h1")).to_have_text("行政区域")
    expect(page.get_by_role("button", name="English")).to_be_visible()
