"""Export of the filtered site list to .xlsx: the ``sites`` list of the export framework
(:mod:`yingji.core.exports`).

The rows are exactly ``queries.site_search(user, **filters)`` (the list page's query), read as
plain tuples with ``.values_list(...).iterator(chunk_size=2000)`` (no model instances); sectors,
traits, phones and visible hosts are fetched once per chunk (no N+1) and xlsxwriter writes in
``constant_memory`` mode. The columns are the import template's, so an exported file can be
edited and imported again (the header block above the column header is skipped by the importer,
the totals are on a sheet of their own).

Small exports (at most ``core.exports.DIRECT_LIMIT`` rows) are returned directly; larger ones run
as a ``core.export`` job whose file only its creator may download. Every export is audited
(``site.export``: filters, row count); phones are in full only for sites the user may edit.
"""
from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yingji.core import exports as core_exports
from yingji.core import jobs, privacy
from yingji.core.models import Area, AreaLevel, Job, Sector

from . import queries
from .importing import TEMPLATE_COLUMNS
from .models import RiskTrait, Site, SiteKind, SiteScale, SiteStatus

JOB_KIND = "registry.export_sites"   # the kind of site export jobs queued before core.export existed
EXPORT_ACTION = "site.export"
XLSX_CONTENT_TYPE = core_exports.XLSX_CONTENT_TYPE
FILTER_NAMES = ("q", "area", "sector", "industry", "trait", "colour", "status", "kind", "archived")


def _as_list_filters(filters: dict) -> dict:
    """Filters as the list page names them (``archived``, ``area``), JSON-able strings."""
    out = {}
    for key, value in (filters or {}).items():
        name = {"include_archived": "archived", "area_id": "area"}.get(key, key)
        if name not in FILTER_NAMES or value in (None, "", False):
            continue
        out[name] = "1" if value is True else str(value)
    return out


def filters_from_query(query) -> dict:
    """Filters from a list page / API query string (``area`` or ``area_id``; ``archived`` or
    ``include_archived``), as JSON-able strings."""
    return _as_list_filters({k: (query.get(k) or "").strip() for k in query.keys()
                             if isinstance(query.get(k), str)})


def search(user, filters: dict):
    f = _as_list_filters(filters)
    return queries.site_search(user, q=f.get("q"), area=f.get("area"), sector=f.get("sector"),
                               industry=f.get("industry"), trait=f.get("trait"), colour=f.get("colour"),
                               status=f.get("status"), kind=f.get("kind"),
                               include_archived=core_exports.flag_filter(f.get("archived")))


