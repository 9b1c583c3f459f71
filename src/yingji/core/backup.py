"""Backup and restore of a whole installation: the database plus the files under MEDIA_ROOT.

``yingji backup [--out DIR]`` writes ONE dated archive, ``yingji-backup-YYYYmmdd-HHMMSS.tar.gz``:

* ``manifest.json`` — format version, time, database engine and server version, yingji / Django /
  Python versions, the last applied migration of each app, the row count of every table and the
  SHA-256 of the database file, and the number and size of the media files;
* ``database.sqlite3`` (SQLite: the online backup API, ``sqlite3.Connection.backup``, one step, so
  one consistent snapshot while the server and workers keep writing) or ``database.pgdump``
  (PostgreSQL: ``pg_dump -Fc`` run on a snapshot exported from a REPEATABLE READ transaction —
  the row counts of the manifest are read in that same snapshot);
* ``media/`` — attachments and import uploads (generated exports and unfinished ``.part`` files are
  left out: they are temporary and re-creatable). The files are copied after the database
  snapshot, and files are only ever added (attachments are archived, never deleted), so every file
  a row of the snapshot names is in the archive.

``yingji restore ARCHIVE`` brings such an archive back into an empty installation (no user and
no area yet; ``--force`` to overwrite a non-empty one), copies the media files back, checks the
row counts against the manifest and migrates an older backup forward.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

import django
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

FORMAT = 1
PREFIX = "yingji-backup-"
DB_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
SKIP_MEDIA_DIRS = {"exports"}
EMPTY_CHECK_TABLES = ("core_user", "core_area")


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why (shown by the command)."""


# ---------------------------------------------------------------- helpers

def vendor_of(db: dict) -> str:
    engine = db["ENGINE"]
    if engine.endswith("sqlite3"):
        return "sqlite"
    if engine.endswith("postgresql"):
        return "postgresql"
    raise BackupError(f"unsupported database engine {engine}")


def _pg_args(db: dict) -> tuple[list[str], dict]:
    args = []
    if db.get("HOST"):
        args += ["-h", str(db["HOST"])]
    if db.get("PORT"):
        args += ["-p", str(db["PORT"])]
    if db.get("USER"):
        args += ["-U", str(db["USER"])]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return args, env


def _run(cmd: list[str], env: dict) -> None:
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    except FileNotFoundError:
        raise BackupError(f"{cmd[0]} not found: install the PostgreSQL client tools (same major version as the server)") from None
    if proc.returncode != 0:
        raise BackupError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {t: conn.execute(f"SELECT COUNT(*) FROM {_quote(t)}").fetchone()[0] for t in tables}


def _pg_counts(cursor) -> dict[str, int]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    tables = [r[0] for r in cursor.fetchall()]
    counts = {}
    for t in tables:
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(t)}")
        counts[t] = cursor.fetchone()[0]
    return counts


def _migrations(rows) -> dict[str, str]:
    last: dict[str, str] = {}
    for app, name in rows:
        last[app] = max(last.get(app, ""), name)
    return dict(sorted(last.items()))


def _versions() -> dict:
    from importlib import metadata

    try:
        yingji_version = metadata.version("yingji")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        yingji_version = "unknown"
    return {"yingji": yingji_version, "django": django.get_version(), "python": platform.python_version()}


def _media_files(root: Path):
    """(path, name in the archive) of the media files a backup keeps."""
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        if rel == Path("."):
            dirnames[:] = [d for d in dirnames if d not in SKIP_MEDIA_DIRS]
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.endswith(".part") or path.is_symlink() or not path.is_file():
                continue
            yield path, (Path("media") / rel / name).as_posix()


# ---------------------------------------------------------------- backup

def _dump_sqlite(conn_wrapper, target: Path) -> dict:
    conn_wrapper.ensure_connection()
    source = conn_wrapper.connection
    dest = sqlite3.connect(str(target))
    try:
        source.backup(dest)  # pages=-1: the whole database in one step, one consistent snapshot
        counts = _sqlite_counts(dest)
        migrations = _migrations(dest.execute("SELECT app, name FROM django_migrations"))
    finally:
        dest.close()
    return {"counts": counts, "migrations": migrations, "server_version": sqlite3.sqlite_version}


def _dump_postgresql(conn_wrapper, target: Path) -> dict:
    if conn_wrapper.in_atomic_block:
        raise BackupError("a backup cannot run inside a transaction")
    db = conn_wrapper.settings_dict
    args, env = _pg_args(db)
    with transaction.atomic(using=conn_wrapper.alias), conn_wrapper.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
        snapshot, server_version = cursor.fetchone()
        counts = _pg_counts(cursor)
        cursor.execute("SELECT app, name FROM django_migrations")
        migrations = _migrations(cursor.fetchall())
        # pg_dump reads exactly the snapshot of this transaction (kept open until it is done).
        _run(["pg_dump", "-Fc", "--no-owner", "--no-privileges", f"--snapshot={snapshot}", *args,
              "-f", str(target), "-d", str(db["NAME"])], env)
    return {"counts": counts, "migrations": migrations, "server_version": server_version}


