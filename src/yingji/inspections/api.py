"""Inspections and campaigns API, mounted at /api/v1/inspections.

Writes from phones should carry an ``Idempotency-Key`` header (8–64 characters of
``A-Z a-z 0-9 _ . : -``; starting an inspection also accepts the key as the field
``idempotency_key``): a retry with the same key returns the first result and never acts twice.
"""
from __future__ import annotations

import datetime
from decimal import Decimal

from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from yingji.core.api import ERRORS
from yingji.core.errors import NotFound
from yingji.core.pagination import keyset_page
from yingji.core.services import get_visible

from . import queries, services
from .models import Campaign, Inspection, InspectionResult

router = Router(tags=["inspections"])


class InspectionRef(Schema):
    id: int
    name: str


class CampaignOut(Schema):
    id: int
    name: str
    description: str
    status: str
    status_label: str
    area: InspectionRef
    organiser: InspectionRef | None
    starts_on: datetime.date
    ends_on: datetime.date
    scope_areas: list[InspectionRef]
    scope_sectors: list[InspectionRef]
    scope_traits: list[InspectionRef]
    scope_kinds: list[str]
    target_coverage: Decimal | None
    target_note: str
    archived: bool


class CampaignAssignmentOut(Schema):
    id: int
    area: InspectionRef | None
    organisation: InspectionRef | None
    user: InspectionRef | None
    task: str
    target_sites: int | None
    revoked_at: datetime.datetime | None


class CampaignDetail(CampaignOut):
    can_edit: bool
    assignments: list[CampaignAssignmentOut]


class CampaignPage(Schema):
    items: list[CampaignOut]
    next_cursor: str | None


class ProgressRow(Schema):
    key: int | None
    label: str
    sites_in_scope: int
    sites_inspected: int
    coverage: float | None
    inspections: int
    hazards_found: int
    hazards_closed: int
    major_hazards: int
    open_overdue: int


class OverallRow(ProgressRow):
    target_coverage: float | None
    in_progress: int            # campaign inspections of target sites still in progress (not counted)
    inspections_outside: int    # completed ones of sites no longer in scope (not counted)


class ProgressOut(Schema):
    overall: OverallRow
    by_area: list[ProgressRow]
    by_sector: list[ProgressRow]
    multi_sector_sites: int     # target sites counted in more than one sector row
    definitions: dict[str, str]  # the definition (口径) of each figure, as shown on the page
    as_of: datetime.datetime


class CampaignIn(Schema):
    name: str = Field("", max_length=200)
    description: str = Field("", max_length=10000)
    area_id: int | None = None
    organiser_id: int | None = None
    starts_on: datetime.date | None = None
    ends_on: datetime.date | None = None
    scope_area_ids: list[int] = []
    scope_sector_ids: list[int] = []
    scope_trait_ids: list[int] = []
    scope_kinds: list[str] = []
    target_coverage: Decimal | None = None
    target_note: str = Field("", max_length=1000)


class InspectionOut(Schema):
    id: int
    site: InspectionRef
    area: InspectionRef
    sector: InspectionRef | None
    mode: str
    mode_label: str
    campaign: InspectionRef | None
    lead: InspectionRef
    inspectors: list[InspectionRef]
    state: str
    started_at: datetime.datetime
    completed_at: datetime.datetime | None
    place: str
    latitude: float | None
    longitude: float | None
    gps_accuracy: int | None
    summary: str
    items_total: int
    items_failed: int
    hazards_found: int
    archived: bool


class PhotoOut(Schema):
    id: int
    name: str
    content_url: str


class ResultOut(Schema):
    id: int
    item_id: int
    code: str
    question: str
    module: str
    section: str
    hazard_level: str
    category: str
    photo_required: bool
    result: str
    note: str
    hazard_id: int | None
    answered_by: str | None
    answered_at: datetime.datetime | None
    photos: list[PhotoOut]


class InspectionDetail(InspectionOut):
    can_record: bool
    results: list[ResultOut]


class InspectionPage(Schema):
    items: list[InspectionOut]
    next_cursor: str | None


class StartIn(Schema):
    site_id: int | None = None
    mode: str = ""
    campaign_id: int | None = None
    sector_id: int | None = None
    inspector_ids: list[int] = []
    place: str = Field("", max_length=400)
    latitude: float | None = None
    longitude: float | None = None
    gps_accuracy: float | None = None
    idempotency_key: str | None = None


