"""A small registry over the ``world`` fixture, built through the services.

Town A (大唐街道): two sock makers (one in grid a1g1, one in village a2), a construction site
and a metal-surface-treatment park. Town B (店口镇): a pipe maker and a small shop without a code.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from yingji.registry.creditcode import generate_credit_code

CODES = [generate_credit_code(i, seed=2017) for i in range(40)]


@dataclass
class Registry:
    world: object
    sites: dict = field(default_factory=dict)

    def __getattr__(self, name):
        sites = self.__dict__.get("sites", {})
        if name in sites:
            return sites[name]
        raise AttributeError(name)


def build_registry(world) -> Registry:
    from yingji.registry import services

    admin, s = world.admin, world.sectors
    reg = Registry(world=world)
    reg.sites["socks"] = services.create_site(
        admin, kind="enterprise", name="诸暨市大唐袜业有限公司", credit_code=CODES[0], area=world.grids["a1g1"],
        address="浙江省诸暨市大唐街道袜业路1号", industry="17", sectors=[s["industry_trade"]],
        traits=["dust", "crowded"], employees=120, scale="small",
        latitude="29.787", longitude="120.221", legal_rep="王建华", legal_rep_phone="13805751234")
    reg.sites["socks2"] = services.create_site(
        admin, kind="enterprise", name="诸暨市大江新宇袜业有限公司", credit_code=CODES[1], area=world.villages["a2"],
        address="浙江省诸暨市大唐街道轻纺路8号", industry="17", sectors=[s["industry_trade"]])
    reg.sites["works"] = services.create_site(
        admin, kind="construction", name="大唐安置房工程", area=world.villages["a1"], address="大唐街道开元路",
        industry="47", sectors=[s["construction"]], traits=["hot_work"], status="operating")
    reg.sites["park"] = services.create_site(
        admin, kind="park", name="诸暨市大唐金属表面处理中心", credit_code=CODES[2], area=world.villages["a1"],
        address="大唐街道工业路9号", industry="33", sectors=[s["industry_trade"], s["hazchem"]],
        traits=["metal_surface", "hazchem"])
    reg.sites["pipes"] = services.create_site(
        admin, kind="enterprise", name="浙江店口管业有限公司", credit_code=CODES[3], area=world.villages["b1"],
        address="浙江省诸暨市店口镇湄池路18号", industry="33", sectors=[s["industry_trade"]],
        traits=["metal_surface", "hot_work"], status="suspended")
    reg.sites["shop"] = services.create_site(
        admin, kind="small_place", name="店口便利店", area=world.grids["b1g1"], address="店口镇中心路3号",
        industry="52", sectors=[])
    # Fixed colours for the list/map filter tests (in production the risk engine sets them).
    from yingji.registry.models import Site

    for key, colour in {'socks': 'yellow', 'socks2': 'blue', 'park': 'orange', 'pipes': 'red'}.items():
        Site.objects.filter(pk=reg.sites[key].pk).update(risk_colour=colour)
        reg.sites[key].risk_colour = colour
    return reg


@pytest.fixture
def reg(world):
    from yingji.core import audit

    with audit.context(actor=world.admin, request_id="registry-setup"):
        return build_registry(world)


def local_enterprise(world, username: str = "ent_a"):
    """An enterprise account of town A, made by its officer: one town A's officer may bind (the
    county-level ``world.enterprise`` is beyond a town officer's reach)."""
    from tests.conftest import PASSWORD
    from yingji.core import roles, services

    return services.create_user(world.town_a, username=username, password=PASSWORD, display_name=username,
                                role=roles.ENTERPRISE, area=world.area_a, must_change_password=False)
