"""Hazards API, mounted at /api/v1/hazards.

Writes from phones should carry an ``Idempotency-Key`` header (8–64 characters of
``A-Z a-z 0-9 _ . : -``, e.g. a UUID): a retry with the same key returns the first result and
never acts twice. Transitions accept the ``version`` the client last saw (optimistic locking):
if someone acted meanwhile the answer is 409 ``stale`` — "该隐患已被他人处理,请刷新后重试".

A report (``POST /api/v1/hazards`` or ``/upload``) answers 201 with ``{id, state, state_label,
version, url}`` (a retry with a known key: 200, the same hazard); ``GET url`` gives the full
record with its events, evidence and allowed actions. The transitions answer with the full record.
"""
from __future__ import annotations

import datetime
from decimal import Decimal

from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from yingji.core import attachments
from yingji.core.api import ERRORS, Out
from yingji.core.pagination import keyset_page
from yingji.core.privacy import PhoneReveal
from yingji.core.services import get_visible

from . import queries, services
from .models import Hazard

router = Router(tags=["hazards"])


class HazardRef(Out):
    id: int
    name: str


class HazardEventOut(Out):
    id: int
    action: str
    action_label: str
    from_state: str
    to_state: str
    actor: str | None
    at: datetime.datetime
    reason: str
    data: dict


class EvidenceOut(Out):
    id: int
    name: str
    mime_type: str
    size: int
    content_url: str


class RectificationOut(Out):
    id: int
    description: str
    cost: Decimal | None
    submitted_by: str
    submitted_at: datetime.datetime | None
    outcome: str
    reviewed_by: str | None
    reviewed_at: datetime.datetime | None
    review_note: str
    evidence: list[EvidenceOut]


class HazardOut(Out):
    id: int
    title: str
    description: str
    state: str
    state_label: str
    level: str
    category: str
    source: str
    site: HazardRef | None
    area: HazardRef
    sector: HazardRef | None
    location: str
    latitude: float | None
    longitude: float | None
    responsible_unit: str
    responsible_person: str
    responsible_phone: str
    deadline: datetime.date | None
    reported_by: str
    reported_at: datetime.datetime
    accepted_at: datetime.datetime | None
    closed_at: datetime.datetime | None
    fixed_on_spot: bool
    is_overdue: bool
    escalation_level: int
    escalated_to: HazardRef | None
    archived: bool
    version: int


class HazardDetail(HazardOut):
    finder: str = Field(description="发现方:government(监管部门)/ enterprise(企业自查)")
    handling: str = Field(description="由谁受理/验收(按发现方和隐患等级)")
    next_step: str = Field(description="下一步由谁办理;空:已销号或已归档")
    allowed_actions: list[str]
    events: list[HazardEventOut]
    rectifications: list[RectificationOut]
    photos: list[EvidenceOut]


class HazardCreated(Out):
    """The answer to a report: the full record (events, evidence, allowed actions) is
    ``GET url``."""
    id: int
    state: str
    state_label: str
    version: int
    url: str


class HazardPage(Out):
    items: list[HazardOut]
    next_cursor: str | None


class HazardIn(Schema):
    site_id: int | None = None
    area_id: int | None = None
    # Required when the site has several sectors (or none is known) and the reporter's own
    # sector does not decide: 422 {"detail": {"sector": …}} otherwise.
    sector_id: int | None = None
    source: str | None = None
    level: str | None = None
    category: str | None = None
    title: str = Field("", max_length=200)
    description: str = Field("", max_length=4000)
    location: str = ""
    latitude: float | None = None
    longitude: float | None = None
    responsible_unit: str = ""
    responsible_person: str = ""
    responsible_phone: str = ""
    deadline: datetime.date | None = None


class AcceptIn(Schema):
    responsible_unit: str = ""
    responsible_person: str = ""
    responsible_phone: str = ""
    deadline: datetime.date | None = None
    note: str = ""
    version: int | None = None


class VerifyIn(Schema):
    note: str = ""
    version: int | None = None


class HazardReasonIn(Schema):
    reason: str = ""
    version: int | None = None


def _file_out(a) -> dict:
    from django.urls import reverse

    return {"id": a.pk, "name": a.original_name, "mime_type": a.mime_type, "size": a.size,
            "content_url": reverse("api:attachment_content", kwargs={"attachment_id": a.pk})}


# The columns a hazard's JSON is made of: lists read exactly these as plain rows (no model
# instances: building 50 hazards with five related objects each cost more than the SQL), the
# detail reads them from its instance. ``_out`` is the one mapping from them to the answer.
OUT_FIELDS = (
    "id", "title", "description", "state", "level", "category", "source", "location", "latitude", "longitude",
    "responsible_unit", "responsible_person", "responsible_phone", "deadline", "reported_at", "accepted_at",
    "closed_at", "fixed_on_spot", "is_overdue", "escalation_level", "archived_at", "version",
    "site_id", "site__name", "area_id", "area__name", "sector_id", "sector__name",
    "reported_by__display_name", "reported_by__username", "escalated_to_id", "escalated_to__name",
)


