"""Checklists API: shapes of the reads, the assembled checklist for a site (scoped like the site),
the editor endpoints (administrator only) and the error shape."""
from __future__ import annotations

import pytest

from yingji.checklists import services
from yingji.checklists.models import ChecklistModule, VersionStatus

from .factories import make_site

BASE = "/api/v1/checklists"


def test_module_list_and_detail_shapes(world, api_client, module):
    api = api_client.as_user(world.grid)
    response = api.get(f"{BASE}/modules")
    assert response.status_code == 200
    rows = {m["code"]: m for m in response.json()}
    general, dust = rows["general"], rows["dust"]
    assert general["applies_to_all"] and general["applicability"] == ["所有监管对象"]
    assert general["item_count"] == 12 and general["current_version_number"] == 1
    assert dust["traits"] == [{"id": dust["traits"][0]["id"], "code": "dust", "name": "粉尘涉爆"}]
    assert set(dust) == {"id", "code", "name", "description", "applies_to_all", "sectors", "traits", "site_kinds",
                         "applicability", "archived", "current_version_id", "current_version_number", "item_count"}
    assert rows[module.code]["item_count"] == 3

    response = api.get(f"{BASE}/modules/{dust['id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["versions"] == [{"id": body["current_version"]["id"], "number": 1, "status": "published",
                                 "note": "初始版本", "published_at": body["versions"][0]["published_at"],
                                 "item_count": 14}]
    sections = body["current_version"]["sections"]
    assert [s["title"] for s in sections] == ["重大事故隐患判定项(第十一条)", "粉尘防爆日常管理"]
    fc03 = sections[0]["items"][2]
    assert fc03["code"] == "FC-03" and fc03["hazard_level"] == "major" and fc03["photo_required"]
    assert fc03["criterion"]["code"] == "GM10-11-3" and fc03["criterion"]["clause"] == "第十一条(三)"
    assert body["current_version"]["module"] == {"id": dust["id"], "code": "dust", "name": "粉尘防爆"}

    response = api.get(f"{BASE}/versions/{body['current_version']['id']}")
    assert response.status_code == 200 and response.json()["sections"] == sections

    criteria = api.get(f"{BASE}/criteria").json()
    assert {"GM10-3-1", "GM10-11-10", "GM10-12-2", "GM10-13-2"} <= {c["code"] for c in criteria}


def test_missing_and_hidden_records_answer_404_in_the_error_shape(world, api_client, module):
    draft = services.start_revision(world.admin, module)
    api = api_client.as_user(world.town_a)
    for path in (f"{BASE}/modules/999999", f"{BASE}/versions/999999", f"{BASE}/versions/{draft.pk}"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"code": "not_found", "message": "记录不存在或无权访问", "detail": {}}
    admin = api_client.as_user(world.admin)
    assert admin.get(f"{BASE}/versions/{draft.pk}").json()["status"] == "draft"


def test_for_site_is_scoped_like_the_site(world, api_client):
    site = make_site(world, world.villages["a1"], kind="small_place", traits=["gas"])
    response = api_client.as_user(world.town_a).get(f"{BASE}/for-site/{site.pk}")
    assert response.status_code == 200
    versions = response.json()
    assert [v["module"]["code"] for v in versions] == ["general", "fire_small", "gas"]
    assert all(v["status"] == "published" for v in versions)
    assert versions[2]["sections"][0]["items"][0]["code"] == "RQ-01"
    # Town B cannot see the site: it looks absent.
    response = api_client.as_user(world.town_b).get(f"{BASE}/for-site/{site.pk}")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert api_client.as_user(world.town_a).get(f"{BASE}/for-site/999999").status_code == 404


def test_unauthenticated_requests_are_refused(client, world):
    response = client.get(f"{BASE}/modules")
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"


@pytest.mark.parametrize("persona", ["town_a", "leader", "inspector", "enterprise"])
def test_editor_endpoints_are_forbidden_to_others(world, api_client, module, persona):
    api = api_client.as_user(getattr(world, persona))
    version = services.published_of(module)
    section, item = version.sections.first(), version.items.first()
    calls = [
        (f"{BASE}/modules", {"code": "mine", "name": "我的"}),
        (f"{BASE}/modules/{module.pk}", {"name": "改名"}),
        (f"{BASE}/modules/{module.pk}/archive", {}),
        (f"{BASE}/modules/{module.pk}/revise", {}),
        (f"{BASE}/versions/{version.pk}/publish", {}),
        (f"{BASE}/versions/{version.pk}/discard", {}),
        (f"{BASE}/versions/{version.pk}/sections", {"title": "x"}),
        (f"{BASE}/sections/{section.pk}", {"title": "x"}),
        (f"{BASE}/sections/{section.pk}/move", {"direction": "up"}),
        (f"{BASE}/sections/{section.pk}/remove", {}),
        (f"{BASE}/sections/{section.pk}/items", {"code": "Z-1", "question": "x"}),
        (f"{BASE}/items/{item.pk}", {"question": "x"}),
        (f"{BASE}/items/{item.pk}/move", {"direction": "up"}),
        (f"{BASE}/items/{item.pk}/remove", {}),
    ]
    for path, payload in calls:
        response = api.post(path, payload)
        assert response.status_code == 403, path
        assert response.json() == {"code": "forbidden", "message": "只有市级管理员可以维护检查清单", "detail": {}}
    assert services.draft_of(module) is None


