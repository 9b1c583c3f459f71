"""The risk map: server-side grid clustering over the list's own query (``site_search``), scoped
and filtered exactly like the list, bounded in size, with Chinese errors; the page works with and
without a tile server."""
from __future__ import annotations

from decimal import Decimal

import pytest

from yingji.core import audit
from yingji.registry import maps, services
from yingji.registry.models import RiskColour, Site
from yingji.registry.queries import site_search

from ..conftest import login

PHONE = ("Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0 Mobile Safari/537.36")
EVERYWHERE = "119.5,29.0,121.0,30.5"      # the whole test county
TOWN_A_ONLY = "120.2,29.77,120.3,29.82"   # around 大唐街道's sites


class MapWorld:
    def __init__(self, world):
        self.world = world
        self.a = {}   # town A sites by key
        self.b = {}   # town B sites by key


def _site(admin, name, area, lat=None, lng=None, colour=None, kind="small_place", **extra):
    site = services.create_site(admin, kind=kind, name=name, area=area, latitude=lat, longitude=lng, **extra)
    # Fixed colours for the clustering tests (in production the risk engine sets them).
    Site.objects.filter(pk=site.pk).update(risk_colour=colour)
    site.risk_colour = colour
    return site


@pytest.fixture
def mw(world):
    admin, v, g = world.admin, world.villages, world.grids
    m = MapWorld(world)
    with audit.context(actor=admin, request_id="map-setup"):
        # Town A: three sites close together in grid a1g1, one elsewhere in a1, one in a2, one unlocated.
        m.a["y"] = _site(admin, "大唐袜业商行一", g["a1g1"], "29.787000", "120.221000", "yellow")
        m.a["r"] = _site(admin, "大唐袜业商行二", g["a1g1"], "29.787100", "120.221200", "red")
        m.a["n"] = _site(admin, "大唐便利店", g["a1g1"], "29.787200", "120.221400", None)
        m.a["o"] = _site(admin, "大唐五金店", v["a1"], "29.790000", "120.230000", "orange",
                         sectors=[world.sectors["industry_trade"]])
        m.a["bl"] = _site(admin, "大唐小餐馆", v["a2"], "29.800000", "120.250000", "blue")
        m.a["nowhere"] = _site(admin, "大唐无坐标小店", v["a2"], colour="red")
        m.a["old"] = _site(admin, "大唐已关停作坊", v["a2"], "29.801000", "120.251000", "red")
        services.archive_site(admin, m.a["old"], reason="已关停")
        # Town B: two close together, one further away, one unlocated.
        m.b["r"] = _site(admin, "店口管件店", v["b1"], "29.870000", "120.050000", "red")
        m.b["bl"] = _site(admin, "店口水暖店", g["b1g1"], "29.870200", "120.050200", "blue")
        m.b["n"] = _site(admin, "店口理发店", v["b2"], "29.880000", "120.060000", None)
        m.b["nowhere"] = _site(admin, "店口无坐标小店", v["b2"])
    return m


def located_in(qs, bbox: str):
    w, s, e, n = (Decimal(x) for x in bbox.split(","))
    return qs.filter(latitude__isnull=False, longitude__isnull=False, latitude__gte=s, latitude__lte=n,
                     longitude__gte=w, longitude__lte=e)


def run(user, bbox=EVERYWHERE, zoom=10, **filters):
    return maps.site_map(user, maps.parse_bbox(bbox), zoom, filters)


def counted(result) -> int:
    return sum(c["count"] for c in result["clusters"]) + len(result["points"])


def ids(result) -> set[int]:
    return {p["id"] for p in result["points"]}


# ---------------------------------------------------------------- clustering

@pytest.mark.parametrize("zoom", [3, 8, 10, 12, 14, 15, 16, 18])
@pytest.mark.parametrize("persona", ["admin", "town_a", "town_b", "grid", "dept", "inspector"])
def test_clusters_sum_to_visible_located_sites_in_bbox(mw, persona, zoom):
    user = getattr(mw.world, persona)
    for bbox in (EVERYWHERE, TOWN_A_ONLY):
        result = run(user, bbox, zoom)
        expected = located_in(site_search(user), bbox).count()
        assert counted(result) == result["total"] == expected, (persona, zoom, bbox)
        assert len(result["clusters"]) + len(result["points"]) <= maps.MAX_FEATURES


