"""Bad input never reaches a 500: text no database stores (lone UTF-16 surrogates, bytes that are not
UTF-8), integers beyond 64 bits, JSON bodies that are not objects, unauthenticated calls, and the
OpenAPI document naming every schema once. Each case answers a structured 4xx in the API and a
Chinese error page in the UI."""
from __future__ import annotations

import json
import re
import typing

import pytest
from django.db import connection
from django.test import Client
from pydantic import BaseModel

from yingji.core import services
from yingji.core.models import ApiToken, Area, AuditEntry

CJK = re.compile(r"[\u4e00-\u9fff]")
HUGE = 2**64          # beyond a signed 64-bit integer: SQLite's driver raises OverflowError
LONE = '"\\ud800"'    # a JSON string holding a lone high surrogate


def bearer(user) -> dict:
    _t, key = services.create_token(None, user, "test")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def assert_error(r, status, code=None, message=None):
    assert r.status_code == status, (r.status_code, r.content[:300])
    body = r.json()
    assert set(body) == {"code", "message", "detail"}, body
    assert CJK.search(body["message"]), body
    if code:
        assert body["code"] == code, body
    if message:
        assert message in body["message"], body
    return body


def _json_operations():
    """(method, path) of every operation taking a JSON body, path ids filled with 1."""
    from yingji.api import api

    schema = api.get_openapi_schema()
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                yield method, re.sub(r"\{[^}]+\}", "1", path)


# ================================================================ lone surrogates, non-UTF-8

def test_lone_surrogates_in_json_are_refused_by_every_json_endpoint(world):
    """Before: psycopg / sqlite could not encode the text and the token endpoint (and every
    endpoint storing the text) answered 500."""
    client, auth = Client(), bearer(world.admin)
    tokens, entries = ApiToken.objects.count(), AuditEntry.objects.count()
    ops = list(_json_operations())
    assert len(ops) > 40
    problems = []
    for method, path in ops:
        body = '{"name": %s, "title": %s, "reason": %s}' % (LONE, LONE, LONE)
        r = getattr(client, method)(path, body, content_type="application/json", **auth)
        if r.status_code != 422 or "无效字符" not in r.json().get("message", ""):
            problems.append(f"{method.upper()} {path} → {r.status_code} {r.content[:120]!r}")
    assert not problems, "\n".join(problems)
    assert (ApiToken.objects.count(), AuditEntry.objects.count()) == (tokens, entries)


@pytest.mark.parametrize("body, message", [
    ('{"name": "\\ud800"}', "无效字符"),                 # lone high surrogate
    ('{"name": "a\\uDC00b"}', "无效字符"),               # lone low surrogate, upper-case hex
    ('{"name": "x", "\\ud800": 1}', "无效字符"),         # in a key
    ('{"name": ["\\udbff"]}', "无效字符"),               # nested
    (b'{"name": "\xed\xa0\x80"}', "UTF-8"),             # raw surrogate bytes
    (b'{"name": "\xff\xfe"}', "UTF-8"),                 # not UTF-8 at all
])
def test_token_names_that_are_no_text_are_refused(world, body, message):
    r = Client().post("/api/v1/tokens", body, content_type="application/json", **bearer(world.grid))
    body = assert_error(r, 422, "invalid_input", message)
    assert body["detail"]["input"]
    assert not ApiToken.objects.filter(user=world.grid).exclude(name="test").exists()


def test_surrogates_are_refused_whatever_the_declared_content_type(world):
    """django-ninja reads the body as JSON whatever its declared type."""
    r = Client().post("/api/v1/tokens", '{"name": "\\ud800"}', content_type="text/plain", **bearer(world.grid))
    assert_error(r, 422, "invalid_input", "无效字符")


def test_surrogate_pairs_and_escaped_backslashes_are_ordinary_text(world):
    client, auth = Client(), bearer(world.grid)
    r = client.post("/api/v1/tokens", '{"name": "巡查\\ud83d\\ude00"}', content_type="application/json", **auth)
    assert r.status_code == 201 and r.json()["name"] == "巡查\U0001F600"
    r = client.post("/api/v1/tokens", '{"name": "\\\\ud800"}', content_type="application/json", **auth)
    assert r.status_code == 201 and r.json()["name"] == "\\ud800"


