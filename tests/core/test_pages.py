"""Core pages: sign-in and sign-out, CSRF, forced password change, Chinese form errors,
navigation per role, the Django admin, language switch, and garbage input never giving a 500."""
from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from tests.conftest import PASSWORD
from yingji.core import roles, services
from yingji.core.models import Area, AuditEntry, User

CJK = re.compile(r"[\u4e00-\u9fff]")


def error_texts(response) -> list[str]:
    """The error messages a page shows: form errors, the error page, error flash messages."""
    html = response.content.decode()
    found = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', html, re.S)
    found += re.findall(r'data-testid="error-message">(.*?)</p>', html, re.S)
    found += re.findall(r'<li class="error">(.*?)</li>', html, re.S)
    return [re.sub(r"<[^>]+>", " ", f).strip() for f in found]


def assert_chinese_error(response, fragment: str | None = None):
    texts = error_texts(response)
    assert texts, f"no error shown (status {response.status_code})"
    assert all(CJK.search(t) for t in texts), texts
    if fragment:
        assert any(fragment in t for t in texts), (fragment, texts)


def audit_of(obj, action):
    return AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(type(obj)), object_id=obj.pk,
                                     action=action)


# ================================================================ sign-in and sign-out

def test_sign_in_page_links_the_public_list_of_listed_major_hazards(db, client):
    html = client.get("/login/").content.decode()
    assert 'href="/public/major-hazards/"' in html and "重大事故隐患挂牌督办名单" in html
    assert client.get("/public/major-hazards/").status_code == 200  # no sign-in needed


def test_sign_in_wrong_password(world, client):
    r = client.post("/login/", {"username": "town_a", "password": "wrong-password"})
    assert r.status_code == 401
    assert_chinese_error(r, "用户名或密码错误")
    assert "_auth_user_id" not in client.session
    # an unknown user gets the very same answer
    r = client.post("/login/", {"username": "nobody", "password": "wrong-password"})
    assert r.status_code == 401
    assert_chinese_error(r, "用户名或密码错误")


def test_sign_in_empty_form_is_a_chinese_400(world, client):
    r = client.post("/login/", {"username": "", "password": ""})
    assert r.status_code == 400
    assert_chinese_error(r, "这个字段是必填项")


def test_sign_in_success_redirects_and_audits(world, client):
    r = client.post("/login/", {"username": "town_a", "password": PASSWORD}, HTTP_X_REQUEST_ID="login-req-1")
    assert r.status_code == 302 and r["Location"] == "/"
    assert int(client.session["_auth_user_id"]) == world.town_a.pk
    e = audit_of(world.town_a, "auth.login").get()
    assert e.actor == world.town_a and e.request_id == "login-req-1" and e.ip == "127.0.0.1"


def test_sign_in_follows_only_local_next(world, client):
    r = client.post("/login/", {"username": "town_a", "password": PASSWORD, "next": "/areas/"})
    assert r["Location"] == "/areas/"
    client.post("/logout/")
    r = client.post("/login/", {"username": "town_a", "password": PASSWORD, "next": "https://evil.example/"})
    assert r["Location"] == "/"


def test_sign_in_throttled_after_failure_limit(world, client):
    limit = settings.LOGIN_FAILURE_LIMIT
    for _ in range(limit):
        assert client.post("/login/", {"username": "town_a", "password": "wrong"}).status_code == 401
    r = client.post("/login/", {"username": "town_a", "password": PASSWORD})  # even the right password
    assert r.status_code == 429
    assert_chinese_error(r, "登录失败次数过多")
    assert "_auth_user_id" not in client.session
    # throttling is per account: another user still signs in
    assert client.post("/login/", {"username": "town_b", "password": PASSWORD}).status_code == 302


def test_inactive_user_cannot_sign_in(world, client):
    services.set_user_active(world.town_a, world.grid, False)
    r = client.post("/login/", {"username": "grid", "password": PASSWORD})
    assert r.status_code == 401
    assert_chinese_error(r, "用户名或密码错误")


