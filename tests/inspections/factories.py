"""Inspection and campaign records for tests and the generic scoping test.

Checklists are reference data of ``yingji.checklists`` (seeded by its data migration). For
predictable items, ``ensure_checklist(exclusive=True)`` archives the seeded modules and writes one
small published module for all sites directly through the models.
"""
from __future__ import annotations

import datetime
import itertools

from django.utils import timezone

from tests.hazards.factories import TINY_PNG, photo  # noqa: F401  (re-exported for the tests)

_seq = itertools.count(1)

# (code, question, hazard level, category, photo required)
GENERAL_ITEMS = [
    ("G-01", "是否建立全员安全生产责任制", "general", "management", False),
    ("G-02", "疏散通道、安全出口是否畅通", "general", "fire", True),
    ("G-03", "粉尘涉爆场所是否按规定设置泄爆装置", "major", "dust", False),
]


def ensure_checklist(code: str = "t-general", items=GENERAL_ITEMS, sectors=(), applies_to_all: bool = True,
                     exclusive: bool = True):
    """A published checklist module (created once per test database) and its version; with
    ``exclusive`` the other (seeded) modules are archived so that only this one applies."""
    from yingji.checklists.models import (ChecklistItem, ChecklistModule, ChecklistSection, ChecklistVersion,
                                          VersionStatus)

    module = ChecklistModule.objects.filter(code=code).first()
    if module is not None:
        return module.versions.get(status=VersionStatus.PUBLISHED)
    if exclusive:
        ChecklistModule.objects.filter(archived_at__isnull=True).update(archived_at=timezone.now())
    module = ChecklistModule.objects.create(code=code, name=f"通用安全管理({code})", applies_to_all=applies_to_all)
    if sectors:
        module.sectors.set(sectors)
    version = ChecklistVersion.objects.create(module=module, number=1, status=VersionStatus.PUBLISHED,
                                              published_at=timezone.now())
    section = ChecklistSection.objects.create(version=version, order=1, title="基础管理")
    for i, (icode, question, level, category, needs_photo) in enumerate(items, 1):
        ChecklistItem.objects.create(version=version, section=section, order=i, code=icode, question=question,
                                     hazard_level=level, category=category, photo_required=needs_photo)
    return version


def make_site(world, area, sector=None, name=None, kind="small_place"):
    from tests.hazards.factories import make_site as make

    return make(world, area, sector, name=name or f"检查测试场所{next(_seq)}", kind=kind)


def make_campaign(world, area, *, actor=None, activate=True, **fields):
    from yingji.inspections import services

    today = timezone.localdate()
    fields.setdefault("name", f"专项行动{next(_seq)}")
    fields.setdefault("starts_on", today - datetime.timedelta(days=1))
    fields.setdefault("ends_on", today + datetime.timedelta(days=60))
    campaign = services.create_campaign(actor or world.admin, area=area, **fields)
    if activate:
        campaign = services.activate_campaign(actor or world.admin, campaign)
    return campaign


def start(world, site, mode="town", actor=None, **kwargs):
    from yingji.inspections import services

    ensure_checklist()
    return services.start_inspection(actor or world.admin, site, mode, **kwargs)


def answer_all(actor, inspection, result="pass"):
    from yingji.inspections import services

    for r in inspection.results.order_by("id"):
        services.record_result(actor, inspection, r, result)


def completed_inspection(world, area, sector=None, *, actor=None, campaign=None, site=None):
    """A completed inspection (every item 符合) of a new site in ``area`` (and ``sector``)."""
    from yingji.inspections import services

    actor = actor or world.admin
    site = site or make_site(world, area, sector)
    inspection = start(world, site, "town", actor=actor, sector=sector, campaign=campaign)
    answer_all(actor, inspection)
    return services.complete_inspection(actor, inspection, summary="未发现问题")
