import pytest


@pytest.fixture
def site_a(world):
    """A factory in town A's first village (industry & trade), with ``world.enterprise`` bound to it."""
    from yingji.registry import services as registry_services
    from yingji.registry.creditcode import generate_credit_code

    # A registered unit (it has a credit code): the public list names it (see supervision.queries).
    site = registry_services.create_site(world.admin, kind="enterprise", area=world.villages["a1"],
                                         sectors=[world.sectors["industry_trade"]], name="大唐某铝制品厂",
                                         credit_code=generate_credit_code(7, seed=88))
    registry_services.bind_site_manager(world.admin, world.enterprise, site)
    return site
