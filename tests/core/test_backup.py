"""Backup and restore: one consistent archive while writes go on, restored elsewhere (another
SQLite file, or another PostgreSQL database), with the same rows, the same audit trail and the
same attachment bytes; a non-empty database is refused without --force."""
from __future__ import annotations

import json
import sqlite3
import tarfile
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection

from yingji.core import attachments, backup, services

PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n" + b"\x00\xff" * 500 +
    b"\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


class Elsewhere:
    """Another database of the same engine: a fresh SQLite file, or a PostgreSQL database whose
    name is derived from the test database's."""

    def __init__(self, tmp_path):
        self.db = dict(connection.settings_dict)
        self.vendor = connection.vendor
        if self.vendor == "sqlite":
            self.db["NAME"] = str(tmp_path / "restored.sqlite3")
        else:
            self.db["NAME"] = f"{connection.settings_dict['NAME']}_restore"[:63]
            with backup._pg_connect(dict(self.db, NAME="postgres")) as raw:
                raw.execute(f'DROP DATABASE IF EXISTS "{self.db["NAME"]}"')
                raw.execute(f'CREATE DATABASE "{self.db["NAME"]}" TEMPLATE template0 ENCODING \'UTF8\'')

    def rows(self, sql: str) -> list[tuple]:
        if self.vendor == "sqlite":
            raw = sqlite3.connect(self.db["NAME"])
            try:
                return [tuple(r) for r in raw.execute(sql)]
            finally:
                raw.close()
        with backup._pg_connect(self.db) as raw, raw.cursor() as cursor:
            cursor.execute(sql)
            return [tuple(r) for r in cursor.fetchall()]

    def drop(self):
        if self.vendor != "sqlite":
            with backup._pg_connect(dict(self.db, NAME="postgres")) as raw:
                raw.execute(f'DROP DATABASE IF EXISTS "{self.db["NAME"]}" WITH (FORCE)')


def live_rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [tuple(r) for r in cursor.fetchall()]


AUDIT_SQL = "SELECT id, action, object_id, object_repr, request_id FROM core_auditentry ORDER BY id"


@pytest.mark.django_db(transaction=True)
def test_backup_while_writing_then_restore_elsewhere(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    village = world.villages["b2"]
    doc = attachments.add_attachment(world.admin, village, SimpleUploadedFile("台账.pdf", PDF_BYTES), "台账")
    original = attachments.storage_path(doc.storage_name).read_bytes()
    (tmp_path / "media" / "exports").mkdir(parents=True)
    (tmp_path / "media" / "exports" / "audit-1-aaaa.xlsx").write_bytes(b"temporary")

    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer():
        try:
            i = 0
            while not stop.is_set() and i < 400:
                i += 1
                area = services.create_area(world.admin, parent=village, name=f"备份测试网格{i}", kind="网格")
                written.append(area.pk)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while len(written) < 5 and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.02)
        before = len(written)
        archive = backup.make_backup(tmp_path / "out")
        during = len(written)
        time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    assert before >= 5 and len(written) > before  # writes really went on around the backup

    assert archive.name.startswith("yingji-backup-") and archive.name.endswith(".tar.gz")
    manifest = backup.read_manifest(archive)
    assert manifest["database"]["engine"] == connection.vendor
    assert manifest["versions"]["django"] and manifest["migrations"]["core"] == _latest_migration("core")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert f"media/{doc.storage_name}" in names and "media/exports/audit-1-aaaa.xlsx" not in names
    snapshot_grids = manifest["counts"]["core_area"] - (1 + 2 + 4 + 8)  # the world's own areas
    assert before <= snapshot_grids <= len(written)

    elsewhere = Elsewhere(tmp_path)
    try:
        result = backup.restore(archive, db=elsewhere.db, media_root=tmp_path / "restored-media")
        # Every table has the row count of the manifest (restore checks it, and so do we).
        assert result["counts"] == manifest["counts"]
        restored_counts = {t: elsewhere.rows(f'SELECT COUNT(*) FROM "{t}"')[0][0] for t in manifest["counts"]}
        assert restored_counts == manifest["counts"]
        # One snapshot: each restored area has its audit entry, and no entry lacks its area.
        grids = {r[0] for r in elsewhere.rows("SELECT id FROM core_area WHERE name LIKE '备份测试网格%'")}
        created = {r[0] for r in elsewhere.rows("SELECT object_id FROM core_auditentry WHERE action = 'area.create'")}
        assert grids and grids <= created and len(grids) == snapshot_grids
        assert created - grids == {a.pk for a in [world.area_a, world.area_b, *world.villages.values(),
                                                   *world.grids.values()]} & created
        # The audit trail restored is the live one as it was: the same entries, none invented.
        restored_audit = elsewhere.rows(AUDIT_SQL)
        live_audit = set(live_rows(AUDIT_SQL))
        assert restored_audit and set(restored_audit) <= live_audit
        assert len(restored_audit) == manifest["counts"]["core_auditentry"]
        # The attachment's bytes.
        restored_file = tmp_path / "restored-media" / doc.storage_name
        assert restored_file.read_bytes() == original == PDF_BYTES
        assert not (tmp_path / "restored-media" / "exports").exists()

        # The restored database is not empty any more: a second restore is refused, --force goes.
        with pytest.raises(backup.BackupError, match="not empty"):
            backup.restore(archive, db=elsewhere.db, media_root=tmp_path / "restored-media")
        again = backup.restore(archive, db=elsewhere.db, media_root=tmp_path / "restored-media", force=True)
        assert again["counts"] == manifest["counts"]
    finally:
        elsewhere.drop()

    # The live installation holds data: restoring into it is refused.
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(archive)


def test_restore_refuses_a_damaged_or_foreign_archive(db, tmp_path):
    bogus = tmp_path / "x.tar.gz"
    with tarfile.open(bogus, "w:gz") as tar:
        info = tarfile.TarInfo("readme.txt")
        tar.addfile(info)
    with pytest.raises(backup.BackupError, match="not a yingji backup"):
        backup.read_manifest(bogus)
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    manifest = {"format": 1, "database": {"engine": other, "file": "database.x", "sha256": ""}, "counts": {}}
    path = tmp_path / "y.tar.gz"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with tarfile.open(path, "w:gz") as tar:
        tar.add(tmp_path / "manifest.json", arcname="manifest.json")
    with pytest.raises(backup.BackupError, match=f"holds a {other} database"):
        backup.restore(path)


@pytest.mark.django_db(transaction=True)
def test_backup_command_and_pruning(world, settings, tmp_path, capsys):
    settings.MEDIA_ROOT = tmp_path / "media"
    out = tmp_path / "backups"
    out.mkdir()
    old = out / "yingji-backup-20200101-000000.tar.gz"
    old.write_bytes(b"old")
    import os

    os.utime(old, (time.time() - 40 * 86400,) * 2)
    call_command("backup", "--out", str(out), "--keep-days", "30")
    text = capsys.readouterr().out
    archives = sorted(out.glob("yingji-backup-*.tar.gz"))
    assert len(archives) == 1 and not old.exists() and "removed yingji-backup-20200101" in text
    assert oct(archives[0].stat().st_mode & 0o777) == "0o600"
    assert backup.read_manifest(archives[0])["counts"]["core_user"] == len(world.users)


def _latest_migration(app: str) -> str:
    from django.db.migrations.loader import MigrationLoader

    return max(name for label, name in MigrationLoader(None).disk_migrations if label == app)