class CompleteIn(Schema):
    summary: str = Field("", max_length=10000)


class InspectionHazardOut(Schema):
    id: int
    title: str
    state: str
    level: str
    fixed_on_spot: bool
    result: ResultOut


def _ref(obj, attr: str = "name"):
    return None if obj is None else {"id": obj.pk, "name": str(getattr(obj, attr))}


def _campaign_out(c: Campaign) -> dict:
    return {
        "id": c.pk, "name": c.name, "description": c.description, "status": c.status,
        "status_label": services.status_label(c.status), "area": _ref(c.area), "organiser": _ref(c.organiser),
        "starts_on": c.starts_on, "ends_on": c.ends_on,
        "scope_areas": [_ref(a) for a in c.scope_areas.all()], "scope_sectors": [_ref(s) for s in c.scope_sectors.all()],
        "scope_traits": [_ref(t) for t in c.scope_traits.all()], "scope_kinds": list(c.scope_kinds),
        "target_coverage": c.target_coverage, "target_note": c.target_note, "archived": c.archived_at is not None,
    }


def _campaign_detail(user, c: Campaign) -> dict:
    c = Campaign.objects.select_related("area", "organiser").get(pk=c.pk)
    out = _campaign_out(c)
    out["can_edit"] = services.can_edit_campaign(user, c)
    out["assignments"] = [{
        "id": a.pk, "area": _ref(a.area), "organisation": _ref(a.organisation),
        "user": None if a.user is None else {"id": a.user.pk, "name": str(a.user)}, "task": a.task,
        "target_sites": a.target_sites, "revoked_at": a.revoked_at} for a in queries.assignments_for(user, c)]
    return out


def _inspectors(user, items) -> dict[int, list[dict]]:
    """The inspectors of each inspection that ``user`` may see named
    (``core.privacy.people_visible_to``: people with a role in the user's areas), one query."""
    from yingji.core import privacy

    people = {i.pk: list(i.inspectors.all()) for i in items}
    shown = privacy.visible_people_ids(user, {u.pk for group in people.values() for u in group})
    return {pk: [{"id": u.pk, "name": str(u)} for u in group if u.pk in shown] for pk, group in people.items()}


def _inspection_out(i: Inspection, inspectors: list[dict]) -> dict:
    return {
        "id": i.pk, "site": _ref(i.site), "area": _ref(i.area), "sector": _ref(i.sector), "mode": i.mode,
        "mode_label": i.get_mode_display(), "campaign": _ref(i.campaign), "lead": {"id": i.lead.pk, "name": str(i.lead)},
        "inspectors": inspectors, "state": i.state,
        "started_at": i.started_at, "completed_at": i.completed_at, "place": i.place,
        "latitude": float(i.latitude) if i.latitude is not None else None,
        "longitude": float(i.longitude) if i.longitude is not None else None, "gps_accuracy": i.gps_accuracy,
        "summary": i.summary, "items_total": i.items_total, "items_failed": i.items_failed,
        "hazards_found": i.hazards_found, "archived": i.archived_at is not None,
    }


def _photo(a) -> dict:
    from django.urls import reverse

    return {"id": a.pk, "name": a.original_name,
            "content_url": reverse("api:attachment_content", kwargs={"attachment_id": a.pk})}


def _result_out(r: InspectionResult) -> dict:
    item = r.item
    return {
        "id": r.pk, "item_id": item.pk, "code": item.code, "question": item.question,
        "module": item.version.module.name, "section": item.section.title, "hazard_level": item.hazard_level,
        "category": item.category, "photo_required": item.photo_required, "result": r.result, "note": r.note,
        "hazard_id": r.hazard_id, "answered_by": str(r.answered_by) if r.answered_by_id else None,
        "answered_at": r.answered_at, "photos": [_photo(a) for a in getattr(r, "photos", [])],
    }


def _load_inspection(pk) -> Inspection:
    return (Inspection.objects.select_related("site", "area", "sector", "campaign", "lead")
            .prefetch_related("inspectors").get(pk=pk))


def _inspection_detail(user, inspection: Inspection) -> dict:
    inspection = _load_inspection(inspection.pk)
    out = _inspection_out(inspection, _inspectors(user, [inspection])[inspection.pk])
    out["can_record"] = services.can_record(user, inspection)
    rows = queries.results_for(user, inspection)
    out["results"] = [_result_out(r) for r in rows]
    return out


