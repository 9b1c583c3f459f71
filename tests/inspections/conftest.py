import pytest


@pytest.fixture
def checklist(db):
    from .factories import ensure_checklist

    return ensure_checklist()


@pytest.fixture
def site_a(world, checklist):
    """A small place in town A's first village (industry & trade), ``world.enterprise`` bound to it."""
    from yingji.registry import services as registry_services

    from .factories import make_site

    site = make_site(world, world.villages["a1"], world.sectors["industry_trade"], name="大唐某袜厂")
    registry_services.bind_site_manager(world.admin, world.enterprise, site)
    return site


@pytest.fixture
def site_b(world, checklist):
    from .factories import make_site

    return make_site(world, world.villages["b1"], world.sectors["industry_trade"], name="店口某五金厂")
