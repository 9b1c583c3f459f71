"""The figures page and API: the same numbers, the user's scope, "as of" everywhere, Chinese
labels and errors, the refresh button for administrators."""
from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.conftest import login
from yingji.core.models import Job
from yingji.stats import services

pytestmark = pytest.mark.django_db

URL = "/stats/"


def page(client, user, **params):
    login(client, user)
    return client.get(URL, params)


def test_url_name():
    assert reverse("stats:index") == URL


@pytest.mark.parametrize("persona", ["leader", "town_a", "dept", "enterprise"])
def test_api_returns_the_page_numbers(world, data, client, api_client, persona):
    services.refresh_rollups()
    user = getattr(world, persona)
    params = {"from": f"{timezone.localdate().year - 1}-01"}
    resp = page(client, user, **params)
    assert resp.status_code == 200
    hz, insp = resp.context["hz"].as_dict(), resp.context["insp"].as_dict()
    api = api_client.as_user(user).get("/api/v1/stats/hazards", **params)
    assert api.status_code == 200, api.content
    body = api.json()
    assert body["totals"] == hz["totals"]
    for name in ("state", "level", "area", "sector", "campaign", "month", "source"):
        assert body[f"by_{name}"] == [{**r, "area_id": r.get("area_id")} for r in hz[f"by_{name}"]], name
    assert body["live"] is hz["live"] and body["filters"]["from"] == params["from"]
    if not hz["live"]:  # the API writes milliseconds
        assert abs(datetime.datetime.fromisoformat(body["as_of"]) - hz["as_of"]) < datetime.timedelta(milliseconds=1)
    api = api_client.get("/api/v1/stats/inspections", **params).json()
    assert api["totals"] == insp["totals"]
    assert api["by_mode"] == [{**r, "area_id": r.get("area_id")} for r in insp["by_mode"]]
    # the page shows the same totals
    html = resp.content.decode()
    found = re.search(r'data-figure="found">(\d+)<', html).group(1)
    assert int(found) == body["totals"]["found"]
    assert f'data-figure="inspections">{api["totals"]["inspections"]}<' in html


def test_page_is_chinese_with_charts_tables_and_as_of(world, data, client):
    run = services.refresh_rollups()
    resp = page(client, world.town_a)
    html = resp.content.decode()
    for text in ("统计分析", "数据截至", "整改率", "排查整治隐患", "超期未整改", "按区域", "按行业领域", "按专项行动",
                 "检查统计", "按检查方式", "大唐街道1村", "已销号"):
        assert text in html, text
    assert timezone.localtime(run.as_of).strftime("%Y-%m-%d %H:%M") in html
    assert "vendor/echarts/echarts.min.js" in html and 'id="chart-month"' in html
    assert 'id="stats-chart-data"' in html and 'name="viewport"' in html
    assert "店口镇" not in html  # town B is not town A's to see
    assert 'data-testid="refresh-figures"' not in html
    # drill-down links to the villages keep the other filters
    village = world.villages["a1"]
    assert f"area={village.pk}" in html


def test_enterprise_sees_live_figures_of_its_site(world, data, client):
    resp = page(client, world.enterprise)
    html = resp.content.decode()
    assert resp.context["hz"].live and "实时统计" in html
    assert resp.context["hz"].totals["found"] == 1


def test_before_the_first_refresh_the_page_says_so(world, data, client):
    html = page(client, world.leader).content.decode()
    assert "统计数据尚未生成" in html and "请联系管理员刷新" in html
    html = page(client, world.admin).content.decode()
    assert 'data-testid="refresh-figures"' in html


