"""Demo data of the site registry (built after the core demo): ~3,000 deterministic Zhuji sites.

Socks in 大唐, pearls in 山下湖, hardware, valves and plumbing in 店口, metal surface treatment
centres with their tenants (厂中厂 / 园中园), chemical users, small places, crowded places,
rental and self-built housing and construction sites across the 23 towns, with valid unified
social credit codes. The demo enterprise account ``ent_demo`` is bound to three sites.
Sites are bulk-inserted and audited as one import; the bindings go through the service.
"""
from __future__ import annotations

import random

from django.db import transaction

from yingji.core import audit
from yingji.core.models import Area, AreaLevel, User

from . import services
from .models import Industry, Site, SiteBinding, SiteKind, SiteSource
from .synth import DEMO_CODE_BASE, Generator, bulk_insert, load_context, reserve_ids

DEMO_SEED = 20240101
DEMO_SITES = 3000

# Hosts (factories, parks, markets) and their tenants: (town code, host profile, host name,
# host kind or None, [(tenant profile, count)]).
HOSTS = [
    ("330681104", "surface_tenant", "诸暨市店口金属表面处理中心", SiteKind.PARK, [("surface_tenant", 5)]),
    ("330681005", "surface_tenant", "诸暨市大唐金属表面处理中心", SiteKind.PARK, [("surface_tenant", 3)]),
    ("330681115", "surface_tenant", "诸暨市牌头金属表面处理园区", SiteKind.PARK, [("surface_tenant", 4)]),
    ("330681004", "surface_tenant", "诸暨市暨南金属表面处理中心", SiteKind.PARK, [("surface_tenant", 3)]),
    ("330681104", "hardware", "店口镇中央工业区小微企业园", SiteKind.PARK, [("hardware", 8)]),
    ("330681005", "socks", "大唐袜业小微企业园", SiteKind.PARK, [("socks", 8)]),
    ("330681005", "crowded", "诸暨大唐轻纺袜业城", SiteKind.CROWDED_PLACE, [("sock_trader", 6)]),
    ("330681108", "crowded", "华东国际珠宝城", SiteKind.CROWDED_PLACE, [("pearl_shop", 6)]),
    ("330681005", "socks", "浙江唐丰袜业股份有限公司", None, [("socks_workshop", 2)]),
    ("330681104", "hardware", "浙江湄池铜业股份有限公司", None, [("hardware", 2)]),
]
# Named sites (no tenants): (town code, profile, name).
NAMED = [
    ("330681005", "socks", "诸暨市大江新宇袜业有限公司"),
    ("330681005", "socks", "诸暨市大唐袜业科技有限公司"),
    ("330681108", "pearl", "诸暨市山下湖珍珠养殖有限公司"),
    ("330681104", "hardware", "诸暨市店口阀门制造有限公司"),
]
# ent_demo sees exactly these (by name).
ENT_DEMO_SITES = ["浙江唐丰袜业股份有限公司", "诸暨市大江新宇袜业有限公司", "诸暨市大唐袜业科技有限公司"]
# One of them lies in the grid worker's community (grid_dt's village, its first grid), so the demo's
# grid patrol and the enterprise meet at a site: a hazard grid_dt reports there is the enterprise's to do.
GRID_DEMO_VILLAGE = "330681005001"
ENT_SITE_IN_GRID_VILLAGE = "诸暨市大唐袜业科技有限公司"


def _grid_village_place():
    """The first grid of the grid worker's village (the village itself when it has none), or None."""
    village = Area.objects.filter(code=GRID_DEMO_VILLAGE, archived_at__isnull=True).first()
    if village is None:
        return None
    return (Area.objects.filter(parent=village, level=AreaLevel.GRID, archived_at__isnull=True)
            .order_by("code").first() or village)


def _bind_demo_user() -> None:
    user = User.objects.filter(username="ent_demo").first()
    admin = User.objects.filter(username="admin").first()
    if user is None or admin is None:
        return
    with audit.context(actor=admin, request_id="demo-load"):
        for name in ENT_DEMO_SITES:
            site = Site.objects.filter(name=name, source=SiteSource.DEMO).first()
            if site is None:
                continue
            if SiteBinding.objects.filter(site=site, assignment__user=user, revoked_at__isnull=True).exists():
                continue
            services.bind_site_manager(admin, user, site)


@transaction.atomic
def build_sites(total: int = DEMO_SITES, seed: int = DEMO_SEED) -> int:
    """Insert the demo sites (once). Returns the number inserted."""
    county = Area.objects.filter(level=AreaLevel.COUNTY).order_by("code").first()
    if county is None or Site.objects.filter(source=SiteSource.DEMO).exists():
        return 0
    towns, places, industries = load_context(Industry, Area, AreaLevel.VILLAGE, AreaLevel.GRID, AreaLevel.TOWN)
    if not towns:
        return 0
    by_code = {t.code: t for t in towns}
    gen = Generator(towns, places, industries, DEMO_CODE_BASE, SiteSource.DEMO)
    rng = random.Random(seed)
    index = 0

    rows = []
    linked = len(HOSTS) + sum(count for *_rest, tenants in HOSTS for _p, count in tenants)
    ids = iter(reserve_ids(linked))
    for town_code, profile, name, kind, tenants in HOSTS:
        town = by_code.get(town_code, towns[0])
        host, sectors, traits = gen.make(rng, index, profile, town, name=name)
        index += 1
        host["id"] = next(ids)
        if kind is not None:
            host["kind"] = str(kind)
        if kind == SiteKind.PARK:
            host["employees"], host["scale"] = None, ""
        elif profile in ("socks", "hardware"):
            host["employees"] = rng.randint(600, 1500)
            host["scale"] = "large" if host["employees"] >= 1000 else "medium"
        rows.append((host, sectors, traits))
        for tenant_profile, count in tenants:
            for _ in range(count):
                tenant, t_sectors, t_traits = gen.make(rng, index, tenant_profile, town)
                index += 1
                tenant["id"] = next(ids)
                tenant.update(host_id=host["id"], area_id=host["area_id"], address=host["address"],
                              latitude=host["latitude"], longitude=host["longitude"])
                rows.append((tenant, t_sectors, t_traits))
    grid_place = _grid_village_place()
    for town_code, profile, name in NAMED:
        site, sectors, traits = gen.make(rng, index, profile, by_code.get(town_code, towns[0]), name=name)
        if name == ENT_SITE_IN_GRID_VILLAGE and grid_place is not None:
            site.update(area_id=grid_place.pk, status="operating")
            if grid_place.latitude is not None:
                site.update(latitude=grid_place.latitude, longitude=grid_place.longitude)
        rows.append((site, sectors, traits))
        index += 1
    while index < total:
        rows.append(gen.make(rng, index))
        index += 1
    bulk_insert(rows)
    with audit.context(request_id="demo-load"):
        audit.record("site.import", county, {"sites": [0, index]}, note="演示数据导入:监管对象")
    return index


def _grade_all() -> None:
    """Colours come from the risk engine, never from the generator (idempotent: writes changes only)."""
    from . import grading

    with audit.context(request_id="demo-load"):
        grading.regrade_all(None, now=True)


def build() -> list:
    build_sites()
    _bind_demo_user()
    _grade_all()
    return []