def _row(h: Hazard) -> dict:
    """An instance (with its related rows loaded) as the row a list reads with ``OUT_FIELDS``."""
    row = {}
    for name in OUT_FIELDS:
        obj = h
        for part in name.split("__"):
            obj = getattr(obj, part) if obj is not None else None
        row[name] = obj
    return row


def _ref_row(row: dict, fk: str):
    pk = row[f"{fk}_id"]
    return None if pk is None else {"id": pk, "name": row[f"{fk}__name"]}


def _out(row: dict, reveal: PhoneReveal) -> dict:
    """``reveal``: whose phone the reader may read in full (``core.privacy``: who may edit the hazard)."""
    lat, lng = row["latitude"], row["longitude"]
    return {
        "id": row["id"], "title": row["title"], "description": row["description"], "state": row["state"],
        "state_label": services.state_label(row["state"]), "level": row["level"], "category": row["category"],
        "source": row["source"], "site": _ref_row(row, "site"), "area": _ref_row(row, "area"),
        "sector": _ref_row(row, "sector"), "location": row["location"],
        "latitude": float(lat) if lat is not None else None, "longitude": float(lng) if lng is not None else None,
        "responsible_unit": row["responsible_unit"], "responsible_person": row["responsible_person"],
        "responsible_phone": reveal.phone(row["id"], row["responsible_phone"]), "deadline": row["deadline"],
        "reported_by": row["reported_by__display_name"] or row["reported_by__username"],
        "reported_at": row["reported_at"], "accepted_at": row["accepted_at"], "closed_at": row["closed_at"],
        "fixed_on_spot": row["fixed_on_spot"], "is_overdue": row["is_overdue"],
        "escalation_level": row["escalation_level"], "escalated_to": _ref_row(row, "escalated_to"),
        "archived": row["archived_at"] is not None, "version": row["version"],
    }


def _load(pk) -> Hazard:
    return Hazard.objects.select_related("site", "area", "sector", "reported_by", "escalated_to").get(pk=pk)


def _detail(user, hazard: Hazard) -> dict:
    hazard = _load(hazard.pk)
    out = _out(_row(hazard), PhoneReveal(user, Hazard).load([hazard.pk]))
    out["allowed_actions"] = services.allowed_actions(user, hazard)
    out["finder"] = hazard.finder
    out["handling"] = services.handling_rule(hazard)
    out["next_step"] = services.next_step(user, hazard, out["allowed_actions"])
    out["events"] = [{
        "id": e.pk, "action": e.action, "action_label": services.action_label(e.action), "from_state": e.from_state,
        "to_state": e.to_state, "actor": str(e.actor) if e.actor else None, "at": e.at, "reason": e.reason,
        "data": e.data} for e in queries.events_for(user, hazard)]
    out["rectifications"] = [{
        "id": r.pk, "description": r.description, "cost": r.cost, "submitted_by": str(r.submitted_by),
        "submitted_at": r.submitted_at, "outcome": r.outcome,
        "reviewed_by": str(r.reviewed_by) if r.reviewed_by else None, "reviewed_at": r.reviewed_at,
        "review_note": r.review_note, "evidence": [_file_out(a) for a in r.evidence],
    } for r in queries.rectifications_for(user, hazard)]
    out["photos"] = [_file_out(a) for a in attachments.attachments_for(user, hazard)[:100]]
    return out


def _key(request) -> str | None:
    return request.headers.get("Idempotency-Key") or None


def _visible(user, hazard_id) -> Hazard:
    return get_visible(Hazard, user, hazard_id)


@router.get("", response={200: HazardPage, **ERRORS}, summary="隐患列表(筛选 + 键集分页)")
def list_hazards(request, q: str | None = None, state: str | None = None, level: str | None = None,
                 area_id: int | None = None, sector: str | None = None, source: str | None = None,
                 overdue: bool | None = None, site_id: int | None = None, include_archived: bool = False,
                 cursor: str | None = None, limit: int = 50):
    qs = queries.hazard_search(request.auth, q=q, state=state, level=level, area=area_id, sector=sector,
                               source=source, overdue=overdue, site=site_id, include_archived=include_archived)
    rows, next_cursor = keyset_page(qs, cursor, limit, keys_first=True, values=OUT_FIELDS)
    reveal = PhoneReveal(request.auth, Hazard).load([row["id"] for row in rows])
    return {"items": [_out(row, reveal) for row in rows], "next_cursor": next_cursor}


@router.get("/{int:hazard_id}", response={200: HazardDetail, **ERRORS}, summary="隐患详情(含处理记录与整改证据)")
def get_hazard(request, hazard_id: int):
    return _detail(request.auth, _visible(request.auth, hazard_id))


