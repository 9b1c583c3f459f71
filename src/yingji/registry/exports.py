"""Export of a filtered site list to .xlsx, streamed with constant memory.

The rows are exactly ``queries.site_search(user, **filters)`` (the list page's query), read with
``.iterator(chunk_size=2000)``; sectors, traits and visible hosts are fetched once per chunk (no
N+1) and xlsxwriter writes in ``constant_memory`` mode. The columns are the import template's,
so an exported file can be edited and imported again.

Small exports (at most :data:`DIRECT_LIMIT` rows, found with a LIMIT probe, never a COUNT) are
returned directly; larger ones run as a job ``registry.export_sites`` whose file only its
creator may download. Every export, of any size, is audited (``site.export``: filters, row count;
``core.privacy.record_export``); phones are in full only for sites the user may edit.
"""
from __future__ import annotations

import os
import secrets

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yingji.core import jobs, privacy, roles
from yingji.core.audit import service
from yingji.core.errors import InvalidInput, NotFound
from yingji.core.models import Area, AreaLevel, Job, Sector
from yingji.core.scoping import grants_for

from . import queries
from .importing import TEMPLATE_COLUMNS
from .models import Industry, RiskTrait, Site, SiteKind, SiteScale, SiteStatus

JOB_KIND = "registry.export_sites"
DIRECT_LIMIT = 5000
CHUNK_SIZE = 2000
XLSX_MAX_ROWS = 1_000_000
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILTER_NAMES = ("q", "area", "sector", "industry", "trait", "colour", "status", "kind", "include_archived")


def filters_from_query(query) -> dict:
    """Filters from a list page / API query string (``area`` or ``area_id``; ``archived`` or
    ``include_archived``), as JSON-able values for ``site_search``."""
    get = query.get
    out = {}
    for name in ("q", "sector", "industry", "trait", "colour", "status", "kind"):
        value = (get(name) or "").strip()
        if value:
            out[name] = value
    area = (get("area") or get("area_id") or "").strip()
    if area:
        out["area"] = area
    archived = (get("include_archived") or get("archived") or "").strip().lower()
    if archived in ("1", "true", "on", "yes"):
        out["include_archived"] = True
    return out


def _clean_filters(filters: dict) -> dict:
    return {k: v for k, v in (filters or {}).items() if k in FILTER_NAMES and v not in (None, "")}


def search(user, filters: dict):
    return queries.site_search(user, **_clean_filters(filters))


def _labels(choices) -> dict:
    return {value: str(label) for value, label in choices.choices}


def export_sites(user, filters: dict, out, progress=None) -> int:
    """Write the sites ``user`` sees matching ``filters`` to ``out`` (path or binary file) as .xlsx.
    Returns the number of rows. ``progress(done)`` is called every chunk."""
    import xlsxwriter

    qs = (search(user, filters).select_related("area", "industry").order_by("id"))
    areas = {pk: (code, name, level) for pk, code, name, level in
             Area.objects.values_list("pk", "code", "name", "level")}
    by_code = {code: name for code, name, _level in areas.values()}
    sector_names = dict(Sector.objects.values_list("pk", "name"))
    trait_names = dict(RiskTrait.objects.values_list("pk", "name"))
    kinds, statuses, scales = _labels(SiteKind), _labels(SiteStatus), _labels(SiteScale)
    visible = Site.objects.visible_to(user)
    keys = [key for key, _h, _r, _help in TEMPLATE_COLUMNS]
    phones = privacy.PhoneReveal(user, Site)

    book = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False, "strings_to_numbers": False})
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    rows = 0
    state = {"sheet": None, "sheet_rows": XLSX_MAX_ROWS, "sheet_no": 0}

    def new_sheet():
        state["sheet_no"] += 1
        title = _("监管对象") if state["sheet_no"] == 1 else f"{_('监管对象')}{state['sheet_no']}"
        sheet = book.add_worksheet(title)
        for col, (key, header, required, _help) in enumerate(TEMPLATE_COLUMNS):
            sheet.write_string(0, col, ("*" + header) if required else header, bold)
            sheet.set_column(col, col, 32 if key in ("name", "address", "host_name") else 16)
        sheet.freeze_panes(1, 0)
        state.update(sheet=sheet, sheet_rows=0)

    def write_chunk(chunk: list[Site]) -> None:
        nonlocal rows
        ids = [s.pk for s in chunk]
        sectors: dict[int, list[str]] = {}
        for sid, sec in Site.sectors.through.objects.filter(site_id__in=ids).order_by("sector_id").values_list(
                "site_id", "sector_id"):
            sectors.setdefault(sid, []).append(sector_names.get(sec, ""))
        traits: dict[int, list[str]] = {}
        for sid, tr in Site.traits.through.objects.filter(site_id__in=ids).order_by("risktrait_id").values_list(
                "site_id", "risktrait_id"):
            traits.setdefault(sid, []).append(trait_names.get(tr, ""))
        phones.load(ids)  # phones in full only of the sites the user may edit
        host_ids = {s.host_id for s in chunk if s.host_id}
        hosts = {pk: (name, code) for pk, name, code in
                 visible.filter(pk__in=host_ids).values_list("pk", "name", "credit_code")} if host_ids else {}
        for site in chunk:
            if state["sheet_rows"] >= XLSX_MAX_ROWS:
                new_sheet()
            state["sheet_rows"] += 1
            rows += 1
            code = areas.get(site.area_id, ("", "", 0))[0]
            level = areas.get(site.area_id, ("", "", 0))[2]
            host = hosts.get(site.host_id)
            industry: Industry | None = site.industry
            values = {
                "name": site.name, "credit_code": site.credit_code or "", "kind": kinds.get(site.kind, ""),
                "industry": industry.code if industry else "", "sectors": "、".join(sectors.get(site.pk, [])),
                "traits": "、".join(traits.get(site.pk, [])), "scale": scales.get(site.scale, ""),
                "employees": site.employees, "address": site.address,
                "town": by_code.get(code[:9], "") if len(code) >= 9 else "",
                "village": by_code.get(code[:12], "") if len(code) >= 12 else "",
                "grid": site.area.name if level == AreaLevel.GRID else "",
                "longitude": float(site.longitude) if site.longitude is not None else None,
                "latitude": float(site.latitude) if site.latitude is not None else None,
                "legal_rep": site.legal_rep, "legal_rep_phone": phones.phone(site.pk, site.legal_rep_phone),
                "safety_manager": site.safety_manager,
                "safety_manager_phone": phones.phone(site.pk, site.safety_manager_phone),
                "status": statuses.get(site.status, ""), "founded": "",
                "host_name": host[0] if host else "", "host_credit_code": (host[1] or "") if host else "",
            }
            sheet, r = state["sheet"], state["sheet_rows"]
            for col, key in enumerate(keys):
                value = values.get(key)
                if value is None or value == "":
                    continue
                if isinstance(value, (int, float)):
                    sheet.write_number(r, col, value)
                else:
                    sheet.write_string(r, col, str(value)[:32767])  # strings only: no formulas
        if progress is not None:
            progress(rows)

    try:
        new_sheet()
        chunk: list[Site] = []
        for site in qs.iterator(chunk_size=CHUNK_SIZE):
            chunk.append(site)
            if len(chunk) >= CHUNK_SIZE:
                write_chunk(chunk)
                chunk = []
        if chunk:
            write_chunk(chunk)
    finally:
        book.close()
    return rows


