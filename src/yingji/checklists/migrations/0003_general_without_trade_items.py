"""The general module (for every site) no longer carries items that only concern industry & trade
enterprises (GM10 第三条(一)(二)) or metal smelters (第三条(三)): a convenience store got asked
whether its managers passed the metal-smelting examination. Those items now live in the modules
``industry_trade`` (sector 工贸) and ``metal_smelting`` (trait 高温熔融金属), which this migration
creates (seed_data.load, idempotent). An installed general module whose published version still
has them gets a new published version without them (the old one is superseded, never deleted:
past inspections keep pointing at its items)."""
from django.db import migrations


def forwards(apps, schema_editor):
    from django.utils import timezone

    from yingji.checklists.seed_data import GENERAL_SECTION_TITLES, MOVED_FROM_GENERAL
    from yingji.checklists.seed_data import load as load_seed

    load_seed(apps)
    Module = apps.get_model("checklists", "ChecklistModule")
    Version = apps.get_model("checklists", "ChecklistVersion")
    Section = apps.get_model("checklists", "ChecklistSection")
    Item = apps.get_model("checklists", "ChecklistItem")
    general = Module.objects.filter(code="general").first()
    if general is None:
        return
    current = Version.objects.filter(module=general, status="published").first()
    if current is None or not Item.objects.filter(version=current, code__in=MOVED_FROM_GENERAL).exists():
        return
    number = max(Version.objects.filter(module=general).values_list("number", flat=True)) + 1
    Version.objects.filter(pk=current.pk).update(status="superseded")
    now = timezone.now()
    revision = Version.objects.create(module=general, number=number, status="published", published_at=now,
                                      note="工贸企业和金属冶炼的检查项移至“工贸企业通用”“金属冶炼”模块")
    order = 0
    for section in Section.objects.filter(version=current).order_by("order", "id"):
        items = list(Item.objects.filter(section=section).exclude(code__in=MOVED_FROM_GENERAL).order_by("order", "id"))
        if not items:
            continue
        order += 1
        copy = Section.objects.create(version=revision, order=order,
                                      title=GENERAL_SECTION_TITLES.get(section.title, section.title))
        Item.objects.bulk_create([
            Item(version=revision, section=copy, order=i, code=it.code, question=it.question, basis=it.basis,
                 hazard_level=it.hazard_level, criterion_id=it.criterion_id, category=it.category,
                 photo_required=it.photo_required)
            for i, it in enumerate(items, start=1)])


class Migration(migrations.Migration):
    dependencies = [
        ("checklists", "0002_seed"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
