"""The checklist modules and major-hazard criteria every install starts with (seed_data.py):
each module published as version 1. Traits are linked by code; sectors by code when they exist
(``yingji load_checklists`` links sectors created later)."""
from django.db import migrations


def load(apps, schema_editor):
    from yingji.checklists.seed_data import load as load_seed

    load_seed(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("checklists", "0001_initial"),
        ("registry", "0002_reference_data"),
    ]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
