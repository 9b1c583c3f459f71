"""PostgreSQL only: pg_trgm GIN indexes so Chinese substring search (``LIKE '%…%'``) on name,
address and pinyin initials stays fast at 170k-2M sites. A no-op on SQLite.

Trigrams need three characters: a two-character query cannot use these indexes and falls back
to a scan, which still returns the right rows. The indexes live outside Django's model state
(they are invisible to makemigrations) because they exist on one backend only.
"""
from django.db import migrations

INDEXES = [
    ("registry_site_name_trgm", "name"),
    ("registry_site_address_trgm", "address"),
    ("registry_site_pinyin_trgm", "name_pinyin"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON registry_site USING gin ({column} gin_trgm_ops)")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_reference_data")]

    operations = [migrations.RunPython(create, drop)]