def _key(request) -> str | None:
    return request.headers.get("Idempotency-Key") or None


# ---------------------------------------------------------------- campaigns

@router.get("/campaigns", response={200: CampaignPage, **ERRORS}, summary="专项行动列表(键集分页)")
def list_campaigns(request, status: str | None = None, q: str | None = None, include_archived: bool = False,
                   cursor: str | None = None, limit: int = 50):
    qs = queries.campaign_search(request.auth, status=status, q=q, include_archived=include_archived)
    items, next_cursor = keyset_page(qs.select_related("area", "organiser")
                                     .prefetch_related("scope_areas", "scope_sectors", "scope_traits"), cursor, limit)
    return {"items": [_campaign_out(c) for c in items], "next_cursor": next_cursor}


@router.post("/campaigns", response={201: CampaignDetail, **ERRORS}, summary="新建专项行动(筹备中)")
def create_campaign(request, payload: CampaignIn):
    d = payload.dict()
    campaign = services.create_campaign(
        request.auth, name=d["name"], description=d["description"], area=d["area_id"], organiser=d["organiser_id"],
        starts_on=d["starts_on"], ends_on=d["ends_on"], scope_areas=d["scope_area_ids"],
        scope_sectors=d["scope_sector_ids"], scope_traits=d["scope_trait_ids"], scope_kinds=d["scope_kinds"],
        target_coverage=d["target_coverage"], target_note=d["target_note"])
    return Status(201, _campaign_detail(request.auth, campaign))


@router.get("/campaigns/{int:campaign_id}", response={200: CampaignDetail, **ERRORS}, summary="专项行动详情(含分工)")
def get_campaign(request, campaign_id: int):
    return _campaign_detail(request.auth, services.get_campaign(request.auth, campaign_id))


@router.get("/campaigns/{int:campaign_id}/progress", response={200: ProgressOut, **ERRORS},
            summary="专项行动进度:覆盖率、检查与隐患数(合计、分区域、分行业领域;按本人可见范围统计)")
def campaign_progress(request, campaign_id: int):
    campaign = services.get_campaign(request.auth, campaign_id)
    return services.campaign_progress(campaign, request.auth)


# ---------------------------------------------------------------- inspections

@router.get("", response={200: InspectionPage, **ERRORS}, summary="检查记录列表(筛选 + 键集分页)")
def list_inspections(request, mode: str | None = None, state: str | None = None, campaign_id: int | None = None,
                     area_id: int | None = None, site_id: int | None = None, date_from: str | None = None,
                     date_to: str | None = None, include_archived: bool = False, cursor: str | None = None,
                     limit: int = 50):
    qs = queries.inspection_search(request.auth, mode=mode, state=state, campaign=campaign_id, area=area_id,
                                   site=site_id, date_from=date_from, date_to=date_to,
                                   include_archived=include_archived)
    items, next_cursor = keyset_page(qs.select_related("site", "area", "sector", "campaign", "lead")
                                     .prefetch_related("inspectors"), cursor, limit)
    people = _inspectors(request.auth, items)
    return {"items": [_inspection_out(i, people[i.pk]) for i in items], "next_cursor": next_cursor}


@router.post("", response={200: InspectionDetail, 201: InspectionDetail, **ERRORS},
             summary="开始检查(建议带 Idempotency-Key 请求头;重试返回同一检查)")
def start_inspection(request, payload: StartIn):
    d = payload.dict()
    key = _key(request) or d["idempotency_key"]
    known = bool(key) and Inspection.objects.filter(idempotency_key=str(key).strip()).exists()
    mode = d["mode"] or queries.default_mode_for_site_id(request.auth, d["site_id"])  # omitted: the role's usual
    inspection = services.start_inspection(
        request.auth, d["site_id"], mode, campaign=d["campaign_id"], sector=d["sector_id"],
        inspectors=d["inspector_ids"], place=d["place"], latitude=d["latitude"], longitude=d["longitude"],
        gps_accuracy=d["gps_accuracy"], idempotency_key=key)
    return Status(200 if known else 201, _inspection_detail(request.auth, inspection))


@router.get("/{int:inspection_id}", response={200: InspectionDetail, **ERRORS}, summary="检查记录详情(含各检查项结果)")
def get_inspection(request, inspection_id: int):
    return _inspection_detail(request.auth, get_visible(Inspection, request.auth, inspection_id))


