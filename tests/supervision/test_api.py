"""The supervision API: scoped reads, one POST per action, the error shape, the public list."""
from __future__ import annotations

import pytest
from django.test import Client

from yingji.hazards import services as hazard_services
from yingji.supervision import services

from tests.hazards.factories import photo

from .factories import in_days, make_listing, make_major_hazard

pytestmark = pytest.mark.django_db


class Api:
    """A bearer-token client of one user."""

    def __init__(self, user):
        from yingji.core import services as core_services

        _t, self.key = core_services.create_token(None, user, "test")
        self.client = Client()

    def get(self, path, **params):
        return self.client.get(path, params, HTTP_AUTHORIZATION=f"Bearer {self.key}")

    def post(self, path, data=None):
        return self.client.post(path, data or {}, content_type="application/json",
                                HTTP_AUTHORIZATION=f"Bearer {self.key}")


def test_api_flow(world, site_a):
    hazard = make_major_hazard(world, None, site=site_a)
    town = Api(world.town_a)
    r = town.post("/api/v1/supervision", {"hazard_id": hazard.pk, "level": "county", "listing_body_name": "大唐街道",
                                          "notice_number": "大安督9号", "notice_text": "限期整改",
                                          "deadline": in_days(120).isoformat()})
    assert r.status_code == 403 and r.json()["code"] == "forbidden" and "镇街只能挂牌镇街级督办" in r.json()["message"]
    r = town.post("/api/v1/supervision", {"hazard_id": hazard.pk, "level": "town", "listing_body_name": "大唐街道",
                                          "notice_number": "大安督9号", "notice_text": "限期整改",
                                          "deadline": in_days(120).isoformat()})
    assert r.status_code == 201, r.content
    body = r.json()
    pk = body["id"]
    assert body["state"] == "listed" and body["allowed_actions"][0] == "publish_notice"
    assert body["events"][0]["action"] == "list" and body["publish_due"]
    r = town.post(f"/api/v1/supervision/{pk}/publish-notice", {"version": 99})
    assert r.status_code == 409 and r.json()["code"] == "stale"
    assert town.post(f"/api/v1/supervision/{pk}/publish-notice").json()["published_at"]
    r = town.post(f"/api/v1/supervision/{pk}/public", {"publishable": True, "public_title": "除尘系统隐患"})
    assert r.status_code == 200 and r.json()["public_title"] == "除尘系统隐患"
    r = town.post(f"/api/v1/supervision/{pk}/shutdown", {"shutdown": "partial"})
    assert r.status_code == 200 and r.json()["shutdown"] == "partial"

    ent = Api(world.enterprise)
    r = ent.post(f"/api/v1/supervision/{pk}/plan", {"measures": "更换"})
    assert r.status_code == 422 and r.json()["detail"]["contingency"] == "请填写应急预案(预案落实)"
    r = ent.post(f"/api/v1/supervision/{pk}/plan", {"measures": "更换", "funds": "8000", "responsible_people": "厂长",
                                                    "plan_deadline": in_days(100).isoformat(), "contingency": "预案"})
    assert r.status_code == 200 and r.json()["state"] == "rectifying"
    r = ent.post(f"/api/v1/supervision/{pk}/extensions", {"new_deadline": in_days(200).isoformat(), "reason": "采购"})
    assert r.status_code == 201
    ext_id = r.json()["extensions"][0]["id"]
    assert r.json()["extensions"][0]["decision"] == "pending"
    assert ent.post(f"/api/v1/supervision/extensions/{ext_id}/decide", {"approve": True}).status_code == 403
    town_b = Api(world.town_b)
    assert town_b.post(f"/api/v1/supervision/extensions/{ext_id}/decide", {"approve": True}).status_code == 404
    assert town_b.get(f"/api/v1/supervision/{pk}").status_code == 404
    assert pk not in [x["id"] for x in town_b.get("/api/v1/supervision").json()["items"]]
    r = town.post(f"/api/v1/supervision/extensions/{ext_id}/decide", {"approve": True, "note": "同意"})
    assert r.status_code == 200 and r.json()["deadline"] == in_days(200).isoformat()

    hazard_services.accept(world.admin, hazard, responsible_person="王厂长", deadline=in_days(100))
    hazard_services.submit_rectification(world.enterprise, hazard, description="已整改", files=[photo()])
    assert ent.post(f"/api/v1/supervision/{pk}/request-acceptance").json()["state"] == "acceptance_requested"
    r = town.post(f"/api/v1/supervision/{pk}/acceptance", {"passed": True, "note": "合格"})
    assert r.json()["state"] == "accepted"
    r = town.post(f"/api/v1/supervision/{pk}/delist")
    assert r.status_code == 409 and "隐患尚未验收销号" in r.json()["message"]
    hazard_services.verify(world.town_a, hazard)
    assert town.post(f"/api/v1/supervision/{pk}/delist").json()["state"] == "delisted"
    assert town.post(f"/api/v1/supervision/{pk}/publish-delisting").json()["delist_published_at"]

    r = town.get("/api/v1/supervision", state="delisted")
    assert [x["id"] for x in r.json()["items"]] == [pk]
    assert town.get("/api/v1/supervision", level="bogus").status_code == 422

    # the public endpoint: no token, published fields only
    r = Client().get("/api/v1/supervision/public")
    assert r.status_code == 200
    item = r.json()["items"][0]
    assert set(item) == {"id", "site_name", "town", "village", "title", "level", "level_label", "listing_body", "notice_number",
                         "listed_on", "deadline", "state", "state_label", "delisted_on"}
    assert item["title"] == "除尘系统隐患" and item["state"] == "delisted" and item["town"] == "大唐街道"
    assert Client().get("/api/v1/supervision").status_code == 401
    assert Client().get(f"/api/v1/supervision/{pk}").status_code == 401


def test_api_archive(world, site_a):
    listing = make_listing(world, site=site_a)
    services.publish_notice(world.admin, listing)
    admin = Api(world.admin)
    r = admin.post(f"/api/v1/supervision/{listing.pk}/archive", {"reason": ""})
    assert r.status_code == 422 and r.json()["message"] == "请填写归档理由"
    r = admin.post(f"/api/v1/supervision/{listing.pk}/archive", {"reason": "误挂牌"})
    assert r.status_code == 200 and r.json()["archived"]
    assert listing.pk not in [x["id"] for x in admin.get("/api/v1/supervision").json()["items"]]
    assert listing.pk in [x["id"] for x in admin.get("/api/v1/supervision", include_archived=True).json()["items"]]
    assert Client().get("/api/v1/supervision/public").json()["items"] == []
