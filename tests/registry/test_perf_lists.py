"""The site list page and API stay within a fixed number of queries however many rows a page has
(no N+1), and their fast paths give what the plain paths give."""
from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from yingji.registry import api as registry_api
from yingji.registry import services
from yingji.registry.models import Site

# Session + user, the user's grants (2), the page of sites, the four filter dropdowns (areas,
# sectors, industries, traits; the last three cached for a minute), the unread-notification
# badge of the base template.
PAGE_QUERIES = 10
# Token, grants (2), the page of sites, its sectors, traits and hosts.
API_QUERIES = 7


def _many_sites(w, n: int) -> list[Site]:
    park = services.create_site(w.admin, kind="park", name="性能测试园区", area=w.villages["b1"], address="店口镇园区路1号",
                                sectors=[w.sectors["industry_trade"]])
    out = []
    for i in range(n):
        site = services.create_site(w.admin, kind="small_place", name=f"性能测试小店{i:02d}", area=w.villages["b1"],
                                    address=f"店口镇测试路{i}号", industry="52",
                                    sectors=[w.sectors["industry_trade"], w.sectors["hazchem"]], traits=["gas"])
        services.set_host(w.admin, site, park)
        out.append(site)
    return out


def _count(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_list_page_queries_do_not_grow_with_the_page(reg, client, django_assert_max_num_queries):
    w = reg.world
    _many_sites(w, 55)
    client.force_login(w.admin)
    client.get("/sites/")  # warm caches (content types, translations)
    one = _count(lambda: client.get("/sites/", {"q": "性能测试小店00"}))
    with django_assert_max_num_queries(PAGE_QUERIES):
        r = client.get("/sites/", {"q": "性能测试小店"})
    assert r.status_code == 200
    body = r.content.decode()
    assert body.count('href="/sites/') >= 50 and "下一页" in body
    assert _count(lambda: client.get("/sites/", {"q": "性能测试小店"})) == one


def test_api_list_queries_do_not_grow_with_the_page(reg, api_client, django_assert_max_num_queries):
    w = reg.world
    _many_sites(w, 55)
    c = api_client.as_user(w.admin)
    c.get("/api/v1/sites")
    one = _count(lambda: c.get("/api/v1/sites", q="性能测试小店00"))
    with django_assert_max_num_queries(API_QUERIES):
        r = c.get("/api/v1/sites", q="性能测试小店", limit=50)
    assert r.status_code == 200 and len(r.json()["items"]) == 50
    assert _count(lambda: c.get("/api/v1/sites", q="性能测试小店", limit=50)) == one


def test_api_page_items_equal_the_detail_shape(reg, api_client):
    """The list builds its items in bulk; each must equal what the detail endpoint's builder
    gives for the same site (minus tenants, which only the detail lists)."""
    w = reg.world
    sites = _many_sites(w, 3)
    items = Site.objects.filter(pk__in=[s.pk for s in sites] + [reg.socks.pk, reg.park.pk]) \
        .select_related("area", "industry").order_by("-id")
    fast = registry_api._page_out(list(items), w.admin)
    for site, item in zip(items, fast):
        slow = registry_api._site_out(site, w.admin)
        slow["sectors"] = [{"id": s.pk, "code": s.code, "name": s.name} for s in slow["sectors"]]
        slow["industry"] = None if slow["industry"] is None else {
            "code": slow["industry"].code, "level": slow["industry"].level, "section": slow["industry"].section,
            "name": slow["industry"].name}
        slow["area"] = {"id": slow["area"].pk, "code": slow["area"].code, "name": slow["area"].name}
        assert item == slow
    c = api_client.as_user(w.admin)
    got = {i["id"]: i for i in c.get("/api/v1/sites", q="性能测试小店").json()["items"]}
    one = got[sites[0].pk]
    assert one["host"]["name"] == "性能测试园区"
    assert [s["code"] for s in one["sectors"]] == sorted([s["code"] for s in one["sectors"]],
                                                         key=lambda c: [x.code for x in
                                                                        sites[0].sectors.all()].index(c))
    assert one["traits"] == ["gas"] and one["industry"]["code"] == "52" and one["area"]["name"]


def test_town_officer_page_hides_a_host_outside_their_scope(reg, api_client):
    w = reg.world
    tenant = services.create_site(w.admin, kind="small_place", name="挂靠外镇的小店", area=w.villages["a1"],
                                  address="大唐街道测试路1号")
    services.set_host(w.admin, tenant, reg.pipes)  # the host is in town B
    c = api_client.as_user(w.town_a)
    item = next(i for i in c.get("/api/v1/sites", q="挂靠外镇").json()["items"] if i["id"] == tenant.pk)
    assert item["host"] is None


def test_filter_controls_keep_choices_selection_and_escape(reg, client):
    w = reg.world
    client.force_login(w.admin)
    body = client.get("/sites/", {"q": '"><b>x', "area": w.area_a.pk, "industry": "C", "colour": "red",
                                  "archived": "on"}).content.decode()
    assert '"><b>x' not in body and "&quot;&gt;&lt;b&gt;x" in body
    assert '<option value="C" selected>' in body
    assert f'<option value="{w.area_a.pk}" selected>大唐街道</option>' in body
    assert '<option value="red" selected>' in body
    assert 'name="archived" id="id_archived" checked' in body
    # an invalid choice is a Chinese form error, not a 500
    r = client.get("/sites/", {"colour": "purple"})
    assert r.status_code == 400 and "purple" in r.content.decode()


def test_api_page_is_what_the_response_schema_gives(reg, api_client):
    """The list renders its page without re-validating it: it must be exactly what validating
    it against ``SitePage`` and rendering that gives."""
    import json

    from django.test import RequestFactory
    from yingji.api import api

    w = reg.world
    _many_sites(w, 2)
    c = api_client.as_user(w.admin)
    got = c.get("/api/v1/sites").json()
    items = list(Site.objects.visible_to(w.admin).filter(archived_at__isnull=True)
                 .select_related("area", "industry").order_by("-id")[:50])
    page = {"items": registry_api._page_out(items, w.admin), "next_cursor": None}
    validated = registry_api.SitePage.model_validate(page).model_dump()
    request = RequestFactory().get("/api/v1/sites")
    expected = json.loads(api.create_response(request, validated, status=200).content)
    assert got == expected
    assert set(got["items"][0]) == set(registry_api.SiteOut.model_fields)


def test_reference_dropdowns_follow_changes(reg, client):
    from yingji.core.models import Sector

    w = reg.world
    client.force_login(w.admin)
    assert "性能测试领域" not in client.get("/sites/").content.decode()
    Sector.objects.create(code="perf_test", name="性能测试领域", department=w.sectors["hazchem"].department)
    assert "性能测试领域" in client.get("/sites/").content.decode()


def test_area_filter_is_literal_ids_and_skipped_when_it_covers_the_scope(reg):
    from yingji.registry.queries import site_search

    w = reg.world
    own = site_search(w.town_a, area=w.area_a.pk)
    assert str(own.query).count("core_area") == str(site_search(w.town_a).query).count("core_area")
    assert set(own.values_list("pk", flat=True)) == set(site_search(w.town_a).values_list("pk", flat=True))
    village = site_search(w.town_a, area=w.villages["a1"].pk)
    assert set(village.values_list("pk", flat=True)) == {reg.socks.pk, reg.works.pk, reg.park.pk}
    assert "LIKE" not in str(site_search(w.admin, area=w.villages["a1"].pk).query)
    # another town's area is still filtered (to nothing) for a town officer
    assert not site_search(w.town_a, area=w.area_b.pk).exists()
