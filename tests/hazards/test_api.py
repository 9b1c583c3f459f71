"""The hazards API: list/detail in scope, report with an Idempotency-Key, the transitions,
multipart evidence, optimistic locking, structured Chinese errors."""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from yingji.hazards.models import Hazard, HazardEvent

from .factories import make_hazard, photo

pytestmark = pytest.mark.django_db

BASE = "/api/v1/hazards"


def in_days(n):
    return (timezone.localdate() + datetime.timedelta(days=n)).isoformat()


@pytest.fixture
def multipart(client):
    """POST multipart with a bearer token: ``multipart(user, path, data, headers)``."""
    from yingji.core import services

    def post(user, path, data, **headers):
        _t, key = services.create_token(None, user, "mp")
        return client.post(path, data, HTTP_AUTHORIZATION=f"Bearer {key}", **headers)

    return post


def test_whole_life_through_the_api(world, site_a, api_client, multipart):
    grid = api_client.as_user(world.grid)
    r = grid.post(BASE, {"site_id": site_a.pk, "description": "仓库内电动车充电", "category": "fire",
                         "latitude": 29.71, "longitude": 120.24}, HTTP_IDEMPOTENCY_KEY="grid-phone-0000001")
    assert r.status_code == 201, r.content
    body = r.json()
    hid, version = body["id"], body["version"]
    # the answer to a report is lean: id, state, version and where the full record is
    assert body == {"id": hid, "state": "reported", "state_label": "已上报", "version": 2,
                    "url": f"{BASE}/{hid}"}
    full = grid.get(body["url"]).json()
    assert full["allowed_actions"] == [] and full["version"] == version and full["state"] == "reported"
    assert full["site"]["id"] == site_a.pk and [e["action"] for e in full["events"]] == ["report"]
    assert full["events"][0]["from_state"] == "draft" and full["events"][0]["to_state"] == "reported"
    # the phone retries: the same hazard, 200, the same body, nothing new
    again = grid.post(BASE, {"site_id": site_a.pk, "description": "仓库内电动车充电"},
                      HTTP_IDEMPOTENCY_KEY="grid-phone-0000001")
    assert again.status_code == 200 and again.json() == body
    assert Hazard.objects.count() == 1

    # found by the grid worker: the town accepts and sets the deadline, the enterprise may not
    ent = api_client.as_user(world.enterprise)
    detail = ent.get(f"{BASE}/{hid}").json()
    assert detail["allowed_actions"] == [] and detail["finder"] == "government"
    assert detail["next_step"].startswith("待属地镇街或行业监管部门受理")
    r = ent.post(f"{BASE}/{hid}/accept", {"responsible_person": "王五", "deadline": in_days(7), "version": version})
    assert r.status_code == 403 and "须由属地镇街或行业监管部门受理" in r.json()["message"]
    r = api_client.as_user(world.town_a).post(f"{BASE}/{hid}/accept", {"responsible_person": "王五",
                                                                      "deadline": in_days(7), "version": version})
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "rectifying"
    version = r.json()["version"]

    r = multipart(world.enterprise, f"{BASE}/{hid}/rectification", {"description": "已移出充电", "cost": "50",
                                                                      "version": version, "files": [photo()]},
                  HTTP_IDEMPOTENCY_KEY="ent-rect-00000001")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["state"] == "submitted" and len(body["rectifications"][0]["evidence"]) == 1
    # a retried upload does not make a second rectification
    r = multipart(world.enterprise, f"{BASE}/{hid}/rectification", {"description": "已移出充电",
                                                                      "files": [photo()]},
                  HTTP_IDEMPOTENCY_KEY="ent-rect-00000001")
    assert r.status_code == 200 and len(r.json()["rectifications"]) == 1

    town = api_client.as_user(world.town_a)
    r = town.post(f"{BASE}/{hid}/send-back", {"reason": ""})
    assert r.status_code == 422 and r.json()["message"] == "退回理由不能为空"
    r = town.post(f"{BASE}/{hid}/send-back", {"reason": "照片不清晰"})
    assert r.status_code == 200 and r.json()["state"] == "rectifying"
    r = multipart(world.enterprise, f"{BASE}/{hid}/rectification", {"description": "补拍", "files": [photo()]})
    assert r.status_code == 200
    r = town.post(f"{BASE}/{hid}/verify", {"note": "合格"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["state"] == "closed" and body["allowed_actions"] == ["archive"]
    assert [e["action"] for e in body["events"]] == ["report", "accept", "submit_rectification", "send_back",
                                                     "submit_rectification", "verify"]


def test_errors_are_structured_and_chinese(world, site_a, api_client, multipart):
    hazard = make_hazard(world, None, site=site_a)
    town = api_client.as_user(world.town_a)
    r = town.post(f"{BASE}/{hazard.pk}/verify", {})
    assert r.status_code == 409
    assert r.json() == {"code": "invalid_state", "message": "该隐患当前状态为“已上报”,不能执行“验收销号”",
                        "detail": {}}
    r = town.post(f"{BASE}/{hazard.pk}/accept", {"responsible_person": "王五", "deadline": in_days(3),
                                                 "version": hazard.version - 1})
    assert r.status_code == 409 and r.json()["message"] == "该隐患已被他人处理,请刷新后重试"
    r = town.post(f"{BASE}/{hazard.pk}/accept", {"responsible_person": "王五", "deadline": in_days(-1)})
    assert r.status_code == 422 and r.json()["detail"] == {"deadline": "整改期限不能早于今天"}
    # out of scope: 404, never 403
    r = api_client.as_user(world.town_b).post(f"{BASE}/{hazard.pk}/accept", {"responsible_person": "x",
                                                                             "deadline": in_days(3)})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    # visible but not allowed: 403
    r = api_client.as_user(world.grid).post(f"{BASE}/{hazard.pk}/accept", {"responsible_person": "x",
                                                                           "deadline": in_days(3)})
    assert r.status_code == 403 and r.json()["message"] == "您无权受理该隐患:须由属地镇街或行业监管部门受理"
    # no evidence
    r = api_client.as_user(world.town_a).post(f"{BASE}/{hazard.pk}/accept", {"responsible_person": "王五",
                                                                            "deadline": in_days(3)})
    assert r.status_code == 200, r.json()
    r = multipart(world.enterprise, f"{BASE}/{hazard.pk}/rectification", {"description": "已整改"})
    assert r.status_code == 422 and "没有整改证据不能提交" in r.json()["message"]
    r = api_client.as_user(world.grid).post(BASE, {"site_id": site_a.pk, "description": "x", "level": "huge"})
    assert r.status_code == 422 and r.json()["detail"] == {"level": "隐患等级无效:huge"}
    r = api_client.as_user(world.grid).post(BASE, {"site_id": site_a.pk, "description": "x"},
                                            HTTP_IDEMPOTENCY_KEY="短")
    assert r.status_code == 422 and "幂等键" in r.json()["message"]


def test_report_with_photos_and_fixed_on_spot(world, site_a, multipart, api_client):
    r = multipart(world.grid, f"{BASE}/upload", {"site_id": site_a.pk, "description": "楼道堆放杂物",
                                                  "files": [photo("a.png"), photo("b.png")]},
                  HTTP_IDEMPOTENCY_KEY="grid-upload-000001")
    assert r.status_code == 201, r.content
    first = r.json()
    assert first["state"] == "reported" and first["version"] == 2
    assert len(api_client.as_user(world.grid).get(first["url"]).json()["photos"]) == 2
    r = multipart(world.grid, f"{BASE}/upload", {"site_id": site_a.pk, "description": "楼道堆放杂物",
                                                  "files": [photo("a.png"), photo("b.png")]},
                  HTTP_IDEMPOTENCY_KEY="grid-upload-000001")
    assert r.status_code == 200 and r.json() == first
    assert len(api_client.as_user(world.grid).get(first["url"]).json()["photos"]) == 2
    r = multipart(world.inspector, f"{BASE}/upload", {
        "site_id": site_a.pk, "description": "安全出口指示灯不亮", "fixed_on_spot": "true",
        "rectification_description": "当场更换", "rectification_files": [photo()]})
    assert r.status_code == 201, r.content
    assert r.json()["state"] == "closed"
    assert api_client.as_user(world.inspector).get(r.json()["url"]).json()["fixed_on_spot"] is True
    assert Hazard.objects.count() == 2


def test_list_filters_and_scope(world, site_a, api_client):
    from .factories import make_site

    mine = make_hazard(world, None, site=site_a, level="major")
    other_site = make_site(world, world.villages["a2"], world.sectors["construction"])
    in_a2 = make_hazard(world, None, site=other_site)
    in_b = make_hazard(world, world.area_b, world.sectors["industry_trade"])

    def ids(user, **params):
        r = api_client.as_user(user).get(BASE, **params)
        assert r.status_code == 200, r.content
        return {h["id"] for h in r.json()["items"]}

    assert ids(world.admin) == {mine.pk, in_a2.pk, in_b.pk}
    assert ids(world.town_a) == {mine.pk, in_a2.pk}
    assert ids(world.grid) == {mine.pk}
    assert ids(world.enterprise) == {mine.pk}
    assert ids(world.inspector) == {mine.pk, in_b.pk}  # industry & trade only
    assert ids(world.dept) == {in_a2.pk}                # construction only
    assert ids(world.admin, level="major") == {mine.pk}
    assert ids(world.admin, area_id=world.area_b.pk) == {in_b.pk}
    assert ids(world.admin, state="open") == {mine.pk, in_a2.pk, in_b.pk}
    assert ids(world.admin, state="closed") == set()
    r = api_client.as_user(world.admin).get(BASE, state="bogus")
    assert r.status_code == 422 and r.json()["detail"] == {"state": "状态无效"}
    # keyset pages
    r = api_client.as_user(world.admin).get(BASE, limit=2).json()
    assert len(r["items"]) == 2 and r["next_cursor"]
    r2 = api_client.as_user(world.admin).get(BASE, limit=2, cursor=r["next_cursor"]).json()
    assert [h["id"] for h in r2["items"]] == [mine.pk] and r2["next_cursor"] is None
    # detail out of scope
    assert api_client.as_user(world.town_b).get(f"{BASE}/{mine.pk}").status_code == 404
    assert HazardEvent.objects.count() == 3


def test_list_items_say_what_the_detail_says(world, site_a, api_client):
    """Lists read plain rows, the detail an instance: one mapping, the same answer for both."""
    with_site = make_hazard(world, None, site=site_a, level="major")
    no_site = make_hazard(world, world.area_b, world.sectors["industry_trade"])
    client = api_client.as_user(world.admin)
    items = {h["id"]: h for h in client.get(BASE).json()["items"]}
    for hazard in (with_site, no_site):
        detail = client.get(f"{BASE}/{hazard.pk}").json()
        assert items[hazard.pk] == {k: detail[k] for k in items[hazard.pk]}
    item = items[with_site.pk]
    assert item["site"] == {"id": site_a.pk, "name": site_a.name} and item["state_label"] == "已上报"
    assert item["area"]["id"] == site_a.area_id and item["reported_by"] == str(with_site.reported_by)
    assert items[no_site.pk]["site"] is None and items[no_site.pk]["escalated_to"] is None