def test_low_zoom_clusters_and_colour_breakdown(mw):
    result = run(mw.world.admin, zoom=8)
    assert result["points"] == [] or all(p["url"].startswith("/sites/") for p in result["points"])
    assert result["total"] == 8        # 5 located live sites in A + 3 in B; archived and unlocated left out
    by_colour = {c: 0 for c in ["red", "orange", "yellow", "blue", "none"]}
    for c in result["clusters"]:
        assert sum(c["colours"].values()) == c["count"]
        assert c["colour"] == maps.dominant_colour(c["colours"])
        for k, n in c["colours"].items():
            by_colour[k] += n
    for p in result["points"]:
        by_colour[p["colour"]] += 1
    assert by_colour == {"red": 2, "orange": 1, "yellow": 1, "blue": 2, "none": 2}


def test_high_zoom_returns_individual_points_with_detail_links(mw):
    result = run(mw.world.admin, bbox="120.2205,29.7865,120.2220,29.7875", zoom=18)
    assert result["clusters"] == []
    assert ids(result) == {mw.a["y"].pk, mw.a["r"].pk, mw.a["n"].pk}
    point = next(p for p in result["points"] if p["id"] == mw.a["r"].pk)
    assert point == {"id": mw.a["r"].pk, "name": "大唐袜业商行二", "lat": 29.7871, "lng": 120.2212, "colour": "red",
                     "url": f"/sites/{mw.a['r'].pk}/"}
    assert next(p for p in result["points"] if p["id"] == mw.a["n"].pk)["colour"] == "none"


def test_single_site_cells_become_points(mw):
    # At zoom 13 a cell is ~0.0055°: the a1g1 trio forms one cluster, the lone sites are points.
    result = run(mw.world.admin, bbox=TOWN_A_ONLY, zoom=13)
    assert [c["count"] for c in result["clusters"]] == [3]
    assert result["clusters"][0]["colours"] == {"red": 1, "orange": 0, "yellow": 1, "blue": 0, "none": 1}
    assert result["clusters"][0]["colour"] == "red"   # tie between rated colours: the more severe wins
    assert ids(result) == {mw.a["o"].pk, mw.a["bl"].pk}


def test_dominant_colour():
    assert maps.dominant_colour({"red": 1, "blue": 5, "none": 9}) == "blue"
    assert maps.dominant_colour({"orange": 2, "yellow": 2}) == "orange"
    assert maps.dominant_colour({"none": 3}) == "none"


def test_response_size_is_bounded(mw, monkeypatch):
    monkeypatch.setattr(maps, "MAX_FEATURES", 4)
    for zoom in (12, 16, 22):
        result = run(mw.world.admin, zoom=zoom)
        assert len(result["clusters"]) + len(result["points"]) <= 4, zoom
        assert counted(result) == 8
    # A world-sized bbox at the closest zoom still holds few cells.
    cell = maps.cell_size(22, maps.parse_bbox("-180,-90,180,90"))
    assert (360 / cell + 1) * (180 / cell + 1) <= 4 * 2 + 4


def test_unlocated_sites_are_counted_not_drawn(mw):
    result = run(mw.world.admin)
    assert result["unlocated"] == 2
    assert mw.a["nowhere"].pk not in ids(result)
    assert run(mw.world.town_b)["unlocated"] == 1
    assert run(mw.world.admin, colour="red")["unlocated"] == 1


def test_unlocated_count_can_be_skipped_when_only_panning(mw, api_client):
    api = api_client.as_user(mw.world.admin)
    full = api.get("/api/v1/map/sites", bbox=EVERYWHERE, zoom="10").json()
    panned = api.get("/api/v1/map/sites", bbox=EVERYWHERE, zoom="10", with_unlocated="0").json()
    assert full["unlocated"] == 2 and panned["unlocated"] is None
    assert panned["total"] == full["total"] == 8 and panned["clusters"] == full["clusters"]


def test_archived_only_when_asked(mw):
    admin = mw.world.admin
    bbox = "120.24,29.79,120.26,29.81"
    assert ids(run(admin, bbox, 18)) == {mw.a["bl"].pk}
    with_archived = maps.site_map(admin, maps.parse_bbox(bbox), 18, {}, include_archived=True)
    assert ids(with_archived) == {mw.a["bl"].pk, mw.a["old"].pk}


