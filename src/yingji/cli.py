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

Help (``yingji``, ``yingji --help``, ``yingji help [command]``, ``yingji <command> --help``) works
on a machine that is not configured yet: the settings then record a missing or malformed value
instead of stopping (``YINGJI_HELP_ONLY``), the project's own commands are listed, and the missing
setting is named once at the end.
"""
import os
import sys

HELP_FLAGS = {"--help", "-h"}
HELP_COMMANDS = {"help", "--version"}


def is_help(argv: list[str]) -> bool:
    args = argv[1:]
    return not args or args[0] in HELP_COMMANDS or any(a in HELP_FLAGS for a in args)


def _settings_problems() -> list[str]:
    from django.conf import settings

    try:
        return list(getattr(settings, "SETTINGS_PROBLEMS", []))
    except Exception:  # settings that cannot even be imported: Django has said so already
        return []


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yingji.settings")
    argv = list(sys.argv if argv is None else argv)
    help_only = is_help(argv)
    if help_only:
        os.environ["YINGJI_HELP_ONLY"] = "1"
    else:
        os.environ.pop("YINGJI_HELP_ONLY", None)   # never inherited by a real run
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(argv)
    except ImproperlyConfigured as exc:   # a real run on a machine not configured: one line, no traceback
        print(f"yingji: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    finally:
        if help_only:
            problems = _settings_problems()
            if problems:
                print("\nNote: this machine is not configured yet; the commands above need:", file=sys.stderr)
                for problem in problems:
                    print(f"  - {problem}", file=sys.stderr)


if __name__ == "__main__":
    main()
