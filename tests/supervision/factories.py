"""Listings for tests and for the generic scoping test, built through the services."""
from __future__ import annotations

import datetime
import itertools

from django.utils import timezone

_seq = itertools.count(1)


def in_days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


def make_major_hazard(world, area, sector=None, *, site=None, actor=None, **fields):
    """A reported major hazard (重大隐患) in ``area`` or at ``site``."""
    from tests.hazards.factories import make_hazard

    fields.setdefault("title", f"涉爆粉尘除尘系统未按规定设置泄爆装置{next(_seq)}")
    return make_hazard(world, area, sector, site=site, actor=actor, level="major", **fields)


def make_listing(world, area=None, sector=None, *, hazard=None, site=None, actor=None, level="county",
                 deadline=None, **fields):
    """A listing (state 已挂牌) of a new major hazard in ``area`` (or at ``site``)."""
    from yingji.supervision import services

    if hazard is None:
        hazard = make_major_hazard(world, area, sector, site=site)
    n = next(_seq)
    fields.setdefault("listing_body_name", "诸暨市安全生产委员会")
    fields.setdefault("notice_number", f"诸安督〔2025〕{n}号")
    fields.setdefault("notice_text", "责令限期整改,整改期间局部停产。")
    return services.list_hazard(actor or world.admin, hazard, level=level, deadline=deadline or in_days(200),
                                **fields)


def make_extension(world, area, sector=None):
    """A pending extension request of a new listing in ``area``."""
    from yingji.supervision import services

    listing = make_listing(world, area, sector)
    return services.request_extension(world.admin, listing, new_deadline=in_days(300), reason="设备采购周期长")


def make_event(world, area, sector=None):
    listing = make_listing(world, area, sector)
    return listing.events.get(action="list")
