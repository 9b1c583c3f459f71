"""Core API: error shape, pagination errors, request ids and client address on the audit trail,
the write endpoints (each audited), and garbage input never giving a 500."""
from __future__ import annotations

import json
import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from tests.conftest import PASSWORD
from yingji.core import roles, services
from yingji.core.models import ApiToken, Area, AuditEntry, RoleAssignment, User

CJK = re.compile(r"[\u4e00-\u9fff]")


class Api:
    """A bearer-token client for one user (own Django client, so several can coexist)."""

    def __init__(self, user=None, key=None):
        self.client = Client()
        self.key = key
        if user is not None:
            _t, self.key = services.create_token(None, user, "test")

    def _h(self, extra):
        h = {"HTTP_AUTHORIZATION": f"Bearer {self.key}"} if self.key else {}
        h.update(extra)
        return h

    def get(self, path, data=None, **extra):
        return self.client.get(path, data or {}, **self._h(extra))

    def post(self, path, data=None, **extra):
        body = data if isinstance(data, (str, bytes)) else json.dumps(data or {})
        return self.client.post(path, body, content_type="application/json", **self._h(extra))

    def patch(self, path, data=None, **extra):
        body = data if isinstance(data, (str, bytes)) else json.dumps(data or {})
        return self.client.patch(path, body, content_type="application/json", **self._h(extra))


def assert_error(r, status, code=None, message=None):
    assert r.status_code == status, (r.status_code, r.content[:500])
    body = r.json()
    assert set(body) == {"code", "message", "detail"}, body
    assert isinstance(body["detail"], dict)
    assert CJK.search(body["message"]), body
    if code:
        assert body["code"] == code, body
    if message:
        assert message in body["message"], body
    return body


def last_entry(obj, action):
    return AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(type(obj)), object_id=obj.pk,
                                     action=action).latest("id")


# ================================================================ basics

