"""Bulk import of sites from Excel/CSV files (up to ~200,000 rows), as a background job.

Flow
----
1. :func:`start_import` (a service) stores the uploaded file under ``MEDIA_ROOT/imports/`` with a
   random name (outside the web root), checks that its header is readable and queues a job
   ``registry.import_sites``. The same file (sha256) uploaded again by the same user with the
   same mode/dry-run within :data:`IDEMPOTENCY_WINDOW` seconds returns the first job.
2. The job handler :func:`run_import` resolves every row (:func:`yingji.registry.importing.parse_rows`;
   town/village/grid, industry, sectors, traits and host; the actor's scope; duplicates inside
   the file; the match against the live sites, credit code first, else name + address), chunk
   by chunk, writes the error report (.xlsx, 行号/列/值/原因) and keeps a preview of the first
   valid rows. A dry run writes nothing else.
3. A real import plans and writes the rows chunk by chunk in ONE pass (a thread parses and
   converts the next chunks meanwhile): each chunk is matched against the database as it stands
   (after the chunks before it). A workbook is read whole when its header is found; a text file
   (CSV), which could turn out undecodable halfway, is first read to the end into a temporary
   spool (constant memory), so such a file writes nothing. New sites go in by COPY with reserved ids
   (:func:`yingji.registry.synth.bulk_insert`), changed sites by ``bulk_update``, the M2M link
   tables by bulk DELETE/INSERT; one audit entry per created or changed site
   (``site.import_create`` / ``site.import_update``, COPY-ed by
   :func:`yingji.registry.bulk.record_audit_many`) plus a summary entry on the job
   (``registry.import``). Risk colours are regraded by a queued ``risk.recompute`` job.

Modes
-----
``all_or_nothing``: the whole pass runs in ONE transaction, so an import killed halfway leaves
nothing written; as soon as a bad row turns up nothing more is written, the rest is only
validated for the report, and the transaction is rolled back (report only, nothing written).
``valid_rows``: valid rows are written, bad rows are reported and skipped. Each chunk of
:data:`CHUNK_SIZE` rows commits in its own transaction (with its own audit entries), so an
import killed halfway leaves the chunks written so far; running the job again (jobs are retried)
is safe because re-importing updates rather than duplicates.

Update semantics: an empty cell leaves the existing value unchanged (a file never clears data);
a row whose values equal the site's is counted as unchanged and written nowhere.

The report (``job.result``, shown by the page and the API): counts, ``column_warnings`` (columns
whose data would not be stored: unrecognised or repeated headers) with ``needs_acknowledgement``,
``notices`` (columns known to carry nothing, footer rows and exact duplicate rows, skipped), all
in Chinese. A real import of a file with such columns is refused (422 ``unrecognised_columns``)
until the user acknowledges them (``acknowledge_unrecognised``); the acknowledged list is kept in
the job's params and audit entry, and the worker checks it again.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import pickle
import queue
import re
import secrets
import tempfile
import threading
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pypinyin import Style, lazy_pinyin

from yingji.core import audit, jobs, roles
from yingji.core.audit import service
from yingji.core.errors import Forbidden, InvalidInput, NotFound
from yingji.core.models import Area, AreaLevel, Job, JobStatus, Sector
from yingji.core.scoping import grants_for

from . import bulk, importing
from .models import (CREDIT_CODE_REQUIRED_KINDS, Industry, RiskTrait, Site, SiteKind, SiteScale, SiteSource,
                     SiteStatus)
from .services import pinyin_initials

JOB_KIND = "registry.import_sites"
MODE_ALL = "all_or_nothing"
MODE_VALID = "valid_rows"
MODES = (MODE_ALL, MODE_VALID)
IMPORT_DIR_NAME = "imports"
CHUNK_SIZE = 5000
PREVIEW_ROWS = 50
IDEMPOTENCY_WINDOW = 600  # seconds
ALLOWED_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".csv", ".txt", ".tsv")
_STORED_NAME_RE = re.compile(r"^[0-9a-f]{32}\.[a-z]{3,4}$")

R_OUT_OF_SCOPE = "区域不在您的管辖范围内"

# Fields an import writes (by model field name), in template order.
WRITABLE = ("kind", "name", "credit_code", "industry_id", "scale", "employees", "address", "area_id",
            "longitude", "latitude", "legal_rep", "legal_rep_phone", "safety_manager", "safety_manager_phone",
            "status", "founded", "host_id", "note")
# Site columns a re-import compares (and, for changed rows, writes back with bulk_update).
_COMPARED = WRITABLE + ("name_pinyin",)
# Model max lengths that are stricter than the parser's.
MAX_LEN = {"name": 100, "address": 200, "legal_rep": 32, "safety_manager": 32, "legal_rep_phone": 20,
           "safety_manager_phone": 20, "note": 500}
FIELD_COLUMN = {  # model field -> template column key (for error messages)
    "industry_id": "industry", "area_id": "town", "host_id": "host_name",
}


@functools.lru_cache(maxsize=50_000)
def _norm_key(text) -> str:
    return "".join(unicodedata.normalize("NFKC", str(text or "")).split())


def _choice_map(choices, extra: dict) -> dict:
    out = {}
    for value, label in choices.choices:
        out[_norm_key(value)] = value
        out[_norm_key(label)] = value
    for text, value in extra.items():
        out[_norm_key(text)] = value
    return out


KIND_MAP = _choice_map(SiteKind, {
    "企业": SiteKind.ENTERPRISE, "公司": SiteKind.ENTERPRISE, "工业企业": SiteKind.ENTERPRISE,
    "个体户": SiteKind.INDIVIDUAL, "个体": SiteKind.INDIVIDUAL, "个体工商户": SiteKind.INDIVIDUAL,
    "小场所": SiteKind.SMALL_PLACE, "九小场所": SiteKind.SMALL_PLACE, "人员密集": SiteKind.CROWDED_PLACE,
    "出租房": SiteKind.RENTAL_HOUSING, "出租屋": SiteKind.RENTAL_HOUSING, "群租房": SiteKind.RENTAL_HOUSING,
    "居住出租房屋": SiteKind.RENTAL_HOUSING, "自建房": SiteKind.SELF_BUILT, "经营性自建房": SiteKind.SELF_BUILT,
    "工地": SiteKind.CONSTRUCTION, "建筑工地": SiteKind.CONSTRUCTION, "在建工地": SiteKind.CONSTRUCTION,
    "园区": SiteKind.PARK, "厂房": SiteKind.PARK, "工业园区": SiteKind.PARK, "其它": SiteKind.OTHER,
})
STATUS_MAP = _choice_map(SiteStatus, {
    "营业": SiteStatus.OPERATING, "正常": SiteStatus.OPERATING, "存续": SiteStatus.OPERATING,
    "开业": SiteStatus.OPERATING, "在业": SiteStatus.OPERATING, "正常经营": SiteStatus.OPERATING,
    "停产": SiteStatus.SUSPENDED, "停业": SiteStatus.SUSPENDED, "歇业": SiteStatus.SUSPENDED,
    "停产停业": SiteStatus.SUSPENDED, "半停产": SiteStatus.SUSPENDED,
    "关闭": SiteStatus.CLOSED, "注销": SiteStatus.CLOSED, "吊销": SiteStatus.CLOSED, "关停": SiteStatus.CLOSED,
    "已关闭": SiteStatus.CLOSED, "已注销": SiteStatus.CLOSED,
})
SCALE_VALUES = Path(__file__).resolve().parent / "data" / "scale_values.tsv"


def _read_scale_values(path: Path = SCALE_VALUES) -> dict:
    """规模 as towns write it (规上, 限上, 小微 …) -> SiteScale, from the data file."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            value, _tab, text = line.rstrip("\n").partition("\t")
            if value == "value":
                continue
            out[text.strip()] = SiteScale(value.strip())
    return out


