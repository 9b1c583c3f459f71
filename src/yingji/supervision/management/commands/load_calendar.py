import getpass
from pathlib import Path

from django.core.management import BaseCommand, CommandError

from yingji.core import audit
from yingji.core.errors import InvalidInput

from ... import workdays


class Command(BaseCommand):
    help = ("Load a year's official holiday calendar (国务院办公厅关于节假日安排的通知): a UTF-8 TSV file with rows "
            "'YYYY-MM-DD<TAB>休|班[<TAB>name]' (休 = day off, 班 = weekend day worked). Loading the year again "
            "replaces it. Audited.")

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--file", required=True, help="the TSV file (- for standard input)")

    def handle(self, *args, year, file, **opts):
        import sys

        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        source = f"{Path(file).name if file != '-' else 'stdin'} (by {getpass.getuser()})"
        try:
            with audit.context(request_id="load_calendar"):
                row = workdays.load_calendar(None, year=year, text=text, source=source)
        except InvalidInput as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"{row.year}: {len(row.holidays)} days off, {len(row.workdays)} weekend days worked")
