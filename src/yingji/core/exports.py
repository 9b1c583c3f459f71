"""THE export framework: every list page exports its current filters to .xlsx through here.

An export is declared once per list as an :class:`ExportList` (``<app>/exports.py``, found by
autodiscovery like ``jobs.py``): its name (the URL segment ``/exports/<name>/`` and
``/api/v1/exports/<name>``), the list's own filter form and filter function (``search``: the same
``visible_to`` queryset and the same filter code as the list page, never a second one), the
columns, and how a chunk of plain rows becomes cells. The framework then

* parses the list page's query string with the list's form (bad values: a Chinese
  ``InvalidInput``, as on the page) and names each filter by the form's label in the header block;
* streams the rows — ``.values_list(...).iterator(chunk_size=2000)`` on a server-side cursor, no
  model instances — into xlsxwriter in ``constant_memory`` mode, so memory stays flat as rows grow;
* writes a header block (title, filters, time in Asia/Shanghai, exporting user), the column
  header, the rows (a new sheet every :data:`XLSX_MAX_ROWS`), then totals (the row count and,
  where the list has a status-like column, the count per value) below the rows or, for lists
  whose file must stay importable (the site registry), on a sheet of their own;
* runs small exports inline (at most :data:`DIRECT_LIMIT` rows, found with a LIMIT probe, never a
  COUNT) and larger ones as a ``core.export`` job whose file (``MEDIA_ROOT/exports/<name>-<job
  id>-<hex>.xlsx``: the names ``core.cleanup`` purges) only its creator may download;
* audits every export, of any size (``privacy.record_export``: ``<object>.export`` with the
  filters and the row count).

Phones are masked in the cells where the list masks them (``core.privacy.PhoneReveal``); that is
each spec's ``prepare``/``row`` business.
"""
from __future__ import annotations

import datetime
import os
import secrets
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import jobs, privacy, roles
from .audit import service
from .errors import InvalidInput, NotFound
from .models import Area, Job
from .scoping import grants_for

JOB_KIND = "core.export"
DIRECT_LIMIT = 5000
CHUNK_SIZE = 2000
XLSX_MAX_ROWS = 1_000_000          # data rows per sheet (Excel's limit is 1,048,576)
XLSX_CELL_MAX = 32_767
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WORKBOOK_OPTIONS = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                    "strings_to_numbers": False}
TOTAL_LABEL = gettext_lazy("合计")


@dataclass(frozen=True)
class Column:
    header: Any                 # a (lazy) Chinese header
    width: int = 16


