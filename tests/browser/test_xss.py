"""Server data is text, in a real browser: a site named like markup is shown as that literal text on
every page that shows it (map tooltip and popup, list, detail, the site picker's search results,
the public list of listed major hazards), no script runs (no dialog), and nothing violates the
Content-Security-Policy (checked by ``conftest.new_page``). Irreversible actions ask first
(``<form data-confirm>``, handled by core/app.js)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .conftest import HAVE_CHROMIUM, NO_CHROMIUM_REASON, login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM_REASON),
]

XSS = "<img src=x onerror=alert(1)>"


def _markup_site(world):
    """A small place named XSS, located at the centre of the map's default view, with a published
    listing of a major hazard (so it is on the public list)."""
    from tests.supervision.factories import make_listing
    from yingji.registry import services as registry_services
    from yingji.registry.creditcode import generate_credit_code
    from yingji.registry.views_map import DEFAULT_CENTRE
    from yingji.supervision import services as supervision_services

    site = registry_services.create_site(
        world.admin, kind="enterprise", area=world.villages["a1"], sectors=[world.sectors["industry_trade"]],
        # a registered unit (credit code): the public list names it rather than masking the name
        credit_code=generate_credit_code(7, seed=4242), name=XSS, address="大唐街道某路1号", latitude=Decimal(str(DEFAULT_CENTRE[0])),
        longitude=Decimal(str(DEFAULT_CENTRE[1])))
    listing = make_listing(world, site=site)
    supervision_services.publish_notice(world.admin, listing)
    return site


def _watch_dialogs(page) -> list[str]:
    fired: list[str] = []

    def on_dialog(dialog):
        fired.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return fired


def _shows_literally(page, scope):
    """The literal name is in the visible text of ``scope`` and no <img src=x> was made of it."""
    expect(scope).to_be_visible()
    expect(scope).to_contain_text(XSS)
    assert page.locator('img[src="x"]').count() == 0


def test_a_site_named_like_markup_is_text_on_every_page(browser_world, new_page, live_server):
    site = _markup_site(browser_world)
    page = new_page()
    dialogs = _watch_dialogs(page)
    login(page, live_server, "admin", PASSWORD)

    # The map: the site is drawn (canvas) at the centre of the default view; hover → tooltip, click → popup.
    page.goto("/sites/map/")
    expect(page.get_by_test_id("map-total")).to_contain_text("1")
    box = page.get_by_test_id("site-map").bounding_box()
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    # onto the marker (Leaflet's canvas renderer finds the hovered layer on a throttled mousemove;
    # right after the first draw a hover can go unnoticed, so move off and on again until it shows)
    tooltip = page.locator(".leaflet-tooltip")
    for _ in range(20):
        page.mouse.move(centre[0] - 40, centre[1] - 40)
        page.mouse.move(*centre, steps=5)
        if tooltip.count():
            break
        page.wait_for_timeout(250)
    expect(tooltip).to_have_text(XSS)
    _shows_literally(page, tooltip)
    page.mouse.click(*centre)
    popup = page.locator(".leaflet-popup-content")
    expect(popup.get_by_role("link", name=XSS, exact=True)).to_be_visible()
    _shows_literally(page, popup)

    # The list, the detail, the site picker's search results (hazard report, inspection start).
    page.goto("/sites/?q=img")
    _shows_literally(page, page.locator("main"))
    page.goto(f"/sites/{site.pk}/")
    expect(page.locator("h1")).to_contain_text(XSS)
    assert page.locator('img[src="x"]').count() == 0
    for url in ("/hazards/report/?q=img", "/inspections/new/?q=img"):
        page.goto(url)
        picker = page.get_by_test_id("site-picker")
        expect(picker.get_by_role("link", name=XSS, exact=True)).to_be_visible()
        _shows_literally(page, picker)
    page.goto("/supervision/")
    _shows_literally(page, page.locator("main"))

    # The public list of listed major hazards, signed out.
    public = new_page()
    dialogs += _watch_dialogs(public)
    public.goto("/public/major-hazards/")
    _shows_literally(public, public.get_by_test_id("public-listings"))

    page.wait_for_timeout(300)   # an onerror handler would have fired by now
    assert dialogs == []


def test_charts_tooltips_show_names_as_text(browser_world, new_page, live_server):
    """ECharts tooltips are HTML: a sector named like markup is shown literally in the figures
    page's tooltip (yingji.tooltip escapes it)."""
    from tests.hazards.factories import make_hazard
    from yingji.core.models import Sector
    from yingji.stats import services as stats_services

    w = browser_world
    sector = Sector.objects.create(code="xss", name=XSS, department=w.sectors["industry_trade"].department)
    make_hazard(w, w.villages["a1"], sector)
    stats_services.refresh_rollups()

    page = new_page()
    dialogs = _watch_dialogs(page)
    login(page, live_server, "admin", PASSWORD)
    page.goto("/stats/")
    page.wait_for_selector("#chart-sector canvas")
    # show the tooltip of the sector bar the way a hover does
    page.evaluate("""() => echarts.getInstanceByDom(document.getElementById('chart-sector'))
        .dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: 0})""")
    tip = page.locator("#chart-sector div").filter(has_text="onerror").last
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(XSS)
    assert page.locator('img[src="x"]').count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []


def test_irreversible_actions_ask_first(browser_world, new_page, live_server):
    """<form data-confirm>: cancelling the question leaves the site as it was; confirming archives it."""
    from tests.hazards.factories import make_site
    from yingji.registry.models import Site

    site = make_site(browser_world, browser_world.villages["a1"], name="大唐某五金厂")
    page = new_page()
    login(page, live_server, "admin", PASSWORD)
    page.goto(f"/sites/{site.pk}/")
    # htmx evaluates no code from attributes (hx-on, js: values, trigger filters) and adds no <style>
    assert page.evaluate("[htmx.config.allowEval, htmx.config.allowScriptTags, htmx.config.includeIndicatorStyles]") \
        == [False, False, False]
    asked: list[str] = []

    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.locator("main").get_by_role("button", name="归档").click()
    page.wait_for_timeout(300)
    assert asked == ["确定归档该监管对象?"]
    assert Site.objects.get(pk=site.pk).archived_at is None   # cancelled: nothing happened

    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    with page.expect_navigation():
        page.locator("main").get_by_role("button", name="归档").click()
    assert len(asked) == 2
    assert Site.objects.get(pk=site.pk).archived_at is not None


def test_api_docs_page_runs_from_our_own_files(browser_world, new_page, live_server):
    """/api/v1/docs: the vendored Swagger UI lists the operations; every request stays on this
    server (no CDN) and nothing violates the policy (conftest)."""
    page = new_page()
    outside: list[str] = []
    page.on("request", lambda req: req.url.startswith(live_server.url) or req.url.startswith("data:")
            or outside.append(req.url))
    login(page, live_server, "admin", PASSWORD)
    page.goto("/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("yingji")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/sites").first).to_be_visible()
    # "Try it out" with the browser session: the request carries the CSRF token from the data- attribute
    assert page.get_by_test_id("swagger-ui").get_attribute("data-csrf-token")
    assert outside == []
