"""``yingji seed --rebuild-indexes``: the load goes in without the secondary indexes, which are
all there again afterwards (PostgreSQL); elsewhere the flag changes nothing."""
from __future__ import annotations

from django.core.management import call_command
from django.db import connection

from yingji.core.models import AuditEntry
from yingji.registry import bulk
from yingji.registry.models import Site
from yingji.registry.queries import site_search


def _index_names() -> set[str]:
    with connection.cursor() as cursor:
        return {c["columns"] and name for name, c in
                connection.introspection.get_constraints(cursor, Site._meta.db_table).items() if c["index"]}


def test_seed_with_rebuilt_indexes_keeps_every_index(world):
    before = _index_names()
    if connection.vendor == "postgresql":
        defs = dict(bulk.site_secondary_indexes())
        assert {"registry_site_name_trgm", "registry_site_address_trgm", "registry_site_area_id"} <= set(defs)
    call_command("seed", count=120, seed=5, rebuild_indexes=True)
    assert _index_names() == before
    if connection.vendor == "postgresql":
        assert dict(bulk.site_secondary_indexes()) == defs
    seeded = Site.objects.filter(source="seed")
    assert seeded.count() == 120
    assert AuditEntry.objects.filter(action="site.seed").count() == 1
    # the rebuilt trigram/btree indexes answer searches as before
    name = seeded.order_by("id").values_list("name", flat=True).first()
    assert site_search(world.admin, q=name[-6:]).filter(name=name).exists()


def test_a_failed_load_leaves_the_indexes(world, monkeypatch):
    from yingji.registry.management.commands import seed as seed_command

    before = _index_names()

    def boom(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(seed_command, "bulk_insert", boom)
    try:
        call_command("seed", count=30, seed=5, rebuild_indexes=True)
    except RuntimeError:
        pass
    assert _index_names() == before
    assert not Site.objects.filter(source="seed").exists()
