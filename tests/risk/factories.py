"""Risk factories. ``make_assessment`` is the factory of ``risk.SiteRiskAssessment`` for the
generic scoping test (to be registered in ``tests/scoping_factories.py``)."""
from __future__ import annotations

import itertools

_seq = itertools.count(1)


def make_site(world, area, sector=None, actor=None, **fields):
    """An enterprise in ``area`` (supervised by ``sector`` when given), through ``create_site``."""
    from yingji.registry import services
    from yingji.registry.creditcode import generate_credit_code

    n = next(_seq)
    values = {"kind": "enterprise", "name": f"风险测试企业{n}", "credit_code": generate_credit_code(n, seed=6441),
              "area": area, "sectors": [sector] if sector is not None else [], "address": f"风险路{n}号"}
    values.update(fields)
    return services.create_site(actor or world.admin, **values)


def make_assessment(world, area, sector=None):
    """The first assessment of a new site in ``area`` (bound to ``sector`` when given), graded by
    ``risk.services.assess_site`` under the active (seeded default) rule set."""
    from yingji.risk.services import assess_site

    site = make_site(world, area, sector)
    assessment = assess_site(None, site)
    assert assessment is not None, "no active risk rule set (the default one is seeded by a migration)"
    return assessment
