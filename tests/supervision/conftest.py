import pytest


@pytest.fixture
def site_a(world):
    """A factory in town A's first village (industry & trade), with ``world.enterprise`` bound to it."""
    from tests.hazards.factories import make_site
    from yingji.registry import services as registry_services

    site = make_site(world, world.villages["a1"], world.sectors["industry_trade"], name="大唐某铝制品厂")
    registry_services.bind_site_manager(world.admin, world.enterprise, site)
    return site