def _result(user, inspection_id: int, result_id: int) -> InspectionResult:
    inspection = get_visible(Inspection, user, inspection_id)
    row = InspectionResult.objects.visible_to(user).filter(pk=result_id, inspection_id=inspection.pk).first()
    if row is None:
        raise NotFound()
    return row


def _result_detail(user, row: InspectionResult) -> dict:
    from yingji.core import attachments

    row = InspectionResult.objects.select_related("item__version__module", "item__section", "answered_by").get(
        pk=row.pk)
    row.photos = list(attachments.attachments_for(user, row).order_by("id"))
    return _result_out(row)


class ResultIn(Schema):
    result: str = ""
    note: str = Field("", max_length=2000)


@router.patch("/{int:inspection_id}/results/{int:result_id}", response={200: ResultOut, **ERRORS},
              summary="填写检查项结果(JSON:result=pass|fail|na、note;带照片请用 POST multipart)")
def record_result(request, inspection_id: int, result_id: int, payload: ResultIn):
    row = _result(request.auth, inspection_id, result_id)
    row = services.record_result(request.auth, inspection_id, row, payload.result, note=payload.note)
    return _result_detail(request.auth, row)


@router.post("/{int:inspection_id}/results/{int:result_id}", response={200: ResultOut, **ERRORS},
             summary="填写检查项结果并上传照片(multipart:result、note、files)")
def record_result_with_files(request, inspection_id: int, result_id: int, result: Form[str] = "",
                             note: Form[str] = "", files: File[list[UploadedFile]] = None):
    row = _result(request.auth, inspection_id, result_id)
    row = services.record_result(request.auth, inspection_id, row, result, note=note, files=files or [])
    return _result_detail(request.auth, row)


def _hazard_out(user, hazard, row) -> dict:
    row.refresh_from_db()
    return {"id": hazard.pk, "title": hazard.title, "state": hazard.state, "level": hazard.level,
            "fixed_on_spot": hazard.fixed_on_spot, "result": _result_detail(user, row)}


@router.post("/{int:inspection_id}/results/{int:result_id}/confirm-hazard", response={201: InspectionHazardOut, **ERRORS},
             summary="不符合项登记隐患(multipart;未填的字段取检查项默认值)")
def confirm_hazard(request, inspection_id: int, result_id: int, title: Form[str] = "", description: Form[str] = "",
                   level: Form[str] = "", category: Form[str] = "", deadline: Form[str] = "",
                   location: Form[str] = "", responsible_unit: Form[str] = "", responsible_person: Form[str] = "",
                   responsible_phone: Form[str] = "", files: File[list[UploadedFile]] = None,
                   sector_id: Form[int | None] = None):
    row = _result(request.auth, inspection_id, result_id)
    hazard = services.confirm_hazard(
        request.auth, row, title=title, description=description, level=level or None, category=category or None,
        deadline=deadline or None, location=location, responsible_unit=responsible_unit,
        responsible_person=responsible_person, responsible_phone=responsible_phone, files=files or [],
        idempotency_key=_key(request), sector=sector_id)
    return Status(201, _hazard_out(request.auth, hazard, row))


@router.post("/{int:inspection_id}/results/{int:result_id}/fix-on-spot", response={201: InspectionHazardOut, **ERRORS},
             summary="不符合项当场整改(multipart:rectification_description、files 至少一个;重大隐患不可)")
def fix_on_spot(request, inspection_id: int, result_id: int, rectification_description: Form[str] = "",
                title: Form[str] = "", description: Form[str] = "", category: Form[str] = "", cost: Form[str] = "",
                files: File[list[UploadedFile]] = None, sector_id: Form[int | None] = None):
    row = _result(request.auth, inspection_id, result_id)
    hazard = services.fix_on_spot(request.auth, row, rectification_description=rectification_description,
                                  files=files or [], title=title, description=description,
                                  category=category or None, cost=cost or None, idempotency_key=_key(request),
                                  sector=sector_id)
    return Status(201, _hazard_out(request.auth, hazard, row))


@router.post("/{int:inspection_id}/complete", response={200: InspectionDetail, **ERRORS},
             summary="完成检查(有未检查项或未处理的不符合项时返回 409)")
def complete(request, inspection_id: int, payload: CompleteIn | None = None):
    payload = payload or CompleteIn()
    inspection = services.complete_inspection(request.auth, get_visible(Inspection, request.auth, inspection_id),
                                              summary=payload.summary)
    return _inspection_detail(request.auth, inspection)