class ExportList:
    """One list's export. Subclass, set the attributes, implement :meth:`search` and
    :meth:`row` (and :meth:`prepare` for per-chunk lookups), and :func:`register` an instance."""

    name: str = ""                       # URL segment and file-name prefix: [a-z_]+
    action: str = ""                     # audit action, ``<object>.export``
    title: Any = ""                      # sheet title and download name
    capability: str = roles.VIEW         # a non-site-bound grant with it may export
    list_url: str = ""                   # URL name of the list page (errors go back there)
    form_class = None                    # the list page's filter form (validates, names the filters)
    filter_names: tuple[str, ...] = ()   # query-string names the list reads (the form's and extras)
    aliases: dict[str, str] = {}         # other spellings (the API's ``area_id``) -> filter name
    extra_labels: dict[str, Any] = {}    # labels of filters the form does not carry (``site``)
    columns: list[Column] = []
    fields: tuple[str, ...] = ()         # values_list() of the rows
    ordering: tuple[str, ...] = ("-id",)
    count_by: int | None = None          # index of the column whose values are counted in the totals
    summary_sheet: bool = False          # totals on their own sheet (keeps the data sheet importable)
    count_total: bool = True             # a "合计 N" line after the rows (off where the tables carry totals)
    flag_names: tuple[str, ...] = ()     # yes/no filters the form does not carry
    api_params: dict[str, str] = {}      # OpenAPI: query parameter -> description

    # ------------------------------------------------------------ filters

    def make_form(self, user, data):
        return self.form_class(data, user=user) if self.form_class is not None else None

    def parse(self, user, query, form: bool = True) -> dict:
        """The filters of a query string (``QueryDict`` or dict) as JSON-able strings, checked by the
        list's own form (a bad value raises a Chinese ``InvalidInput``, as the page shows it) unless
        ``form=False`` (the API, whose list endpoints take any visible area), then by ``search``."""
        out: dict[str, str] = {}
        for key in list(query.keys()):
            name = self.aliases.get(key, key)
            if name not in self.filter_names or name in out:
                continue
            value = query.get(key)
            value = "" if value is None else str(value).strip()
            if not value or (self._is_flag(name) and not flag_filter(value)):
                continue
            out[name] = value
        self.check(user, out, form=form)
        return out

    def _is_flag(self, name: str) -> bool:
        from django import forms

        field = self.form_class.base_fields.get(name) if self.form_class is not None else None
        return isinstance(field, forms.BooleanField) or name in self.flag_names

    def check(self, user, filters: dict, form: bool = True) -> None:
        """Validate ``filters`` with the list's form (and, through ``search``, the filter function)."""
        form = self.make_form(user, dict(filters)) if self.form_class and form else None
        if form is not None and not form.is_valid():
            name, errors = next(iter(form.errors.items()))
            field = form.fields.get(name)
            label = str(field.label) if field is not None else name
            message = _("%(label)s无效:%(error)s") % {"label": label, "error": errors[0]}
            raise InvalidInput(message, detail={name: str(errors[0])})
        self.search(user, filters)  # the filter function's own checks (InvalidInput)

    def describe(self, user, filters: dict) -> list[tuple[str, str]]:
        """``(label, value)`` of each filter in use, named as the list page names them."""
        import datetime as dt

        from django import forms
        from django.db import models

        out = []
        form = self.make_form(user, dict(filters)) if self.form_class else None
        cleaned = form.cleaned_data if form is not None and form.is_valid() else {}
        for name in self.filter_names:
            if name not in filters:
                continue
            field = form.fields.get(name) if form is not None else None
            if field is None:
                out.append((str(self.extra_labels.get(name, name)), self.describe_extra(user, name, filters[name])))
                continue
            value = cleaned.get(name, filters[name])
            if name not in cleaned and isinstance(field, forms.ModelChoiceField):
                key = field.to_field_name or "pk"
                try:
                    value = field.queryset.model._default_manager.filter(**{key: value}).first() or value
                except (TypeError, ValueError):
                    pass
            if isinstance(field, forms.BooleanField):
                text = _("是") if value else _("否")
            elif isinstance(value, models.Model):
                text = str(value)
            elif isinstance(field, forms.ChoiceField):
                text = str(dict((str(k), v) for k, v in field.choices).get(str(value), value))
            elif isinstance(value, dt.date):
                text = value.isoformat()
            else:
                text = str(value)
            out.append((str(field.label), text))
        return out

    def describe_extra(self, user, name: str, value: str) -> str:
        return str(value)

    # ------------------------------------------------------------ rows

    def search(self, user, filters: dict):
        """The list page's queryset for ``filters`` (its filter function)."""
        raise NotImplementedError

    def prepare(self, user, chunk: list[tuple], ctx: dict) -> None:
        """Per-chunk lookups (names of many-to-many values, which phones to show in full)."""

    def row(self, values: tuple, ctx: dict) -> list:
        raise NotImplementedError

    def start(self, user, filters: dict) -> dict:
        """The context shared by every chunk (label maps, caches)."""
        return {"user": user}

    def iter_rows(self, user, filters: dict) -> Iterator[list]:
        """The rows as cell lists, streamed: plain tuples from a server-side cursor, a chunk at a time."""
        ctx = self.start(user, filters)
        qs = self.search(user, filters).order_by(*self.ordering).values_list(*self.fields)
        chunk: list[tuple] = []
        for values in qs.iterator(chunk_size=CHUNK_SIZE):
            chunk.append(values)
            if len(chunk) >= CHUNK_SIZE:
                yield from self._format(user, chunk, ctx)
                chunk = []
        if chunk:
            yield from self._format(user, chunk, ctx)

    def _format(self, user, chunk, ctx):
        self.prepare(user, chunk, ctx)
        for values in chunk:
            yield self.row(values, ctx)

    def is_small(self, user, filters: dict) -> bool:
        """Whether the export has at most DIRECT_LIMIT rows (a LIMIT probe, not a COUNT)."""
        qs = self.search(user, filters).order_by().values_list("pk", flat=True)
        return len(qs[:DIRECT_LIMIT + 1]) <= DIRECT_LIMIT

    # ------------------------------------------------------------ who

    def can_export(self, user) -> bool:
        return bool(getattr(user, "is_authenticated", False)) and any(
            g.site_ids is None and g.allows(self.capability) for g in grants_for(user))

    def job_area(self, user) -> Area:
        """The widest area of the user's grants with the capability: the area the job belongs to."""
        candidates = [g for g in grants_for(user) if g.site_ids is None and g.allows(self.capability)
                      and g.allows(roles.VIEW)]
        if not candidates:
            raise NotFound()
        best = min(candidates, key=lambda g: (len(g.area_code), g.area_code))
        return Area.objects.get(pk=best.area_id)

    def download_name(self) -> str:
        return f"{self.title}-{timezone.localtime().strftime('%Y%m%d-%H%M')}.xlsx"

    # ------------------------------------------------------------ the file

    def write_body(self, book, sheet, first_row: int, user, filters: dict, fmt: dict,
                   progress: Callable[[int], None] | None) -> tuple[int, list[tuple[str, list]], Any, int]:
        """Write the column header and the rows from ``first_row``; return the row count, the
        totals as ``[(title, [(label, count), …])]`` and the last sheet and row written."""
        state = {"sheet": sheet, "row": first_row, "sheet_rows": 0, "sheet_no": 1}
        self._column_header(sheet, first_row, fmt)
        counts: dict = {}
        rows = 0
        count_by = self.count_by
        for cells in self.iter_rows(user, filters):
            if state["sheet_rows"] >= XLSX_MAX_ROWS:
                state["sheet_no"] += 1
                state["sheet"] = book.add_worksheet(f"{self.title}{state['sheet_no']}")
                self._column_header(state["sheet"], 0, fmt)
                state.update(row=0, sheet_rows=0)
            state["row"] += 1
            state["sheet_rows"] += 1
            rows += 1
            write_cells(state["sheet"], state["row"], cells)
            if count_by is not None:
                key = cells[count_by] if cells[count_by] not in (None, "") else "—"
                counts[key] = counts.get(key, 0) + 1
            if progress is not None and rows % CHUNK_SIZE == 0:
                progress(rows)
        totals = []
        if count_by is not None:
            totals.append((_("按%(h)s统计") % {"h": self.columns[count_by].header}, list(counts.items())))
        return rows, totals, state["sheet"], state["row"]

    def _column_header(self, sheet, row: int, fmt: dict) -> None:
        for col, column in enumerate(self.columns):
            sheet.write_string(row, col, str(column.header), fmt["head"])
            sheet.set_column(col, col, column.width)
        sheet.freeze_panes(row + 1, 0)