def test_refresh_button(world, data, client):
    login(client, world.town_a)
    assert client.post(reverse("stats:refresh")).status_code == 403
    assert not Job.objects.filter(kind="stats.refresh").exists()
    login(client, world.admin)
    resp = client.post(reverse("stats:refresh"), {"next": "/stats/?level=major"})
    assert resp.status_code == 302 and resp["Location"] == "/stats/?level=major"
    job = Job.objects.get(kind="stats.refresh")
    resp = client.post(reverse("stats:refresh"), {"next": "https://example.com/"}, follow=True)
    assert resp.redirect_chain[-1][0] == URL
    assert f"已排队刷新任务 #{job.pk}" in resp.content.decode()
    assert Job.objects.filter(kind="stats.refresh").count() == 1
    assert client.get(reverse("stats:refresh")).status_code == 405


def test_api_refresh(world, data, api_client):
    assert api_client.as_user(world.leader).post("/api/v1/stats/refresh").status_code == 403
    resp = api_client.as_user(world.admin).post("/api/v1/stats/refresh")
    assert resp.status_code == 202 and resp.json()["status"] == "queued"


@pytest.mark.parametrize("params, field, message", [
    ({"from": "2026-13"}, "from", "起始月份格式不正确,应为年-月,如2026-03"),
    ({"to": "abc"}, "to", "截止月份格式不正确"),
    ({"from": "2026-05", "to": "2026-02"}, "from", "起始月份不能晚于截止月份"),
    ({"from": "2001-01", "to": "2026-01"}, "from", "统计期间不能超过120个月"),
    ({"from": "1999-01"}, "from", "起始月份超出范围"),
    ({"level": "huge"}, "level", "隐患等级无效"),
    ({"campaign": "x"}, "campaign", "专项行动不存在"),
    ({"area": "999999"}, "area", "区域不存在"),
])
def test_bad_filters_are_clear_chinese_errors(world, data, api_client, client, params, field, message):
    resp = api_client.as_user(world.town_a).get("/api/v1/stats/hazards", **params)
    assert resp.status_code == 422
    body = resp.json()
    assert message in body["message"] and field in body["detail"]
    resp = page(client, world.town_a, **params)
    assert resp.status_code == 400 and message in resp.content.decode()


def test_out_of_scope_filters_look_absent(world, data, api_client):
    town_a = api_client.as_user(world.town_a)
    resp = town_a.get("/api/v1/stats/hazards", area=world.area_b.pk)
    assert resp.status_code == 422 and resp.json()["message"] == "区域不存在"
    dept = api_client.as_user(world.dept)
    resp = dept.get("/api/v1/stats/hazards", sector=world.sectors["industry_trade"].pk)
    assert resp.status_code == 422 and resp.json()["message"] == "行业领域无效"
    assert dept.get("/api/v1/stats/hazards", sector="construction").status_code == 200


def test_filter_choices_offer_only_what_the_user_may_see(world, data, client):
    resp = page(client, world.dept)
    assert [s.code for s in resp.context["sector_choices"]] == ["construction"]
    resp = page(client, world.town_a)
    areas = {a.name for a in resp.context["area_choices"]}
    assert areas == {"大唐街道", "大唐街道1村", "大唐街道2村"}
    assert [c.name for c in resp.context["campaign_choices"]] == ["消防安全专项整治"]


def test_api_needs_authentication(client):
    resp = client.get("/api/v1/stats/hazards")
    assert resp.status_code == 401
    resp = client.get(URL)
    assert resp.status_code == 302


def test_api_filters_by_campaign_and_level(world, data, api_client):
    services.refresh_rollups()
    leader = api_client.as_user(world.leader)
    body = leader.get("/api/v1/stats/hazards", campaign=data.campaign.pk).json()
    assert body["totals"]["found"] == 2 and body["totals"]["major"] == 1
    assert body["filters"]["campaign"] == {"id": data.campaign.pk, "name": "消防安全专项整治"}
    body = leader.get("/api/v1/stats/hazards", level="major", **{"from": f"{timezone.localdate().year - 1}-01"}).json()
    assert body["totals"]["found"] == body["totals"]["major"] == 3
    insp = leader.get("/api/v1/stats/inspections", campaign=data.campaign.pk).json()
    assert insp["totals"] == {"inspections": 2, "completed": 2, "items_total": 6, "items_failed": 2,
                              "hazards_found": 2}
