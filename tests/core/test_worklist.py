"""The home page's to-do list: per role, what the user can act on now, counted through the access rule."""
from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from tests.hazards.factories import make_hazard, make_site, photo
from yingji.core.worklist import CAP, WorkItem, worklist
from yingji.hazards import services

pytestmark = pytest.mark.django_db


def lines(user) -> dict[str, int]:
    return {str(w.label): w.count for w in worklist(user)}


def test_each_role_sees_the_work_it_can_do(world):
    site = make_site(world, world.villages["a1"], world.sectors["industry_trade"])
    from yingji.registry import services as registry

    registry.bind_site_manager(world.admin, world.enterprise, site)
    make_hazard(world, world.villages["a1"], site=site)                      # 已上报
    accepted = make_hazard(world, world.villages["a1"], site=site)
    services.accept(world.town_a, accepted, responsible_person="张三", deadline=timezone.localdate())
    submitted = make_hazard(world, world.villages["a1"])
    services.accept(world.town_a, submitted, responsible_person="张三", deadline=timezone.localdate())
    services.submit_rectification(world.town_a, submitted, description="已整改", files=[photo()])
    make_hazard(world, world.area_b)                                          # another town
    from yingji.hazards.models import Hazard

    Hazard.objects.filter(pk=accepted.pk).update(deadline=timezone.localdate() - datetime.timedelta(days=1))
    services.escalate_overdue()

    town = lines(world.town_a)
    assert town["待受理隐患"] == 1 and town["整改中隐患"] == 1 and town["待验收销号"] == 1
    assert town["超期未整改"] == 1 and town["我进行中的检查"] == 0
    assert lines(world.town_b)["待受理隐患"] == 1  # only its own town's
    # the site's own hazards: it rectifies; it accepts and verifies only what it found itself
    # (hazards.models.HANDLING) — these were found by the county administrator
    ent = lines(world.enterprise)
    assert ent["待受理隐患"] == 0 and ent["整改中隐患"] == 1 and ent["待验收销号"] == 0
    grid = lines(world.grid)  # reports and patrols, never accepts or verifies
    assert "待受理隐患" not in grid and "待验收销号" not in grid and "我进行中的检查" in grid
    leader = lines(world.leader)  # reads only
    assert set(leader) == {"超期未整改", "挂牌督办中"} and leader["超期未整改"] == 1


def test_home_page_links_each_line_to_its_list(world, client):
    make_hazard(world, world.villages["a1"])
    client.force_login(world.town_a)
    html = client.get("/").content.decode()
    assert 'data-testid="worklist"' in html and 'href="/hazards/?state=reported"' in html
    assert "待受理隐患" in html


def test_counts_are_bounded():
    assert WorkItem("x", CAP, "/").shown == "999+" and WorkItem("x", 12, "/").shown == "12"