class SiteExport(core_exports.ExportList):
    """The site registry (监管对象库): the import template's columns, so an exported file can be
    edited and imported again (the totals go on a sheet of their own for that reason)."""

    name = "sites"
    action = EXPORT_ACTION
    title = gettext_lazy("监管对象")
    list_url = "registry:list"
    filter_names = ("q", "area", "sector", "industry", "trait", "colour", "status", "kind", "archived")
    aliases = {"area_id": "area", "include_archived": "archived"}
    columns = [core_exports.Column(("*" + header) if required else header,
                                   32 if key in ("name", "address", "host_name") else 16)
               for key, header, required, _help in TEMPLATE_COLUMNS]
    fields = ("id", "name", "credit_code", "kind", "industry__code", "scale", "employees", "address", "area_id",
              "longitude", "latitude", "legal_rep", "legal_rep_phone", "safety_manager", "safety_manager_phone",
              "status", "host_id")
    ordering = ("id",)
    count_by = [key for key, *_rest in TEMPLATE_COLUMNS].index("status")
    summary_sheet = True
    api_params = {"q": "名称/地址/拼音首字母/信用代码", "area_id": "区域ID(含下级)", "sector": "行业领域ID或编码",
                  "industry": "国民经济行业代码", "trait": "风险特征ID或编码", "colour": "风险等级",
                  "status": "经营状态", "kind": "类别", "include_archived": "含已归档(true/false)"}

    @property
    def form_class(self):
        from .forms import SiteFilterForm

        return SiteFilterForm

    def search(self, user, filters):
        return search(user, filters)

    def start(self, user, filters):
        areas = {pk: (code, name, level) for pk, code, name, level in
                 Area.objects.values_list("pk", "code", "name", "level")}
        return {
            "user": user, "areas": areas, "by_code": {code: name for code, name, _l in areas.values()},
            "sector_names": dict(Sector.objects.values_list("pk", "name")),
            "trait_names": dict(RiskTrait.objects.values_list("pk", "name")),
            "kinds": core_exports.labels(SiteKind), "statuses": core_exports.labels(SiteStatus),
            "scales": core_exports.labels(SiteScale), "phones": privacy.PhoneReveal(user, Site),
            "visible": Site.objects.visible_to(user), "keys": [key for key, *_rest in TEMPLATE_COLUMNS],
        }

    def prepare(self, user, chunk, ctx):
        ids = [v[0] for v in chunk]
        sector_names, trait_names = ctx["sector_names"], ctx["trait_names"]
        sectors: dict[int, list[str]] = {}
        for sid, sec in (Site.sectors.through.objects.filter(site_id__in=ids).order_by("sector_id")
                         .values_list("site_id", "sector_id")):
            sectors.setdefault(sid, []).append(sector_names.get(sec, ""))
        traits: dict[int, list[str]] = {}
        for sid, tr in (Site.traits.through.objects.filter(site_id__in=ids).order_by("risktrait_id")
                        .values_list("site_id", "risktrait_id")):
            traits.setdefault(sid, []).append(trait_names.get(tr, ""))
        ctx["phones"].load(ids)  # phones in full only of the sites the user may edit
        host_ids = {v[16] for v in chunk if v[16]}
        ctx["hosts"] = {pk: (name, code) for pk, name, code in
                        ctx["visible"].filter(pk__in=host_ids).values_list("pk", "name", "credit_code")} \
            if host_ids else {}
        ctx["sectors"], ctx["traits"] = sectors, traits

    def row(self, v, ctx):
        (pk, name, credit_code, kind, industry, scale, employees, address, area_id, longitude, latitude,
         legal_rep, legal_rep_phone, safety_manager, safety_manager_phone, status, host_id) = v
        code, area_name, level = ctx["areas"].get(area_id, ("", "", 0))
        by_code, phones = ctx["by_code"], ctx["phones"]
        host = ctx["hosts"].get(host_id)
        values = {
            "name": name, "credit_code": credit_code or "", "kind": ctx["kinds"].get(kind, ""),
            "industry": industry or "", "sectors": "、".join(ctx["sectors"].get(pk, ())),
            "traits": "、".join(ctx["traits"].get(pk, ())), "scale": ctx["scales"].get(scale, ""),
            "employees": employees, "address": address,
            "town": by_code.get(code[:9], "") if len(code) >= 9 else "",
            "village": by_code.get(code[:12], "") if len(code) >= 12 else "",
            "grid": area_name if level == AreaLevel.GRID else "",
            "longitude": float(longitude) if longitude is not None else None,
            "latitude": float(latitude) if latitude is not None else None,
            "legal_rep": legal_rep, "legal_rep_phone": phones.phone(pk, legal_rep_phone),
            "safety_manager": safety_manager, "safety_manager_phone": phones.phone(pk, safety_manager_phone),
            "status": ctx["statuses"].get(status, ""), "founded": "",
            "host_name": host[0] if host else "", "host_credit_code": (host[1] or "") if host else "",
        }
        return [values.get(key) for key in ctx["keys"]]


SITES = core_exports.register(SiteExport())


def export_sites(user, filters: dict, out, progress=None) -> int:
    """Write the sites ``user`` sees matching ``filters`` to ``out`` (path or binary file) as .xlsx.
    Returns the number of rows. ``progress(done)`` is called every chunk."""
    return core_exports.write_xlsx(SITES, user, _as_list_filters(filters), out, progress=progress)


def is_small(user, filters: dict) -> bool:
    return SITES.is_small(user, _as_list_filters(filters))


def download_name() -> str:
    return SITES.download_name()


def can_export(user) -> bool:
    return SITES.can_export(user)


def export_direct(user, filters: dict, out) -> int:
    """A small export, written at once to ``out`` and audited (``site.export``)."""
    return core_exports.export_direct(user, SITES.name, _as_list_filters(filters), out)


def start_export(user, filters: dict) -> Job:
    """Queue a big export (checked first, so bad filters fail now with a Chinese error)."""
    return core_exports.start_export(user, SITES.name, _as_list_filters(filters))


@jobs.job_handler(JOB_KIND, label=gettext_lazy("监管对象导出"), creator_only_download=True)
def run_export(job: Job, progress) -> dict:
    """A site export queued before ``core.export`` existed (params ``{"filters": …}``)."""
    filters = (job.params or {}).get("filters") or {}
    if not isinstance(filters, dict):
        raise jobs.JobError(_("导出条件无效"))
    return core_exports.run_job(job, progress, name=SITES.name, filters=_as_list_filters(filters))