def write_cells(sheet, row: int, cells: Iterable) -> None:
    """Numbers as numbers, everything else as text (never a formula, never a URL)."""
    for col, value in enumerate(cells):
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            sheet.write_string(row, col, _("是") if value else _("否"))
        elif isinstance(value, (int, float)):
            sheet.write_number(row, col, value)
        else:
            sheet.write_string(row, col, str(value)[:XLSX_CELL_MAX])


def header_lines(spec: ExportList, user, filters: dict) -> list[tuple[str, str]]:
    """The header block: what, with which filters, when (Asia/Shanghai) and by whom."""
    described = spec.describe(user, filters)
    shown = "；".join(f"{label}={value}" for label, value in described) if described else _("无(全部)")
    name = getattr(user, "display_name", "") or user.get_username()
    return [
        (_("导出内容"), str(spec.title)),
        (_("筛选条件"), shown),
        (_("导出时间"), timezone.localtime().strftime("%Y-%m-%d %H:%M:%S") + " (Asia/Shanghai)"),
        (_("导出人"), f"{name}({user.get_username()})"),
    ]


def write_xlsx(spec: ExportList, user, filters: dict, out, progress: Callable[[int], None] | None = None) -> int:
    """Write ``spec``'s rows for ``user`` and ``filters`` to ``out`` (path or binary file). Returns
    the number of data rows."""
    import xlsxwriter

    book = xlsxwriter.Workbook(out, WORKBOOK_OPTIONS)
    try:
        fmt = {"head": book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1}),
               "label": book.add_format({"bold": True}),
               "title": book.add_format({"bold": True, "font_size": 14})}
        sheet = book.add_worksheet(str(spec.title)[:31])
        lines = header_lines(spec, user, filters)
        sheet.write_string(0, 0, str(spec.title), fmt["title"])
        for i, (label, value) in enumerate(lines[1:], start=1):
            sheet.write_string(i, 0, label, fmt["label"])
            sheet.write_string(i, 1, value[:XLSX_CELL_MAX])
        first = len(lines) + 1   # one blank row before the column header
        rows, totals, last_sheet, last_row = spec.write_body(book, sheet, first, user, filters, fmt, progress)
        if spec.summary_sheet:
            target, r = book.add_worksheet(_("汇总")), 0
            for i, (label, value) in enumerate(lines):
                target.write_string(i, 0, label, fmt["label"])
                target.write_string(i, 1, value[:XLSX_CELL_MAX])
            r = len(lines) + 1
        else:
            target, r = last_sheet, last_row + 2
        if spec.count_total:
            target.write_string(r, 0, str(TOTAL_LABEL), fmt["label"])
            target.write_number(r, 1, rows)
        for title, items in totals:
            r += 2
            target.write_string(r, 0, title, fmt["label"])
            for label, count in items:
                r += 1
                target.write_string(r, 0, str(label))
                target.write_number(r, 1, count)
    finally:
        book.close()
    return rows