# ---------------------------------------------------------------- scope

def test_town_b_never_sees_town_a(mw):
    town_b = mw.world.town_b
    a_ids = {s.pk for s in mw.a.values()}
    for zoom in (8, 12, 16, 18):
        result = run(town_b, zoom=zoom)
        assert result["total"] == 3
        assert not ids(result) & a_ids
    # Zoomed right onto town A's sites: nothing at all.
    close = run(town_b, bbox=TOWN_A_ONLY, zoom=18)
    assert close["clusters"] == [] and close["points"] == [] and close["total"] == 0
    close = run(town_b, bbox=TOWN_A_ONLY, zoom=10)
    assert close["total"] == 0
    # Town A does see them.
    assert run(mw.world.town_a, bbox=TOWN_A_ONLY, zoom=18)["total"] == 5


def test_grid_worker_and_sector_officer_see_their_part(mw):
    assert ids(run(mw.world.grid, zoom=18, bbox=TOWN_A_ONLY)) == {mw.a[k].pk for k in ("y", "r", "n", "o")}
    assert ids(run(mw.world.inspector, zoom=18)) == {mw.a["o"].pk}
    assert run(mw.world.enterprise, zoom=8)["total"] == 0


def test_api_scope_town_b(mw, api_client):
    resp = api_client.as_user(mw.world.town_b).get("/api/v1/map/sites", bbox=EVERYWHERE, zoom="18")
    assert resp.status_code == 200
    body = resp.json()
    assert body["total"] == 3 and body["unlocated"] == 1
    assert {p["id"] for p in body["points"]} == {s.pk for k, s in mw.b.items() if k != "nowhere"}


# ---------------------------------------------------------------- filters shared with the list

@pytest.mark.parametrize("colour", [c.value for c in RiskColour])
def test_colour_filter_matches_list(mw, client, colour):
    admin = mw.world.admin
    login(client, admin)
    listed = client.get("/sites/", {"colour": colour})
    assert listed.status_code == 200
    listed_ids = {s.pk for s in listed.context["sites"]}
    located = {s.pk for s in located_in(site_search(admin, colour=colour), EVERYWHERE)}
    result = run(admin, zoom=18, colour=colour)
    assert ids(result) == located == {pk for pk in listed_ids if pk in located}
    # And the colour breakdown of the unfiltered map equals the list's count per colour.
    clustered = run(admin, zoom=8)
    per_colour = sum(c["colours"][colour] for c in clustered["clusters"]) + \
        sum(1 for p in clustered["points"] if p["colour"] == colour)
    assert per_colour == len(located)


def test_other_filters_match_list(mw, api_client):
    admin, w = mw.world.admin, mw.world
    api = api_client.as_user(admin)
    cases = [{"q": "袜业"}, {"q": "dtwy"}, {"area": str(w.area_b.pk)}, {"area": str(w.villages["a1"].pk)},
             {"sector": "industry_trade"}, {"kind": "small_place"}, {"status": "operating"},
             {"q": "大唐", "colour": "red"}]
    for filters in cases:
        expected = located_in(site_search(admin, **filters), EVERYWHERE)
        body = api.get("/api/v1/map/sites", bbox=EVERYWHERE, zoom="18", **filters).json()
        assert {p["id"] for p in body["points"]} == set(expected.values_list("pk", flat=True)), filters
        low = api.get("/api/v1/map/sites", bbox=EVERYWHERE, zoom="9", **filters).json()
        assert low["total"] == expected.count(), filters
    # The list API's parameter name works too.
    body = api.get("/api/v1/map/sites", bbox=EVERYWHERE, zoom="18", area_id=str(w.area_b.pk)).json()
    assert body["total"] == 3


def test_bad_filter_is_the_lists_chinese_error(mw, api_client):
    resp = api_client.as_user(mw.world.admin).get("/api/v1/map/sites", bbox=EVERYWHERE, zoom="10", colour="purple")
    assert resp.status_code == 422
    assert resp.json()["message"] == "风险等级无效"
    resp = api_client.as_user(mw.world.admin).get("/api/v1/map/sites", bbox=EVERYWHERE, zoom="10", area="999999")
    assert resp.status_code == 422 and resp.json()["message"] == "区域不存在"


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("bbox", ["", "abc", "1,2,3", "1,2,3,4,5", "120,29,x,30", "121,29,120,30",
                                  "120,30,121,29", "120,29,200,30", "120,-95,121,30", "nan,29,121,30",
                                  "120,29,inf,30"])
