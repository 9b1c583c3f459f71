"""The site profile's activity timeline: inspections and hazards of the site, only what the user may see."""
from __future__ import annotations

import pytest
from django.test import Client

from tests.hazards.factories import make_hazard, make_site
from yingji.inspections import services as inspections

pytestmark = pytest.mark.django_db


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_site_profile_lists_inspections_and_hazards(world):
    site = make_site(world, world.villages["a1"], world.sectors["industry_trade"], name="大唐某袜厂")
    other = make_site(world, world.villages["a1"], world.sectors["industry_trade"], name="隔壁袜厂")
    inspection = inspections.start_inspection(world.town_a, site, "town", place="车间")
    major = make_hazard(world, world.villages["a1"], site=site, level="major", title="粉尘除尘系统未接地",
                        description="除尘系统未可靠接地")
    make_hazard(world, world.villages["a1"], site=other, title="隔壁的隐患")

    profile = as_user(world.town_a).get(f"/sites/{site.pk}/").content.decode()
    assert f'hx-get="/sites/{site.pk}/activity/"' in profile

    html = as_user(world.town_a).get(f"/sites/{site.pk}/activity/").content.decode()
    assert "未销号隐患 1 处" in html
    assert f'href="/hazards/{major.pk}/"' in html and "重大" in html
    assert f'href="/inspections/{inspection.pk}/"' in html and "镇街检查" in html and "检查中" in html
    assert "隔壁的隐患" not in html
    assert f'/inspections/new/?site={site.pk}' in html


def test_activity_follows_the_access_rule(world):
    site = make_site(world, world.villages["a1"], world.sectors["industry_trade"])
    make_hazard(world, world.villages["a1"], site=site, title="消防通道堵塞")
    assert as_user(world.town_b).get(f"/sites/{site.pk}/activity/").status_code == 404
    assert Client().get(f"/sites/{site.pk}/activity/").status_code == 302
    empty = make_site(world, world.villages["a1"])
    html = as_user(world.leader).get(f"/sites/{empty.pk}/activity/").content.decode()
    assert "暂无检查和隐患记录" in html and "未销号隐患 0 处" in html