SCALE_MAP = _choice_map(SiteScale, _read_scale_values())
SECTOR_ALIASES = {"危化": "危险化学品", "危化品": "危险化学品", "建筑施工": "建设施工", "建筑": "建设施工",
                  "消防": "消防安全"}


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=20_000)
def _char_initial(ch: str) -> str:
    return "".join(lazy_pinyin(ch, style=Style.FIRST_LETTER, errors="default")).lower()


@functools.lru_cache(maxsize=1)
def _odd_phrases() -> dict[str, tuple[str, ...]]:
    """Phrases (2+ characters) of pypinyin's dictionary whose initials differ from their
    characters' default initials (银行 yh, not yx), by first character. Built once (~2,000 of the
    ~47,000 phrases)."""
    from pypinyin.phrases_dict import phrases_dict

    odd: dict[str, list[str]] = {}
    for phrase, reading in phrases_dict.items():
        if len(phrase) < 2:
            continue
        letters = "".join(unicodedata.normalize("NFKD", r[0])[:1].lower() for r in reading)
        if letters != "".join(_char_initial(c) for c in phrase):
            odd.setdefault(phrase[0], []).append(phrase)
    return {c: tuple(items) for c, items in odd.items()}


@functools.lru_cache(maxsize=16_384)  # a chunk's names are looked up, then written
def fast_pinyin_initials(name: str) -> str:
    """``services.pinyin_initials(name)``, several times faster for bulk imports: characters one
    by one (cached), falling back to the full conversion whenever a phrase inside the name reads
    differently from its characters' default readings (银行, 重庆, 长城 …), so the result is the
    same as the registry's helper."""
    odd = _odd_phrases()
    for i, ch in enumerate(name):
        candidates = odd.get(ch)
        if candidates is not None:
            for phrase in candidates:
                if name.startswith(phrase, i):
                    return pinyin_initials(name)
    return _NOT_ALNUM.sub("", "".join([_char_initial(c) for c in name]))[:100]


_JSON_PLAIN = frozenset({str, int, float, bool, type(None)})


def _plain(value):
    """``audit._plain`` for the value types of an import row (str, int, Decimal, date, None)."""
    if type(value) is Decimal:
        return str(value)
    if type(value) is dt.date:
        return value.isoformat()
    return value


def import_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / IMPORT_DIR_NAME


def stored_path(name) -> Path | None:
    if not isinstance(name, str) or not _STORED_NAME_RE.match(name):
        return None
    return import_dir() / name


# ---------------------------------------------------------------- who may import

def edit_grants(user) -> list:
    return [g for g in grants_for(user) if g.site_ids is None and g.allows(roles.EDIT)]


def can_import(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and edit_grants(user))


def require_importer(user) -> None:
    """Users without ``edit`` on any area do not see the import at all (404)."""
    if not can_import(user):
        raise NotFound()


def default_job_area(user) -> Area:
    """The widest area where ``user`` edits: the area import/export jobs belong to."""
    candidates = edit_grants(user)
    if not candidates:
        raise NotFound()
    best = min(candidates, key=lambda g: (len(g.area_code), g.area_code))
    return Area.objects.get(pk=best.area_id)


# ---------------------------------------------------------------- start