def is_small(user, filters: dict) -> bool:
    """Whether the export has at most DIRECT_LIMIT rows (a LIMIT probe, not a COUNT)."""
    return len(search(user, filters).order_by().values_list("pk", flat=True)[:DIRECT_LIMIT + 1]) <= DIRECT_LIMIT


def download_name() -> str:
    return f"{_('监管对象')}-{timezone.localtime().strftime('%Y%m%d-%H%M')}.xlsx"


def job_area(user) -> Area:
    """The widest area where ``user`` sees records: the area an export job belongs to."""
    candidates = [g for g in grants_for(user) if g.site_ids is None and g.allows(roles.VIEW)]
    if not candidates:
        raise NotFound()
    best = min(candidates, key=lambda g: (len(g.area_code), g.area_code))
    return Area.objects.get(pk=best.area_id)


def can_export(user) -> bool:
    return any(g.site_ids is None and g.allows(roles.VIEW) for g in grants_for(user))


EXPORT_ACTION = "site.export"


@service("registry.export_sites")
def export_direct(user, filters: dict, out) -> int:
    """A small export, written at once to ``out`` and audited (``site.export``: filters and row
    count; the file carries names, phones and addresses). Returns the number of rows."""
    filters = _clean_filters(filters)
    rows = export_sites(user, filters, out)
    privacy.record_export(user, EXPORT_ACTION, filters=filters, rows=rows)
    return rows


def start_export(user, filters: dict) -> Job:
    """Queue a big export (checked first, so bad filters fail now with a Chinese error)."""
    filters = _clean_filters(filters)
    search(user, filters)  # validates the filter values (InvalidInput)
    return jobs.enqueue(user, JOB_KIND, area=job_area(user), params={"filters": filters})


@jobs.job_handler(JOB_KIND, label=gettext_lazy("监管对象导出"), creator_only_download=True)
def run_export(job: Job, progress) -> dict:
    user = job.created_by
    if user is None or not user.is_active:
        raise jobs.JobError(_("导出须由有效账号发起"))
    filters = (job.params or {}).get("filters") or {}
    if not isinstance(filters, dict):
        raise jobs.JobError(_("导出条件无效"))
    folder = jobs.export_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"sites-{job.pk}-{secrets.token_hex(8)}.xlsx"
    part = folder / (name + ".part")
    try:
        try:
            rows = export_sites(user, filters, str(part),
                                progress=lambda n: progress(n, 0, _("已导出%(n)d条") % {"n": n}))
        except InvalidInput as exc:
            raise jobs.JobError(exc.message) from None
        os.replace(part, folder / name)
    finally:
        part.unlink(missing_ok=True)
    privacy.record_export(user, EXPORT_ACTION, filters=_clean_filters(filters), rows=rows,
                          note=_("后台任务 #%(n)d") % {"n": job.pk})
    progress(rows, rows, _("已导出%(n)d条") % {"n": rows})
    return {"file": name, "rows": rows, "filename": download_name()}