# ---------------------------------------------------------------- the registry of lists

LISTS: dict[str, ExportList] = {}
_discovered = False


def register(spec: ExportList) -> ExportList:
    if not spec.name or not spec.name.replace("_", "").isalpha() or not spec.name.islower():
        raise ValueError(f"bad export name {spec.name!r}")
    if spec.name in LISTS and type(LISTS[spec.name]) is not type(spec):
        raise ValueError(f"export {spec.name!r} is already registered")
    LISTS[spec.name] = spec
    return spec


def autodiscover() -> None:
    global _discovered
    if not _discovered:
        _discovered = True
        autodiscover_modules("exports")


def all_lists() -> dict[str, ExportList]:
    autodiscover()
    return dict(sorted(LISTS.items()))


def get_list(name) -> ExportList:
    autodiscover()
    spec = LISTS.get(str(name or ""))
    if spec is None:
        raise NotFound()
    return spec


def exportable(user, name: str) -> ExportList:
    """The list ``name`` if ``user`` may export it; NotFound otherwise (as a hidden list)."""
    spec = get_list(name)
    if not spec.can_export(user):
        raise NotFound()
    return spec


# ---------------------------------------------------------------- inline and background exports

@service("core.export")
def export_direct(user, name: str, filters: dict, out) -> int:
    """A small export written at once to ``out`` and audited (``<object>.export``: filters, row
    count). Returns the number of rows."""
    spec = exportable(user, name)
    rows = write_xlsx(spec, user, filters, out)
    privacy.record_export(user, spec.action, filters=filters, rows=rows)
    return rows


