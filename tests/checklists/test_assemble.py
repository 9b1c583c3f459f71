"""The checklist an inspection uses fits the site: ``assemble_for_site`` gives the modules of the
site's own sectors, of its risk traits, of its kind, and the modules explicitly marked general —
with the seeded checklists (seed_data.py). A convenience store is asked about fire safety, not
about metal smelting or the industry & trade major-hazard criteria; a smelter is."""
from __future__ import annotations

import importlib

from django.apps import apps

from yingji.checklists import services
from yingji.checklists.models import ChecklistModule, VersionStatus
from yingji.core.models import Organisation, Sector
from yingji.inspections import services as inspection_services

from .factories import make_site


def _codes(versions):
    return [v.module.code for v in versions]


def _items(site):
    return services.items_of(services.assemble_for_site(site))


def _world_linked(world):
    """The seeded modules linked to the test world's sectors (created after migrate, like the demo's)."""
    commerce = Sector.objects.create(code="commerce", name="商贸", department=Organisation.objects.get(code="zj"))
    services.load_seed(None)
    return commerce


def test_convenience_store_gets_fire_safety_not_metal_smelting(world):
    commerce = _world_linked(world)
    store = make_site(world, kind="small_place", sectors=[commerce], name="便利店")
    assert _codes(services.assemble_for_site(store)) == ["general", "fire_small"]
    items = _items(store)
    assert "XF-01" in [i.code for i in items]
    assert not [i.code for i in items if "冶炼" in i.question or "冶炼" in i.basis]
    assert not [i.code for i in items if i.criterion_id and i.criterion.code.startswith("GM10-3")]
    # what an inspection of the store starts with is that same checklist
    inspection = inspection_services.start_inspection(world.town_a, store, "town")
    codes = set(inspection.results.values_list("item__code", flat=True))
    assert codes == {i.code for i in items} and not {"JS-01", "GT-01", "GT-02", "TY-08"} & codes


def test_metal_smelting_plant_gets_its_own_modules(world):
    _world_linked(world)
    plant = make_site(world, kind="enterprise", sectors=[world.sectors["industry_trade"]],
                      traits=["molten_metal", "hot_work"], name="某铜冶炼厂")
    assert _codes(services.assemble_for_site(plant)) == ["general", "hot_work", "industry_trade", "metal_smelting"]
    codes = [i.code for i in _items(plant)]
    assert {"JS-01", "GT-01", "GT-02", "DH-02"} <= set(codes) and "XF-01" not in codes
    # a 工贸 enterprise that smelts nothing gets the 工贸 items but not the smelting ones
    mill = make_site(world, kind="enterprise", sectors=[world.sectors["industry_trade"]], name="某袜厂")
    assert _codes(services.assemble_for_site(mill)) == ["general", "industry_trade"]


def test_a_module_linked_to_nothing_applies_to_no_site(world):
    from .factories import make_published_module

    make_published_module(world, code="loose")  # created through the services: no sector, trait or kind
    module = ChecklistModule.objects.get(code="loose")
    assert not module.applies_to_all and not module.sectors.exists() and not module.traits.exists()
    for site in (make_site(world, kind="small_place"), make_site(world, kind="enterprise", traits=["dust"]),
                 make_site(world, kind="enterprise", sectors=[world.sectors["hazchem"]])):
        assert "loose" not in _codes(services.assemble_for_site(site))


def test_migration_revises_an_installed_general_module(world):
    """An install whose general module still carries the 工贸/smelting items gets a revision
    without them; the old version is superseded (past inspections keep its items)."""
    general = ChecklistModule.objects.get(code="general")
    draft = services.start_revision(world.admin, general)
    section = draft.sections.order_by("order").first()
    services.add_item(world.admin, section, code="TY-08", question="金属冶炼企业主要负责人经考核合格",
                      basis="《安全生产法》第二十七条")
    services.publish(world.admin, draft)
    store = make_site(world, kind="small_place", name="便利店")
    assert "TY-08" in [i.code for i in _items(store)]

    importlib.import_module("yingji.checklists.migrations.0003_general_without_trade_items").forwards(apps, None)

    versions = {v.number: v for v in general.versions.all()}
    assert versions[2].status == VersionStatus.SUPERSEDED and versions[3].status == VersionStatus.PUBLISHED
    codes = [i.code for i in _items(store)]
    assert "TY-08" not in codes and "TY-01" in codes
    assert versions[3].items.count() == versions[2].items.count() - 1
    # run again: nothing left to move, nothing changes
    importlib.import_module("yingji.checklists.migrations.0003_general_without_trade_items").forwards(apps, None)
    assert general.versions.count() == 3