def test_openapi_schema_is_served(db, client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/api/v1/areas" in paths and "/api/v1/users" in paths and "/api/v1/audit" in paths


def test_401_shape_without_or_with_a_bad_token(world):
    assert_error(Api().get("/api/v1/me"), 401, "unauthenticated", "未登录或令牌无效")
    assert_error(Api(key="yj_not-a-real-token").get("/api/v1/areas"), 401, "unauthenticated")
    assert_error(Api(key="garbage").post("/api/v1/areas", {"parent_id": 1, "name": "x"}), 401)
    assert not Area.objects.filter(name="x").exists()


def test_404_shape_out_of_scope_and_unknown(world):
    api = Api(world.town_a)
    for path in (f"/api/v1/areas/{world.area_b.pk}", "/api/v1/areas/999999", f"/api/v1/users/{world.town_b.pk}",
                 "/api/v1/areas/99999999999999999999999", "/api/v1/no-such-endpoint"):
        assert_error(api.get(path), 404, message="记录不存在或无权访问")
    # the same for writes
    assert_error(api.patch(f"/api/v1/areas/{world.area_b.pk}", {"name": "x"}), 404, "not_found")
    assert_error(api.post(f"/api/v1/users/{world.town_b.pk}/deactivate"), 404, "not_found")
    assert_error(Api(world.grid).get("/api/v1/users"), 404)
    assert_error(Api(world.grid).get("/api/v1/audit"), 404)


def test_422_shape_for_an_invalid_payload(world):
    api = Api(world.admin)
    body = assert_error(api.post("/api/v1/areas", {"parent_id": "abc", "name": "x"}), 422, "invalid_input",
                        "输入有误")
    assert "parent_id" in body["detail"]
    body = assert_error(api.post("/api/v1/areas", {"name": "x"}), 422, "invalid_input")
    assert "parent_id" in body["detail"]
    assert_error(api.post("/api/v1/areas", "{not json"), 400)  # not JSON at all


def test_service_errors_keep_their_chinese_message_and_detail(world):
    api = Api(world.admin)
    body = assert_error(api.post("/api/v1/areas", {"parent_id": world.area_a.pk, "name": "  "}), 422,
                        "invalid_input", "名称不能为空")
    assert body["detail"] == {"name": "名称不能为空"}
    assert_error(Api(world.town_a).post("/api/v1/areas", {"parent_id": world.area_a.pk, "name": "x"}), 403,
                 "forbidden", "无权执行此操作")


@pytest.mark.parametrize("query, message", [
    ({"cursor": "!!!"}, "分页游标无效"),
    ({"cursor": "WyJ4Il0"}, "分页游标无效"),          # ["x"]
    ({"cursor": "eyJhIjogMX0"}, "分页游标无效"),      # {"a": 1}
    ({"cursor": "W10"}, "分页游标无效"),              # []
    ({"limit": 0}, "每页条数须在1到500之间"),
    ({"limit": 501}, "每页条数须在1到500之间"),
    ({"limit": -1}, "每页条数须在1到500之间"),
])
@pytest.mark.parametrize("path", ["/api/v1/areas", "/api/v1/users", "/api/v1/audit"])
def test_pagination_errors(world, path, query, message):
    body = assert_error(Api(world.admin).get(path, query), 422, "invalid_input", message)
    assert body["detail"]


def test_keyset_pages_cover_exactly_the_visible_rows(world):
    api = Api(world.town_a)
    seen, cursor = [], None
    while True:
        r = api.get("/api/v1/areas", {"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200
        seen += [item["id"] for item in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    expected = list(Area.objects.filter(code__startswith=world.area_a.code).order_by("id").values_list("pk", flat=True))
    assert seen == expected


# ================================================================ request id and client address

def test_request_id_is_echoed_and_stored_with_the_client_ip(world):
    api = Api(world.admin)
    r = api.post("/api/v1/areas", {"parent_id": world.area_a.pk, "name": "审计村"},
                 HTTP_X_REQUEST_ID="req-2026.abc_1", REMOTE_ADDR="10.20.30.40")
    assert r.status_code == 201
    assert r["X-Request-ID"] == "req-2026.abc_1"
    e = last_entry(Area.objects.get(pk=r.json()["id"]), "area.create")
    assert (e.request_id, e.ip, e.actor) == ("req-2026.abc_1", "10.20.30.40", world.admin)
    # listed by the audit API with both
    items = api.get("/api/v1/audit", {"model": "core.area", "object_id": e.object_id}).json()["items"]
    assert [(i["request_id"], i["ip"], i["actor_id"]) for i in items] == [("req-2026.abc_1", "10.20.30.40",
                                                                          world.admin.pk)]


def test_unsafe_request_id_is_replaced(world):
    api = Api(world.admin)
    r = api.post("/api/v1/areas", {"parent_id": world.area_a.pk, "name": "换号村"},
                 HTTP_X_REQUEST_ID="<script>" + "x" * 100)
    generated = r["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{16}", generated)
    assert last_entry(Area.objects.get(pk=r.json()["id"]), "area.create").request_id == generated
    # every response carries one, errors included
    r = Api().get("/api/v1/me")
    assert r.status_code == 401 and re.fullmatch(r"[0-9a-f]{16}", r["X-Request-ID"])


def test_page_requests_store_request_id_and_ip_too(world, client):
    client.force_login(world.admin)
    r = client.post(f"/areas/{world.area_a.pk}/new/", {"name": "页面村"}, HTTP_X_REQUEST_ID="page-req-7",
                    REMOTE_ADDR="192.0.2.7")
    assert r.status_code == 302 and r["X-Request-ID"] == "page-req-7"
    e = last_entry(Area.objects.get(name="页面村"), "area.create")
    assert (e.request_id, e.ip, e.actor) == ("page-req-7", "192.0.2.7", world.admin)


# ================================================================ write endpoints, audited

def test_area_endpoints(world):
    api = Api(world.admin)
    r = api.post("/api/v1/areas", {"parent_id": world.villages["a1"].pk, "name": "新网格", "latitude": 29.7,
                                   "longitude": 120.2})
    assert r.status_code == 201
    grid = r.json()
    assert grid["level"] == 4 and grid["code"].startswith(world.villages["a1"].code) and grid["latitude"] == 29.7
    area = Area.objects.get(pk=grid["id"])
    assert last_entry(area, "area.create").actor == world.admin
    r = api.patch(f"/api/v1/areas/{area.pk}", {"name": "改名网格"})
    assert r.status_code == 200 and r.json()["name"] == "改名网格"
    assert last_entry(area, "area.update").changes["name"] == ["新网格", "改名网格"]
    r = api.post(f"/api/v1/areas/{area.pk}/move", {"new_parent_id": world.villages["b1"].pk})
    assert r.status_code == 200 and r.json()["code"].startswith(world.villages["b1"].code)
    assert last_entry(area, "area.move").actor == world.admin
    r = api.post(f"/api/v1/areas/{area.pk}/archive")
    assert r.status_code == 200 and r.json()["archived"] is True
    assert last_entry(area, "area.archive").actor == world.admin
    # archived areas are listed only on request
    ids = [i["id"] for i in api.get("/api/v1/areas", {"parent_id": world.villages["b1"].pk}).json()["items"]]
    assert area.pk not in ids
    ids = [i["id"] for i in api.get("/api/v1/areas", {"parent_id": world.villages["b1"].pk,
                                                      "include_archived": True}).json()["items"]]
    assert area.pk in ids


def test_move_endpoint_refuses_targets_out_of_scope(world):
    local = services.create_user(world.admin, username="admin_a", password=PASSWORD, role=roles.CITY_ADMIN,
                                 area=world.area_a, must_change_password=False)
    r = Api(local).post(f"/api/v1/areas/{world.grids['a1g1'].pk}/move", {"new_parent_id": world.villages["b1"].pk})
    assert_error(r, 404, "not_found")
    assert_error(Api(world.admin).post(f"/api/v1/areas/{world.villages['a1'].pk}/move",
                                       {"new_parent_id": world.villages["a2"].pk}), 422, message="目标上级区域层级不符")


def test_user_endpoints(world):
    api = Api(world.town_a)
    r = api.post("/api/v1/users", {"username": "li.si", "password": PASSWORD, "display_name": "李四",
                                   "role": roles.GRID_WORKER, "area_id": world.villages["a2"].pk})
    assert r.status_code == 201, r.json()
    person = User.objects.get(username="li.si")
    assert r.json()["roles"][0]["area"]["id"] == world.villages["a2"].pk
    assert last_entry(person, "user.create").actor == world.town_a
    assert_error(api.post("/api/v1/users", {"username": "boss", "password": PASSWORD, "role": roles.CITY_ADMIN,
                                            "area_id": world.area_a.pk}), 403, message="您无权授予")
    assert_error(api.post("/api/v1/users", {"username": "b_user", "password": PASSWORD, "role": roles.GRID_WORKER,
                                            "area_id": world.villages["b1"].pk}), 404)
    r = api.post(f"/api/v1/users/{person.pk}/roles", {"role": roles.ENTERPRISE, "area_id": world.area_a.pk})
    assert r.status_code == 201
    assignment_id = r.json()["id"]
    assert last_entry(person, "user.grant_role").changes["role"] == [None, roles.ENTERPRISE]
    r = api.post(f"/api/v1/users/{person.pk}/roles/{assignment_id}/revoke")
    assert r.status_code == 200 and r.json()["revoked"] is True
    assert last_entry(person, "user.revoke_role").actor == world.town_a
    assert_error(api.post(f"/api/v1/users/{world.grid.pk}/roles/{assignment_id}/revoke"), 404)
    r = api.post(f"/api/v1/users/{person.pk}/deactivate")
    assert r.status_code == 200 and r.json()["is_active"] is False
    r = api.post(f"/api/v1/users/{person.pk}/activate")
    assert r.status_code == 200 and r.json()["is_active"] is True
    assert last_entry(person, "user.activate").actor == world.town_a
    # town B's officer cannot touch them, not even by id
    api_b = Api(world.town_b)
    assert_error(api_b.post(f"/api/v1/users/{person.pk}/roles", {"role": roles.GRID_WORKER,
                                                                 "area_id": world.villages["b1"].pk}), 404)
    assert_error(api_b.post(f"/api/v1/users/{person.pk}/deactivate"), 404)


def test_user_api_shows_only_roles_in_scope(world):
    services.grant_role(world.admin, world.grid, role=roles.GRID_WORKER, area=world.villages["b2"])
    roles_a = Api(world.town_a).get(f"/api/v1/users/{world.grid.pk}").json()["roles"]
    assert [r["area"]["id"] for r in roles_a] == [world.villages["a1"].pk]
    roles_admin = Api(world.admin).get(f"/api/v1/users/{world.grid.pk}").json()["roles"]
    assert {r["area"]["id"] for r in roles_admin} == {world.villages["a1"].pk, world.villages["b2"].pk}


def test_token_endpoints(world):
    api = Api(world.grid)
    r = api.post("/api/v1/tokens", {"name": "巡查终端"})
    assert r.status_code == 201, r.content
    created = r.json()
    assert created["token"].startswith("yj_") and created["revoked"] is False and created["name"] == "巡查终端"
    assert last_entry(world.grid, "token.create").actor == world.grid
    listed = api.get("/api/v1/tokens").json()
    assert created["id"] in [t["id"] for t in listed] and all("token" not in t for t in listed)
    fresh = Api(key=created["token"])
    assert fresh.get("/api/v1/me").status_code == 200
    assert_error(Api(world.town_a).post(f"/api/v1/tokens/{created['id']}/revoke"), 404)  # only one's own
    r = api.post(f"/api/v1/tokens/{created['id']}/revoke")
    assert r.status_code == 200 and r.json()["revoked"] is True
    assert last_entry(world.grid, "token.revoke").actor == world.grid
    assert_error(fresh.get("/api/v1/me"), 401, "unauthenticated")
    assert_error(api.post(f"/api/v1/tokens/{created['id']}/revoke"), 422, message="令牌已撤销")
    assert ApiToken.objects.get(pk=created["id"]).revoked_at is not None


def test_session_authenticated_api_reads(world, client):
    client.force_login(world.town_a)
    r = client.get("/api/v1/me")
    assert r.status_code == 200 and r.json()["username"] == "town_a"
    assert "manage_users" in r.json()["capabilities"] and "manage_areas" not in r.json()["capabilities"]


def test_reference_data_endpoints(world):
    api = Api(world.grid)
    assert {o["code"] for o in api.get("/api/v1/organisations").json()} >= {"yjj", "zj"}
    assert {s["code"] for s in api.get("/api/v1/sectors").json()} == {"industry_trade", "hazchem", "construction"}


# ================================================================ garbage never gives a 500

HUGE = 10 ** 30
NUL = "a\u0000b"


def _api_cases(world):
    a, person = world.villages["a1"], world.grid
    assignment = RoleAssignment.objects.get(user=person)
    return [
        ("get", "/api/v1/areas", {"parent_id": "x", "level": "y", "include_archived": "maybe"}),
        ("get", "/api/v1/areas", {"parent_id": HUGE, "level": HUGE}),
        ("get", "/api/v1/areas", {"q": NUL}),
        ("get", "/api/v1/areas", {"cursor": "WzFlMzAwXQ"}),  # [1e300]
        ("get", f"/api/v1/areas/{HUGE}", None),
        ("get", "/api/v1/areas/abc", None),
        ("post", "/api/v1/areas", {"parent_id": a.pk, "name": "名" * 65}),
        ("post", "/api/v1/areas", {"parent_id": a.pk, "name": NUL, "kind": NUL}),
        ("post", "/api/v1/areas", {"parent_id": a.pk, "name": "x", "latitude": "north", "longitude": []}),
        ("post", "/api/v1/areas", {"parent_id": a.pk, "name": "x", "latitude": 1e308, "longitude": 1e308}),
        ("post", "/api/v1/areas", {"parent_id": a.pk, "name": "x", "code": NUL}),
        ("post", "/api/v1/areas", {"parent_id": HUGE, "name": "x"}),
        ("post", "/api/v1/areas", {"parent_id": world.grids["a1g1"].pk, "name": "x"}),
        ("post", "/api/v1/areas", [1, 2, 3]),
        ("post", "/api/v1/areas", "null"),
        ("patch", f"/api/v1/areas/{a.pk}", {"latitude": 100, "longitude": 0}),
        ("patch", f"/api/v1/areas/{a.pk}", {"latitude": 10}),
        ("patch", f"/api/v1/areas/{a.pk}", {"name": ""}),
        ("patch", f"/api/v1/areas/{a.pk}", {"name": {"x": 1}}),
        ("post", f"/api/v1/areas/{a.pk}/move", {"new_parent_id": "x"}),
        ("post", f"/api/v1/areas/{a.pk}/move", {"new_parent_id": HUGE}),
        ("post", f"/api/v1/areas/{world.county.pk}/move", {"new_parent_id": a.pk}),
        ("post", f"/api/v1/areas/{world.county.pk}/archive", None),
        ("post", "/api/v1/users", {"username": NUL, "password": NUL, "role": NUL, "area_id": a.pk}),
        ("post", "/api/v1/users", {"username": "x_user", "password": PASSWORD, "role": roles.GRID_WORKER,
                                   "area_id": a.pk, "sector_ids": [HUGE, "x"]}),
        ("post", "/api/v1/users", {"username": "x_user", "password": PASSWORD, "role": roles.DEPT_OFFICER,
                                   "area_id": a.pk, "sector_ids": [HUGE]}),
        ("post", "/api/v1/users", {"username": "x_user", "password": PASSWORD, "role": roles.GRID_WORKER,
                                   "area_id": a.pk, "organisation_id": HUGE}),
        ("post", "/api/v1/users", {"username": "x_user", "password": PASSWORD, "role": roles.GRID_WORKER,
                                   "area_id": a.pk, "display_name": NUL, "phone": NUL}),
        ("post", "/api/v1/users", {"username": "x_user", "password": "", "role": roles.GRID_WORKER, "area_id": a.pk}),
        ("post", "/api/v1/users", {"username": "grid", "password": PASSWORD, "role": roles.GRID_WORKER,
                                   "area_id": a.pk}),
        ("post", f"/api/v1/users/{HUGE}/roles", {"role": roles.GRID_WORKER, "area_id": a.pk}),
        ("post", f"/api/v1/users/{person.pk}/roles", {"role": "god", "area_id": a.pk}),
        ("post", f"/api/v1/users/{person.pk}/roles", {"role": roles.GRID_WORKER, "area_id": a.pk}),
        ("post", f"/api/v1/users/{person.pk}/roles/{HUGE}/revoke", None),
        ("post", f"/api/v1/users/{HUGE}/roles/{assignment.pk}/revoke", None),
        ("post", f"/api/v1/users/{HUGE}/deactivate", None),
        ("post", f"/api/v1/users/{world.admin.pk}/deactivate", None),
        ("get", "/api/v1/users", {"q": NUL, "limit": "many"}),
        ("get", f"/api/v1/users/{HUGE}", None),
        ("get", "/api/v1/audit", {"model": "nope", "object_id": "x", "since": "yesterday", "until": "2026-13-45"}),
        ("get", "/api/v1/audit", {"model": "core.nomodel", "object_id": HUGE}),
        ("get", "/api/v1/audit", {"model": NUL, "actor": NUL, "action": NUL}),
        ("get", "/api/v1/audit", {"since": "9999-12-31", "until": "9999-12-31"}),
        ("get", "/api/v1/audit", {"since": "0001-01-01", "until": "0001-01-01"}),
        ("post", "/api/v1/tokens", {"name": ["x"]}),
        ("post", "/api/v1/tokens", {"name": NUL}),
        ("post", f"/api/v1/tokens/{HUGE}/revoke", None),
        ("post", "/api/v1/tokens/abc/revoke", None),
        ("get", "/api/v1/me", {"x": NUL}),
    ]


def test_garbage_sent_to_every_core_endpoint_gives_a_structured_chinese_error(world):
    api = Api(world.admin)
    before = (Area.objects.count(), User.objects.count(), RoleAssignment.objects.count(), ApiToken.objects.count())
    problems = []
    for method, path, data in _api_cases(world):
        r = getattr(api, method)(path, data)
        if r.status_code < 300 and method == "get":
            continue  # a read may just find nothing
        if r.status_code >= 500 or r.status_code < 400:
            problems.append(f"{method.upper()} {path} {data!r} → {r.status_code} {r.content[:200]!r}")
            continue
        body = r.json()
        if set(body) != {"code", "message", "detail"} or not CJK.search(body["message"]):
            problems.append(f"{method.upper()} {path} {data!r} → {body}")
    assert not problems, "\n".join(problems)
    after = (Area.objects.count(), User.objects.count(), RoleAssignment.objects.count(), ApiToken.objects.count())
    assert after == before


def test_nul_characters_are_refused_up_front(world, client):
    api = Api(world.admin)
    before = Area.objects.count()
    body = assert_error(api.post("/api/v1/areas", {"parent_id": world.area_a.pk, "name": NUL}), 422, "invalid_input",
                        "不能包含空字符")
    assert body["detail"]
    assert_error(api.get("/api/v1/areas", {"q": NUL}), 422, message="不能包含空字符")
    assert Area.objects.count() == before
    client.force_login(world.admin)
    r = client.get("/areas/", {"q": NUL})
    assert r.status_code == 422 and "不能包含空字符" in r.content.decode()


def test_audit_dates_out_of_range_are_an_input_error(world, client):
    api = Api(world.admin)
    body = assert_error(api.get("/api/v1/audit", {"until": "9999-12-31"}), 422, message="日期超出范围")
    assert "until" in body["detail"]
    assert_error(api.get("/api/v1/audit", {"since": "0001-01-01"}), 422, message="日期超出范围")
    client.force_login(world.admin)
    r = client.get("/audit/", {"until": "9999-12-31"})
    assert r.status_code == 422 and "日期超出范围" in r.content.decode()
    assert api.get("/api/v1/audit", {"since": "2000-01-01", "until": "2099-12-31"}).status_code == 200


def test_ids_out_of_range_in_payloads_are_an_input_error(world):
    api = Api(world.admin)
    body = assert_error(api.post("/api/v1/users", {"username": "big_ids", "password": PASSWORD,
                                                   "role": roles.DEPT_OFFICER, "area_id": world.county.pk,
                                                   "sector_ids": [HUGE]}), 422, "invalid_input")
    assert any(k.startswith("sector_ids") for k in body["detail"])
    assert not User.objects.filter(username="big_ids").exists()


def test_local_officer_cannot_adopt_an_account_without_roles(world):
    """An account with no role at all (e.g. made by ``createsuperuser``) is out of a town
    officer's scope: granting it a role answers 404 and changes nothing."""
    root = User.objects.create_superuser("console_root", password=PASSWORD)
    r = Api(world.town_a).post(f"/api/v1/users/{root.pk}/roles", {"role": roles.GRID_WORKER,
                                                                   "area_id": world.villages["a1"].pk})
    assert_error(r, 404, "not_found")
    assert not RoleAssignment.objects.filter(user=root).exists()
    r = Api(world.admin).post(f"/api/v1/users/{root.pk}/roles", {"role": roles.CITY_ADMIN,
                                                                  "area_id": world.county.pk})
    assert r.status_code == 201
