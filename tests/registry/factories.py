"""Site factory for the generic scoping test (registered in ``tests/scoping_factories.py``)."""
from __future__ import annotations

import itertools

_seq = itertools.count(1)


def make_site(world, area, sector=None):
    """An enterprise with a valid credit code, located in ``area`` and supervised by ``sector``
    (when given), created through ``registry.services.create_site`` by the county admin."""
    from yingji.registry import services
    from yingji.registry.creditcode import generate_credit_code

    n = next(_seq)
    return services.create_site(
        world.admin, kind="enterprise", name=f"范围测试企业{n}", credit_code=generate_credit_code(n, seed=4754),
        area=area, sectors=[sector] if sector is not None else [], address=f"测试路{n}号")