def test_surrogates_in_query_strings_and_forms_never_reach_the_database(world):
    """Django decodes query strings and form bodies with errors="replace": a percent-encoded
    surrogate arrives as U+FFFD, answered like any other text."""
    client = Client()
    r = client.get("/api/v1/areas?q=%ED%A0%80", **bearer(world.admin))
    assert r.status_code == 200 and r.json()["items"] == []
    r = client.post("/login/", "username=%ED%A0%80&password=x", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 401 and "用户名或密码错误" in r.content.decode()
    client.force_login(world.admin)
    assert client.get("/areas/?q=%ED%A0%80").status_code == 200


# ================================================================ integers beyond 64 bits

def overflow_refused() -> bool:
    """SQLite's driver refuses integers beyond 64 bits (OverflowError → an input error); PostgreSQL
    compares them as numerics and finds nothing."""
    return connection.vendor == "sqlite"


def test_ids_beyond_64_bits_in_query_parameters_are_an_input_error(world):
    """Before: the inspection list filtered on the ``site_id`` foreign key (Django bounds plain
    integer lookups, not foreign-key ones): OverflowError → 500 on SQLite."""
    client, auth = Client(), bearer(world.admin)
    r = client.get("/api/v1/inspections", {"site_id": HUGE}, **auth)
    if overflow_refused():
        assert_error(r, 422, "invalid_input", "数值超出范围")
    else:
        assert r.status_code == 200 and r.json()["items"] == []
    for path in (f"/api/v1/areas/{HUGE}", f"/api/v1/sites/{HUGE}", f"/api/v1/hazards/{HUGE}",
                 f"/api/v1/jobs/{HUGE}", f"/api/v1/attachments/{HUGE}/content", f"/api/v1/risk/sites/{HUGE}"):
        assert_error(client.get(path, **auth), 404, "not_found")


def test_ids_beyond_64_bits_in_pages_give_a_chinese_error_page(world, client):
    client.force_login(world.admin)
    r = client.get("/inspections/", {"site": HUGE})
    if overflow_refused():
        assert r.status_code == 422 and "数值超出范围" in r.content.decode()
    else:
        assert r.status_code == 200
    assert client.get(f"/sites/{HUGE}/").status_code == 404


# ================================================================ JSON bodies that are not objects

@pytest.mark.parametrize("body", ["[1, 2]", "null", '"巡查"', "42", "true", " [] "])
def test_json_bodies_that_are_not_objects_are_refused(world, body):
    """Before: a list, a string or null was taken for an empty object (the defaults) and a
    token was created, an area "updated"."""
    client, auth = Client(), bearer(world.admin)
    before = ApiToken.objects.count(), AuditEntry.objects.count()
    assert_error(client.post("/api/v1/tokens", body, content_type="application/json", **auth),
                 422, "invalid_input", "JSON对象")
    assert_error(client.patch(f"/api/v1/areas/{world.area_a.pk}", body, content_type="application/json", **auth),
                 422, "invalid_input", "JSON对象")
    assert (ApiToken.objects.count(), AuditEntry.objects.count()) == (before[0], before[1])


def test_json_that_does_not_parse_stays_a_structured_400(world):
    r = Client().post("/api/v1/tokens", "[1, 2", content_type="application/json", **bearer(world.admin))
    assert_error(r, 400)


# ================================================================ unauthenticated calls

@pytest.mark.parametrize("method, path", [("get", "/api/v1/me"), ("post", "/api/v1/tokens"),
                                          ("patch", "/api/v1/areas/1"), ("post", "/api/v1/hazards")])
def test_unauthenticated_calls_answer_401_with_a_bearer_challenge(db, method, path):
    """Before: an unsafe method without credentials failed the session's CSRF check first (403)."""
    client = Client(enforce_csrf_checks=True)
    for extra in ({}, {"HTTP_AUTHORIZATION": "Bearer yj_not-a-token"}):
        if method == "get":
            r = client.get(path, **extra)
        else:
            r = getattr(client, method)(path, "{}", content_type="application/json", **extra)
        assert_error(r, 401, "unauthenticated")
        assert r["WWW-Authenticate"].startswith("Bearer")


def test_a_signed_in_session_still_needs_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.grid)
    assert client.get("/api/v1/me").status_code == 200
    r = client.post("/api/v1/tokens", "{}", content_type="application/json")
    assert_error(r, 403)
    assert not ApiToken.objects.filter(user=world.grid).exists()


# ================================================================ OpenAPI schema names

def _models(annotation, found):
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation not in found.setdefault(annotation.__name__, set()):
            found[annotation.__name__].add(annotation)
            for f in annotation.model_fields.values():
                _models(f.annotation, found)
        return
    for arg in typing.get_args(annotation):
        _models(arg, found)


def test_every_openapi_schema_name_belongs_to_one_model(db, client):
    """django-ninja files each model under its class name: two models of one name silently
    overwrite each other and the document describes one of them wrongly (hazard vs listing
    ``EventOut``, user vs campaign ``AssignmentOut``, four ``Ref``s...)."""
    from yingji.api import api

    found: dict[str, set] = {}
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for op in path_view.operations:
                for model in [*op.models, *(op.response_models or {}).values()]:
                    _models(model, found)
    ours = {name: {c for c in classes if c.__module__.startswith("yingji.")} for name, classes in found.items()}
    clashes = {name: sorted(c.__module__ for c in classes) for name, classes in ours.items() if len(classes) > 1}
    assert not clashes, clashes

    components = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    for name, classes in ours.items():
        if classes and name in components:
            (model,) = classes
            props = model.model_json_schema().get("properties", {})
            assert set(components[name].get("properties", {})) == set(props), name
    text = json.dumps(components)
    for ref in set(re.findall(r'"#/components/schemas/([^"]+)"', text)):
        assert ref in components, ref


def test_optional_bodies_are_documented_as_objects_not_null(world, client):
    """A JSON body must be an object: an optional one is "an object or no body", never JSON null
    (which the API refuses), so the document does not offer null."""
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    offered = [f"{method.upper()} {path}" for path, ops in paths.items() for method, op in ops.items()
               for media in op.get("requestBody", {}).get("content", {}).values()
               if {"type": "null"} in media["schema"].get("anyOf", [])]
    assert not offered, offered
    auth = bearer(world.grid)
    r = Client().post("/api/v1/notifications/read-all", "null", content_type="application/json", **auth)
    assert_error(r, 422, "invalid_input", "JSON对象")
    assert Client().post("/api/v1/notifications/read-all", "", content_type="application/json", **auth).status_code == 200
    assert Client().post("/api/v1/notifications/read-all", "{}", content_type="application/json", **auth).status_code == 200