def make_backup(out_dir=None, *, using: str = "default", media_root=None, now=None) -> Path:
    """Write one archive of the database ``using`` and the media files into ``out_dir``
    (default ``settings.BACKUP_DIR``); returns its path."""
    out = Path(out_dir or settings.BACKUP_DIR)
    out.mkdir(parents=True, exist_ok=True)
    media = Path(media_root or settings.MEDIA_ROOT)
    conn = connections[using]
    vendor = vendor_of(conn.settings_dict)
    started = now or timezone.now()
    name = f"{PREFIX}{timezone.localtime(started).strftime('%Y%m%d-%H%M%S')}.tar.gz"
    final = out / name
    if final.exists():
        raise BackupError(f"{final} exists already")
    with tempfile.TemporaryDirectory(dir=out, prefix=".backup-") as tmp:
        db_file = Path(tmp) / DB_FILES[vendor]
        info = _dump_sqlite(conn, db_file) if vendor == "sqlite" else _dump_postgresql(conn, db_file)
        files = list(_media_files(media))
        manifest = {
            "format": FORMAT,
            "created_at": started.isoformat(),
            "finished_at": None,
            "database": {"engine": vendor, "server_version": info["server_version"], "file": db_file.name,
                         "sha256": _sha256(db_file), "bytes": db_file.stat().st_size},
            "versions": _versions(),
            "migrations": info["migrations"],
            "counts": info["counts"],
            "media": {"files": len(files), "bytes": sum(p.stat().st_size for p, _n in files)},
        }
        manifest["finished_at"] = timezone.now().isoformat()
        manifest_path = Path(tmp) / "manifest.json"
        manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        part = Path(tmp) / (name + ".part")
        with tarfile.open(part, "w:gz") as tar:
            tar.add(manifest_path, arcname="manifest.json")
            tar.add(db_file, arcname=db_file.name)
            for path, arcname in files:
                tar.add(path, arcname=arcname, recursive=False)
        os.chmod(part, 0o600)  # personal data: readable by the service account only
        os.replace(part, final)
    return final


# ---------------------------------------------------------------- restore

def read_manifest(archive) -> dict:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile("manifest.json")
            if member is None:
                raise KeyError("manifest.json")
            manifest = json.loads(member.read().decode("utf-8"))
    except (OSError, KeyError, tarfile.TarError, ValueError) as exc:
        raise BackupError(f"{archive} is not a yingji backup: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unsupported backup format {manifest.get('format')!r}")
    return manifest


def _target(using: str, db: dict | None) -> dict:
    return dict(db) if db is not None else dict(connections[using].settings_dict)


def _is_default(using: str, db: dict) -> bool:
    current = connections[using].settings_dict
    return db.get("NAME") == current.get("NAME") and db.get("HOST", "") == current.get("HOST", "")


def _pg_connect(db: dict):
    import psycopg

    return psycopg.connect(dbname=db["NAME"], host=db.get("HOST") or None, port=db.get("PORT") or None,
                           user=db.get("USER") or None, password=db.get("PASSWORD") or None, autocommit=True)


def database_is_empty(using: str = "default", db: dict | None = None) -> bool:
    """An empty installation: migrated or not, but no user and no area yet."""
    db = _target(using, db)
    vendor = vendor_of(db)
    if vendor == "sqlite":
        if _is_default(using, db):
            conn = connections[using]
            conn.ensure_connection()
            raw = conn.connection
        else:
            if not Path(db["NAME"]).exists():
                return True
            raw = sqlite3.connect(str(db["NAME"]))
        try:
            present = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            return all(raw.execute(f"SELECT COUNT(*) FROM {_quote(t)}").fetchone()[0] == 0
                       for t in EMPTY_CHECK_TABLES if t in present)
        finally:
            if raw is not getattr(connections[using], "connection", None):
                raw.close()
    with _pg_connect(db) as raw, raw.cursor() as cursor:
        for t in EMPTY_CHECK_TABLES:
            cursor.execute("SELECT to_regclass(%s)", [f"public.{t}"])
            if cursor.fetchone()[0] is None:
                continue
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {_quote(t)})")
            if cursor.fetchone()[0]:
                return False
    return True


