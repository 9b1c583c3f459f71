"""The home page per role answers "how are we doing": the panels each app contributes
(core.contrib), figures equal to a recount from the records the user may see, links to the
filtered lists, and nothing outside the user's scope."""
from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.stats.conftest import build_data
from tests.supervision.factories import make_listing

pytestmark = pytest.mark.django_db

OPEN = ("reported", "rectifying", "submitted")


@pytest.fixture
def data(world):
    from yingji.hazards import services as hz
    from yingji.stats.services import refresh_rollups

    d = build_data(world)
    d.listing = make_listing(world, hazard=d.hazards["campaign_major"])
    hz.feed_risk(d.site_b.pk)          # an open major hazard turns 店口某五金厂 orange
    refresh_rollups()
    return d


def home(user) -> str:
    client = Client()
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def panels(html: str) -> set[str]:
    return set(re.findall(r'data-panel="([^"]+)"', html))


def recount(user, **filters) -> dict:
    from yingji.hazards.models import Hazard

    live = Hazard.objects.visible_to(user).filter(archived_at__isnull=True, state__in=OPEN, **filters)
    return {"open": live.count(), "overdue": live.filter(is_overdue=True).count(),
            "major": live.filter(level="major").count()}


def test_registries_hold_each_apps_contributions(world):
    from yingji.core import contrib

    keys = contrib.registered()
    assert {"stats.overview", "inspections.campaigns", "supervision.listings", "risk.new", "hazards.follow_up",
            "inspections.mine", "registry.my_sites"} <= set(keys["home"])
    assert {"registry", "hazards", "inspections"} <= set(keys["search"])
    assert {"hazards", "inspections", "supervision"} <= set(keys["work"])


def test_leader_sees_the_county_by_town_equal_to_a_recount(world, data):
    from yingji.stats.contrib import overview

    html = home(world.leader)
    assert {"stats.overview", "inspections.campaigns", "supervision.listings", "risk.new"} <= panels(html)
    assert not {"hazards.follow_up", "registry.my_sites", "inspections.mine"} & panels(html)
    assert "数据截至" in html

    o = overview(world.leader)
    assert o["by"] == "area"
    assert {k: o["totals"][k] for k in ("open", "overdue", "major")} == recount(world.leader)
    rows = {r["label"]: r for r in o["rows"]}
    assert {"大唐街道", "店口镇"} <= set(rows)
    for town in (world.area_a, world.area_b):
        got = {k: rows[town.name][k] for k in ("open", "overdue", "major")}
        assert got == recount(world.leader, area__code__startswith=town.code)
        assert f"/hazards/?state=open&amp;area={town.pk}" in html   # each number links to the filtered list
    # the headline figure is shown and links to the list it counts
    assert re.search(r'href="/hazards/\?state=open" [^>]*data-figure="未销号隐患"><div class="muted">未销号隐患</div>'
                     rf'<div class="stat"[^>]*>{o["totals"]["open"]}</div>', html)


def test_town_officer_sees_their_town_by_village_and_nothing_of_the_other_town(world, data):
    from yingji.stats.contrib import overview

    html = home(world.town_a)
    assert "stats.overview" in panels(html)
    o = overview(world.town_a)
    assert {k: o["totals"][k] for k in ("open", "overdue", "major")} == recount(world.town_a)
    labels = {r["label"] for r in o["rows"]}
    assert labels <= {"大唐街道1村", "大唐街道2村", "大唐街道(本级)"} and "大唐街道1村" in labels
    assert "店口" not in html        # no 店口镇 figures, sites or listings
    for r in o["rows"]:
        if r["label"] == "大唐街道1村":
            assert r["open"] == recount(world.town_a, area__code__startswith=world.villages["a1"].code)["open"]


def test_department_officer_sees_their_sectors(world, data):
    from yingji.stats.contrib import overview

    o = overview(world.dept)
    assert o["by"] == "sector"
    assert [r["label"] for r in o["rows"]] == ["建设施工"]
    assert {k: o["totals"][k] for k in ("open", "overdue", "major")} == recount(world.dept)
    html = home(world.dept)
    assert "按行业领域" in html and "危险化学品" not in html


def test_grid_worker_sees_the_tasks_of_their_community(world, data):
    from yingji.hazards.models import Hazard

    html = home(world.grid)
    assert {"hazards.follow_up", "inspections.mine"} <= panels(html)
    assert "stats.overview" not in panels(html) and "risk.new" not in panels(html)
    shown = {int(n) for n in re.findall(r'href="/hazards/(\d+)/"', html)}
    visible = set(Hazard.objects.visible_to(world.grid).filter(state__in=OPEN, archived_at__isnull=True)
                  .values_list("pk", flat=True))
    assert shown and shown <= visible
    assert data.hazards["sent_back"].pk not in shown      # town B's hazard


def test_enterprise_sees_only_its_own_sites_and_no_government_menu(world, data):
    html = home(world.enterprise)
    assert {"registry.my_sites", "hazards.follow_up"} <= panels(html)
    assert not {"stats.overview", "risk.new", "supervision.listings", "inspections.campaigns"} & panels(html)
    assert "大唐某袜厂" in html and "店口某五金厂" not in html
    assert 'data-testid="area-counts"' not in html and "数据截至" not in html
    nav = html[html.index('<nav class="main">'):html.index("</nav>")]
    for menu in ("统计分析", "专项行动", "挂牌督办", "风险地图", "行政区域", "后台任务", "风险分级规则"):
        assert menu not in nav
    for menu in ("监管对象", "隐患排查治理", "检查"):
        assert menu in nav
    # the government roles keep their menus
    leader_nav = home(world.leader)
    assert "统计分析" in leader_nav and "挂牌督办" in leader_nav


def test_new_risk_lists_the_site_that_turned_orange_within_scope(world, data):
    from yingji.risk.contrib import new_risk_panel

    assert [r.label for r in new_risk_panel(world.leader).links] == ["店口某五金厂"]
    assert new_risk_panel(world.town_a).links == []
    assert "店口某五金厂" in home(world.town_b)


def test_supervision_and_campaign_panels_count_within_scope(world, data):
    from yingji.inspections.contrib import campaigns_panel
    from yingji.supervision.contrib import listings_panel

    assert listings_panel(world.leader).figures[0].value == 1
    assert listings_panel(world.town_a).figures[0].value == 0
    rows = campaigns_panel(world.leader).rows
    assert [r.label for r in rows] == ["消防安全专项整治"]


def test_before_the_first_refresh_the_overview_says_so(world):
    html = home(world.leader)
    assert "统计数据尚未生成" in html


def test_a_user_without_roles_sees_no_panels(world, db):
    from yingji.core import services
    from yingji.core.models import RoleAssignment

    services.revoke_role(world.admin, RoleAssignment.objects.get(user=world.grid))
    html = home(world.grid)
    assert "尚未分配角色" in html and not panels(html)