def start_export(user, name: str, filters: dict) -> Job:
    """Queue a big export (the filters are checked first, so bad ones fail now in Chinese)."""
    spec = exportable(user, name)
    spec.check(user, filters)
    return jobs.enqueue(user, JOB_KIND, area=spec.job_area(user), params={"list": spec.name, "filters": filters})


def export(user, name: str, query, form: bool = True) -> tuple[str, Any]:
    """Export list ``name`` with the filters of ``query`` (a query string): ``("file", (file, name))``
    for a small export (a temporary file, rewound), ``("job", job)`` for a big one."""
    import tempfile

    spec = exportable(user, name)
    filters = spec.parse(user, query, form=form)
    if spec.is_small(user, filters):
        out = tempfile.TemporaryFile()
        export_direct(user, spec.name, filters, out)
        out.seek(0)
        return "file", (out, spec.download_name())
    return "job", start_export(user, spec.name, filters)


def run_job(job: Job, progress, name: str | None = None, filters: dict | None = None) -> dict:
    user = job.created_by
    if user is None or not user.is_active:
        raise jobs.JobError(_("导出须由有效账号发起"))
    params = job.params or {}
    name = name or params.get("list")
    filters = filters if filters is not None else params.get("filters") or {}
    if not isinstance(filters, dict) or not isinstance(name, str):
        raise jobs.JobError(_("导出条件无效"))
    try:
        spec = exportable(user, name)
    except NotFound:
        raise jobs.JobError(_("无权导出该列表")) from None
    folder = jobs.export_dir()
    folder.mkdir(parents=True, exist_ok=True)
    file_name = f"{spec.name.replace('_', '-')}-{job.pk}-{secrets.token_hex(8)}.xlsx"
    part = folder / (file_name + ".part")
    try:
        try:
            rows = write_xlsx(spec, user, filters, str(part),
                              progress=lambda n: progress(n, 0, _("已导出%(n)d条") % {"n": n}))
        except InvalidInput as exc:
            raise jobs.JobError(exc.message) from None
        os.replace(part, folder / file_name)
    finally:
        part.unlink(missing_ok=True)
    privacy.record_export(user, spec.action, filters=filters, rows=rows, note=_("后台任务 #%(n)d") % {"n": job.pk})
    progress(rows, rows, _("已导出%(n)d条") % {"n": rows})
    return {"file": file_name, "rows": rows, "filename": spec.download_name()}


@jobs.job_handler(JOB_KIND, label=gettext_lazy("列表导出"), creator_only_download=True)
def export_job(job: Job, progress) -> dict:
    """Params: ``list`` (an export name), ``filters`` (as parsed from the list's query string)."""
    return run_job(job, progress)


# ---------------------------------------------------------------- helpers for specs

def labels(choices) -> dict:
    return {value: str(label) for value, label in choices.choices}


def local_time(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def day(value) -> str:
    return value.isoformat() if isinstance(value, datetime.date) else ""


def flag_filter(value) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "on", "yes")


# ---------------------------------------------------------------- the lists of core: audit trail, users

