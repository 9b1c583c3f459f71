"""Every response carries the Content-Security-Policy (scripts only from our own static files:
no 'unsafe-inline', no 'unsafe-eval') and the other security headers; no page or template holds an
inline script, an ``on*=`` handler or a ``javascript:`` URL; our own JavaScript never writes HTML."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import PASSWORD
from yingji.core import roles, services
from yingji.core.context_processors import NAVIGATION
from yingji.core.csp_policy import content_security_policy, tile_sources

SRC = Path(__file__).resolve().parents[2] / "src" / "yingji"
JSON_TYPES = {"application/json", "application/ld+json"}


def directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_security_headers(response, what: str):
    csp = response.get("Content-Security-Policy")
    assert csp, f"{what}: no Content-Security-Policy"
    d = directives(csp)
    assert d.get("script-src") == ["'self'"], (what, csp)
    assert d.get("default-src") == ["'self'"], (what, csp)
    assert d.get("object-src") == ["'none'"], (what, csp)
    assert d.get("frame-ancestors") == ["'none'"], (what, csp)
    assert d.get("base-uri") == ["'self'"], (what, csp)
    assert d.get("form-action") == ["'self'"], (what, csp)
    assert d.get("connect-src") == ["'self'"], (what, csp)
    assert not any("unsafe" in v for name in ("script-src", "default-src") for v in d.get(name, [])), (what, csp)
    assert "'self'" in d.get("img-src", []), (what, csp)
    assert response.get("X-Content-Type-Options") == "nosniff", what
    assert response.get("Referrer-Policy") in ("same-origin", "strict-origin-when-cross-origin"), what
    if not what.startswith("/static/"):   # static files are answered before XFrameOptionsMiddleware
        assert response.get("X-Frame-Options") == "DENY", what


class _InlineScan(HTMLParser):
    """Inline script bodies, on*= attributes, javascript: URLs and hx-on in an HTML document."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._inline_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on") or name.startswith("hx-on"):
                self.found.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                    "javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in ("hx-vals", "hx-vars") and (value or "").strip().startswith(("js:", "javascript:")):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            self._inline_script = "src" not in attrs and (attrs.get("type") or "").lower() not in JSON_TYPES

    def handle_endtag(self, tag):
        if tag == "script":
            self._inline_script = False

    def handle_data(self, data):
        if self._inline_script and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:60]!r}")


def inline_code(html: str) -> list[str]:
    scan = _InlineScan()
    scan.feed(html)
    scan.close()
    return scan.found


def check(response, what: str):
    assert_security_headers(response, what)
    if response.get("Content-Type", "").startswith("text/html"):
        assert inline_code(response.content.decode()) == [], what


def test_the_inline_scan_finds_what_it_looks_for():
    html = ('<script>alert(1)</script><script src="/static/a.js"></script>'
            '<script type="application/json" id="d">{"a": 1}</script>'
            '<form onsubmit="return confirm(1)"></form><a href=" javascript:x()">x</a><div hx-on:click="x()"></div>')
    assert len(inline_code(html)) == 4


@pytest.fixture
def records(world):
    """One of each main record, so their pages can be fetched."""
    from tests.inspections.factories import make_campaign, start
    from tests.supervision.factories import make_listing
    from yingji.hazards import services as hazard_services
    from yingji.registry import services as registry_services
    from yingji.supervision import services as supervision_services

    site = registry_services.create_site(world.admin, kind="small_place", area=world.villages["a1"],
                                         sectors=[world.sectors["industry_trade"]], name="大唐某五金厂")
    hazard = hazard_services.report_hazard(world.admin, site=site, description="消防通道堆放杂物", category="fire")
    listing = make_listing(world, site=site)
    supervision_services.publish_notice(world.admin, listing)
    campaign = make_campaign(world, world.area_a)
    inspection = start(world, site)
    return {"site": site, "hazard": hazard, "listing": listing, "campaign": campaign, "inspection": inspection}


