"""The ``yingji`` console command: a thin wrapper over Django's management commands.

    yingji demo            migrate, load demo data, print logins
    yingji serve           serve on 127.0.0.1:8000 (YINGJI_BIND to change)
    yingji worker          run the background-job worker
    yingji createuser ...  create a user with a role
    yingji token create USERNAME
    yingji backup [--out DIR]        one archive of the database, media files and a manifest
    yingji restore ARCHIVE           into an empty installation (--force to overwrite)
    yingji cleanup                   apply the retention rules now (job core.cleanup)
    yingji load_calendar --year Y --file F.tsv   a year's official holidays and worked weekends
    yingji <any manage.py command>
"""
import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yingji.settings")
    argv = list(sys.argv if argv is None else argv)
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
