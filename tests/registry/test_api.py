"""/api/v1/sites: filters + keyset, detail, create, patch, archive, host, managers; one error shape."""
from __future__ import annotations

from yingji.core.models import AuditEntry
from yingji.registry.models import Site

from .conftest import CODES, local_enterprise


def ids(response):
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


def test_list_filters_and_scope(reg, api_client):
    w = reg.world
    c = api_client.as_user(w.town_a)
    assert ids(c.get("/api/v1/sites")) == {reg.socks.pk, reg.socks2.pk, reg.works.pk, reg.park.pk}
    assert ids(c.get("/api/v1/sites", q="袜业")) == {reg.socks.pk, reg.socks2.pk}
    assert ids(c.get("/api/v1/sites", q="djxy")) == {reg.socks2.pk}
    assert ids(c.get("/api/v1/sites", q=CODES[2][:10])) == {reg.park.pk}
    assert ids(c.get("/api/v1/sites", trait="metal_surface")) == {reg.park.pk}
    assert ids(c.get("/api/v1/sites", area_id=w.grids["a1g1"].pk)) == {reg.socks.pk}
    assert ids(c.get("/api/v1/sites", sector="construction", kind="construction")) == {reg.works.pk}
    assert ids(c.get("/api/v1/sites", industry="C", colour="yellow")) == {reg.socks.pk}
    # town B's sites never appear for town A
    assert ids(c.get("/api/v1/sites", q="管业")) == set()
    d = api_client.as_user(w.dept)
    assert ids(d.get("/api/v1/sites")) == {reg.works.pk}


def test_list_keyset_cursor(reg, api_client):
    c = api_client.as_user(reg.world.admin)
    r = c.get("/api/v1/sites", limit=4)
    first = r.json()
    assert len(first["items"]) == 4 and first["next_cursor"]
    second = c.get("/api/v1/sites", limit=4, cursor=first["next_cursor"]).json()
    assert len(second["items"]) == 2 and second["next_cursor"] is None
    all_ids = [i["id"] for i in first["items"] + second["items"]]
    assert all_ids == sorted(all_ids, reverse=True) and len(set(all_ids)) == 6
    r = c.get("/api/v1/sites", cursor="garbage!")
    assert r.status_code == 422 and r.json()["detail"] == {"cursor": "分页游标无效"}
    r = c.get("/api/v1/sites", limit=1000)
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"
    r = c.get("/api/v1/sites", colour="purple")
    assert r.status_code == 422 and r.json()["message"] == "风险等级无效"


def test_detail_and_404_out_of_scope(reg, api_client):
    w = reg.world
    a = api_client.as_user(w.town_a)
    r = a.get(f"/api/v1/sites/{reg.socks.pk}")
    assert r.status_code == 200
    data = r.json()
    assert data["name"] == "诸暨市大唐袜业有限公司" and data["credit_code"] == CODES[0]
    assert data["industry"]["code"] == "17" and set(data["traits"]) == {"dust", "crowded"}
    assert data["sectors"][0]["code"] == "industry_trade" and data["area"]["id"] == w.grids["a1g1"].pk
    assert data["latitude"] == 29.787 and data["risk_colour"] == "yellow"
    b = api_client.as_user(w.town_b)
    for path in (f"/api/v1/sites/{reg.socks.pk}", "/api/v1/sites/999999"):
        r = b.get(path)
        assert r.status_code == 404
        assert r.json() == {"code": "not_found", "message": "记录不存在或无权访问", "detail": {}}
    assert b.patch(f"/api/v1/sites/{reg.socks.pk}", {"name": "改名"}).status_code == 404
    assert b.post(f"/api/v1/sites/{reg.socks.pk}/archive").status_code == 404
    assert Site.objects.get(pk=reg.socks.pk).name == "诸暨市大唐袜业有限公司"


