"""Two officers acting on one site at once: archiving, editing, re-hosting and binding write only
if the site (or binding) is still as the service read it (conditional UPDATE), so the call that read
first and writes second gets a Conflict and writes nothing (tests/races.py)."""
from __future__ import annotations

import pytest

from yingji.registry import services
from yingji.registry.models import Site

from tests.hazards.factories import make_site
from tests.races import lost_race
from tests.registry.conftest import local_enterprise

pytestmark = pytest.mark.django_db

STALE = "该监管对象已被他人归档或修改,请刷新后重试"


@pytest.fixture
def site(world):
    return make_site(world, world.villages["a1"], name="大唐某袜厂")


def test_update_while_archived_does_not_bring_it_back(world, site, monkeypatch):
    _err, won = lost_race(monkeypatch, services, "_lock",
                          winner=lambda: services.archive_site(world.admin, site, reason="已注销"),
                          loser=lambda: services.update_site(world.town_a, site, address="大唐街道新址1号"),
                          message=STALE)
    assert won.archived_at is not None


def test_update_writes_only_its_fields(world, site, monkeypatch):
    """An edit never writes back the host or risk columns it read (the old full save did)."""
    host = make_site(world, world.villages["a1"], name="大唐某园区", kind="park")
    stale = Site.objects.get(pk=site.pk)
    services.set_host(world.admin, site, host)
    monkeypatch.setattr(services, "_lock", lambda s: stale)  # the row as read before the host was set
    services.update_site(world.town_a, site, address="大唐街道新址1号")
    monkeypatch.undo()
    site.refresh_from_db()
    assert site.host_id == host.pk and site.address == "大唐街道新址1号"


def test_archive_twice(world, site, monkeypatch):
    lost_race(monkeypatch, services, "_lock",
              winner=lambda: services.archive_site(world.admin, site, reason="已注销"),
              loser=lambda: services.archive_site(world.town_a, site, reason="已注销"), message=STALE)


def test_set_host_twice(world, site, monkeypatch):
    park = make_site(world, world.villages["a1"], name="大唐某园区", kind="park")
    plant = make_site(world, world.villages["a1"], name="大唐某厂房", kind="park")
    _err, won = lost_race(monkeypatch, services, "_lock",
                          winner=lambda: services.set_host(world.admin, site, park),
                          loser=lambda: services.set_host(world.town_a, site, plant), message=STALE)
    assert won.host_id == park.pk


def test_bind_while_archived(world, site, monkeypatch):
    lost_race(monkeypatch, services, "require_site_user_admin",
              winner=lambda: services.archive_site(world.admin, site, reason="已注销"),
              loser=lambda: services.bind_site_manager(world.town_a, local_enterprise(world), site), message=STALE)


def test_unbind_twice(world, site, monkeypatch):
    binding = services.bind_site_manager(world.admin, local_enterprise(world), site)
    lost_race(monkeypatch, services, "require_site_user_admin",
              winner=lambda: services.unbind_site_manager(world.admin, binding),
              loser=lambda: services.unbind_site_manager(world.town_a, binding),
              message="该绑定已被他人解除,请刷新后重试")
