"""Shared fixtures: fixed personas over a small Zhuji-shaped tree, built through the services.

Areas: county 诸暨市 → towns 大唐街道 (``world.area_a``) and 店口镇 (``world.area_b``) → two villages each → two grids each.
Personas: admin (county), leader (read-only, county), dept (住建 sectors, county), inspector
(工贸 sector, county), town_a / town_b (town officers), grid (grid worker in town A's first
village), enterprise (site-bound; sees nothing until bound to sites).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

os.environ.setdefault("SECRET_KEY", "test-secret")
os.environ.setdefault("YINGJI_STRICT_AUDIT", "1")

PASSWORD = "Test-pass-2026!"


@dataclass
class World:
    county: object
    area_a: object   # 大唐街道
    area_b: object   # 店口镇
    villages: dict = field(default_factory=dict)   # "a1", "a2", "b1", "b2"
    grids: dict = field(default_factory=dict)      # "a1g1", ...
    sectors: dict = field(default_factory=dict)    # code -> Sector
    users: dict = field(default_factory=dict)      # persona -> User

    def __getattr__(self, name):
        users = self.__dict__.get("users", {})
        if name in users:
            return users[name]
        raise AttributeError(name)


def build_world():
    from yingji.core import audit, roles, services
    from yingji.core.models import Area, AreaLevel, Organisation, OrgKind, Sector

    with audit.context(request_id="test-setup"):
        from django.db import transaction

        with transaction.atomic():
            county = Area.objects.create(code="330681", name="诸暨市", level=AreaLevel.COUNTY, kind="县级市")
            dept = Organisation.objects.create(code="yjj", name="诸暨市应急管理局", kind=OrgKind.DEPARTMENT,
                                               area=county)
            zj = Organisation.objects.create(code="zj", name="诸暨市住房和城乡建设局", kind=OrgKind.DEPARTMENT,
                                             area=county)
            sectors = {
                "industry_trade": Sector.objects.create(code="industry_trade", name="工贸", department=dept),
                "hazchem": Sector.objects.create(code="hazchem", name="危险化学品", department=dept),
                "construction": Sector.objects.create(code="construction", name="建设施工", department=zj),
            }
            audit.record("test.setup", county, {})
        admin = services.create_user(None, username="admin", password=PASSWORD, display_name="管理员",
                                     role=roles.CITY_ADMIN, area=county, must_change_password=False)
        town_a = services.create_area(admin, parent=county, name="大唐街道", kind="街道", code="330681005")
        town_b = services.create_area(admin, parent=county, name="店口镇", kind="镇", code="330681104")
        w = World(county=county, area_a=town_a, area_b=town_b, sectors=sectors)
        for key, town in (("a", town_a), ("b", town_b)):
            for i in (1, 2):
                v = services.create_area(admin, parent=town, name=f"{town.name}{i}村", kind="村")
                w.villages[f"{key}{i}"] = v
                for j in (1, 2):
                    w.grids[f"{key}{i}g{j}"] = services.create_area(admin, parent=v, name=f"{v.name}{j}网格")

        def make(username, role, area, sectors=()):
            return services.create_user(None, username=username, password=PASSWORD, display_name=username,
                                        role=role, area=area, sectors=sectors, must_change_password=False)

        w.users = {
            "admin": admin,
            "leader": make("leader", roles.LEADER, county),
            "dept": make("dept", roles.DEPT_OFFICER, county, [sectors["construction"]]),
            "inspector": make("inspector", roles.INSPECTOR, county, [sectors["industry_trade"]]),
            "town_a": make("town_a", roles.TOWN_OFFICER, town_a),
            "town_b": make("town_b", roles.TOWN_OFFICER, town_b),
            "grid": make("grid", roles.GRID_WORKER, w.villages["a1"]),
            "enterprise": make("enterprise", roles.ENTERPRISE, county),
        }
    return w


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def api_client(client):
    """A Django test client that authenticates with a bearer token: ``api_client.as_user(user)``."""
    from yingji.core import services

    class ApiClient:
        def __init__(self):
            self.token = None

        def as_user(self, user):
            _t, self.token = services.create_token(None, user, "test")
            return self

        def _headers(self):
            return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}

        def get(self, path, **params):
            return client.get(path, params, **self._headers())

        def post(self, path, data=None, **extra):
            return client.post(path, data or {}, content_type="application/json", **self._headers(), **extra)

        def patch(self, path, data=None):
            return client.patch(path, data or {}, content_type="application/json", **self._headers())

    return ApiClient()


def login(client, user):
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _isolated_media(tmp_path_factory, settings):
    """Uploads and exports of every test go to a temporary directory, never to var/media."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the default language (a request in English must not leak into the next test)."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Reference data that migrations load (industries, risk traits, seeded checklists) is there for
    every database test, even after a transactional test (browser, concurrency) flushed the tables."""
    uses_db = request.node.get_closest_marker("django_db") is not None or {
        "db", "transactional_db", "live_server", "browser_world"} & set(request.fixturenames)
    if not uses_db:
        return
    request.getfixturevalue("_django_db_helper")
    from django.apps import apps

    from yingji.checklists.models import ChecklistModule
    from yingji.registry.models import RiskTrait

    if not RiskTrait.objects.exists():
        import importlib

        importlib.import_module("yingji.registry.migrations.0002_reference_data").load(apps, None)
    if not ChecklistModule.objects.exists():
        from yingji.checklists.seed_data import load as load_checklists

        load_checklists(apps)


CHROMIUM_INSTALL = "apt-get install chromium fonts-noto-cjk"


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One plain line at the end when the browser tests were skipped for want of Chromium (the
    summary alone says only "16 skipped"), with the command that installs it."""
    chromium = os.environ.get("YINGJI_CHROMIUM", "/usr/bin/chromium")
    if os.path.exists(chromium):
        return
    skipped = [r for r in terminalreporter.stats.get("skipped", [])
               if "tests/browser/" in getattr(r, "nodeid", "").replace("\\", "/")]
    if skipped:
        terminalreporter.write_line(f"Browser tests skipped ({len(skipped)}): no Chromium at {chromium} "
                                    f"— install it with: {CHROMIUM_INSTALL}")