class AuditExport(ExportList):
    """The audit trail (``/audit/``): its filter form and ``queries.audit_queryset``; client
    addresses and phones in the recorded changes redacted as on the page
    (``privacy.redact_audit_entries``), so this list reads entries, a chunk at a time."""

    name = "audit"
    action = "audit.export"
    title = gettext_lazy("审计日志")
    capability = roles.VIEW_AUDIT
    list_url = "core:audit"
    filter_names = ("model", "object_id", "actor", "action", "since", "until")
    columns = [Column(gettext_lazy("时间"), 20), Column(gettext_lazy("操作人"), 14), Column(gettext_lazy("操作"), 20),
               Column(gettext_lazy("对象类型"), 14), Column(gettext_lazy("对象编号"), 10),
               Column(gettext_lazy("对象"), 24), Column(gettext_lazy("变更"), 40), Column(gettext_lazy("说明"), 40),
               Column(gettext_lazy("来源IP"), 16), Column(gettext_lazy("请求号"), 18)]
    count_by = 2
    api_params = {"model": "对象类型 app_label.model", "object_id": "对象编号", "actor": "操作人用户名或姓名",
                  "action": "操作,如 hazard.report", "since": "开始日期 YYYY-MM-DD", "until": "结束日期 YYYY-MM-DD"}

    @property
    def form_class(self):
        from .forms import AuditFilterForm

        return AuditFilterForm

    def make_form(self, user, data):
        from . import queries
        from .forms import AuditFilterForm

        return AuditFilterForm(data, model_choices=queries.audited_model_choices())

    def search(self, user, filters):
        from . import queries

        form = self.make_form(user, dict(filters))
        if not form.is_valid():
            name, errors = next(iter(form.errors.items()))
            raise InvalidInput(_("筛选条件有误:%(e)s") % {"e": errors[0]}, detail={name: str(errors[0])})
        data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        return queries.audit_queryset(user, **data)

    def iter_rows(self, user, filters):
        import json

        from django.core.serializers.json import DjangoJSONEncoder

        from .audit_labels import action_label

        qs = self.search(user, filters).select_related("content_type").order_by("-id")
        cache: dict = {}
        chunk: list = []

        def flush(entries):
            for e in privacy.redact_audit_entries(user, entries, cache):
                yield [timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M:%S"), e.actor_name,
                       str(action_label(e.action)), e.content_type.name, e.object_id, e.object_repr,
                       json.dumps(e.changes, ensure_ascii=False, cls=DjangoJSONEncoder) if e.changes else "",
                       e.note, e.ip or "", e.request_id]

        for entry in qs.iterator(chunk_size=CHUNK_SIZE):
            chunk.append(entry)
            if len(chunk) >= CHUNK_SIZE:
                yield from flush(chunk)
                chunk = []
        if chunk:
            yield from flush(chunk)


class UserExport(ExportList):
    """People and roles (``/users/``): ``queries.user_search``; for user administrators only."""

    name = "users"
    action = "user.export"
    title = gettext_lazy("人员")
    capability = roles.MANAGE_USERS
    list_url = "core:users"
    filter_names = ("q",)
    extra_labels = {"q": gettext_lazy("姓名/用户名/手机")}
    columns = [Column(gettext_lazy("编号"), 8), Column(gettext_lazy("用户名"), 16), Column(gettext_lazy("姓名"), 12),
               Column(gettext_lazy("单位"), 24), Column(gettext_lazy("手机号"), 14), Column(gettext_lazy("状态"), 8),
               Column(gettext_lazy("最近登录"), 17)]
    fields = ("id", "username", "display_name", "organisation__name", "phone", "is_active", "last_login")
    ordering = ("id",)
    count_by = 5
    api_params = {"q": "姓名/用户名/手机号开头"}

    def search(self, user, filters):
        from . import queries

        q = filters.get("q")
        if q and len(q) > 100:
            raise InvalidInput(_("查询内容过长"), detail={"q": _("查询内容过长")})
        return queries.user_search(user, q)

    def start(self, user, filters):
        from .models import User

        return {"phones": privacy.PhoneReveal(user, User), "active": _("正常"), "inactive": _("已停用")}

    def prepare(self, user, chunk, ctx):
        ctx["phones"].load([v[0] for v in chunk])

    def row(self, v, ctx):
        pk, username, display_name, organisation, phone, is_active, last_login = v
        return [pk, username, display_name, organisation or "", ctx["phones"].phone(pk, phone),
                ctx["active"] if is_active else ctx["inactive"], local_time(last_login)]


register(AuditExport())
register(UserExport())
