"""Checklist records for tests, built through the services."""
from __future__ import annotations

import itertools

_seq = itertools.count(1)


def make_published_module(world, *, code=None, name="测试模块", **applicability):
    """A module published as version 1: section 1 (T-01, T-02), section 2 (T-03, major with a criterion)."""
    from yingji.checklists import services
    from yingji.checklists.models import MajorHazardCriterion

    admin = world.admin
    module = services.create_module(admin, code=code or f"test_{next(_seq)}", name=name, **applicability)
    draft = services.start_revision(admin, module)
    s1 = services.add_section(admin, draft, title="基础管理")
    s2 = services.add_section(admin, draft, title="现场检查")
    services.add_item(admin, s1, code="T-01", question="建立全员安全生产责任制", basis="《安全生产法》第四条",
                      category="management")
    services.add_item(admin, s1, code="T-02", question="从业人员经安全培训合格上岗", basis="《安全生产法》第二十八条",
                      category="management")
    services.add_item(admin, s2, code="T-03", question="干式除尘系统采取泄爆、惰化、抑爆措施",
                      criterion=MajorHazardCriterion.objects.get(code="GM10-11-3"), category="dust",
                      photo_required=True)
    services.publish(admin, draft, note="初始版本")
    return module


def make_site(world, area=None, *, kind="enterprise", sectors=(), traits=(), name=None):
    """A site through the registry services (enterprises get a valid credit code)."""
    from yingji.registry import services as registry_services

    fields = {}
    if kind == "enterprise":
        fields["credit_code"] = credit_code(next(_seq))
    return registry_services.create_site(world.admin, kind=kind, area=area or world.villages["a1"],
                                         sectors=list(sectors), traits=list(traits),
                                         name=name or f"检查清单测试对象{next(_seq)}", **fields)


def credit_code(n: int) -> str:
    from yingji.registry.creditcode import generate_credit_code

    return generate_credit_code(n, seed=77)
