"""The global search (header box, /search/, /api/v1/search): sites by name, credit code or pinyin
initials, hazards and inspections by number — always within the user's scope, bounded, and
never a 500 whatever is typed."""
from __future__ import annotations

import pytest
from django.test import Client

from tests.hazards.factories import make_hazard, make_site

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(world):
    from yingji.registry import services as registry_services

    site_a = registry_services.create_site(world.admin, kind="enterprise", area=world.villages["a1"],
                                           name="诸暨华东袜业有限公司", credit_code="91330681MA2BX1230F",
                                           sectors=[world.sectors["industry_trade"]])
    site_b = make_site(world, world.villages["b1"], world.sectors["industry_trade"], name="店口华东五金厂")
    return {
        "site_a": site_a, "site_b": site_b,
        "hazard_a": make_hazard(world, world.villages["a1"], world.sectors["industry_trade"], site=site_a),
        "hazard_construction": make_hazard(world, world.villages["a1"], world.sectors["construction"]),
    }


def search(user, q, partial=True) -> str:
    client = Client()
    client.force_login(user)
    params = {"q": q}
    headers = {"HTTP_HX_REQUEST": "true"} if partial else {}
    response = client.get("/search/", params, **headers)
    assert response.status_code == 200
    return response.content.decode()


def test_a_site_by_name_within_scope_only(world, records):
    html = search(world.town_a, "华东")
    assert "诸暨华东袜业有限公司" in html and f'/sites/{records["site_a"].pk}/' in html
    assert "店口华东五金厂" not in html
    html_b = search(world.town_b, "华东")
    assert "店口华东五金厂" in html_b and "诸暨华东袜业有限公司" not in html_b
    assert "诸暨华东袜业有限公司" not in search(world.town_b, "诸暨华东袜业")


def test_a_site_by_pinyin_initials_and_credit_code(world, records):
    html = search(world.town_a, "zjhd")
    assert "诸暨华东袜业有限公司" in html
    assert "诸暨华东袜业有限公司" in search(world.town_a, records["site_a"].credit_code[:10])


def test_a_hazard_and_an_inspection_by_number(world, records):
    from tests.inspections.factories import ensure_checklist, start

    h = records["hazard_a"]
    for q in (str(h.pk), f"#{h.pk}"):
        html = search(world.town_a, q)
        assert f'/hazards/{h.pk}/' in html
    assert f'/hazards/{h.pk}/' not in search(world.town_b, str(h.pk))
    # the department officer (construction) finds no hazard outside their sectors
    assert f'/hazards/{h.pk}/' not in search(world.dept, str(h.pk))
    c = records["hazard_construction"]
    assert f'/hazards/{c.pk}/' in search(world.dept, str(c.pk))
    ensure_checklist()
    i = start(world, records["site_a"], "town", actor=world.town_a)
    assert f'/inspections/{i.pk}/' in search(world.town_a, str(i.pk))
    assert f'/inspections/{i.pk}/' not in search(world.town_b, str(i.pk))


def test_each_provider_is_bounded(world):
    for n in range(12):
        make_site(world, world.villages["a1"], name=f"同名测试场所{n}")
    html = search(world.town_a, "同名测试场所")
    assert html.count('data-kind="registry"') == 8
    assert "查看全部结果" in html


@pytest.mark.parametrize("q", ["", "   ", "<script>alert(1)</script>", "' OR 1=1 --", "%", "_", "\\", "x" * 500,
                               "#", "#99999999999999999999", "😀", "\u202e", "a\x00b"])
def test_empty_and_hostile_queries_never_fail(world, records, q):
    client = Client()
    client.force_login(world.town_a)
    for partial in (True, False):
        response = client.get("/search/", {"q": q}, **({"HTTP_HX_REQUEST": "true"} if partial else {}))
        assert response.status_code in (200, 422)
        body = response.content.decode()
        assert "<script>alert(1)</script>" not in body
    api = client.get("/api/v1/search", {"q": q})
    assert api.status_code in (200, 422), api.content
    if api.status_code == 422:
        assert api.json()["code"] == "invalid_input"


def test_markup_in_a_site_name_is_shown_as_text(world):
    make_site(world, world.villages["a1"], name="<b>坏</b>公司")
    html = search(world.town_a, "坏")
    assert "&lt;b&gt;坏&lt;/b&gt;公司" in html and "<b>坏</b>" not in html


def test_the_full_page_and_the_api(world, records, api_client):
    html = search(world.town_a, "华东", partial=False)
    assert 'data-testid="search-page"' in html and "诸暨华东袜业有限公司" in html
    data = api_client.as_user(world.town_a).get("/api/v1/search", q="华东").json()
    assert data["q"] == "华东"
    titles = [r["title"] for g in data["groups"] for r in g["results"]]
    assert titles == ["诸暨华东袜业有限公司"]
    assert api_client.as_user(world.town_b).get("/api/v1/search", q=str(records["hazard_a"].pk)).json()["groups"] == []
    assert Client().get("/api/v1/search", {"q": "华东"}).status_code == 401
    assert Client().get("/search/", {"q": "华东"}).status_code == 302


def test_the_header_has_the_search_box(world):
    client = Client()
    client.force_login(world.town_a)
    html = client.get("/").content.decode()
    assert 'hx-get="/search/"' in html and 'hx-trigger="input changed delay:300ms, search"' in html
