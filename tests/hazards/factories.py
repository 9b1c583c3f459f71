"""Hazard records for tests and for the generic scoping test (``tests/scoping_factories.py``).

``make_hazard(world, area, sector=None)``, ``make_event(...)`` and ``make_rectification(...)`` build
one record located in ``area`` (and ``sector``), through the services.
"""
from __future__ import annotations

import datetime
import itertools

from django.core.files.uploadedfile import SimpleUploadedFile

# A 1x1 PNG.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000b49444154789c"
    "6360000200000500017a5eab3f0000000049454e44ae426082"
)

_seq = itertools.count(1)


def photo(name: str = "整改照片.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, TINY_PNG, content_type="image/png")


def make_site(world, area, sector=None, name: str | None = None, kind: str = "small_place"):
    from yingji.registry import services as registry_services

    return registry_services.create_site(world.admin, kind=kind, area=area,
                                         sectors=[sector] if sector is not None else [],
                                         name=name or f"测试场所{next(_seq)}")


def make_hazard(world, area, sector=None, *, actor=None, site=None, **fields):
    """A reported hazard (state 已上报) in ``area`` (and ``sector``), reported by ``actor``
    (the administrator by default). Every hazard has a sector: without a site or a sector given
    it is 危险化学品 (``DEFAULT_SECTOR``: no persona is bound to it, so a sector-bound persona
    sees such a hazard exactly as it did a sector-less one)."""
    from yingji.hazards import services

    fields.setdefault("description", f"消防通道堆放杂物{next(_seq)}")
    fields.setdefault("category", "fire")
    if site is not None:
        return services.report_hazard(actor or world.admin, site=site, sector=sector, **fields)
    if sector is None and not _decides_sector(actor or world.admin):
        sector = world.sectors[DEFAULT_SECTOR]
    return services.report_hazard(actor or world.admin, area=area, sector=sector, **fields)


DEFAULT_SECTOR = "hazchem"


def _decides_sector(user) -> bool:
    """Whether the reporter's own sectors decide the hazard's sector (a one-sector officer)."""
    from yingji.core.scoping import grants_for

    mine = set()
    for g in grants_for(user):
        mine |= set(g.sector_ids)
    return len(mine) == 1


def make_event(world, area, sector=None):
    """The report event of a new hazard in ``area``."""
    hazard = make_hazard(world, area, sector)
    return hazard.events.get(action="report")


def make_rectification(world, area, sector=None):
    """A submitted rectification (with one photo) of a new, accepted hazard in ``area``."""
    import datetime

    from django.utils import timezone

    from yingji.hazards import services

    hazard = make_hazard(world, area, sector)
    services.accept(world.admin, hazard, responsible_person="张三",
                    deadline=timezone.localdate() + datetime.timedelta(days=10))
    services.submit_rectification(world.admin, hazard, description="已清理", files=[photo()])
    return hazard.rectifications.get()


def in_days(n: int) -> datetime.date:
    from django.utils import timezone

    return timezone.localdate() + datetime.timedelta(days=n)


def audit_actions(hazard) -> list[str]:
    """The audit actions recorded for ``hazard``, oldest first."""
    from django.contrib.contenttypes.models import ContentType

    from yingji.core.models import AuditEntry
    from yingji.hazards.models import Hazard

    ct = ContentType.objects.get_for_model(Hazard)
    return list(AuditEntry.objects.filter(content_type=ct, object_id=hazard.pk).order_by("id")
                .values_list("action", flat=True))