def _created(hazard: Hazard) -> dict:
    return {"id": hazard.pk, "state": hazard.state, "state_label": services.state_label(hazard.state),
            "version": hazard.version, "url": f"{_base_url()}/{hazard.pk}"}


def _base_url() -> str:
    from django.urls import reverse

    return reverse("api:list_hazards")


def _report(request, fields: dict, files=(), **extra):
    hazard = services.report_hazard(
        request.auth, site=fields.pop("site_id", None), area=fields.pop("area_id", None),
        sector=fields.pop("sector_id", None), files=files, idempotency_key=_key(request), **fields, **extra)
    # A retry with a known key (also one that raced the first call) answers 200 with the first result.
    # The answer is lean (id, state, version, url); the full detail is GET url.
    return Status(200 if getattr(hazard, "repeated", False) else 201, _created(hazard))


@router.post("", response={200: HazardCreated, 201: HazardCreated, **ERRORS},
             summary="上报隐患(JSON;建议带 Idempotency-Key 请求头;应答含 id、状态、版本和详情地址)")
def report_hazard(request, payload: HazardIn):
    return _report(request, payload.dict())


@router.post("/upload", response={200: HazardCreated, 201: HazardCreated, **ERRORS},
             summary="上报隐患并上传照片(multipart;可当场整改销号;应答同上报)")
def report_hazard_with_files(
        request, description: Form[str] = "", site_id: Form[int | None] = None, area_id: Form[int | None] = None,
        sector_id: Form[int | None] = None, source: Form[str] = "", level: Form[str] = "", category: Form[str] = "",
        title: Form[str] = "", location: Form[str] = "", latitude: Form[str] = "", longitude: Form[str] = "",
        responsible_unit: Form[str] = "", responsible_person: Form[str] = "", responsible_phone: Form[str] = "",
        deadline: Form[str] = "", fixed_on_spot: Form[bool] = False, rectification_description: Form[str] = "",
        cost: Form[str] = "", files: File[list[UploadedFile]] = None,
        rectification_files: File[list[UploadedFile]] = None):
    fields = dict(site_id=site_id, area_id=area_id, sector_id=sector_id, source=source, level=level,
                  category=category, title=title, description=description, location=location, latitude=latitude,
                  longitude=longitude, responsible_unit=responsible_unit, responsible_person=responsible_person,
                  responsible_phone=responsible_phone, deadline=deadline)
    return _report(request, fields, files or [], fixed_on_spot=fixed_on_spot,
                   rectification_description=rectification_description, cost=cost,
                   rectification_files=rectification_files or [])


@router.post("/{int:hazard_id}/accept", response={200: HazardDetail, **ERRORS}, summary="受理:指定整改责任人和期限")
def accept(request, hazard_id: int, payload: AcceptIn):
    data = payload.dict()
    hazard = services.accept(request.auth, _visible(request.auth, hazard_id), idempotency_key=_key(request), **data)
    return _detail(request.auth, hazard)


@router.post("/{int:hazard_id}/rectification", response={200: HazardDetail, **ERRORS},
             summary="提交整改(multipart:description、cost、version、files,至少一个证据文件)")
def submit_rectification(request, hazard_id: int, description: Form[str] = "", cost: Form[str] = "",
                         version: Form[int | None] = None, files: File[list[UploadedFile]] = None):
    hazard = services.submit_rectification(request.auth, _visible(request.auth, hazard_id), description=description,
                                           cost=cost, files=files or [], version=version,
                                           idempotency_key=_key(request))
    return _detail(request.auth, hazard)


@router.post("/{int:hazard_id}/verify", response={200: HazardDetail, **ERRORS}, summary="验收销号(验收人不能是整改人)")
def verify(request, hazard_id: int, payload: VerifyIn | None = None):
    payload = payload or VerifyIn()
    hazard = services.verify(request.auth, _visible(request.auth, hazard_id), note=payload.note,
                             version=payload.version, idempotency_key=_key(request))
    return _detail(request.auth, hazard)


@router.post("/{int:hazard_id}/send-back", response={200: HazardDetail, **ERRORS}, summary="退回重新整改(须填写理由)")
def send_back(request, hazard_id: int, payload: HazardReasonIn):
    hazard = services.send_back(request.auth, _visible(request.auth, hazard_id), reason=payload.reason,
                                version=payload.version, idempotency_key=_key(request))
    return _detail(request.auth, hazard)


@router.post("/{int:hazard_id}/archive", response={200: HazardDetail, **ERRORS}, summary="归档(须填写理由,不删除)")
def archive(request, hazard_id: int, payload: HazardReasonIn):
    hazard = services.archive(request.auth, _visible(request.auth, hazard_id), reason=payload.reason,
                              version=payload.version)
    return _detail(request.auth, hazard)