def database_counts(using: str = "default", db: dict | None = None) -> dict[str, int]:
    db = _target(using, db)
    if vendor_of(db) == "sqlite":
        if _is_default(using, db):
            conn = connections[using]
            conn.ensure_connection()
            return _sqlite_counts(conn.connection)
        raw = sqlite3.connect(str(db["NAME"]))
        try:
            return _sqlite_counts(raw)
        finally:
            raw.close()
    with _pg_connect(db) as raw, raw.cursor() as cursor:
        return _pg_counts(cursor)


def _extract(archive: Path, into: Path) -> None:
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            name = Path(member.name)
            if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
                raise BackupError(f"unsafe entry in the archive: {member.name}")
        tar.extractall(into, filter="data")


def restore(archive, *, force: bool = False, using: str = "default", db: dict | None = None,
            media_root=None) -> dict:
    """Restore ``archive`` into the database ``db`` (a DATABASES-style dict; default: the
    connection ``using``) and the media directory ``media_root`` (default MEDIA_ROOT).

    Refuses a database that holds users or areas unless ``force``; refuses an archive of the
    other engine. Returns the manifest and the row counts found after the restore."""
    archive = Path(archive)
    manifest = read_manifest(archive)
    target = _target(using, db)
    vendor = vendor_of(target)
    if manifest["database"]["engine"] != vendor:
        raise BackupError(f"the archive holds a {manifest['database']['engine']} database; "
                          f"this installation uses {vendor}")
    if not force and not database_is_empty(using, target):
        raise BackupError("the database is not empty (it has users or areas): restore into an empty "
                          "installation, or pass --force to overwrite it")
    media = Path(media_root or settings.MEDIA_ROOT)
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=media.parent if media.parent.is_dir() else None) as tmp:
        tmp = Path(tmp)
        _extract(archive, tmp)
        db_file = tmp / manifest["database"]["file"]
        if _sha256(db_file) != manifest["database"]["sha256"]:
            raise BackupError("the database file of the archive is damaged (checksum mismatch)")
        if vendor == "sqlite":
            _restore_sqlite(db_file, using, target)
        else:
            _restore_postgresql(db_file, using, target)
        copied = 0
        src_media = tmp / "media"
        if src_media.is_dir():
            for path in sorted(src_media.rglob("*")):
                if not path.is_file():
                    continue
                dest = media / path.relative_to(src_media)
                if dest.exists() and not force:
                    if dest.stat().st_size == path.stat().st_size:
                        continue
                    raise BackupError(f"{dest} exists with other content; pass --force to overwrite")
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest)
                copied += 1
    counts = database_counts(using, target)
    differ = {t: (n, counts.get(t)) for t, n in manifest["counts"].items() if counts.get(t) != n}
    if differ:
        raise BackupError(f"row counts after the restore differ from the manifest: {differ}")
    return {"manifest": manifest, "counts": counts, "media_files": copied}


def _restore_sqlite(db_file: Path, using: str, target: dict) -> None:
    source = sqlite3.connect(str(db_file))
    try:
        if _is_default(using, target):
            conn = connections[using]
            if conn.in_atomic_block:
                raise BackupError("a restore cannot run inside a transaction")
            conn.ensure_connection()
            source.backup(conn.connection)  # replaces every page of the live database, in place
        else:
            Path(target["NAME"]).parent.mkdir(parents=True, exist_ok=True)
            dest = sqlite3.connect(str(target["NAME"]))
            try:
                source.backup(dest)
            finally:
                dest.close()
    finally:
        source.close()


def _restore_postgresql(db_file: Path, using: str, target: dict) -> None:
    if _is_default(using, target):
        connections[using].close()  # its prepared statements name tables that are about to be replaced
    # Start from an empty schema, so that tables a newer version's migrations created in the empty
    # installation do not stand in the way; `migrate` afterwards brings the restored data forward.
    with _pg_connect(target) as raw:
        raw.execute("DROP SCHEMA IF EXISTS public CASCADE")
        raw.execute("CREATE SCHEMA public")
    args, env = _pg_args(target)
    _run(["pg_restore", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", *args,
          "-d", str(target["NAME"]), str(db_file)], env)


def prune(out_dir, keep_days: int, now=None) -> list[Path]:
    """Delete the archives in ``out_dir`` older than ``keep_days`` (by their time stamp); the
    newest archive always stays. Returns the deleted paths."""
    out = Path(out_dir)
    archives = sorted(out.glob(f"{PREFIX}*.tar.gz"))
    removed = []
    for path in archives[:-1]:
        if archive_age(path, now) > datetime.timedelta(days=keep_days):
            path.unlink()
            removed.append(path)
    return removed


def archive_age(path: Path, now=None) -> datetime.timedelta:
    now = now or timezone.now()
    return now - datetime.datetime.fromtimestamp(path.stat().st_mtime, tz=datetime.timezone.utc)
