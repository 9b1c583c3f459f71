from django.conf import settings
from django.core.management import BaseCommand, CommandError

from ... import backup


class Command(BaseCommand):
    help = ("Write one consistent, dated archive (yingji-backup-YYYYmmdd-HHMMSS.tar.gz) of the database "
            "(SQLite: online backup API; PostgreSQL: pg_dump -Fc on one snapshot), the attachment and import "
            "files of YINGJI_MEDIA_ROOT and a manifest (row counts per table, versions, time).")

    def add_arguments(self, parser):
        parser.add_argument("--out", default=None, help=f"directory of the archive (default YINGJI_BACKUP_DIR, "
                                                        f"now {settings.BACKUP_DIR})")
        parser.add_argument("--keep-days", type=int, default=None,
                            help="afterwards delete archives in that directory older than N days "
                                 "(the newest one always stays)")

    def handle(self, *args, out=None, keep_days=None, **opts):
        if keep_days is not None and keep_days < 1:
            raise CommandError("--keep-days must be at least 1")
        try:
            path = backup.make_backup(out)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        manifest = backup.read_manifest(path)
        rows = sum(manifest["counts"].values())
        self.stdout.write(f"{path}\n  {manifest['database']['engine']} · {len(manifest['counts'])} tables · "
                          f"{rows} rows · {manifest['media']['files']} media files · "
                          f"{path.stat().st_size} bytes")
        if keep_days is not None:
            for old in backup.prune(path.parent, keep_days):
                self.stdout.write(f"  removed {old.name}")