def test_create_patch_archive(reg, api_client):
    w = reg.world
    c = api_client.as_user(w.town_a)
    r = c.post("/api/v1/sites", {"kind": "enterprise", "name": "诸暨市接口袜业有限公司", "credit_code": "91330681000000000X",
                                 "area_id": w.villages["a1"].pk})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_input" and "credit_code" in body["detail"]
    assert body["message"].startswith("统一社会信用代码无效")
    r = c.post("/api/v1/sites", {"kind": "enterprise", "name": "诸暨市接口袜业有限公司", "credit_code": CODES[30],
                                 "area_id": w.villages["a1"].pk, "industry": "17", "sectors": ["industry_trade"],
                                 "traits": ["dust"], "latitude": "29.78", "longitude": "120.22"})
    assert r.status_code == 201, r.content
    site = r.json()
    assert site["name_pinyin"] == "zjsjkwyyxgs" and site["traits"] == ["dust"]
    graded = site["risk_colour"]
    assert graded in {"red", "orange", "yellow", "blue"}  # set by the risk engine on create
    r = c.patch(f"/api/v1/sites/{site['id']}", {"status": "suspended", "risk_colour": "purple"})
    # People cannot set the colour: the input is ignored and the engine's grade stays.
    assert r.status_code == 200 and r.json()["status"] == "suspended" and r.json()["risk_colour"] == graded
    r = c.patch(f"/api/v1/sites/{site['id']}", {"name": None})
    assert r.status_code == 422 and "name" in r.json()["detail"]
    r = c.patch(f"/api/v1/sites/{site['id']}", {"area_id": w.villages["b1"].pk})
    assert r.status_code == 422 and "area" in r.json()["detail"]
    r = c.post(f"/api/v1/sites/{site['id']}/archive", {"reason": "注销"})
    assert r.status_code == 200 and r.json()["archived"] is True
    r = c.post(f"/api/v1/sites/{site['id']}/archive")
    assert r.status_code == 422 and r.json()["message"] == "该监管对象已归档"
    actions = list(AuditEntry.objects.filter(object_id=site["id"], action__startswith="site.")
                   .values_list("action", flat=True).order_by("id"))
    assert actions == ["site.create", "site.update", "site.archive"]
    # a grid worker may read but not write
    g = api_client.as_user(w.grid)
    r = g.post("/api/v1/sites", {"kind": "small_place", "name": "网格员小店", "area_id": w.villages["a1"].pk})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"


def test_host_endpoint_both_directions(reg, api_client):
    w = reg.world
    c = api_client.as_user(w.town_a)
    r = c.post(f"/api/v1/sites/{reg.socks.pk}/host", {"host_id": reg.park.pk})
    assert r.status_code == 200 and r.json()["host"] == {"id": reg.park.pk, "name": "诸暨市大唐金属表面处理中心"}
    park = c.get(f"/api/v1/sites/{reg.park.pk}").json()
    assert park["tenants"] == [{"id": reg.socks.pk, "name": "诸暨市大唐袜业有限公司"}]
    r = c.post(f"/api/v1/sites/{reg.park.pk}/host", {"host_id": reg.socks.pk})
    assert r.status_code == 422 and "循环" in r.json()["message"]
    r = c.post(f"/api/v1/sites/{reg.socks.pk}/host", {"host_id": reg.pipes.pk})
    assert r.status_code == 404
    r = c.post(f"/api/v1/sites/{reg.socks.pk}/host", {"host_id": None})
    assert r.status_code == 200 and r.json()["host"] is None


def test_managers_endpoints_and_enterprise_view(reg, api_client):
    w = reg.world
    ent = local_enterprise(w)
    c = api_client.as_user(w.town_a)
    r = c.post(f"/api/v1/sites/{reg.socks.pk}/managers", {"username": "ent_a"})
    assert r.status_code == 201 and r.json()["username"] == "ent_a"
    binding_id = r.json()["id"]
    assert [b["id"] for b in c.get(f"/api/v1/sites/{reg.socks.pk}/managers").json()] == [binding_id]
    r = c.post(f"/api/v1/sites/{reg.socks.pk}/managers", {"username": "nobody"})
    assert r.status_code == 422 and r.json()["detail"] == {"username": "账号不存在或已停用"}
    e = api_client.as_user(ent)
    assert ids(e.get("/api/v1/sites")) == {reg.socks.pk}
    assert e.get(f"/api/v1/sites/{reg.socks.pk}").status_code == 200
    assert e.get(f"/api/v1/sites/{reg.socks2.pk}").status_code == 404
    assert e.patch(f"/api/v1/sites/{reg.socks.pk}", {"name": "改名"}).status_code == 403
    assert e.get(f"/api/v1/sites/{reg.socks.pk}/managers").status_code == 404  # its area is not theirs
    c = api_client.as_user(w.town_a)   # one client object: switch back to the town officer
    r = c.post(f"/api/v1/sites/{reg.socks.pk}/managers/{binding_id}/revoke")
    assert r.status_code == 200 and r.json()["revoked"] is True
    e2 = api_client.as_user(ent)
    assert ids(e2.get("/api/v1/sites")) == set()


def test_reference_lists(world, api_client):
    c = api_client.as_user(world.grid)
    industries = c.get("/api/v1/sites/industries").json()
    assert len([i for i in industries if i["level"] == "section"]) == 20
    assert len([i for i in industries if i["level"] == "division"]) == 97
    assert {"code": "79", "level": "division", "section": "N", "name": "土地管理业"} in industries
    traits = {t["code"]: t["name"] for t in c.get("/api/v1/sites/traits").json()}
    assert traits["ammonia"] == "涉氨制冷" and traits["metal_surface"] == "金属表面处理"