def test_sign_out_is_post_only(world, client):
    client.force_login(world.town_a)
    assert client.get("/logout/").status_code == 405
    assert "_auth_user_id" in client.session
    r = client.post("/logout/")
    assert r.status_code == 302 and r["Location"] == "/login/"
    assert "_auth_user_id" not in client.session
    assert audit_of(world.town_a, "auth.logout").get().actor == world.town_a
    r = client.get("/")
    assert r.status_code == 302 and r["Location"].startswith("/login/")


def test_csrf_is_enforced(world):
    c = Client(enforce_csrf_checks=True)
    assert c.post("/login/", {"username": "town_a", "password": PASSWORD}).status_code == 403
    page = c.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    r = c.post("/login/", {"username": "town_a", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert r.status_code == 302
    # signed in: form posts and session-authenticated API writes need the token too
    assert c.post("/logout/").status_code == 403
    r = c.post("/api/v1/tokens", {"name": "x"}, content_type="application/json")
    assert r.status_code == 403 and r.json()["code"] and CJK.search(r.json()["message"])
    token = c.cookies[settings.CSRF_COOKIE_NAME].value
    r = c.post("/api/v1/tokens", {"name": "x"}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 201
    assert c.post("/logout/", {"csrfmiddlewaretoken": token}).status_code == 302


# ================================================================ forced password change

def test_must_change_password_redirects_until_changed(world, client):
    services.reset_password(world.admin, world.grid, "Reset-pass-2026!")
    r = client.post("/login/", {"username": "grid", "password": "Reset-pass-2026!"})
    assert r.status_code == 302 and r["Location"] == "/password/"
    # every other page sends the user back to the password form
    for url in ("/", "/areas/", f"/areas/{world.villages['a1'].pk}/"):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/password/"), url
    r = client.get("/password/")
    assert r.status_code == 200 and "须修改后才能继续使用本平台" in r.content.decode()
    r = client.post("/password/", {"old_password": "Reset-pass-2026!", "new_password": "Changed-pass-2026!",
                                   "new_password2": "Changed-pass-2026!"})
    assert r.status_code == 302 and r["Location"] == "/"
    assert client.get("/areas/").status_code == 200
    assert not User.objects.get(pk=world.grid.pk).must_change_password
    # signing out stays possible while the change is pending
    services.reset_password(world.admin, world.grid, "Reset-pass-2026!")
    client.force_login(User.objects.get(pk=world.grid.pk))
    assert client.post("/logout/").status_code == 302


@pytest.mark.parametrize("data, field, message", [
    ({"old_password": "wrong", "new_password": "Changed-pass-2026!", "new_password2": "Changed-pass-2026!"},
     "old_password", "原密码不正确"),
    ({"old_password": PASSWORD, "new_password": "Changed-pass-2026!", "new_password2": "Other-pass-2026!"},
     "new_password2", "两次输入的新密码不一致"),
    ({"old_password": PASSWORD, "new_password": "short", "new_password2": "short"},
     "password", "密码太短"),
    ({"old_password": PASSWORD, "new_password": "12345678", "new_password2": "12345678"},
     "password", "这个密码太常见了"),
    ({"old_password": PASSWORD, "new_password": PASSWORD, "new_password2": PASSWORD},
     "new_password", "新密码不能与原密码相同"),
    ({"old_password": "", "new_password": "", "new_password2": ""}, "old_password", "这个字段是必填项"),
])
def test_password_change_errors_in_chinese(world, client, data, field, message):
    client.force_login(world.grid)
    r = client.post("/password/", data)
    assert r.status_code == 400
    assert_chinese_error(r, message)
    assert User.objects.get(pk=world.grid.pk).check_password(PASSWORD)


# ================================================================ navigation

NAV = {"人员与角色": "/users/", "审计日志": "/audit/", "行政区域": "/areas/"}


@pytest.mark.parametrize("persona, shown, hidden", [
    ("admin", {"人员与角色", "审计日志", "行政区域"}, set()),
    ("town_a", {"人员与角色", "审计日志", "行政区域"}, set()),
    ("leader", {"审计日志", "行政区域"}, {"人员与角色"}),
    ("dept", {"审计日志", "行政区域"}, {"人员与角色"}),
    ("grid", {"行政区域"}, {"人员与角色", "审计日志"}),
    # enterprise managers get no government menus at all (tests/core/test_home.py)
    ("enterprise", set(), {"人员与角色", "审计日志"}),
])
def test_navigation_shows_only_what_the_role_may_do(world, client, persona, shown, hidden):
    client.force_login(world.users[persona])
    html = client.get("/").content.decode()
    nav = re.search(r'<nav class="main">(.*?)</nav>', html, re.S).group(1)
    for label in shown:
        assert f'href="{NAV[label]}"' in nav and label in nav, label
    for label in hidden:
        assert label not in nav and f'href="{NAV[label]}"' not in nav, label
        assert client.get(NAV[label]).status_code == 404  # and the page itself is out of reach


def test_signed_out_users_are_sent_to_sign_in(db, client):
    for url in ("/", "/areas/", "/users/", "/audit/", "/password/"):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/login/?next="), url


# ================================================================ Django admin

@pytest.fixture
def superuser(world):
    return services.create_user(None, username="root", password=PASSWORD, role=roles.CITY_ADMIN, area=world.county,
                                is_superuser=True, must_change_password=False)


def test_django_admin_is_for_superusers_only(world, client, superuser):
    for persona in ("admin", "town_a", "grid"):
        client.force_login(world.users[persona])
        for url in ("/admin/", "/admin/core/area/", f"/admin/core/area/{world.area_a.pk}/change/"):
            r = client.get(url)
            assert r.status_code == 302 and r["Location"].startswith("/admin/login/"), (persona, url)
    client.force_login(superuser)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/core/area/").status_code == 200


def test_django_admin_cannot_delete(world, client, superuser):
    client.force_login(superuser)
    assert client.get(f"/admin/core/area/{world.grids['a1g1'].pk}/delete/").status_code == 403
    assert client.get(f"/admin/core/user/{world.grid.pk}/delete/").status_code == 403
    html = client.get("/admin/core/area/").content.decode()
    assert "delete_selected" not in html
    r = client.post("/admin/core/area/", {"action": "delete_selected", "_selected_action": [world.grids["a1g1"].pk]})
    assert r.status_code < 500
    assert Area.objects.filter(pk=world.grids["a1g1"].pk).exists()


def test_django_admin_change_is_audited(world, client, superuser):
    client.force_login(superuser)
    url = f"/admin/core/area/{world.grids['a1g1'].pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    r = client.post(url, {"name": "后台改名网格", "kind": "网格", "latitude": "", "longitude": ""})
    assert r.status_code == 302, error_texts(r)
    area = Area.objects.get(pk=world.grids["a1g1"].pk)
    assert area.name == "后台改名网格"
    e = audit_of(area, "admin.change").get()
    assert e.actor == superuser and e.changes["name"][1] == "后台改名网格"


# ================================================================ language

def test_english_ui_via_cookie_and_set_language(world, client):
    client.force_login(world.town_a)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    r = client.get("/")
    assert r.status_code == 200 and '<html lang="en">' in r.content.decode()
    r = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/areas/"})
    assert r.status_code == 302 and r["Location"] == "/areas/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    r = client.get("/areas/")
    assert r.status_code == 200 and '<html lang="zh-CN">' in r.content.decode()
    r = client.post("/i18n/setlang/", {"language": "en", "next": "/areas/"})
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert client.get("/areas/").status_code == 200


# ================================================================ out of scope and unknown records

def test_unknown_and_out_of_scope_records_are_a_chinese_404(world, client):
    client.force_login(world.town_a)
    for url in (f"/areas/{world.area_b.pk}/", "/areas/999999/", "/areas/99999999999999999999999/",
                f"/areas/{world.area_b.pk}/edit/", f"/areas/{world.area_b.pk}/move/",
                f"/areas/{world.area_b.pk}/new/", f"/users/{world.town_b.pk}/", "/users/99999999999999999999999/",
                "/no-such-page/"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert_chinese_error(r, "记录不存在或无权访问")
    r = client.post(f"/areas/{world.area_b.pk}/archive/")
    assert r.status_code == 404
    r = client.post(f"/users/{world.town_b.pk}/deactivate/")
    assert r.status_code == 404
    assert User.objects.get(pk=world.town_b.pk).is_active


def test_visible_but_not_allowed_is_a_chinese_403(world, client):
    client.force_login(world.town_a)
    for url in (f"/areas/{world.area_a.pk}/edit/", f"/areas/{world.villages['a1'].pk}/move/",
                f"/areas/{world.area_a.pk}/new/"):
        r = client.get(url)
        assert r.status_code == 403, url
        assert_chinese_error(r, "无权执行此操作")


# ================================================================ the page flows work

def test_area_pages_flow(world, client):
    client.force_login(world.admin)
    r = client.post(f"/areas/{world.area_a.pk}/new/", {"name": "新建村", "kind": "村"})
    assert r.status_code == 302
    village = Area.objects.get(name="新建村")
    assert village.parent_id == world.area_a.pk and audit_of(village, "area.create").get().actor == world.admin
    r = client.post(f"/areas/{village.pk}/edit/", {"name": "改名村", "kind": "村"})
    assert r.status_code == 302 and Area.objects.get(pk=village.pk).name == "改名村"
    r = client.post(f"/areas/{village.pk}/move/", {"new_parent": world.area_b.pk})
    assert r.status_code == 302 and Area.objects.get(pk=village.pk).parent_id == world.area_b.pk
    r = client.post(f"/areas/{village.pk}/archive/", follow=True)
    assert Area.objects.get(pk=village.pk).is_archived
    assert "已归档" in r.content.decode()
    r = client.post(f"/areas/{world.area_a.pk}/archive/", follow=True)
    assert_chinese_error(r, "该区域下还有未归档的下级区域")


def test_user_pages_flow(world, client):
    client.force_login(world.town_a)
    r = client.post("/users/new/", {"username": "wang.wu", "display_name": "王五", "phone": "13900000000",
                                    "password": PASSWORD, "role": roles.GRID_WORKER, "area": world.villages["a2"].pk})
    assert r.status_code == 302, error_texts(r)
    person = User.objects.get(username="wang.wu")
    assert person.must_change_password
    # The form offers only grantable roles; a forged city_admin choice is refused with a Chinese message
    # on the same page (no bare 403 that loses the user's work).
    page = client.get(f"/users/{person.pk}/").content.decode()
    assert 'value="grid_worker"' in page and 'value="city_admin"' not in page
    r = client.post(f"/users/{person.pk}/grant/", {"role-role": roles.CITY_ADMIN, "role-area": world.area_a.pk},
                    follow=True)
    assert r.status_code == 200
    assert_chinese_error(r, "请检查角色、区域和行业领域的选择")
    assert not person.assignments.filter(role=roles.CITY_ADMIN).exists()
    r = client.post(f"/users/{person.pk}/grant/", {"role-role": roles.ENTERPRISE, "role-area": world.area_a.pk},
                    follow=True)
    assert "已授予角色" in r.content.decode()
    assignment = person.assignments.get(role=roles.ENTERPRISE)
    r = client.post(f"/users/{person.pk}/revoke/", {"assignment": assignment.pk}, follow=True)
    assert "已撤销角色" in r.content.decode()
    r = client.post(f"/users/{person.pk}/reset_password/", {"reset-new_password": "short"}, follow=True)
    assert_chinese_error(r, "密码太短")
    r = client.post(f"/users/{person.pk}/deactivate/", follow=True)
    assert "账号已停用" in r.content.decode() and not User.objects.get(pk=person.pk).is_active


def test_user_detail_shows_only_roles_in_scope(world, client):
    services.grant_role(world.admin, world.grid, role=roles.GRID_WORKER, area=world.villages["b2"])
    client.force_login(world.town_a)
    html = client.get(f"/users/{world.grid.pk}/").content.decode()
    table = re.search(r'data-testid="assignments">(.*?)</table>', html, re.S).group(1)
    assert world.villages["a1"].name in table
    assert world.villages["b2"].name not in table


# ================================================================ garbage never gives a 500

HUGE = "9" * 30
NUL = "a\x00b"


def _page_cases(world):
    a, g, person = world.villages["a1"], world.grids["a1g1"], world.grid
    return [
        ("/login/", {"username": NUL, "password": NUL}),
        ("/login/", {"username": "x" * 500, "password": "y" * 500}),
        ("/password/", {"old_password": NUL, "new_password": NUL, "new_password2": NUL}),
        (f"/areas/{a.pk}/new/", {"name": "", "code": "abc", "latitude": "north", "longitude": "east"}),
        (f"/areas/{a.pk}/new/", {"name": NUL, "kind": NUL}),
        (f"/areas/{a.pk}/new/", {"name": "名" * 500, "latitude": "1e400", "longitude": HUGE}),
        (f"/areas/{a.pk}/new/", {"name": "坐标村", "latitude": "99", "longitude": "200"}),
        (f"/areas/{a.pk}/new/", {"name": "编码村", "code": "330681104001001"}),
        (f"/areas/{g.pk}/new/", {"name": "子网格"}),
        (f"/areas/{a.pk}/edit/", {"name": "", "latitude": "x"}),
        (f"/areas/{a.pk}/edit/", {"name": "只有纬度", "latitude": "29.1"}),
        (f"/areas/{a.pk}/move/", {"new_parent": "abc"}),
        (f"/areas/{a.pk}/move/", {"new_parent": HUGE}),
        (f"/areas/{a.pk}/move/", {"new_parent": world.villages["a2"].pk}),
        ("/users/new/", {"username": NUL, "display_name": "", "password": "", "role": "god", "area": "x",
                         "sectors": ["x", HUGE], "organisation": HUGE}),
        ("/users/new/", {"username": "ok_user", "display_name": "甲", "password": "short", "role": roles.GRID_WORKER,
                         "area": world.villages["a1"].pk, "phone": "not-a-phone"}),
        ("/users/new/", {"username": "grid", "display_name": "甲", "password": PASSWORD, "role": roles.GRID_WORKER,
                         "area": world.villages["a1"].pk}),
        (f"/users/{person.pk}/grant/", {"role-role": "god", "role-area": HUGE, "role-sectors": "x"}),
        (f"/users/{person.pk}/revoke/", {"assignment": "abc"}),
        (f"/users/{person.pk}/revoke/", {"assignment": HUGE}),
        (f"/users/{person.pk}/edit/", {"edit-display_name": "", "edit-phone": "x" * 50, "edit-organisation": "x"}),
        (f"/users/{person.pk}/reset_password/", {"reset-new_password": ""}),
        (f"/users/{person.pk}/no_such_action/", {}),
    ]


GET_CASES = [
    "/areas/?q=%00&cursor=!!!", "/areas/?q=村&cursor=WyJhIl0", "/areas/?q=村&cursor=" + "A" * 300,
    "/users/?q=%00&cursor=abc", "/users/?cursor=WyJ4Il0",
    "/audit/?object_id=abc&since=yesterday&model=nope", f"/audit/?object_id={HUGE}",
    "/audit/?cursor=bad", "/audit/?actor=%00&action=" + "x" * 100, "/areas/?archived=%00",
]


def test_garbage_posted_to_every_core_form_gives_a_chinese_error(world, client):
    from yingji.core.models import RoleAssignment

    client.force_login(world.admin)
    anonymous = Client()
    before = (Area.objects.count(), User.objects.count(), RoleAssignment.objects.count())
    for url, data in _page_cases(world):
        r = (anonymous if url == "/login/" else client).post(url, data, follow=True)
        assert r.status_code < 500, (url, data, r.status_code)
        texts = error_texts(r)
        assert texts and all(CJK.search(t) for t in texts), (url, data, texts)
    for url in GET_CASES:
        r = client.get(url)
        assert r.status_code < 500, (url, r.status_code)
        if r.status_code >= 400:
            assert error_texts(r) and all(CJK.search(t) for t in error_texts(r)), (url, error_texts(r))
    assert (Area.objects.count(), User.objects.count(), RoleAssignment.objects.count()) == before


def test_cursor_with_an_infinite_number_is_a_chinese_422(world, client):
    client.force_login(world.admin)
    r = client.get("/areas/?q=村&cursor=WzFlNDAwXQ")  # base64 of [1e400]
    assert r.status_code == 422
    assert_chinese_error(r, "分页游标无效")


def test_django_admin_add_never_crashes(world, client, superuser):
    client.force_login(superuser)
    for url, data in (("/admin/core/area/add/", {"name": "后台新区", "kind": "村"}),
                      ("/admin/core/roleassignment/add/", {"role": roles.GRID_WORKER, "area": world.area_a.pk})):
        r = client.post(url, data)
        assert r.status_code in (200, 302, 403), url