def _clean_filename(name: str) -> str:
    name = os.path.basename(str(name or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ch.isprintable())[:120]
    return name or "import.xlsx"


def _save_upload(uploaded_file) -> tuple[str, str, int]:
    """Stream the upload to ``imports/<uuid>.<ext>``; returns (stored name, sha256, size)."""
    filename = _clean_filename(getattr(uploaded_file, "name", ""))
    ext = os.path.splitext(filename)[1].lower()
    if ext not in ALLOWED_EXTENSIONS:
        msg = _("不支持的文件类型,请上传 .xlsx、.xls 或 .csv 文件")
        raise InvalidInput(msg, detail={"file": msg})
    folder = import_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}{ext}"
    path = folder / name
    digest, size = hashlib.sha256(), 0
    chunks = uploaded_file.chunks() if hasattr(uploaded_file, "chunks") else iter(
        lambda: uploaded_file.read(1 << 16), b"")
    try:
        with open(path, "xb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > settings.IMPORT_MAX_BYTES:
                    msg = _("文件过大,单个导入文件不能超过%(n)dMB") % {"n": settings.IMPORT_MAX_BYTES // (1024 * 1024)}
                    raise InvalidInput(msg, detail={"file": msg})
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0:
        path.unlink(missing_ok=True)
        msg = _("文件为空")
        raise InvalidInput(msg, detail={"file": msg})
    return name, digest.hexdigest(), size


def _idempotency_key(actor, sha256: str, mode: str, dry_run: bool, now: float | None = None) -> str:
    bucket = int((now if now is not None else time.time()) // IDEMPOTENCY_WINDOW)
    return f"site-import:{actor.pk}:{sha256[:40]}:{mode}:{int(bool(dry_run))}:{bucket}"


def _check_mode(mode) -> str:
    if mode not in MODES:
        msg = _("导入方式无效")
        raise InvalidInput(msg, detail={"mode": msg})
    return mode


def _job_area(actor, area) -> Area:
    if area in (None, ""):
        return default_job_area(actor)
    if not isinstance(area, Area):
        area = Area.objects.visible_to(actor).filter(pk=area).first() if str(area).isdigit() else None
        if area is None:
            raise NotFound()
    return area


ACK_FIELD = "acknowledge_unrecognised"


def unrecognised_columns(header_or_result) -> list[str]:
    """The columns of a file whose data an import would not store: headers matching no column
    of the template and repeats of a column already taken (``HeaderInfo`` or a job result)."""
    if isinstance(header_or_result, importing.HeaderInfo):
        return (header_or_result.unknown + header_or_result.duplicates)[:50]
    result = header_or_result or {}
    return (list(result.get("unknown_columns") or []) + list(result.get("duplicate_columns") or []))[:50]


def unrecognised_message(columns: list[str]) -> str:
    return _("以下%(n)d列未能识别,其中的数据不会导入:%(cols)s。如确认无需导入,请勾选“我已知晓未识别的列不会导入”") % {
        "n": len(columns), "cols": "、".join(columns)}


def _require_acknowledged(columns: list[str], acknowledged: bool) -> None:
    """A real import drops the data of unrecognised columns: only once the user said so."""
    if columns and not acknowledged:
        msg = unrecognised_message(columns)
        raise InvalidInput(msg, detail={ACK_FIELD: msg, "unknown_columns": columns}, code="unrecognised_columns")


@service("registry.start_import")
def start_import(actor, uploaded_file, *, mode: str = MODE_ALL, dry_run: bool = True, area=None,
                 acknowledge_unrecognised: bool = False) -> Job:
    """Store ``uploaded_file`` and queue its import. Returns the job (the same job when the same
    file is submitted again with the same options within a few minutes). A real import (not a
    dry run) of a file with unrecognised columns needs ``acknowledge_unrecognised``."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise Forbidden(_("请先登录"))
    require_importer(actor)
    mode = _check_mode(mode)
    if uploaded_file is None:
        msg = _("请选择要导入的文件")
        raise InvalidInput(msg, detail={"file": msg})
    area = _job_area(actor, area)
    filename = _clean_filename(getattr(uploaded_file, "name", ""))
    name, sha256, size = _save_upload(uploaded_file)
    path = import_dir() / name
    try:
        try:
            header = importing.read_header(str(path), filename)
        except importing.ImportFileError as exc:
            raise InvalidInput(exc.message, detail={"file": exc.message}) from None
        unrecognised = unrecognised_columns(header)
        if not dry_run:
            _require_acknowledged(unrecognised, acknowledge_unrecognised)
        key = _idempotency_key(actor, sha256, mode, dry_run)
        existing = Job.objects.filter(idempotency_key=key).first()
        params = {"file": name, "filename": filename, "sha256": sha256, "size": size, "mode": mode,
                  "dry_run": bool(dry_run), "unknown_columns": header.unknown[:50]}
        if not dry_run and unrecognised:
            params[ACK_FIELD] = unrecognised
        if existing is not None and (existing.params or {}).get("file"):
            params["file"] = existing.params["file"]  # the same bytes are already stored
        job = jobs.enqueue(actor, JOB_KIND, area=area, params=params, idempotency_key=key, max_attempts=2)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if job.params.get("file") != name:
        path.unlink(missing_ok=True)  # a repeat: the first job's copy is used
    changes = {"file": [None, filename], "sha256": [None, sha256], "size": [None, size], "mode": [None, mode],
               "dry_run": [None, bool(dry_run)]}
    if not dry_run and unrecognised:
        changes["unrecognised_acknowledged"] = [None, unrecognised]
    audit.record("registry.import_upload", job, changes, actor=actor)
    return job


def get_import_job(user, pk) -> Job:
    """An import job visible to ``user`` (404 otherwise)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound() from None
    job = Job.objects.visible_to(user).filter(pk=pk, kind=JOB_KIND).first()
    if job is None:
        raise NotFound()
    return job


def can_confirm(user, job: Job) -> bool:
    result = job.result or {}
    return bool(job.kind == JOB_KIND and job.status == JobStatus.SUCCEEDED and (job.params or {}).get("dry_run")
                and user is not None and job.created_by_id == user.pk and result.get("valid")
                and stored_path((job.params or {}).get("file")) is not None
                and stored_path(job.params["file"]).is_file())


@service("registry.confirm_import")
def confirm_import(actor, dry_job: Job, *, mode: str | None = None, acknowledge_unrecognised: bool = False) -> Job:
    """Start the real import of a finished dry run's file (only its uploader may). When the dry
    run found unrecognised columns the user must acknowledge that their data is not imported."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise Forbidden(_("请先登录"))
    require_importer(actor)
    dry_job = get_import_job(actor, dry_job.pk)
    params = dry_job.params or {}
    if dry_job.created_by_id != actor.pk:
        raise Forbidden(_("只有上传该文件的用户可以确认导入"))
    if not params.get("dry_run") or dry_job.status != JobStatus.SUCCEEDED:
        raise InvalidInput(_("只能确认已完成的试导入"))
    path = stored_path(params.get("file"))
    if path is None or not path.is_file():
        raise InvalidInput(_("导入文件已被清理,请重新上传"))
    mode = _check_mode(mode or params.get("mode"))
    if not (dry_job.result or {}).get("valid"):
        raise InvalidInput(_("试导入没有可导入的有效行"))
    unrecognised = unrecognised_columns(dry_job.result)
    _require_acknowledged(unrecognised, acknowledge_unrecognised)
    new_params = {k: params[k] for k in ("file", "filename", "sha256", "size") if k in params}
    new_params.update(mode=mode, dry_run=False, dry_run_job=dry_job.pk)
    if unrecognised:
        new_params[ACK_FIELD] = unrecognised
    key = f"site-import-confirm:{dry_job.pk}:{mode}"
    job = jobs.enqueue(actor, JOB_KIND, area=dry_job.area, params=new_params, idempotency_key=key,
                       max_attempts=2)
    changes = {"dry_run_job": [None, dry_job.pk], "mode": [None, mode]}
    if unrecognised:
        changes["unrecognised_acknowledged"] = [None, unrecognised]
    audit.record("registry.import_confirm", job, changes, actor=actor)
    return job


# ---------------------------------------------------------------- resolving rows

@dataclass
class Plan:
    """What to do with one parsed row."""

    row: int
    values: dict                                  # model field -> value (only the fields to set)
    sectors: list | None = None                   # sector ids (None = column absent / empty)
    traits: list | None = None                    # trait ids
    errors: list = field(default_factory=list)    # importing.RowError
    site_id: int | None = None                    # matched existing site
    action: str = ""                              # create / update / same
    changes: dict = field(default_factory=dict)   # audit diff for updates/creates

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _AreaInfo:
    pk: int
    code: str
    name: str
    level: int


class Resolver:
    """Reference data, the actor's scope and the in-file duplicate state of one import pass."""

    def __init__(self, actor, headers: dict[str, str]):
        self.actor = actor
        self.headers = headers
        self.grants = edit_grants(actor)
        self.areas: dict[int, _AreaInfo] = {}
        self.by_level_name: dict[tuple[int, str], list[_AreaInfo]] = {}
        self.by_code: dict[str, _AreaInfo] = {}
        for pk, code, name, level in Area.objects.filter(archived_at__isnull=True).values_list(
                "pk", "code", "name", "level"):
            info = _AreaInfo(pk, code, name, level)
            self.areas[pk] = info
            self.by_code[code] = info
            self.by_level_name.setdefault((level, _norm_key(name)), []).append(info)
        self.industries: dict[str, int] = {}
        self.industry_names: dict[str, list[int]] = {}
        self.industry_code: dict[int, str] = {}
        for pk, code, name in Industry.objects.values_list("pk", "code", "name"):
            self.industries[code.upper()] = pk
            self.industry_names.setdefault(_norm_key(name), []).append(pk)
            self.industry_code[pk] = code
        self.sectors: dict[str, int] = {}
        for pk, code, name in Sector.objects.filter(archived_at__isnull=True).values_list("pk", "code", "name"):
            self.sectors[_norm_key(name)] = pk
            self.sectors.setdefault(_norm_key(code).lower(), pk)
        for alias, target in SECTOR_ALIASES.items():
            if _norm_key(target) in self.sectors:
                self.sectors.setdefault(_norm_key(alias), self.sectors[_norm_key(target)])
        self.sector_code = dict(Sector.objects.values_list("pk", "code"))
        self.traits: dict[str, int] = {}
        for pk, code, name in RiskTrait.objects.filter(archived_at__isnull=True).values_list("pk", "code", "name"):
            self.traits[_norm_key(name)] = pk
            self.traits.setdefault(_norm_key(code).lower(), pk)
        self.trait_code = dict(RiskTrait.objects.values_list("pk", "code"))
        # In-file duplicate detection (across chunks).
        self.seen_codes = importing.SeenTable()
        self.seen_name_address = importing.SeenTable()
        self.seen_sites = importing.SeenTable()
        self._cache: dict[str, dict] = {}
        self.stats = _Statistics()

    # ---- helpers
    def header(self, key: str) -> str:
        if key in self.headers:
            return self.headers[key]
        return next((h for k, h, _r, _h in importing.TEMPLATE_COLUMNS if k == key), key)

    def error(self, plan: Plan, key: str, value, reason: str) -> None:
        plan.errors.append(importing.RowError(plan.row, self.header(key), str(value if value is not None else "")[:200],
                                              reason))

    def can_edit(self, area_code: str, sector_ids, *, creating: bool) -> bool:
        sector_ids = set(sector_ids or ())
        for g in self.grants:
            if not area_code.startswith(g.area_code):
                continue
            if g.sector_ids:
                if creating and (not sector_ids or not sector_ids <= g.sector_ids):
                    continue
                if not creating and not (sector_ids & g.sector_ids):
                    continue
            return True
        return False

    def _pick_area(self, plan: Plan, level: int, key: str, text: str, prefix: str, parent_label: str):
        norm = _norm_key(text)
        found = [a for a in self.by_level_name.get((level, norm), []) if a.code.startswith(prefix)]
        if not found and norm.isdigit():
            a = self.by_code.get(norm)
            if a is not None and a.level == level and a.code.startswith(prefix):
                found = [a]
        if not found and level == AreaLevel.TOWN and len(norm) >= 2:
            found = [a for (lv, n), items in self.by_level_name.items() if lv == level and n.startswith(norm)
                     for a in items]
        if not found:
            label = dict(town=_("镇街"), village=_("村社"), grid=_("网格"))[key]
            where = _("(在%(p)s下)") % {"p": parent_label} if parent_label else ""
            self.error(plan, key, text, _("%(label)s“%(v)s”不存在%(where)s") % {"label": label, "v": text,
                                                                            "where": where})
            return None
        if len(found) > 1:
            # A town's sheet without a town column: the village of the importer's own area.
            mine = [a for a in found if any(a.code.startswith(g.area_code) for g in self.grants)]
            found = mine if len(mine) == 1 else found
        if len(found) > 1:
            self.error(plan, key, text, _("“%(v)s”对应多个区域,请同时填写所属镇街和村社") % {"v": text})
            return None
        return found[0]

    def _cached(self, name: str, key, plan: Plan, compute):
        """Memoise a per-value resolution (towns, industries repeat on every row): the result and
        the errors it raised, replayed with this row's number."""
        cache = self._cache.setdefault(name, {})
        hit = cache.get(key)
        if hit is None:
            scratch = Plan(row=plan.row, values={})
            value = compute(scratch)
            hit = (value, [(e.column, e.value, e.reason) for e in scratch.errors],
                   getattr(scratch, "_area_key", None))
            if len(cache) < 100_000:
                cache[key] = hit
        value, errors, area_key = hit
        for column, text, reason in errors:
            plan.errors.append(importing.RowError(plan.row, column, text, reason))
        if area_key is not None:
            plan._area_key = area_key  # noqa: SLF001
        return value

    def resolve_area(self, plan: Plan, v: dict) -> _AreaInfo | None:
        key = (v.get("town"), v.get("village"), v.get("grid"))
        return self._cached("area", key, plan, lambda p: self._resolve_area(p, v))

    def _resolve_area(self, plan: Plan, v: dict) -> _AreaInfo | None:
        town, village, grid = v.get("town"), v.get("village"), v.get("grid")
        prefix, label, result, last_key = "", "", None, "town"
        if town:
            result = self._pick_area(plan, AreaLevel.TOWN, "town", town, prefix, label)
            if result is None:
                return None
            prefix, label, last_key = result.code, result.name, "town"
        if village:
            result = self._pick_area(plan, AreaLevel.VILLAGE, "village", village, prefix, label)
            if result is None:
                return None
            prefix, label, last_key = result.code, result.name, "village"
        if grid:
            result = self._pick_area(plan, AreaLevel.GRID, "grid", grid, prefix, label)
            if result is None:
                return None
            last_key = "grid"
        if result is None:
            return None
        plan._area_key = last_key  # noqa: SLF001 - which column named the area (for scope errors)
        return result

    def resolve_industry(self, plan: Plan, text: str) -> int | None:
        return self._cached("industry", text, plan, lambda p: self._resolve_industry(p, text))

    def _resolve_industry(self, plan: Plan, text: str) -> int | None:
        norm = _norm_key(text).upper()
        m = re.match(r"^([A-T])?(\d{2})\d{0,2}$", norm)
        if m:
            pk = self.industries.get(m.group(2))
            if pk is not None:
                return pk
        elif re.match(r"^[A-T]$", norm) and norm in self.industries:
            return self.industries[norm]
        name = _norm_key(text)
        pks = self.industry_names.get(name)
        if not pks:
            # "C3484 通用零部件制造" / "34 通用设备制造业": code first.
            m = re.match(r"^([A-T])?(\d{2})", norm)
            if m and m.group(2) in self.industries:
                return self.industries[m.group(2)]
            pks = sorted({pk for n, items in self.industry_names.items() if name and name in n for pk in items})
            if len(pks) > 1:
                pks = [pk for pk in pks if not self.industry_code[pk].isalpha()] or pks
        if not pks or len(pks) > 1:
            self.error(plan, "industry", text, _("国民经济行业“%(v)s”无法识别,请填写行业代码(如C34或34)")
                       % {"v": text})
            return None
        return pks[0]

    def resolve_list(self, plan: Plan, key: str, items: list, index: dict, label: str) -> list[int] | None:
        ids, bad = [], []
        for item in items:
            norm = _norm_key(item)
            pk = index.get(norm) or index.get(norm.lower())
            if pk is None:
                bad.append(item)
            elif pk not in ids:
                ids.append(pk)
        if bad:
            self.error(plan, key, "、".join(items), _("%(label)s“%(v)s”不存在") % {"label": label,
                                                                                 "v": "、".join(bad)})
            return None
        return sorted(ids)

    # ---- one row
    def convert(self, pr: importing.ParsedRow) -> Plan:
        """Parsed values -> model values (only non-empty cells), with Chinese row errors."""
        plan = Plan(row=pr.row_number, values={}, errors=list(pr.errors))
        v = pr.values
        out = plan.values
        bad_keys = {e.column for e in pr.errors}
        for key in ("name", "address", "legal_rep", "safety_manager", "legal_rep_phone", "safety_manager_phone"):
            value = v.get(key)
            if value in (None, ""):
                continue
            if len(value) > MAX_LEN[key]:
                self.error(plan, key, value, _("超过最大长度%(n)d字") % {"n": MAX_LEN[key]})
                continue
            out[key] = value
        if v.get("credit_code"):
            out["credit_code"] = v["credit_code"]
        if v.get("kind"):
            kind = KIND_MAP.get(_norm_key(v["kind"]))
            if kind is None:
                self.error(plan, "kind", v["kind"], _("类型“%(v)s”无法识别,可填:%(choices)s") % {
                    "v": v["kind"], "choices": "、".join(str(label) for label in SiteKind.labels)})
            else:
                out["kind"] = kind
        if v.get("status"):
            status = STATUS_MAP.get(_norm_key(v["status"]))
            if status is None:
                self.error(plan, "status", v["status"], _("经营状态“%(v)s”无法识别,可填:在营、停产停业、关闭")
                           % {"v": v["status"]})
            else:
                out["status"] = status
        if v.get("scale"):
            scale = SCALE_MAP.get(_norm_key(v["scale"]))
            if scale is not None:
                out["scale"] = scale
            else:
                self.error(plan, "scale", v["scale"],
                           _("规模“%(v)s”无法识别,可填:大型、中型、小型、微型、小微、规上、规下、限上、限下")
                           % {"v": v["scale"]})
        if v.get("founded") is not None:
            out["founded"] = v["founded"]
        if v.get("note"):
            if len(v["note"]) > MAX_LEN["note"]:
                self.error(plan, "note", v["note"], _("超过最大长度%(n)d字") % {"n": MAX_LEN["note"]})
            else:
                out["note"] = v["note"]
        if v.get("employees") is not None:
            if v["employees"] > 1_000_000:
                self.error(plan, "employees", v["employees"], _("从业人员须在0到1000000之间"))
            else:
                out["employees"] = v["employees"]
        if v.get("industry"):
            pk = self.resolve_industry(plan, v["industry"])
            if pk is not None:
                out["industry_id"] = pk
        if v.get("sectors"):
            plan.sectors = self.resolve_list(plan, "sectors", v["sectors"], self.sectors, gettext_lazy("行业领域"))
        if v.get("traits"):
            plan.traits = self.resolve_list(plan, "traits", v["traits"], self.traits, gettext_lazy("风险特征"))
        lng, lat = v.get("longitude"), v.get("latitude")
        if (lng is None) != (lat is None):
            if not ({self.header("longitude"), self.header("latitude")} & bad_keys):
                missing = "latitude" if lat is None else "longitude"
                self.error(plan, missing, "", _("经度和纬度须同时填写"))
        elif lng is not None:
            out["longitude"] = Decimal("%.6f" % lng)
            out["latitude"] = Decimal("%.6f" % lat)
        if v.get("town") or v.get("village") or v.get("grid"):
            area = self.resolve_area(plan, v)
            if area is not None:
                out["area_id"] = area.pk
                plan._area = area  # noqa: SLF001
        return plan

    def key_for_match(self, plan: Plan) -> str:
        return f"{plan.values.get('name', '')}\x00{plan.values.get('address', '')}"

    def plan_chunk(self, parsed: list[importing.ParsedRow], plans: list[Plan] | None = None) -> list[Plan]:
        """Convert, match and check a chunk of parsed rows against the database. ``plans``: the
        rows already converted (:meth:`convert`, which needs no database), e.g. by a thread."""
        if plans is None:
            plans = [self.convert(pr) for pr in parsed]
        live = Site.objects.filter(archived_at__isnull=True)
        codes = {p.values["credit_code"] for p in plans if p.values.get("credit_code")}
        by_code = dict(live.filter(credit_code__in=bulk.any_of(codes, "text")).values_list("credit_code", "pk")) \
            if codes else {}
        names = {p.values["name"] for p in plans if p.values.get("name")}
        by_name_address: dict[str, list[tuple[int, str | None]]] = {}
        if names:
            for pk, name, address, code in _by_name(Site.objects.visible_to(self.actor).filter(
                    archived_at__isnull=True), names).values_list("pk", "name", "address", "credit_code"):
                by_name_address.setdefault(f"{name}\x00{address}", []).append((pk, code))
        hosts = self._resolve_hosts(plans, parsed)
        # Match.
        for plan, pr in zip(plans, parsed):
            code = plan.values.get("credit_code")
            site_id = None
            if code:
                site_id = by_code.get(code)
            if site_id is None and plan.values.get("name") and plan.values.get("address"):
                matches = by_name_address.get(self.key_for_match(plan), [])
                if code:  # a site registered without a code gets it now
                    matches = [m for m in matches if not m[1]]
                if len(matches) > 1:
                    self.error(plan, "name", plan.values["name"],
                               _("名称和地址与多个已登记对象相同,请填写统一社会信用代码以区分"))
                    continue
                if matches:
                    site_id = matches[0][0]
            plan.site_id = site_id
            host = hosts.get(plan.row)
            if host is not None:
                if host == site_id:
                    self.error(plan, "host_name", pr.values.get("host_name") or pr.values.get("host_credit_code"),
                               _("不能把对象挂靠在自己名下"))
                else:
                    plan.values["host_id"] = host
        # In-file duplicates (the later rows are errors).
        for plan in plans:
            code = plan.values.get("credit_code")
            if code:
                first = self.seen_codes.setdefault(code, plan.row)
                if first != plan.row:
                    self.error(plan, "credit_code", code, _("与第%(n)d行的统一社会信用代码重复") % {"n": first})
                    continue
            if plan.values.get("name") and plan.values.get("address"):
                first = self.seen_name_address.setdefault(self.key_for_match(plan), plan.row)
                if first != plan.row and not code:
                    self.error(plan, "name", plan.values["name"],
                               _("与第%(n)d行的名称和地址相同(同一对象重复出现)") % {"n": first})
                    continue
            if plan.site_id is not None:
                first = self.seen_sites.setdefault(plan.site_id, plan.row)
                if first != plan.row:
                    self.error(plan, "name", plan.values.get("name"),
                               _("与第%(n)d行对应同一个已登记对象") % {"n": first})
                    continue
        self._check_against_db(plans, by_code)
        return plans

    def _resolve_hosts(self, plans: list[Plan], parsed: list) -> dict[int, int]:
        """Host (所属厂区) by credit code or exact name among the live sites the actor sees."""
        wanted_codes = {pr.values.get("host_credit_code") for pr in parsed if pr.values.get("host_credit_code")}
        wanted_names = {pr.values.get("host_name") for pr in parsed
                        if pr.values.get("host_name") and not pr.values.get("host_credit_code")}
        if not wanted_codes and not wanted_names:
            return {}
        visible = Site.objects.visible_to(self.actor).filter(archived_at__isnull=True)
        codes = dict(visible.filter(credit_code__in=bulk.any_of(wanted_codes, "text"))
                     .values_list("credit_code", "pk")) \
            if wanted_codes else {}
        names: dict[str, list[int]] = {}
        if wanted_names:
            for pk, name in _by_name(visible, wanted_names).values_list("pk", "name"):
                names.setdefault(name, []).append(pk)
        out = {}
        for plan, pr in zip(plans, parsed):
            code, name = pr.values.get("host_credit_code"), pr.values.get("host_name")
            if code:
                pk = codes.get(code)
                if pk is None:
                    self.error(plan, "host_credit_code", code,
                               _("所属厂区“%(v)s”未登记或不在您的管辖范围内,请先登记厂区") % {"v": code})
                else:
                    out[plan.row] = pk
            elif name:
                pks = names.get(name, [])
                if len(pks) == 1:
                    out[plan.row] = pks[0]
                elif not pks:
                    self.error(plan, "host_name", name,
                               _("所属厂区“%(v)s”未登记或不在您的管辖范围内,请先登记厂区") % {"v": name})
                else:
                    self.error(plan, "host_name", name, _("所属厂区“%(v)s”重名,请填写所属厂区信用代码") % {"v": name})
        return out

    def _check_against_db(self, plans: list[Plan], by_code: dict) -> None:
        """Scope, required values and the diff against the matched sites."""
        matched = [p.site_id for p in plans if p.site_id is not None and p.ok]
        # The matched sites the actor may edit, as plain values (instances only for the rows that
        # change); the rest only to tell "visible but not editable" from "not visible".
        existing: dict[int, dict] = {}
        sector_links: dict[int, list[int]] = {}
        trait_links: dict[int, list[int]] = {}
        visible: set[int] = set()
        if matched:
            columns = ("id",) + _COMPARED
            for row in Site.objects.editable_by(self.actor).filter(pk__in=bulk.any_of(matched)).values_list(*columns):
                existing[row[0]] = dict(zip(columns, row))
            others = [pk for pk in matched if pk not in existing]
            if others:
                visible = set(Site.objects.visible_to(self.actor).filter(pk__in=bulk.any_of(others))
                              .values_list("pk", flat=True))
            ids = bulk.any_of(existing)
            for sid, sec in Site.sectors.through.objects.filter(site_id__in=ids).values_list("site_id", "sector_id"):
                sector_links.setdefault(sid, []).append(sec)
            for sid, tr in Site.traits.through.objects.filter(site_id__in=ids).values_list("site_id",
                                                                                        "risktrait_id"):
                trait_links.setdefault(sid, []).append(tr)
        for plan in plans:
            if not plan.ok:
                continue
            vals = plan.values
            if plan.site_id is None:
                code = vals.get("credit_code")
                if code and code in by_code:  # registered outside the actor's view
                    self.error(plan, "credit_code", code,
                               _("该统一社会信用代码已由其他辖区登记,请联系上级管理员"))
                    continue
                if "area_id" not in vals:
                    if not any(e.column in {self.header(k) for k in ("town", "village", "grid")}
                               for e in plan.errors):
                        self.error(plan, "town", "", _("请填写所属镇街、村社或网格"))
                    continue
                kind = vals.get("kind") or (SiteKind.ENTERPRISE if vals.get("credit_code") else SiteKind.OTHER)
                vals["kind"] = kind
                if kind in CREDIT_CODE_REQUIRED_KINDS and not vals.get("credit_code"):
                    self.error(plan, "credit_code", "", _("%(kind)s须填写统一社会信用代码")
                               % {"kind": SiteKind(kind).label})
                    continue
                area = self.areas[vals["area_id"]]
                if not self.can_edit(area.code, plan.sectors, creating=True):
                    self.error(plan, getattr(plan, "_area_key", "town"), area.name, R_OUT_OF_SCOPE)
                    continue
                plan.action = "create"
                plan.changes = {k: [None, v if type(v) in _JSON_PLAIN else _plain(v)] for k, v in vals.items()}
                if plan.sectors:
                    plan.changes["sectors"] = [None, plan.sectors]
                if plan.traits:
                    plan.changes["traits"] = [None, [self.trait_code[t] for t in plan.traits]]
                continue
            site = existing.get(plan.site_id)
            if site is None:
                if plan.site_id in visible:
                    self.error(plan, "name", vals.get("name"), _("已登记的该对象不在您的编辑范围内,无权修改"))
                else:
                    self.error(plan, "credit_code", vals.get("credit_code"),
                               _("该统一社会信用代码已由其他辖区登记,请联系上级管理员"))
                continue
            kind = vals.get("kind") or site["kind"]
            code = vals.get("credit_code") or site["credit_code"]
            if kind in CREDIT_CODE_REQUIRED_KINDS and not code:
                self.error(plan, "credit_code", "", _("%(kind)s须填写统一社会信用代码") % {"kind": SiteKind(kind).label})
                continue
            site_id = plan.site_id
            area = self.areas.get(vals.get("area_id", site["area_id"]))
            sectors = plan.sectors if plan.sectors is not None else sorted(sector_links.get(site_id, []))
            if area is None or not self.can_edit(area.code, sectors, creating=False):
                self.error(plan, getattr(plan, "_area_key", "town"), area.name if area else "", R_OUT_OF_SCOPE)
                continue
            changes = {}
            for name, value in vals.items():
                old = site[name]
                if old != value:
                    changes[name] = [_plain(old), _plain(value)]
            old_sectors = sorted(sector_links.get(site_id, []))
            if plan.sectors is not None and old_sectors != plan.sectors:
                changes["sectors"] = [old_sectors, plan.sectors]
            else:
                plan.sectors = None
            old_traits = trait_links.get(site_id, [])
            if plan.traits is not None and sorted(old_traits) != plan.traits:
                changes["traits"] = [sorted(self.trait_code.get(t, "") for t in old_traits),
                                     [self.trait_code[t] for t in plan.traits]]
            else:
                plan.traits = None
            plan.changes = changes
            plan.action = "update" if changes else "same"
            plan._existing = site  # noqa: SLF001 - for the preview
            if changes:
                plan._site = Site(**{("pk" if k == "id" else k): v for k, v in site.items()})  # noqa: SLF001


def _by_name(qs, names):
    """``qs.filter(name__in=names)`` as one array parameter, through the btree index on
    (name, address): the trigram GIN index on ``name`` serves substring search, and an equality
    lookup through it would cost ~10 ms per name at county scale."""
    return qs.filter(name__in=bulk.any_of(set(names), "text"))


def _chunks(rows, size: int):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# ---------------------------------------------------------------- writing

def _write_chunk(actor, plans: list[Plan], resolver: Resolver) -> tuple[int, int]:
    """Write the valid plans of one chunk and their audit entries (caller holds the transaction)."""
    from . import synth

    creates = [p for p in plans if p.ok and p.action == "create"]
    updates = [p for p in plans if p.ok and p.action == "update"]
    if creates:
        rows = []
        for p in creates:
            values = dict(p.values)
            values["name_pinyin"] = fast_pinyin_initials(values["name"])
            values["source"] = SiteSource.IMPORT
            values.setdefault("status", SiteStatus.OPERATING)
            values.setdefault("scale", "")
            rows.append((values, [resolver.sector_code[s] for s in p.sectors or []],
                         [resolver.trait_code[t] for t in p.traits or []]))
        ids = synth.bulk_insert(rows, batch_size=len(rows))
        for p, pk in zip(creates, ids):
            p.site_id = pk
        bulk.record_audit_many(Site, "site.import_create",
                               [(p.site_id, p.values["name"], p.changes) for p in creates], actor=actor)
    if updates:
        now = timezone.now()
        sites, fields = [], {"updated_at"}
        sector_sets, trait_sets = {}, {}
        for p in updates:
            site = p._site  # noqa: SLF001
            for name, value in p.values.items():
                if name in p.changes:
                    setattr(site, name, value)
                    fields.add(name)
                    if name == "name":
                        site.name_pinyin = fast_pinyin_initials(value)
                        fields.add("name_pinyin")
            site.updated_at = now
            sites.append(site)
            if p.sectors is not None:
                sector_sets[site.pk] = p.sectors
            if p.traits is not None:
                trait_sets[site.pk] = p.traits
        Site.objects.bulk_update(sites, sorted(fields), batch_size=1000)
        SectorLink, TraitLink = Site.sectors.through, Site.traits.through
        if sector_sets:
            SectorLink.objects.filter(site_id__in=list(sector_sets)).delete()
            SectorLink.objects.bulk_create([SectorLink(site_id=sid, sector_id=s)
                                            for sid, ids in sector_sets.items() for s in ids], batch_size=2000)
        if trait_sets:
            TraitLink.objects.filter(site_id__in=list(trait_sets)).delete()
            TraitLink.objects.bulk_create([TraitLink(site_id=sid, risktrait_id=t)
                                           for sid, ids in trait_sets.items() for t in ids], batch_size=2000)
        bulk.record_audit_many(Site, "site.import_update",
                               [(p._site.pk, p._site.name, p.changes) for p in updates], actor=actor)  # noqa: SLF001
    resolver.stats.wrote(len(creates))
    after_write_chunk(plans)
    return len(creates), len(updates)


class _Statistics:
    """Keeps PostgreSQL's statistics of registry_site current while an import grows the table.

    The next chunk's matching queries (name + address among the sites the actor sees) are planned
    from the table's statistics; autovacuum analyses too late (and never inside the import's
    transaction), so a table that grew from 3,000 to 60,000 sites looked like 7,000 to the
    planner, which then joined 5,000 names against every site of the town one by one: ~10 s per
    chunk instead of milliseconds. ``ANALYZE`` (~0.2 s; it sees the transaction's own rows) runs
    whenever the rows written since the last one exceed a quarter of the table."""

    def __init__(self):
        self.pending = 0
        self.size = None

    def wrote(self, n: int) -> None:
        if connection.vendor != "postgresql" or not n:
            return
        if self.size is None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE relname = %s",
                               [Site._meta.db_table])
                row = cursor.fetchone()
            self.size = int(row[0]) if row else 0
        self.pending += n
        if self.pending >= max(5000, self.size // 4):
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {Site._meta.db_table}")
            self.size += self.pending
            self.pending = 0


def after_write_chunk(plans) -> None:
    """Hook called after each chunk is written (tests replace it to simulate a crash)."""


@service("registry.import_chunk")
def _write_chunk_committed(actor, job: Job, plans: list[Plan], resolver: Resolver) -> tuple[int, int]:
    """Valid-rows mode: one chunk in its own transaction, with a chunk summary on the job."""
    created, updated = _write_chunk(actor, plans, resolver)
    audit.record("registry.import_chunk", job, {"rows": [plans[0].row, plans[-1].row], "created": [None, created],
                                                "updated": [None, updated]}, actor=actor)
    return created, updated


@service("registry.import_summary")
def _record_summary(actor, job: Job, summary: dict) -> None:
    """Valid-rows mode: the summary of the whole import, on the job."""
    audit.record("registry.import", job, {k: [None, v] for k, v in summary.items()}, actor=actor)


class _Rejected(Exception):
    """All-or-nothing mode found a bad row: roll back whatever was written."""


@service("registry.import")
def _apply_all_or_nothing(actor, job: Job, converted, tally: "_Tally", filename: str, total: int,
                          progress) -> tuple[int, int]:
    """All-or-nothing mode: plan and write chunk by chunk in ONE transaction (the service's). Once
    a bad row turns up nothing more is written, the remaining rows are only validated (for the
    error report), and :class:`_Rejected` rolls back everything."""
    resolver = tally.resolver
    created = updated = done = 0
    for chunk, converted_plans in converted:
        plans = resolver.plan_chunk(chunk, converted_plans)
        tally.add(chunk, plans)
        done += len(plans)
        total = max(total, done)
        if tally.spool.rows:
            progress(done, total, _("正在校验:%(d)d / %(n)d") % {"d": done, "n": total})
            continue
        c, u = _write_chunk(actor, plans, resolver)
        created, updated = created + c, updated + u
        progress(done, total, _("正在写入:%(d)d / %(n)d") % {"d": done, "n": total})
    if tally.spool.rows or not done:
        raise _Rejected()
    audit.record("registry.import", job, {"mode": [None, MODE_ALL], "rows": [None, done],
                                          "created": [None, created], "updated": [None, updated],
                                          "file": [None, filename],
                                          "sha256": [None, (job.params or {}).get("sha256", "")]}, actor=actor)
    return created, updated


class _Converter:
    """Reads the chunks and converts their rows (:meth:`Resolver.convert`: no database) in a
    background thread, a couple of chunks ahead of the caller, who matches and writes them. The
    thread runs while the caller waits for the database, so parsing and converting the file
    mostly costs no extra time. Iterate for ``(chunk, converted plans)``; errors of the thread
    (e.g. an unreadable file) are raised in the caller."""

    _END = object()

    def __init__(self, chunks, resolver: Resolver):
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        language = translation.get_language()

        def work():
            try:
                with translation.override(language):
                    for chunk in chunks:
                        item = (chunk, [resolver.convert(pr) for pr in chunk])
                        if not self._put(item):
                            return
                self._put(self._END)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                self._put(exc)

        self._thread = threading.Thread(target=work, name="registry-import-convert", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


class _SideProgress:
    """Progress during the all-or-nothing transaction.

    On PostgreSQL the updates go through a second connection in autocommit, so the page sees
    them while the import transaction is still open (best effort: a failed update is ignored).
    On SQLite (one writer at a time) they stay in the import transaction.
    """

    def __init__(self, job: Job, progress):
        self.job = job
        self.progress = progress
        self.conn = None
        self._last = 0.0
        if connection.vendor == "postgresql":
            try:
                self.conn = connections.create_connection("default")
            except Exception:  # noqa: BLE001 - progress is best effort
                self.conn = None

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if self.conn is None:
            self.progress(done, total, message)
            return
        now = time.monotonic()
        if now - self._last < jobs.PROGRESS_INTERVAL:
            return
        self._last = now
        try:
            with self.conn.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {Job._meta.db_table} SET progress_done = %s, progress_total = %s, message = %s, "
                    "lease_until = %s WHERE id = %s AND status = %s AND claimed_by = %s AND attempts = %s",
                    [done, total, str(message)[:200], timezone.now() + jobs.lease_delta(), self.job.pk,
                     JobStatus.RUNNING, self.job.claimed_by, self.job.attempts])
        except Exception:  # noqa: BLE001
            pass

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001
                pass


# ---------------------------------------------------------------- the job

class _ErrorSpool:
    """Row errors spooled to a temporary file, so a file of 170k bad rows needs no memory."""

    def __init__(self):
        self.file = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        self.count = 0
        self.rows = 0

    def add(self, errors: list) -> None:
        if errors:
            self.rows += 1
        for e in errors:
            self.file.write(json.dumps([e.row, e.column, e.value, e.reason], ensure_ascii=False) + "\n")
            self.count += 1

    def __iter__(self):
        self.file.seek(0)
        for line in self.file:
            row, column, value, reason = json.loads(line)
            yield importing.RowError(row, column, value, reason)

    def close(self):
        self.file.close()


class _ParsedSpool:
    """Pass 1 keeps the parsed chunks in a temporary file (pickled chunk by chunk), so pass 2
    reads them back instead of parsing the spreadsheet again; memory stays one chunk."""

    def __init__(self):
        self.file = tempfile.TemporaryFile()

    def add(self, chunk: list) -> None:
        pickle.dump(chunk, self.file, protocol=pickle.HIGHEST_PROTOCOL)

    def chunks(self):
        self.file.seek(0)
        while True:
            try:
                yield pickle.load(self.file)  # noqa: S301 - our own temporary file
            except EOFError:
                return

    def close(self):
        self.file.close()


def _preview_item(plan: Plan, resolver: Resolver) -> dict:
    site = getattr(plan, "_existing", None) or {}
    area_id = plan.values.get("area_id") or site.get("area_id")
    area = resolver.areas.get(area_id)
    labels = {f.name: str(f.verbose_name) for f in Site._meta.get_fields() if hasattr(f, "verbose_name")}
    labels.update({f.attname: str(f.verbose_name) for f in Site._meta.concrete_fields})
    action = {"create": _("新增"), "update": _("更新"), "same": _("无变化")}[plan.action]
    return {
        "row": plan.row, "action": plan.action, "action_label": action,
        "name": plan.values.get("name") or site.get("name") or "",
        "credit_code": plan.values.get("credit_code") or site.get("credit_code") or "",
        "area": area.name if area else "", "site_id": plan.site_id,
        "changes": [labels.get(k, k) for k in plan.changes] if plan.action == "update" else [],
    }


_DIMENSION_RE = re.compile(rb'<dimension ref="[A-Z]+\d+:[A-Z]+(\d+)"')


def estimate_rows(path: Path) -> int:
    """A cheap guess of the number of rows, for the progress bar only (0 = unknown): newlines
    of a text file, or the ``<dimension>`` of the first worksheet of an .xlsx."""
    import zipfile

    try:
        if path.suffix.lower() in (".csv", ".txt", ".tsv"):
            count = 0
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    count += block.count(b"\n")
            return count
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            with zipfile.ZipFile(path) as z:
                sheets = sorted(n for n in z.namelist() if n.startswith("xl/worksheets/sheet") and n.endswith(".xml"))
                if sheets:
                    with z.open(sheets[0]) as f:
                        m = _DIMENSION_RE.search(f.read(4096))
                    return int(m.group(1)) if m else 0
    except (OSError, ValueError, zipfile.BadZipFile):
        return 0
    return 0


def _params(job: Job) -> tuple[Path, str, str, bool]:
    params = job.params or {}
    path = stored_path(params.get("file"))
    if path is None:
        raise jobs.JobError(_("导入参数无效"))
    if not path.is_file():
        raise jobs.JobError(_("导入文件已被清理,请重新上传"))
    mode = params.get("mode")
    if mode not in MODES:
        raise jobs.JobError(_("导入方式无效"))
    return path, _clean_filename(params.get("filename")), mode, bool(params.get("dry_run"))


def _rows(rows):
    try:
        yield from rows
    except importing.ImportFileError as exc:
        raise jobs.JobError(exc.message) from None


def _write_report(job: Job, spool: _ErrorSpool) -> str:
    folder = jobs.export_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"import-errors-{job.pk}-{secrets.token_hex(8)}.xlsx"
    part = folder / (name + ".part")
    try:
        importing.error_report_xlsx(iter(spool), str(part))
        os.replace(part, folder / name)
    finally:
        part.unlink(missing_ok=True)
    return name


class _Tally:
    """What one pass over the rows found: counts, the preview, the row errors (spooled)."""

    def __init__(self, resolver: Resolver):
        self.resolver = resolver
        self.spool = _ErrorSpool()
        self.counts = {"create": 0, "update": 0, "same": 0}
        self.preview: list[dict] = []
        self.total = self.warnings = 0

    def add(self, chunk: list, plans: list[Plan]) -> None:
        for pr, plan in zip(chunk, plans):
            self.total += 1
            self.warnings += len(pr.warnings)
            if plan.ok:
                self.counts[plan.action] += 1
                if len(self.preview) < PREVIEW_ROWS:
                    self.preview.append(_preview_item(plan, self.resolver))
            else:
                self.spool.add(plan.errors)

    @property
    def invalid(self) -> int:
        return self.spool.rows

    def close(self) -> None:
        self.spool.close()


@jobs.job_handler(JOB_KIND, label=gettext_lazy("监管对象导入"), creator_only_download=True)
def run_import(job: Job, progress) -> dict:
    """A dry run validates every row (nothing written). A real import reads the whole file first
    (a file that turns out unreadable halfway writes nothing), then plans and writes chunk by
    chunk in one pass: each chunk is matched against the database as it stands, after the
    chunks before it were written."""
    actor = job.created_by
    if actor is None or not actor.is_active:
        raise jobs.JobError(_("导入须由有效账号发起"))
    if not can_import(actor):
        raise jobs.JobError(_("您已没有任何区域的编辑权限,不能导入"))
    path, filename, mode, dry_run = _params(job)
    try:
        header, rows, close = importing.open_rows(str(path), filename)
    except importing.ImportFileError as exc:
        raise jobs.JobError(exc.message) from None
    try:
        unacknowledged = set(unrecognised_columns(header)) - set((job.params or {}).get(ACK_FIELD) or ())
        if not dry_run and unacknowledged:
            raise jobs.JobError(unrecognised_message(sorted(unacknowledged)))
        return _run(job, actor, path, filename, mode, dry_run, header, _rows(rows), progress)
    finally:
        close()


class _Notices:
    """Rows that are not sites, skipped without an error: the signature footer and repeats of an
    earlier row. Counts, and the first few row numbers for the report."""

    KEEP = 20

    def __init__(self):
        self.footer: list[int] = []
        self.duplicate: list[tuple[int, int]] = []
        self.footer_count = self.duplicate_count = 0

    def filter(self, rows):
        for pr in rows:
            if not pr.notice:
                yield pr
            elif pr.notice == importing.NOTICE_FOOTER:
                self.footer_count += 1
                if len(self.footer) < self.KEEP:
                    self.footer.append(pr.row_number)
            else:
                self.duplicate_count += 1
                if len(self.duplicate) < self.KEEP:
                    self.duplicate.append((pr.row_number, pr.same_as))

    @property
    def count(self) -> int:
        return self.footer_count + self.duplicate_count

    def messages(self, header) -> list[dict]:
        """Chinese notices for the report (page and API)."""
        out = []
        if header.ignored:
            out.append({"code": "ignored_columns", "message": _("以下列无需导入,已略过:%(c)s") % {
                "c": "、".join(header.ignored[:50])}})
        if self.footer_count:
            rows = "、".join(str(r) for r in self.footer) + ("…" if self.footer_count > len(self.footer) else "")
            out.append({"code": "footer_rows", "count": self.footer_count, "rows": self.footer,
                        "message": _("第%(rows)s行是表尾的签名栏(填表人、审核人、制表、联系电话等),"
                                     "不是监管对象,已跳过") % {"rows": rows}})
        if self.duplicate_count:
            pairs = "、".join(_("第%(r)d行(同第%(s)d行)") % {"r": r, "s": same} for r, same in self.duplicate)
            more = "…" if self.duplicate_count > len(self.duplicate) else ""
            out.append({"code": "duplicate_rows", "count": self.duplicate_count,
                        "rows": [r for r, _same in self.duplicate],
                        "message": _("%(n)d行与前面某行内容完全相同,已跳过(只导入一次):%(pairs)s%(more)s") % {
                            "n": self.duplicate_count, "pairs": pairs, "more": more}})
        return out


def _run(job, actor, path, filename, mode, dry_run, header, rows, progress) -> dict:
    estimate = estimate_rows(path)
    tally = _Tally(Resolver(actor, dict(header.recognised)))
    notices = _Notices()
    rows = notices.filter(rows)
    try:
        if dry_run:
            for chunk in _chunks(rows, CHUNK_SIZE):
                tally.add(chunk, tally.resolver.plan_chunk(chunk))
                progress(tally.total, max(estimate, tally.total),
                         _("正在校验:已读取%(n)d行") % {"n": tally.total})
            written = created = updated = 0
        else:
            written, created, updated = _import(job, actor, rows, header, filename, mode, estimate, tally, progress)
        report = _write_report(job, tally.spool) if tally.spool.count else None
    finally:
        tally.close()
    return _result(job, actor, header, filename, mode, dry_run, tally, report, written, created, updated,
                   progress, notices)


def _import(job, actor, rows, header, filename, mode, estimate, tally: _Tally,
            progress) -> tuple[bool, int, int]:
    """The real import: (written, created, updated).

    A workbook read whole by calamine when its header was found, or a file that its dry run read
    to the end (the confirmed import of the same stored file), is planned and written as it is
    read. A file read as it goes (CSV, a streamed .xlsx) could turn out unreadable halfway: it is
    read to the end into a spool first, so such a file writes nothing."""
    parsed = None
    try:
        if header.fully_read or (job.params or {}).get("dry_run_job"):
            chunks, total = _chunks(rows, CHUNK_SIZE), estimate
        else:
            parsed, total = _ParsedSpool(), 0
            for chunk in _chunks(rows, CHUNK_SIZE):
                parsed.add(chunk)
                total += len(chunk)
                progress(total, max(estimate, total), _("正在读取:已读取%(n)d行") % {"n": total})
            if not total:
                return False, 0, 0
            chunks = parsed.chunks()
        converted = _Converter(chunks, tally.resolver)
        try:
            return _plan_and_write(job, actor, converted, filename, mode, total, tally, progress)
        finally:
            converted.close()
    finally:
        if parsed is not None:
            parsed.close()


def _plan_and_write(job, actor, converted, filename, mode, total, tally: _Tally, progress) -> tuple[bool, int, int]:
    if mode == MODE_ALL:
        side = _SideProgress(job, progress)
        try:
            created, updated = _apply_all_or_nothing(actor, job, converted, tally, filename, total, side)
        except _Rejected:
            return False, 0, 0
        finally:
            side.close()
        return True, created, updated
    created = updated = 0
    for chunk, converted_plans in converted:
        plans = tally.resolver.plan_chunk(chunk, converted_plans)
        tally.add(chunk, plans)
        if any(p.ok and p.action in ("create", "update") for p in plans):
            c, u = _write_chunk_committed(actor, job, plans, tally.resolver)
            created, updated = created + c, updated + u
        total = max(total, tally.total)
        progress(tally.total, total, _("正在写入:%(d)d / %(n)d") % {"d": tally.total, "n": total})
    if tally.total == tally.invalid:
        return False, 0, 0
    _record_summary(actor, job, {"mode": mode, "rows": tally.total, "created": created, "updated": updated,
                                 "skipped": tally.invalid, "file": filename,
                                 "sha256": (job.params or {}).get("sha256", "")})
    return True, created, updated


def _result(job, actor, header, filename, mode, dry_run, tally: _Tally, report, written, created, updated,
            progress, notices: _Notices) -> dict:
    total, invalid = tally.total, tally.invalid
    valid = total - invalid
    result = {
        "dry_run": dry_run, "mode": mode, "rows": total, "valid": valid, "invalid": invalid,
        "errors": tally.spool.count, "warnings": tally.warnings, "create": tally.counts["create"],
        "update": tally.counts["update"], "same": tally.counts["same"], "preview": tally.preview,
        "written": bool(written), "created": created, "updated": updated,
        "unknown_columns": header.unknown[:50], "duplicate_columns": header.duplicates[:50],
        "ignored_columns": header.ignored[:50], "filename_in": filename,
        "notices": notices.messages(header), "notice_count": notices.count,
    }
    unrecognised = unrecognised_columns(header)
    result["needs_acknowledgement"] = bool(unrecognised)
    result["column_warnings"] = [{"code": "unrecognised_columns", "columns": unrecognised,
                                  "message": unrecognised_message(unrecognised)}] if unrecognised else []
    if report:
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        result.update(file=report, filename=f"{_('导入错误报告')}-{stamp}.xlsx")
    if dry_run or not written:
        progress(total, total, _("校验完成:共%(n)d行,有效%(v)d行,错误%(e)d行") % {
            "n": total, "v": valid, "e": invalid})
        if not dry_run and mode == MODE_ALL and invalid:
            result["message"] = _("存在%(n)d行错误,按“全部成功才导入”未写入任何数据") % {"n": invalid}
        return result
    result.update(skipped=invalid if mode == MODE_VALID else 0)
    progress(total, total, _("导入完成:新增%(c)d条,更新%(u)d条") % {"c": created, "u": updated})
    if created or updated:
        # Regrade risk colours in the background rather than row by row.
        from . import grading

        grading.regrade_all(None)
    return result


__all__ = ["start_import", "confirm_import", "run_import", "get_import_job", "can_import", "require_importer",
           "MODE_ALL", "MODE_VALID", "JOB_KIND", "Resolver"]

