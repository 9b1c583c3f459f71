"""At phone width (375 px) no page scrolls sideways, for every persona.

Each persona visits every page its navigation offers (the entries of ``core.context_processors.NAVIGATION``
it holds the capability for) plus the main detail pages (a site, a hazard, an inspection, a campaign,
a listing) it can see, all filled with long unbroken text, and the page must fit the viewport: a wide
table scrolls inside its own box, long words wrap, badges wrap. The failure names the widest element
that sticks out.

With ``YINGJI_GUIDE_SCREENSHOTS=1`` the grid worker's and the enterprise manager's pages are saved as
phone screenshots for the user guide (docs/guide/img/); normal runs write nothing.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

WIDTH = 375
PHONE_375 = {"viewport": {"width": WIDTH, "height": 812}, "is_mobile": True, "has_touch": True,
             "device_scale_factor": 1}
GUIDE_IMG = Path(__file__).resolve().parents[2] / "docs" / "guide" / "img"
SAVE_GUIDE = os.environ.get("YINGJI_GUIDE_SCREENSHOTS") == "1"
PERSONAS = ["admin", "leader", "dept", "inspector", "town_a", "grid", "enterprise"]
GUIDE_PHONE_PERSONAS = {"grid", "enterprise"}
GUIDE_PHONE_PAGES = {"home", "hazards", "report", "start", "hazard", "site", "inspection", "help", "sites-map"}
# pages reached from buttons rather than the navigation (skipped where the role lacks them)
EXTRA = [("help", "/help/"), ("report", "/hazards/report/"), ("start", "/inspections/new/")]
OPTIONAL = {"report", "start"}

# the widest element whose right edge passes the viewport, as "tag#id.class" (+ its text, cut short)
WIDEST_OFFENDER = """(w) => { let worst = null, right = w + 1;
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= right) continue;
    // an element inside its own scroll box does not widen the page
    let p = el.parentElement, clipped = false;
    while (p && p !== document.body) {
      const ox = getComputedStyle(p).overflowX;
      if (ox === 'auto' || ox === 'scroll' || ox === 'hidden') { clipped = true; break; }
      p = p.parentElement;
    }
    if (clipped) continue;
    worst = el; right = r.right;
  }
  if (!worst) return null;
  let sel = worst.tagName.toLowerCase() + (worst.id ? '#' + worst.id : '') +
    [...worst.classList].map(c => '.' + c).join('');
  let p = worst.parentElement, path = [];
  while (p && p !== document.body && path.length < 3) {
    path.unshift(p.tagName.toLowerCase() + [...p.classList].map(c => '.' + c).join(''));
    p = p.parentElement;
  }
  return path.concat([sel]).join(' > ') + ' right=' + Math.round(right) + ' text=' +
    JSON.stringify((worst.textContent || '').trim().slice(0, 40));
}"""

LONG = "诸暨市大唐街道某某村某某路某某号某某袜业有限公司第二生产车间东侧仓库" * 2
LONG_LATIN = "ZJ-DT-2026-" + "0123456789ABCDEF" * 4


def nav_urls(user) -> list[tuple[str, str]]:
    """(label, url) of every navigation entry ``user`` is offered, from the navigation table."""
    from django.test import RequestFactory

    from yingji.core.context_processors import navigation

    request = RequestFactory().get("/")
    request.user = user
    ctx = navigation(request)
    items = list(ctx["nav_items"]) + [i for g in ctx["nav_groups"] for i in g["items"]]
    return [(str(i["label"]), i["url"]) for i in items]


def build_details(world) -> dict[str, str]:
    """One of each main detail page, with long unbroken names, made through the services."""
    from tests.hazards.factories import make_hazard
    from tests.inspections.factories import completed_inspection, make_campaign
    from tests.supervision.factories import make_listing
    from yingji.registry import services as registry_services
    from yingji.registry.creditcode import generate_credit_code

    sector = world.sectors["industry_trade"]
    site = registry_services.create_site(world.admin, kind="enterprise", area=world.villages["a1"],
                                         sectors=[sector], name=LONG[:60], address=LONG,
                                         credit_code=generate_credit_code(1), latitude="29.713456",
                                         longitude="120.236789", legal_rep="张三丰",
                                         legal_rep_phone="13905751234", safety_manager="李四光",
                                         safety_manager_phone="13905755678", note=LONG_LATIN)
    registry_services.bind_site_manager(world.admin, world.enterprise, site)
    hazard = make_hazard(world, world.villages["a1"], sector, site=site, description=LONG + LONG_LATIN)
    campaign = make_campaign(world, world.county, name=LONG[:50])
    inspection = completed_inspection(world, world.villages["a1"], sector, site=site, campaign=campaign)
    listing = make_listing(world, world.villages["a1"], sector, notice_text=LONG * 2)
    return {"site": f"/sites/{site.pk}/", "hazard": f"/hazards/{hazard.pk}/",
            "inspection": f"/inspections/{inspection.pk}/", "campaign": f"/campaigns/{campaign.pk}/",
            "listing": f"/supervision/{listing.pk}/"}


def slug(url: str) -> str:
    return "-".join(p for p in url.strip("/").split("/") if not p.isdigit()) or "home"


def test_no_page_scrolls_sideways_at_375px(browser_world, new_page, live_server):
    from yingji.core.models import User

    details = build_details(browser_world)
    failures: list[str] = []
    visited = 0
    for persona in PERSONAS:
        user = User.objects.get(username=persona)
        pg = new_page(**PHONE_375)
        login(pg, live_server, persona, PASSWORD)
        pages = nav_urls(user) + [(kind, url) for kind, url in details.items()] + EXTRA
        for label, url in pages:
            resp = pg.goto(url)
            if (label in details and resp.status == 404) or (label in OPTIONAL and resp.status in (403, 404)):
                continue  # out of this persona's scope / role
            assert resp.status == 200, f"{persona} {url}: {resp.status}"
            pg.wait_for_load_state("load")
            visited += 1
            name = slug(url) if label not in details and label not in OPTIONAL | {"help"} else label
            if SAVE_GUIDE and persona in GUIDE_PHONE_PERSONAS and name in GUIDE_PHONE_PAGES:
                GUIDE_IMG.mkdir(parents=True, exist_ok=True)
                pg.screenshot(path=str(GUIDE_IMG / f"phone-{persona}-{name}.png"))
            # a mobile browser widens its layout viewport to fit wide content, so innerWidth is
            # checked against the device width too
            extra = pg.evaluate("Math.max(document.documentElement.scrollWidth, window.innerWidth)") - WIDTH
            if extra > 0:
                failures.append(f"{persona} {url} ({label}): {extra}px too wide; widest: "
                                f"{pg.evaluate(WIDEST_OFFENDER, WIDTH)}")
    assert visited > 60, visited
    assert not failures, "pages scroll sideways at 375 px:\n" + "\n".join(failures)
