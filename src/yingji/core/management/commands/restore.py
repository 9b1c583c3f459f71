from django.core.management import BaseCommand, CommandError, call_command

from ... import backup


class Command(BaseCommand):
    help = ("Restore an archive written by `yingji backup` into this installation: the database (it must be "
            "empty — no user, no area — unless --force), the media files, then `migrate`. The row counts are "
            "checked against the archive's manifest.")

    def add_arguments(self, parser):
        parser.add_argument("archive", help="path of a yingji-backup-*.tar.gz")
        parser.add_argument("--force", action="store_true",
                            help="overwrite a database that already holds data (and media files that differ)")
        parser.add_argument("--no-migrate", action="store_true", help="do not run migrate afterwards")

    def handle(self, *args, archive, force=False, no_migrate=False, **opts):
        try:
            manifest = backup.read_manifest(archive)
            self.stdout.write(f"archive of {manifest['created_at']} ({manifest['database']['engine']}, "
                              f"yingji {manifest['versions'].get('yingji')})")
            result = backup.restore(archive, force=force)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"restored {len(result['counts'])} tables, {sum(result['counts'].values())} rows "
                          f"(as in the manifest), {result['media_files']} media files")
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=max(0, opts.get("verbosity", 1) - 1))
            self.stdout.write("migrated")
