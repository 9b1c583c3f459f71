"""Demo sites and the scale seeder: deterministic, valid codes, host/tenant pairs, top-up, audited."""
from __future__ import annotations

import random

from django.core.management import call_command

from yingji.core.models import Area, AreaLevel, AuditEntry
from yingji.registry import demo
from yingji.registry.creditcode import validate_credit_code
from yingji.registry.models import Industry, Site
from yingji.registry.queries import site_search
from yingji.registry.synth import SEED_CODE_BASE, Generator, load_context


def _codes(qs):
    return list(qs.exclude(credit_code=None).values_list("credit_code", flat=True))


def test_demo_sites(world):
    inserted = demo.build_sites(total=300)
    assert inserted == 300
    sites = Site.objects.filter(source="demo")
    assert sites.count() == 300
    codes = _codes(sites)
    assert len(codes) == len(set(codes)) > 50
    assert all(validate_credit_code(c).ok for c in codes)
    assert not sites.filter(kind="enterprise", credit_code=None).exists()
    # host/tenant pairs: the treatment centres and parks house tenants in their own area
    centre = Site.objects.get(name="诸暨市店口金属表面处理中心")
    tenants = list(centre.tenants.all())
    assert len(tenants) == 5 and all(t.area_id == centre.area_id for t in tenants)
    assert all(t.traits.filter(code="metal_surface").exists() for t in tenants)
    # realistic geography: socks in 大唐, pipes and valves in 店口
    assert site_search(world.admin, q="djxy").filter(name="诸暨市大江新宇袜业有限公司").exists()
    dt = site_search(world.admin, area=world.area_a, q="袜").count()
    dk = site_search(world.admin, area=world.area_b, q="袜").count()
    assert dt > dk
    # one audit entry for the bulk import; running again inserts nothing
    assert AuditEntry.objects.filter(action="site.import").count() == 1
    assert demo.build_sites(total=300) == 0
    assert Site.objects.filter(source="demo").count() == 300


def test_generator_is_deterministic(world):
    towns, places, industries = load_context(Industry, Area, AreaLevel.VILLAGE, AreaLevel.GRID, AreaLevel.TOWN)
    a = Generator(towns, places, industries, SEED_CODE_BASE, "seed")
    b = Generator(towns, places, industries, SEED_CODE_BASE, "seed")
    rows_a = [a.make(random.Random("x"), i) for i in range(50)]
    rng = random.Random("x")
    rows_b = [b.make(rng, i) for i in range(50)]
    rng2 = random.Random("x")
    rows_c = [b.make(rng2, i) for i in range(50)]
    assert rows_b == rows_c
    assert rows_a[0] == rows_b[0]


def test_seed_command_tops_up(world, capsys):
    call_command("seed", count=400, seed=3)
    seeded = Site.objects.filter(source="seed")
    assert seeded.count() == 400
    first = list(seeded.order_by("id").values_list("name", "credit_code")[:400])
    codes = _codes(seeded)
    assert len(codes) == len(set(codes)) and all(validate_credit_code(c).ok for c in codes)
    # enterprises get their sectors (the test world has only 工贸/危化/建设 sectors; others are skipped)
    assert not seeded.filter(kind="enterprise", sectors__isnull=True).exists()
    assert not seeded.filter(kind="construction").exclude(sectors__code="construction").exists()
    assert AuditEntry.objects.filter(action="site.seed").count() == 1
    call_command("seed", count=400, seed=3)
    assert seeded.count() == 400
    call_command("seed", count=650, seed=3)
    assert seeded.count() == 650
    assert list(seeded.order_by("id").values_list("name", "credit_code")[:400]) == first
    assert AuditEntry.objects.filter(action="site.seed").count() == 2
    # seeded sites are ordinary, scoped records
    town_a_ids = set(Area.objects.filter(code__startswith=world.area_a.code).values_list("pk", flat=True))
    visible = set(Site.objects.visible_to(world.town_a).values_list("area_id", flat=True))
    assert visible and visible <= town_a_ids