def test_bad_bbox_is_422_in_chinese(mw, api_client, bbox):
    params = {"zoom": "10"}
    if bbox:
        params["bbox"] = bbox
    resp = api_client.as_user(mw.world.admin).get("/api/v1/map/sites", **params)
    assert resp.status_code == 422
    body = resp.json()
    assert body["code"] == "invalid_input"
    assert body["message"].startswith("地图范围无效")
    assert "bbox" in body["detail"]


@pytest.mark.parametrize("zoom", [None, "", "x", "-1", "23", "1.5"])
def test_bad_zoom_is_422_in_chinese(mw, api_client, zoom):
    params = {"bbox": EVERYWHERE}
    if zoom is not None:
        params["zoom"] = zoom
    resp = api_client.as_user(mw.world.admin).get("/api/v1/map/sites", **params)
    assert resp.status_code == 422
    assert resp.json()["message"] == "缩放级别无效,应为0到22之间的整数"


def test_api_needs_login(mw, client):
    resp = client.get("/api/v1/map/sites", {"bbox": EVERYWHERE, "zoom": "10"})
    assert resp.status_code == 401


def test_api_works_with_the_browser_session(mw, client):
    login(client, mw.world.town_a)
    resp = client.get("/api/v1/map/sites", {"bbox": EVERYWHERE, "zoom": "18", "archived": "on"})
    assert resp.status_code == 200
    body = resp.json()
    assert {p["id"] for p in body["points"]} == {mw.a[k].pk for k in ("y", "r", "n", "o", "bl", "old")}
    assert body["unlocated"] == 1 and body["as_of"]


# ---------------------------------------------------------------- page

def test_page_renders_for_grid_worker_on_phone(mw, client, settings):
    settings.MAP_TILE_URL = ""
    login(client, mw.world.grid)
    resp = client.get("/sites/map/", HTTP_USER_AGENT=PHONE)
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'id="site-map"' in html and "vendor/leaflet/leaflet.js" in html and "registry/map.js" in html
    assert 'name="colour"' in html and 'name="q"' in html    # the list's filter form
    assert "离线模式:未配置底图" in html
    config = resp.context["map_config"]
    assert config["tiles"] == [] and config["api"] == "/api/v1/map/sites"
    assert config["view"] == {"lat": 29.713, "lng": 120.244, "zoom": 10}   # no area has a centre yet


def test_page_centres_on_the_users_own_area(mw, client):
    from yingji.core.models import Area

    Area.objects.filter(pk=mw.world.county.pk).update(latitude="29.713000", longitude="120.244000")
    Area.objects.filter(pk=mw.world.villages["a1"].pk).update(latitude="29.788000", longitude="120.222000")
    login(client, mw.world.grid)
    assert client.get("/sites/map/").context["map_config"]["view"] == {"lat": 29.788, "lng": 120.222, "zoom": 14}
    client.logout()
    login(client, mw.world.town_b)   # town B has no centre: the county's
    assert client.get("/sites/map/").context["map_config"]["view"] == {"lat": 29.713, "lng": 120.244, "zoom": 11}


def test_page_with_tiles_has_no_offline_note(mw, client, settings):
    settings.MAP_TILE_URL = ("https://t{s}.tianditu.gov.cn/vec_w/wmts?T=vec_w&x={x}&y={y}&l={z}&tk=K "
                             "https://t{s}.tianditu.gov.cn/cva_w/wmts?T=cva_w&x={x}&y={y}&l={z}&tk=K")
    login(client, mw.world.admin)
    resp = client.get("/sites/map/", {"colour": "red"})
    assert resp.status_code == 200
    assert "离线模式:未配置底图" not in resp.content.decode()
    tiles = resp.context["map_config"]["tiles"]
    assert [t["url"].split("/")[3] for t in tiles] == ["vec_w", "cva_w"]
    assert tiles[0]["subdomains"] == "01234567"
    assert resp.context["form"]["colour"].value() == "red"
    assert "/sites/?colour=red" in resp.content.decode()    # "按列表查看" keeps the filters


def test_page_needs_login(client):
    resp = client.get("/sites/map/")
    assert resp.status_code == 302 and "login" in resp["Location"]
