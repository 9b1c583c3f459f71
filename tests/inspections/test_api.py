"""The inspections API: campaigns, starting (idempotent), answering, hazards, completing; error shape."""
from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from yingji.hazards.models import Hazard, State
from yingji.inspections.models import Inspection, InspectionState

from .factories import TINY_PNG, make_campaign


def _png(name="现场.png"):
    return SimpleUploadedFile(name, TINY_PNG, content_type="image/png")


def _bearer(user):
    from yingji.core import services

    _t, key = services.create_token(None, user, "test")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_campaign_api(world, api_client, site_a):
    api = api_client.as_user(world.admin)
    r = api.post("/api/v1/inspections/campaigns", {"name": "燃气专项", "area_id": world.county.pk,
                                                   "starts_on": "2026-03-01", "ends_on": "2026-02-01"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"
    assert r.json()["detail"] == {"ends_on": "结束日期不能早于开始日期"}
    r = api.post("/api/v1/inspections/campaigns", {
        "name": "燃气专项", "area_id": world.county.pk, "starts_on": "2026-03-01", "ends_on": "2026-06-30",
        "scope_area_ids": [world.area_a.pk], "scope_sector_ids": [world.sectors["industry_trade"].pk],
        "target_coverage": "95"})
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["status"] == "draft" and body["can_edit"] and body["scope_areas"][0]["name"] == "大唐街道"
    cid = body["id"]
    listed = api.get("/api/v1/inspections/campaigns", limit=1).json()
    assert [c["id"] for c in listed["items"]] == [cid]
    r = api.get(f"/api/v1/inspections/campaigns/{cid}/progress")
    assert r.status_code == 200 and r.json()["overall"]["sites_in_scope"] == 1
    assert r.json()["by_area"][0]["label"] == "大唐街道" and r.json()["by_sector"][0]["label"] == "工贸"
    assert api_client.as_user(world.town_b).get(f"/api/v1/inspections/campaigns/{cid}").status_code == 404
    town_a = api_client.as_user(world.town_a).get(f"/api/v1/inspections/campaigns/{cid}").json()
    assert town_a["can_edit"] is False
    r = api_client.as_user(world.leader).post("/api/v1/inspections/campaigns", {
        "name": "x", "area_id": world.county.pk, "starts_on": "2026-03-01", "ends_on": "2026-03-02"})
    assert r.status_code == 403 and r.json()["message"] == "您无权在该区域组织专项行动"


def test_inspection_api_whole_flow(world, client, site_a):
    campaign = make_campaign(world, world.county)
    auth = _bearer(world.town_a)
    payload = {"site_id": site_a.pk, "mode": "town", "campaign_id": campaign.pk, "latitude": 29.7,
               "longitude": 120.2, "gps_accuracy": 15}
    r = client.post("/api/v1/inspections", payload, content_type="application/json",
                    HTTP_IDEMPOTENCY_KEY="api-start-0001", **auth)
    assert r.status_code == 201, r.json()
    body = r.json()
    iid = body["id"]
    assert body["can_record"] and body["items_total"] == 3 and body["campaign"]["id"] == campaign.pk
    assert [x["result"] for x in body["results"]] == ["pending"] * 3
    again = client.post("/api/v1/inspections", payload, content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY="api-start-0001", **auth)
    assert again.status_code == 200 and again.json()["id"] == iid and Inspection.objects.count() == 1
    by_field = client.post("/api/v1/inspections", {**payload, "idempotency_key": "api-start-0001"},
                           content_type="application/json", **auth)
    assert by_field.json()["id"] == iid
    results = {x["code"]: x["id"] for x in body["results"]}
    r = client.patch(f"/api/v1/inspections/{iid}/results/{results['G-01']}", {"result": "pass", "note": "好"},
                     content_type="application/json", **auth)
    assert r.status_code == 200 and r.json()["result"] == "pass" and r.json()["answered_by"] == "town_a"
    r = client.patch(f"/api/v1/inspections/{iid}/results/{results['G-02']}", {"result": "fail"},
                     content_type="application/json", **auth)
    assert r.status_code == 422 and r.json()["detail"] == {"files": "该检查项不符合时须拍照上传"}
    r = client.post(f"/api/v1/inspections/{iid}/results/{results['G-02']}", {"result": "fail", "files": [_png()]},
                    **auth)
    assert r.status_code == 200 and len(r.json()["photos"]) == 1
    r = client.post(f"/api/v1/inspections/{iid}/complete", {}, content_type="application/json", **auth)
    assert r.status_code == 409 and r.json()["code"] == "pending_items" and r.json()["message"].startswith("还有1项")
    r = client.patch(f"/api/v1/inspections/{iid}/results/{results['G-03']}", {"result": "fail"},
                     content_type="application/json", **auth)
    r = client.post(f"/api/v1/inspections/{iid}/results/{results['G-03']}/fix-on-spot",
                    {"rectification_description": "已整改", "files": [_png()]}, **auth)
    assert r.status_code == 422 and "重大隐患不能当场整改销号" in r.json()["message"]
    r = client.post(f"/api/v1/inspections/{iid}/results/{results['G-03']}/confirm-hazard",
                    {"responsible_person": "赵六"}, HTTP_IDEMPOTENCY_KEY="api-hazard-0001", **auth)
    assert r.status_code == 201 and r.json()["level"] == "major" and r.json()["result"]["hazard_id"] == r.json()["id"]
    r = client.post(f"/api/v1/inspections/{iid}/results/{results['G-02']}/fix-on-spot",
                    {"rectification_description": "已清理", "files": [_png("后.png")]}, **auth)
    assert r.status_code == 201 and r.json()["state"] == State.CLOSED and r.json()["fixed_on_spot"]
    r = client.post(f"/api/v1/inspections/{iid}/complete", {"summary": "完成"}, content_type="application/json",
                    **auth)
    assert r.status_code == 200 and r.json()["state"] == InspectionState.COMPLETED
    assert r.json()["hazards_found"] == 2 and r.json()["can_record"] is False
    assert Hazard.objects.filter(campaign=campaign).count() == 2
    listed = client.get("/api/v1/inspections", {"campaign_id": campaign.pk, "state": "completed"}, **auth).json()
    assert [i["id"] for i in listed["items"]] == [iid]
    progress = client.get(f"/api/v1/inspections/campaigns/{campaign.pk}/progress", **auth).json()
    assert progress["overall"]["sites_inspected"] == 1 and progress["overall"]["major_hazards"] == 1


def test_inspection_api_scope_and_errors(world, client, site_a, site_b):
    auth = _bearer(world.grid)
    r = client.post("/api/v1/inspections", {"site_id": site_b.pk, "mode": "grid"}, content_type="application/json",
                    **auth)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = client.post("/api/v1/inspections", {"site_id": site_a.pk, "mode": "spot"}, content_type="application/json",
                    **auth)
    assert r.status_code == 403 and r.json()["message"] == "您无权发起“执法抽查”"
    r = client.post("/api/v1/inspections", {"site_id": site_a.pk, "mode": "grid"}, content_type="application/json",
                    **auth)
    iid = r.json()["id"]
    other = _bearer(world.town_b)
    assert client.get(f"/api/v1/inspections/{iid}", **other).status_code == 404
    assert client.patch(f"/api/v1/inspections/{iid}/results/999999", {"result": "pass"},
                        content_type="application/json", **auth).status_code == 404
    r = client.get("/api/v1/inspections", {"mode": "bogus"}, **auth)
    assert r.status_code == 422 and r.json()["detail"] == {"mode": "检查方式无效"}
    r = client.get("/api/v1/inspections", {"limit": 1, "include_archived": "true"}, **_bearer(world.admin))
    assert r.status_code == 200 and len(r.json()["items"]) == 1
    assert client.get("/api/v1/inspections").status_code == 401