def test_every_main_page_has_the_policy_and_no_inline_code(world, records):
    client = Client()
    client.force_login(world.admin)
    urls = [url for _label, name, _cap, _group in NAVIGATION for url in [_reverse(name)]]
    r = records
    urls += [
        f"/sites/{r['site'].pk}/", "/sites/new/", "/sites/map/", "/sites/import/",
        "/hazards/report/", f"/hazards/report/?site={r['site'].pk}", f"/hazards/{r['hazard'].pk}/",
        "/inspections/new/", f"/inspections/new/?site={r['site'].pk}", f"/inspections/{r['inspection'].pk}/",
        f"/campaigns/{r['campaign'].pk}/", f"/supervision/{r['listing'].pk}/",
        "/password/", "/api/v1/docs", "/api/v1/openapi.json", f"/api/v1/sites/{r['site'].pk}",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        check(response, url)


def _reverse(name):
    from django.urls import reverse

    return reverse(name)


def test_signed_out_pages_errors_and_static_files_have_the_policy(world, records, monkeypatch):
    client = Client()
    listing = records["listing"]
    for url, status in [("/login/", 200), ("/public/major-hazards/", 200),
                        (f"/public/major-hazards/{listing.pk}/", 200), ("/api/v1/docs", 200),
                        ("/", 302), ("/no-such-page/", 404), ("/api/v1/sites", 401),
                        ("/static/core/app.js", 200)]:
        response = client.get(url)
        assert response.status_code == status, (url, response.status_code)
        check(response, url)

    # an out-of-scope record (404), a refused action (403), a CSRF failure (403)
    client.force_login(world.town_b)
    response = client.get(f"/sites/{records['site'].pk}/")
    assert response.status_code == 404
    check(response, "out of scope")
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(world.admin)
    response = csrf_client.post(f"/sites/{records['site'].pk}/archive/")
    assert response.status_code == 403
    check(response, "CSRF failure")

    # a server error (500 page)
    import yingji.core.worklist

    def boom(user):
        raise RuntimeError("boom")

    monkeypatch.setattr(yingji.core.worklist, "worklist", boom)
    client = Client(raise_request_exception=False)
    client.force_login(world.admin)
    response = client.get("/")
    assert response.status_code == 500
    check(response, "500 page")


def test_django_admin_pages_have_the_policy_and_no_inline_code(world):
    root = services.create_user(None, username="root", password=PASSWORD, role=roles.CITY_ADMIN, area=world.county,
                                is_superuser=True, must_change_password=False)
    client = Client()
    client.force_login(root)
    for url in ("/admin/", "/admin/core/area/", f"/admin/core/area/{world.area_a.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 200, url
        check(response, url)


def test_map_tile_host_is_allowed_for_images():
    tianditu = ("https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&x={x}&tk=k"
                "|https://t{s}.tianditu.gov.cn/cva_w/wmts?tk=k")
    assert tile_sources(tianditu) == [f"https://t{i}.tianditu.gov.cn" for i in range(8)]
    assert tile_sources("http://tiles.intranet:8080/{z}/{x}/{y}.png") == ["http://tiles.intranet:8080"]
    assert tile_sources("https://{s}.tile.example.org/{z}/{x}/{y}.png", "ab") == [
        "https://a.tile.example.org", "https://b.tile.example.org"]
    assert tile_sources("https://{r}.tiles.example.org/{z}") == ["https://*.tiles.example.org"]
    assert tile_sources("/tiles/{z}/{x}/{y}.png") == [] and tile_sources("") == []   # own origin: 'self'
    img = content_security_policy("https://tiles.example.org/{z}/{x}/{y}.png")["DIRECTIVES"]["img-src"]
    assert img == ["'self'", "data:", "blob:", "https://tiles.example.org"]
    assert settings.CONTENT_SECURITY_POLICY == content_security_policy(settings.MAP_TILE_URL)


# ---------------------------------------------------------------- the source, statically

TEMPLATES = sorted(SRC.glob("*/templates/**/*.html"))
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.S | re.I)
HANDLER = re.compile(r"<[a-zA-Z][^<>]*?\s(on[a-z]+|hx-on[:\w-]*)\s*=", re.S)
JS_URL = re.compile(r"""\b(href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.I)


def test_templates_hold_no_inline_script_or_handler():
    assert len(TEMPLATES) > 50
    found = []
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(SRC)
        for m in SCRIPT.finditer(text):
            attrs, body = m.group(1), m.group(2)
            if body.strip() and not re.search(r"""type\s*=\s*["']application/(ld\+)?json["']""", attrs):
                found.append(f"{name}: inline <script>")
        found += [f"{name}: {m.group(1)}= attribute" for m in HANDLER.finditer(text)]
        found += [f"{name}: javascript: URL" for m in JS_URL.finditer(text)]
        if re.search(r"""hx-va(ls|rs)\s*=\s*["']\s*(js|javascript):""", text):
            found.append(f"{name}: hx-vals with js:")
    assert found == []


def test_our_javascript_puts_server_data_in_as_text():
    """THE rule of core/static/core/app.js: no innerHTML / outerHTML / insertAdjacentHTML /
    document.write / eval in our own scripts (vendored libraries aside)."""
    ours = [p for p in SRC.glob("*/static/**/*.js") if "vendor" not in p.parts]
    assert any(p.name == "app.js" for p in ours) and len(ours) >= 4
    sink = re.compile(r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|document\.write|\beval\s*\(|new Function\b")
    found = [f"{p.relative_to(SRC)}:{i}" for p in ours
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if sink.search(line)]
    assert found == []


def test_precomputed_policy_equals_django_csp_and_its_decorators_still_apply(rf):
    """core.security.ContentSecurityPolicyMiddleware sets django-csp's own policy string, and a view
    that changes its policy with django-csp's decorators still gets the changed one."""
    from csp.decorators import csp_exempt, csp_update
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse

    from yingji.core.security import ContentSecurityPolicyMiddleware

    def serve(middleware_class, view):
        middleware = middleware_class(view)
        request = rf.get("/")
        middleware.process_request(request)
        return middleware.process_response(request, view(request))

    def plain(request):
        return HttpResponse("ok")

    @csp_update({"img-src": "https://img.example.org"})
    def updated(request):
        return HttpResponse("ok")

    @csp_exempt()
    def exempt(request):
        return HttpResponse("ok")

    ours, theirs = serve(ContentSecurityPolicyMiddleware, plain), serve(CSPMiddleware, plain)
    assert ours["Content-Security-Policy"] == theirs["Content-Security-Policy"]
    assert "https://img.example.org" in serve(ContentSecurityPolicyMiddleware, updated)["Content-Security-Policy"]
    assert "Content-Security-Policy" not in serve(ContentSecurityPolicyMiddleware, exempt)
