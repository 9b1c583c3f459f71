"""The global search box in a real browser: typing shows the results as a drop-down (htmx, no
inline script), within the user's scope; Enter opens the full results page."""
from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, login
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_typing_in_the_search_box(browser_world, new_page, live_server):
    from tests.hazards.factories import make_hazard, make_site

    w = browser_world
    site = make_site(w, w.villages["a1"], w.sectors["industry_trade"], name="<i>诸暨华东</i>袜业")
    make_site(w, w.villages["b1"], name="店口华东五金厂")
    hazard = make_hazard(w, w.villages["a1"], site=site)

    page = new_page()
    login(page, live_server, "town_a", PASSWORD)
    box = page.get_by_test_id("search-box")
    box.press_sequentially("华东", delay=50)
    drop = page.get_by_test_id("search-drop")
    drop.wait_for()
    assert "<i>诸暨华东</i>袜业" in drop.inner_text()      # markup shown as text
    assert "店口华东五金厂" not in drop.inner_text()
    assert page.locator("#search-results i").count() == 0

    box.fill("")
    box.press_sequentially(str(hazard.pk), delay=50)
    page.locator(f'#search-results a[href="/hazards/{hazard.pk}/"]').wait_for()

    box.fill("zjhd")
    box.press("Enter")
    page.wait_for_url("**/search/?q=zjhd")
    assert "<i>诸暨华东</i>袜业" in page.get_by_test_id("search-page").inner_text()

    phone = new_page(**PHONE)
    login(phone, live_server, "town_b", PASSWORD)
    phone.get_by_test_id("search-box").press_sequentially("华东", delay=50)
    phone.get_by_test_id("search-drop").wait_for()
    assert "店口华东五金厂" in phone.get_by_test_id("search-drop").inner_text()
    assert "诸暨华东" not in phone.get_by_test_id("search-drop").inner_text()