def test_editor_endpoints(world, api_client):
    api = api_client.as_user(world.admin)
    industry = world.sectors["industry_trade"]
    response = api.post(f"{BASE}/modules", {"code": "metal", "name": "金属表面处理", "traits": ["metal_surface"],
                                            "sectors": [industry.pk]})
    assert response.status_code == 201
    body = response.json()
    module_id = body["id"]
    assert body["current_version"] is None and body["versions"][0]["status"] == "draft"
    assert [t["code"] for t in body["traits"]] == ["metal_surface"] and body["sectors"][0]["code"] == "industry_trade"
    draft_id = body["versions"][0]["id"]

    response = api.post(f"{BASE}/modules", {"code": "metal", "name": "重复"})
    assert response.status_code == 422
    assert response.json() == {"code": "invalid_input", "message": "编码已存在:metal",
                               "detail": {"code": "编码已存在:metal"}}

    response = api.post(f"{BASE}/versions/{draft_id}/sections", {"title": "酸洗作业"})
    assert response.status_code == 201
    section_id = response.json()["sections"][0]["id"]
    response = api.post(f"{BASE}/sections/{section_id}/items", {
        "code": "JS-01", "question": "酸洗槽设置防护围栏和警示标志", "basis": "《安全生产法》第三十五条",
        "category": "hazchem", "photo_required": True})
    assert response.status_code == 201
    api.post(f"{BASE}/sections/{section_id}/items", {"code": "JS-02", "question": "配备应急喷淋洗眼器",
                                                    "criterion": "GM10-14"})
    response = api.post(f"{BASE}/sections/{section_id}/items", {"code": "JS-03", "question": ""})
    assert response.status_code == 422
    assert response.json()["message"] == "检查内容不能为空" and response.json()["detail"] == {
        "question": "检查内容不能为空"}

    items = api.get(f"{BASE}/versions/{draft_id}").json()["sections"][0]["items"]
    assert [(i["code"], i["hazard_level"]) for i in items] == [("JS-01", "general"), ("JS-02", "major")]
    js2 = items[1]["id"]
    response = api.post(f"{BASE}/items/{js2}/move", {"direction": "up"})
    assert [i["code"] for i in response.json()["sections"][0]["items"]] == ["JS-02", "JS-01"]
    response = api.post(f"{BASE}/items/{js2}", {"criterion": None, "hazard_level": "general", "basis": "AQ 3013"})
    assert response.status_code == 200
    changed = response.json()["sections"][0]["items"][0]
    assert (changed["criterion"], changed["hazard_level"], changed["basis"], changed["question"]) == (
        None, "general", "AQ 3013", "配备应急喷淋洗眼器")

    response = api.post(f"{BASE}/versions/{draft_id}/sections", {"title": "临时"})
    second = response.json()["sections"][1]["id"]
    api.post(f"{BASE}/sections/{second}", {"title": "通风设施"})
    response = api.post(f"{BASE}/sections/{second}/move", {"direction": "up"})
    assert [s["title"] for s in response.json()["sections"]] == ["通风设施", "酸洗作业"]
    response = api.post(f"{BASE}/items/{js2}", {"section_id": second})
    assert [len(s["items"]) for s in response.json()["sections"]] == [1, 1]
    response = api.post(f"{BASE}/items/{js2}/remove")
    assert [len(s["items"]) for s in response.json()["sections"]] == [0, 1]
    response = api.post(f"{BASE}/sections/{second}/remove")
    assert [s["title"] for s in response.json()["sections"]] == ["酸洗作业"]

    response = api.post(f"{BASE}/versions/{draft_id}/publish", {"note": "首次发布"})
    assert response.status_code == 200 and response.json()["status"] == "published"
    response = api.post(f"{BASE}/sections/{section_id}/items", {"code": "JS-09", "question": "x"})
    assert response.status_code == 409
    assert response.json() == {"code": "frozen", "message": "已发布的版本不能修改,请新建修订版本", "detail": {}}

    response = api.post(f"{BASE}/modules/{module_id}/revise")
    assert response.status_code == 200 and response.json()["number"] == 2 and response.json()["status"] == "draft"
    v2 = response.json()["id"]
    response = api.post(f"{BASE}/versions/{v2}/discard")
    assert response.status_code == 200 and [v["number"] for v in response.json()["versions"]] == [1]

    response = api.post(f"{BASE}/modules/{module_id}", {"name": "金属表面处理(酸洗、电镀)", "site_kinds": ["park"]})
    assert response.status_code == 200
    assert response.json()["name"] == "金属表面处理(酸洗、电镀)" and response.json()["site_kinds"] == ["park"]
    assert response.json()["traits"][0]["code"] == "metal_surface"  # unchanged when not sent
    response = api.post(f"{BASE}/modules/{module_id}/archive")
    assert response.status_code == 200 and response.json()["archived"]
    assert ChecklistModule.objects.get(pk=module_id).is_archived
    assert services.published_of(ChecklistModule.objects.get(pk=module_id)).status == VersionStatus.PUBLISHED


def test_editor_404_for_unknown_sections_and_items(world, api_client):
    api = api_client.as_user(world.admin)
    assert api.post(f"{BASE}/sections/999999/items", {"code": "A-1", "question": "x"}).status_code == 404
    assert api.post(f"{BASE}/items/999999", {"question": "x"}).status_code == 404
    assert api.post(f"{BASE}/versions/999999/publish", {}).status_code == 404
