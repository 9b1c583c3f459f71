"""Accounts security: who may change whose roles and site bindings (the person's whole scope,
never one's own roles); tokens and sessions after a password change, reset or deactivation; the
Django admin's sign-in; throttling per account and per address; the client address behind
proxies; the request id."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.test import Client, RequestFactory, override_settings

from tests.conftest import PASSWORD
from yingji.core import audit, roles, services
from yingji.core.errors import Forbidden, InvalidInput, NotFound
from yingji.core.middleware import client_ip
from yingji.core.models import ApiToken, AuditEntry, LoginFailure, RoleAssignment, User
from yingji.core.scoping import forget_grants

NEW_PASSWORD = "Another-pass-2026!"
CJK = re.compile(r"[\u4e00-\u9fff]")


def entries(obj, action):
    return AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(type(obj)), object_id=obj.pk,
                                     action=action).order_by("id")


def fresh(user):
    u = User.objects.get(pk=user.pk)
    forget_grants(u)
    return u


def api(key, method, path, data=None, **extra):
    c = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    headers.update(extra)
    if method == "get":
        return c.get(path, **headers)
    return c.post(path, json.dumps(data or {}), content_type="application/json", **headers)


def token_for(user) -> str:
    return services.create_token(None, user, "t")[1]


def signed_in(username, password=PASSWORD, **extra) -> Client:
    c = Client()
    r = c.post("/login/", {"username": username, "password": password}, **extra)
    assert r.status_code == 302, r.status_code
    return c


def is_signed_in(c: Client) -> bool:
    return c.get("/areas/").status_code == 200


def sessions_of(user) -> int:
    return sum(1 for s in Session.objects.all() if str(s.get_decoded().get("_auth_user_id")) == str(user.pk))


def make_user(actor, username, role, area, **kw):
    return services.create_user(actor, username=username, password=PASSWORD, display_name=username, role=role,
                                area=area, must_change_password=False, **kw)


# ================================================================ site bindings

def _site(world, name, area):
    from yingji.registry import services as registry

    return registry.create_site(world.admin, kind="construction", name=name, area=area, address="大唐街道",
                                industry="47", sectors=[world.sectors["construction"]])


@pytest.fixture
def site_a(world):
    return _site(world, "大唐小店", world.villages["a1"])


def test_town_officer_cannot_bind_a_county_level_enterprise_account(world, site_a, client):
    """The county-level enterprise account is beyond a town officer: refused like a missing account
    (service, API, page); nothing is bound, no role granted."""
    from yingji.registry import services as registry
    from yingji.registry.models import SiteBinding

    with pytest.raises(InvalidInput) as exc:
        registry.bind_site_manager(world.town_a, world.enterprise, site_a)
    assert exc.value.message == "账号不存在或已停用"
    r = api(token_for(world.town_a), "post", f"/api/v1/sites/{site_a.pk}/managers", {"username": "enterprise"})
    nobody = api(token_for(world.town_a), "post", f"/api/v1/sites/{site_a.pk}/managers", {"username": "nobody"})
    assert r.status_code == nobody.status_code == 422
    assert r.json() == nobody.json()  # the same answer as a missing account: no probing of usernames
    client.force_login(world.town_a)
    r = client.post(f"/sites/{site_a.pk}/managers/", {"username": "enterprise"}, follow=True)
    assert r.status_code == 200 and "账号不存在或已停用" in r.content.decode()
    assert not SiteBinding.objects.exists()
    assert list(RoleAssignment.objects.filter(user=world.enterprise).values_list("area", flat=True)) == [world.county.pk]
    # the county administrator may
    registry.bind_site_manager(world.admin, world.enterprise, site_a)
    assert SiteBinding.objects.filter(site=site_a, revoked_at__isnull=True).count() == 1


def test_town_officer_cannot_bind_another_towns_enterprise_account(world, site_a):
    from yingji.registry import services as registry
    from yingji.registry.models import SiteBinding

    ent_b = make_user(world.town_b, "ent_b", roles.ENTERPRISE, world.area_b)
    with pytest.raises(InvalidInput):
        registry.bind_site_manager(world.town_a, ent_b, site_a)
    # an account of town A that also holds a role in town B: visible to town A, not theirs to bind
    both = make_user(world.town_a, "ent_ab", roles.ENTERPRISE, world.area_a)
    services.grant_role(world.admin, both, role=roles.ENTERPRISE, area=world.area_b)
    with pytest.raises(Forbidden) as exc:
        registry.bind_site_manager(world.town_a, both, site_a)
    assert "超出您管理范围" in exc.value.message
    assert not SiteBinding.objects.exists()


def test_town_officer_binds_and_unbinds_their_towns_enterprise_account(world, site_a, client):
    from yingji.registry import services as registry
    from yingji.registry.models import Site, SiteBinding

    ent = make_user(world.town_a, "ent_a", roles.ENTERPRISE, world.area_a)
    binding = registry.bind_site_manager(world.town_a, ent, site_a)
    assert set(Site.objects.visible_to(fresh(ent)).values_list("pk", flat=True)) == {site_a.pk}
    registry.unbind_site_manager(world.town_a, binding)
    # the page and the API too
    client.force_login(world.town_a)
    assert client.post(f"/sites/{site_a.pk}/managers/", {"username": "ent_a"}).status_code == 302
    binding = SiteBinding.objects.get(revoked_at__isnull=True)
    r = api(token_for(world.town_a), "post", f"/api/v1/sites/{site_a.pk}/managers/{binding.pk}/revoke")
    assert r.status_code == 200 and r.json()["revoked"] is True


def test_town_officer_cannot_unbind_a_county_level_account(world, site_a, client):
    from yingji.registry import services as registry
    from yingji.registry.models import SiteBinding

    binding = registry.bind_site_manager(world.admin, world.enterprise, site_a)
    with pytest.raises(Forbidden) as exc:
        registry.unbind_site_manager(world.town_a, binding)
    assert CJK.search(exc.value.message)
    r = api(token_for(world.town_a), "post", f"/api/v1/sites/{site_a.pk}/managers/{binding.pk}/revoke")
    assert r.status_code == 403 and CJK.search(r.json()["message"])
    client.force_login(world.town_a)
    r = client.post(f"/sites/{site_a.pk}/managers/{binding.pk}/revoke/", follow=True)
    assert r.status_code == 200 and "不在您的管理范围内" in r.content.decode()
    assert SiteBinding.objects.get(pk=binding.pk).revoked_at is None
    registry.unbind_site_manager(world.admin, binding)
    assert SiteBinding.objects.get(pk=binding.pk).revoked_at is not None


def test_town_officer_cannot_bind_themselves(world, site_a):
    from yingji.registry import services as registry

    with pytest.raises(Forbidden, match="自己的角色"):
        registry.bind_site_manager(world.town_a, world.town_a, site_a)


# ================================================================ own roles

def test_nobody_changes_their_own_roles(world, client):
    own = RoleAssignment.objects.get(user=world.town_a)
    with pytest.raises(Forbidden) as exc:
        services.revoke_role(world.town_a, own)
    assert exc.value.message == "不能更改或撤销自己的角色,请联系上级管理员"
    with pytest.raises(Forbidden, match="自己的角色"):
        services.grant_role(world.town_a, world.town_a, role=roles.GRID_WORKER, area=world.villages["a1"])
    with pytest.raises(Forbidden, match="自己的角色"):
        services.grant_role(world.admin, world.admin, role=roles.LEADER, area=world.area_a)
    with pytest.raises(Forbidden, match="自己的角色"):
        services.revoke_role(world.admin, RoleAssignment.objects.get(user=world.admin))
    # API
    key = token_for(world.town_a)
    r = api(key, "post", f"/api/v1/users/{world.town_a.pk}/roles/{own.pk}/revoke")
    assert r.status_code == 403 and "自己的角色" in r.json()["message"]
    r = api(key, "post", f"/api/v1/users/{world.town_a.pk}/roles",
            {"role": roles.GRID_WORKER, "area_id": world.villages["a1"].pk})
    assert r.status_code == 403 and "自己的角色" in r.json()["message"]
    # page
    client.force_login(world.town_a)
    r = client.post(f"/users/{world.town_a.pk}/revoke/", {"assignment": own.pk}, follow=True)
    assert "自己的角色" in r.content.decode()
    assert RoleAssignment.objects.filter(user=world.town_a, revoked_at__isnull=True).count() == 1
    assert not entries(world.town_a, "user.revoke_role").exists()


def test_user_page_offers_revoking_only_where_it_is_allowed(world, client):
    client.force_login(world.town_a)
    own = client.get(f"/users/{world.town_a.pk}/").content.decode()
    assert 'name="assignment"' not in own  # no revoke button on one's own roles
    grid = client.get(f"/users/{world.grid.pk}/").content.decode()
    assert f'name="assignment" value="{world.grid.assignments.get().pk}"' in grid
    mixed = make_user(world.town_a, "mixed", roles.GRID_WORKER, world.villages["a1"])
    services.grant_role(world.admin, mixed, role=roles.GRID_WORKER, area=world.villages["b1"])
    assert 'name="assignment"' not in client.get(f"/users/{mixed.pk}/").content.decode()


# ================================================================ the person's whole scope

def test_roles_of_a_person_beyond_reach_are_not_changed(world):
    """Granting to or revoking from a person who holds a county role or a role in another town:
    refused (out of sight → 404, in sight → 403), through the service and the API."""
    with pytest.raises(NotFound):
        services.grant_role(world.town_a, world.leader, role=roles.GRID_WORKER, area=world.villages["a1"])
    with pytest.raises(NotFound):
        services.grant_role(world.town_a, world.town_b, role=roles.GRID_WORKER, area=world.villages["a1"])
    mixed = make_user(world.town_a, "mixed", roles.GRID_WORKER, world.villages["a1"])
    services.grant_role(world.admin, mixed, role=roles.GRID_WORKER, area=world.villages["b1"])
    with pytest.raises(Forbidden, match="超出您管理范围"):
        services.grant_role(world.town_a, mixed, role=roles.GRID_WORKER, area=world.villages["a2"])
    local = mixed.assignments.get(area=world.villages["a1"])
    with pytest.raises(Forbidden):
        services.revoke_role(world.town_a, local)
    key = token_for(world.town_a)
    r = api(key, "post", f"/api/v1/users/{mixed.pk}/roles/{local.pk}/revoke")
    assert r.status_code == 403 and CJK.search(r.json()["message"])
    r = api(key, "post", f"/api/v1/users/{mixed.pk}/roles",
            {"role": roles.GRID_WORKER, "area_id": world.villages["a2"].pk})
    assert r.status_code == 403
    assert not RoleAssignment.objects.filter(user=world.leader, role=roles.GRID_WORKER).exists()
    assert not RoleAssignment.objects.filter(user=world.town_b, role=roles.GRID_WORKER).exists()
    assert set(RoleAssignment.objects.filter(user=mixed, revoked_at__isnull=True).values_list("area", flat=True)) \
        == {world.villages["a1"].pk, world.villages["b1"].pk}


def test_town_officer_manages_people_wholly_in_their_town(world, client):
    a = services.grant_role(world.town_a, world.grid, role=roles.GRID_WORKER, area=world.villages["a2"])
    services.revoke_role(world.town_a, a)
    key = token_for(world.town_a)
    r = api(key, "post", f"/api/v1/users/{world.grid.pk}/roles",
            {"role": roles.ENTERPRISE, "area_id": world.villages["a2"].pk})
    assert r.status_code == 201
    r = api(key, "post", f"/api/v1/users/{world.grid.pk}/roles/{r.json()['id']}/revoke")
    assert r.status_code == 200
    client.force_login(world.town_a)
    r = client.post(f"/users/{world.grid.pk}/grant/", {"role-role": roles.TOWN_OFFICER,
                                                       "role-area": world.area_a.pk})
    assert r.status_code == 302
    assert RoleAssignment.objects.filter(user=world.grid, role=roles.TOWN_OFFICER, revoked_at__isnull=True).exists()


def test_administrator_cannot_raise_someone_above_their_own_level(world):
    key = token_for(world.town_a)
    for role in (roles.CITY_ADMIN, roles.LEADER, roles.INSPECTOR, roles.DEPT_OFFICER):
        r = api(key, "post", f"/api/v1/users/{world.grid.pk}/roles", {"role": role, "area_id": world.area_a.pk})
        assert r.status_code == 403 and CJK.search(r.json()["message"]), role
    assert not RoleAssignment.objects.filter(user=world.grid).exclude(role=roles.GRID_WORKER).exists()


def test_one_grant_must_cover_the_area_the_sectors_and_the_role(world):
    """A 工贸-only administrator who is also town A's officer cannot combine the two grants into a
    city administrator over every sector of town A; each grant still works on its own."""
    it = world.sectors["industry_trade"]
    both = make_user(None, "it_admin", roles.CITY_ADMIN, world.county, sectors=[it])
    services.grant_role(world.admin, both, role=roles.TOWN_OFFICER, area=world.area_a)
    both = fresh(both)
    with pytest.raises(Forbidden, match="无权授予"):
        services.grant_role(both, world.grid, role=roles.CITY_ADMIN, area=world.area_a)
    assert not RoleAssignment.objects.filter(user=world.grid, role=roles.CITY_ADMIN).exists()
    services.grant_role(both, world.grid, role=roles.INSPECTOR, area=world.area_a, sectors=[it])
    services.grant_role(both, world.grid, role=roles.GRID_WORKER, area=world.villages["a2"])


# ================================================================ tokens and sessions

def test_password_reset_revokes_tokens_and_ends_every_session(world):
    key = token_for(world.grid)
    c = signed_in("grid")
    assert api(key, "get", "/api/v1/me").status_code == 200 and sessions_of(world.grid) == 1
    services.reset_password(world.town_a, world.grid, NEW_PASSWORD)
    assert api(key, "get", "/api/v1/me").status_code == 401
    assert not ApiToken.objects.filter(user=world.grid, revoked_at__isnull=True).exists()
    assert sessions_of(world.grid) == 0 and not is_signed_in(c)
    e = entries(world.grid, "user.reset_password").get()
    assert e.changes == {"password": ["***", "***"], "api_tokens": [1, 0], "sessions": [1, 0]}
    assert "API令牌" in e.note and "会话" in e.note
    # the user signs in with the new password and issues a new token
    signed_in("grid", NEW_PASSWORD)
    assert api(token_for(world.grid), "get", "/api/v1/me").status_code == 200


def test_own_password_change_keeps_this_session_and_ends_the_others(world):
    key = token_for(world.town_a)
    here, there = signed_in("town_a"), signed_in("town_a")
    r = here.post("/password/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD,
                                 "new_password2": NEW_PASSWORD})
    assert r.status_code == 302
    assert is_signed_in(here)
    assert not is_signed_in(there)  # its session's password hash no longer matches
    assert api(key, "get", "/api/v1/me").status_code == 401
    e = entries(world.town_a, "user.change_password").get()
    assert e.changes["api_tokens"] == [1, 0] and "API令牌" in e.note


def test_deactivation_ends_tokens_and_sessions_for_good(world):
    """Reactivating an account does not bring its old sessions and tokens back."""
    key = token_for(world.grid)
    c = signed_in("grid")
    services.set_user_active(world.town_a, world.grid, False)
    assert api(key, "get", "/api/v1/me").status_code == 401 and not is_signed_in(c)
    e = entries(world.grid, "user.deactivate").get()
    assert e.changes == {"is_active": [True, False], "api_tokens": [1, 0], "sessions": [1, 0]}
    services.set_user_active(world.town_a, fresh(world.grid), True)
    assert api(key, "get", "/api/v1/me").status_code == 401
    assert not is_signed_in(c)
    assert sessions_of(world.grid) == 0


def test_other_peoples_sessions_survive(world):
    other = signed_in("town_b")
    services.reset_password(world.town_a, world.grid, NEW_PASSWORD)
    assert is_signed_in(other)


def test_nobody_resets_their_own_password_without_the_old_one(world):
    with pytest.raises(InvalidInput, match="修改密码"):
        services.reset_password(world.admin, world.admin, NEW_PASSWORD)
    assert fresh(world.admin).check_password(PASSWORD)


# ================================================================ the Django admin's sign-in

@pytest.fixture
def root(world):
    return services.create_user(None, username="root", password=PASSWORD, role=roles.CITY_ADMIN, area=world.county,
                                is_superuser=True, must_change_password=False)


def test_admin_login_is_the_platform_sign_in(world, root, client):
    r = client.get("/admin/login/?next=/admin/core/area/")
    assert r.status_code == 302
    target = urlparse(r["Location"])
    assert target.path == "/login/" and parse_qs(target.query) == {"next": ["/admin/core/area/"]}
    # posting credentials to the admin's page signs nobody in
    r = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert r.status_code == 302 and urlparse(r["Location"]).path == "/login/"
    assert "_auth_user_id" not in client.session
    # the whole round trip: /admin/ → sign-in → back to /admin/
    r = client.get("/admin/", follow=True)
    assert r.redirect_chain[-1][0].startswith("/login/?next=")
    r = client.post("/login/", {"username": "root", "password": PASSWORD, "next": "/admin/"})
    assert r.status_code == 302 and r["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert entries(root, "auth.login").count() == 1
    r = client.post("/admin/logout/")
    assert r.status_code == 302 and entries(root, "auth.logout").count() == 1


def test_admin_sign_in_is_throttled_like_the_main_one(world, root, client):
    for _ in range(5):
        client.post("/login/?next=/admin/", {"username": "root", "password": "wrong", "next": "/admin/"})
    r = client.post("/login/", {"username": "root", "password": PASSWORD, "next": "/admin/"})
    assert r.status_code == 429
    assert client.get("/admin/").status_code == 302


# ================================================================ throttling

def test_one_user_failing_does_not_lock_out_the_office(world):
    """Ten people behind one NAT address: one of them fails five times — that account is locked
    (from any address, even with the right password); the nine others still sign in."""
    office = {"REMOTE_ADDR": "198.51.100.20"}
    people = [make_user(world.town_a, f"clerk{i}", roles.GRID_WORKER, world.villages["a1"]) for i in range(10)]
    c = Client()
    for _ in range(5):
        assert c.post("/login/", {"username": "clerk0", "password": "wrong"}, **office).status_code == 401
    assert c.post("/login/", {"username": "clerk0", "password": PASSWORD}, **office).status_code == 429
    assert Client().post("/login/", {"username": "clerk0", "password": PASSWORD},
                         REMOTE_ADDR="203.0.113.5").status_code == 429
    assert Client().post("/login/", {"username": "CLERK0", "password": PASSWORD},
                         REMOTE_ADDR="203.0.113.6").status_code == 429
    for person in people[1:]:
        signed_in(person.username, **office)


def test_the_address_limit_is_much_higher_than_the_account_limit(world, settings):
    """Failures of many accounts from one address add up to LOGIN_IP_FAILURE_LIMIT (50), not 20."""
    assert settings.LOGIN_IP_FAILURE_LIMIT == 50
    office = {"REMOTE_ADDR": "198.51.100.30"}
    c = Client()
    for i in range(49):
        assert c.post("/login/", {"username": f"typo{i % 12}", "password": "wrong"}, **office).status_code == 401
    signed_in("town_a", **office)
    c.post("/login/", {"username": "typo0x", "password": "wrong"}, **office)
    assert Client().post("/login/", {"username": "town_b", "password": PASSWORD}, **office).status_code == 429
    signed_in("town_b", REMOTE_ADDR="198.51.100.31")  # another address is not affected


@override_settings(BEHIND_PROXY=True, TRUSTED_PROXIES=1)
def test_forged_forwarded_for_does_not_dodge_the_address_limit(world, settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 6
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for i in range(6):
        r = Client().post("/login/", {"username": f"guess{i}", "password": "wrong"},
                          HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, 203.0.113.66", **proxy)
        assert r.status_code == 401
    assert set(LoginFailure.objects.values_list("ip", flat=True)) == {"203.0.113.66"}
    r = Client().post("/login/", {"username": "town_a", "password": PASSWORD},
                      HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.66", **proxy)
    assert r.status_code == 429
    signed_in("town_a", HTTP_X_FORWARDED_FOR="203.0.113.67", **proxy)


def test_failed_tokens_are_limited_per_address(world, settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 3
    here = {"REMOTE_ADDR": "198.51.100.40"}
    for _ in range(3):
        assert api("yj_not-a-token", "get", "/api/v1/me", **here).status_code == 401
    r = api("yj_not-a-token", "get", "/api/v1/me", **here)
    assert r.status_code == 429
    assert set(r.json()) == {"code", "message", "detail"} and CJK.search(r.json()["message"])
    assert api("garbage", "get", "/api/v1/me", **here).status_code == 429
    assert LoginFailure.objects.filter(ip="198.51.100.40").count() == 3  # not growing under a flood
    assert api("yj_not-a-token", "get", "/api/v1/me", REMOTE_ADDR="198.51.100.41").status_code == 401
    # a real token still works (tokens are not guessable); signing in from there is not blocked
    assert api(token_for(world.grid), "get", "/api/v1/me", **here).status_code == 200
    signed_in("town_a", **here)


# ================================================================ client address

def _request(xff=None, remote="10.0.0.2"):
    meta = {"REMOTE_ADDR": remote}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **meta)


@pytest.mark.parametrize("behind, hops, xff, remote, expected", [
    (False, 1, "1.2.3.4", "192.0.2.10", "192.0.2.10"),                     # not behind a proxy: header ignored
    (True, 1, "1.2.3.4, 203.0.113.9", "10.0.0.2", "203.0.113.9"),          # forged left-most entry ignored
    (True, 1, "203.0.113.9", "10.0.0.2", "203.0.113.9"),
    (True, 2, "1.2.3.4, 203.0.113.9, 10.0.0.1", "10.0.0.2", "203.0.113.9"),  # two proxies
    (True, 2, "203.0.113.9", "10.0.0.2", "10.0.0.2"),                      # chain shorter than the proxies
    (True, 1, None, "10.0.0.2", "10.0.0.2"),
    (True, 1, "1.2.3.4, not-an-address", "10.0.0.2", "10.0.0.2"),          # garbage: the peer
    (True, 1, "2001:db8::1", "10.0.0.2", "2001:db8::1"),
    (True, 1, " 203.0.113.9 ,", "10.0.0.2", "203.0.113.9"),
    (False, 1, None, "", None),
    (False, 1, None, "fe80::1%eth0", "fe80::1"),
])
def test_client_ip(settings, behind, hops, xff, remote, expected):
    settings.BEHIND_PROXY, settings.TRUSTED_PROXIES = behind, hops
    assert client_ip(_request(xff, remote)) == expected


@override_settings(BEHIND_PROXY=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_garbage_forwarded_for_never_reaches_the_audit_trail(world):
    """Not an address (PostgreSQL's inet column would refuse it): the peer's address is kept."""
    r = Client().post("/login/", {"username": "town_a", "password": PASSWORD},
                      HTTP_X_FORWARDED_FOR="<script>, also not an address", REMOTE_ADDR="10.0.0.2")
    assert r.status_code == 302
    assert entries(world.town_a, "auth.login").get().ip == "10.0.0.2"


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_trusted_proxies_setting_must_be_a_positive_integer(value):
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DATABASE_URL"}}
    env.update({"SECRET_KEY": "x", "YINGJI_TRUSTED_PROXIES": value})
    proc = subprocess.run([sys.executable, "-c", "import yingji.settings"], env=env, capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))) + "/src")
    assert proc.returncode != 0 and "YINGJI_TRUSTED_PROXIES" in proc.stderr


# ================================================================ request id

@pytest.mark.parametrize("incoming, kept", [
    ("req-2026.abc_1", True),
    ("x" * 64, True),
    ("x" * 65, False),
    ("abc\n", False),
    ("abc def", False),
    ("请求1", False),
    ("", False),
])
def test_request_id_is_bounded_and_sanitised(world, incoming, kept):
    key = token_for(world.admin)
    r = api(key, "post", "/api/v1/areas", {"parent_id": world.area_a.pk, "name": "审计村"}, HTTP_X_REQUEST_ID=incoming)
    assert r.status_code == 201
    stored = AuditEntry.objects.filter(action="area.create").latest("id").request_id
    assert stored == r["X-Request-ID"]
    if kept:
        assert stored == incoming
    else:
        assert re.fullmatch(r"[0-9a-f]{16}", stored)


def test_stored_request_id_never_exceeds_its_column(world):
    from django.db import transaction

    with audit.context(actor=world.admin, request_id="cli-" + "x" * 200), transaction.atomic():
        audit.record("test.long_id", world.area_a, {})
    stored = AuditEntry.objects.filter(action="test.long_id").get().request_id
    assert stored == ("cli-" + "x" * 200)[:64]
    assert AuditEntry._meta.get_field("request_id").max_length == 64
