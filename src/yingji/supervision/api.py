"""Listed supervision API, mounted at /api/v1/supervision.

Reads are scoped like the pages (out of scope → 404). Each action is a POST that calls the
matching service; transitions accept the ``version`` the client last saw (409 ``stale`` if
someone acted meanwhile). ``GET /public`` is the published list, without authentication and
with the published fields only.
"""
from __future__ import annotations

import datetime
from decimal import Decimal

from ninja import Router, Schema, Status

from yingji.core.api import ERRORS
from yingji.core.pagination import keyset_page
from yingji.core.services import get_visible

from . import queries, services
from .models import ExtensionRequest, Listing

router = Router(tags=["supervision"])


class ListingEventOut(Schema):
    id: int
    action: str
    action_label: str
    from_state: str
    to_state: str
    actor: str | None
    at: datetime.datetime
    note: str
    data: dict


class ExtensionOut(Schema):
    id: int
    requested_at: datetime.datetime
    requested_by: str
    current_deadline: datetime.date
    new_deadline: datetime.date
    reason: str
    decision: str
    decide_due: datetime.date
    overdue: bool
    decided_at: datetime.datetime | None
    decided_by: str | None
    decided_late: bool
    decision_note: str


class ListingOut(Schema):
    id: int
    hazard_id: int
    hazard_title: str
    site_id: int | None
    site_name: str | None
    level: str
    state: str
    state_label: str
    listing_body_id: int | None
    listing_body_name: str
    notice_number: str
    listed_on: datetime.date
    listed_by: str
    deadline: datetime.date
    original_deadline: datetime.date
    overdue: bool
    publish_due: datetime.date
    published_at: datetime.datetime | None
    shutdown: str
    measures: str
    funds: Decimal | None
    responsible_people: str
    plan_deadline: datetime.date | None
    contingency: str
    plan_filed_at: datetime.datetime | None
    acceptance_requested_at: datetime.datetime | None
    acceptance_result: str
    acceptance_note: str
    acceptance_at: datetime.datetime | None
    delisted_at: datetime.datetime | None
    delist_publish_due: datetime.date | None
    delist_published_at: datetime.datetime | None
    publishable: bool
    public_title: str
    archived: bool
    version: int


class ListingDetail(ListingOut):
    notice_text: str
    allowed_actions: list[str]
    last_extension_day: datetime.date
    latest_deadline: datetime.date
    calendar_warning: str | None = None  # working-day dates counted over a year whose calendar is not loaded
    events: list[ListingEventOut]
    extensions: list[ExtensionOut]


class ListingPage(Schema):
    items: list[ListingOut]
    next_cursor: str | None


class PublicOut(Schema):
    id: int
    site_name: str
    town: str
    village: str = ""
    title: str
    level: str
    level_label: str
    listing_body: str
    notice_number: str
    listed_on: datetime.date
    deadline: datetime.date
    state: str
    state_label: str
    delisted_on: datetime.date | None


class PublicPage(Schema):
    items: list[PublicOut]
    next_cursor: str | None


class ListingIn(Schema):
    hazard_id: int
    level: str = ""
    listing_body_id: int | None = None
    listing_body_name: str = ""
    notice_number: str = ""
    notice_text: str = ""
    deadline: datetime.date | None = None
    shutdown: str | None = None
    publishable: bool = True
    public_title: str = ""


class VersionIn(Schema):
    version: int | None = None


class PlanIn(VersionIn):
    measures: str = ""
    funds: Decimal | None = None
    responsible_people: str = ""
    plan_deadline: datetime.date | None = None
    contingency: str = ""


class ShutdownIn(VersionIn):
    shutdown: str = ""
    note: str = ""


class PublicIn(VersionIn):
    publishable: bool = True
    public_title: str = ""


class ExtensionIn(VersionIn):
    new_deadline: datetime.date | None = None
    reason: str = ""


class DecideIn(Schema):
    approve: bool
    note: str = ""


class NoteIn(VersionIn):
    note: str = ""


class AcceptanceIn(VersionIn):
    passed: bool
    note: str = ""


class ListingReasonIn(VersionIn):
    reason: str = ""


def _out(x: Listing) -> dict:
    site = x.hazard.site
    return {
        "id": x.pk, "hazard_id": x.hazard_id, "hazard_title": x.hazard.title,
        "site_id": site.pk if site else None, "site_name": site.name if site else None,
        "level": x.level, "state": x.state, "state_label": services.state_label(x.state),
        "listing_body_id": x.listing_body_id, "listing_body_name": x.listing_body_name,
        "notice_number": x.notice_number, "listed_on": x.listed_on, "listed_by": str(x.listed_by),
        "deadline": x.deadline, "original_deadline": x.original_deadline, "overdue": x.is_overdue,
        "publish_due": x.publish_due, "published_at": x.published_at, "shutdown": x.shutdown,
        "measures": x.measures, "funds": x.funds, "responsible_people": x.responsible_people,
        "plan_deadline": x.plan_deadline, "contingency": x.contingency, "plan_filed_at": x.plan_filed_at,
        "acceptance_requested_at": x.acceptance_requested_at, "acceptance_result": x.acceptance_result,
        "acceptance_note": x.acceptance_note, "acceptance_at": x.acceptance_at, "delisted_at": x.delisted_at,
        "delist_publish_due": x.delist_publish_due, "delist_published_at": x.delist_published_at,
        "publishable": x.publishable, "public_title": x.public_title, "archived": x.archived_at is not None,
        "version": x.version,
    }


def _detail(user, listing: Listing) -> dict:
    listing = Listing.objects.select_related("hazard", "hazard__site", "listed_by").get(pk=listing.pk)
    out = _out(listing)
    out.update({
        "notice_text": listing.notice_text,
        "allowed_actions": services.allowed_actions(user, listing),
        "last_extension_day": services.last_extension_day(listing),
        "latest_deadline": services.latest_deadline(listing),
        "calendar_warning": services.calendar_warning(listing),
        "events": [{"id": e.pk, "action": e.action, "action_label": services.action_label(e.action),
                    "from_state": e.from_state, "to_state": e.to_state, "actor": str(e.actor) if e.actor else None,
                    "at": e.at, "note": e.note, "data": e.data} for e in queries.events_for(user, listing)],
        "extensions": [{"id": e.pk, "requested_at": e.requested_at, "requested_by": str(e.requested_by),
                        "current_deadline": e.current_deadline, "new_deadline": e.new_deadline, "reason": e.reason,
                        "decision": e.decision, "decide_due": e.decide_due, "overdue": e.is_overdue,
                        "decided_at": e.decided_at, "decided_by": str(e.decided_by) if e.decided_by else None,
                        "decided_late": e.decided_late, "decision_note": e.decision_note}
                       for e in queries.extensions_for(user, listing)],
    })
    return out


def _visible(user, pk) -> Listing:
    return get_visible(Listing, user, pk)


@router.get("/public", auth=None, response={200: PublicPage, **ERRORS},
            summary="公开:重大事故隐患挂牌督办名单(无需登录,仅公开字段)")
def public_list(request, cursor: str | None = None, limit: int = 50):
    items, next_cursor = keyset_page(queries.public_listings(), cursor, limit)
    return {"items": queries.public_rows(items), "next_cursor": next_cursor}


@router.get("", response={200: ListingPage, **ERRORS}, summary="挂牌督办列表(筛选 + 键集分页)")
def list_listings(request, q: str | None = None, level: str | None = None, state: str | None = None,
                  overdue: bool | None = None, pending_extension: bool | None = None,
                  include_archived: bool = False, cursor: str | None = None, limit: int = 50):
    qs = queries.listing_search(request.auth, q=q, level=level, state=state, overdue=overdue,
                                pending_extension=pending_extension, include_archived=include_archived)
    items, next_cursor = keyset_page(qs.select_related("hazard", "hazard__site", "listed_by"), cursor, limit)
    return {"items": [_out(x) for x in items], "next_cursor": next_cursor}


@router.get("/{int:listing_id}", response={200: ListingDetail, **ERRORS}, summary="挂牌督办详情(含记录与延期申请)")
def get_listing(request, listing_id: int):
    return _detail(request.auth, _visible(request.auth, listing_id))


@router.post("", response={201: ListingDetail, **ERRORS}, summary="挂牌督办(重大且未销号的隐患)")
def create_listing(request, payload: ListingIn):
    data = payload.dict()
    hazard = data.pop("hazard_id")
    data["listing_body"] = data.pop("listing_body_id")
    listing = services.list_hazard(request.auth, hazard, **data)
    return Status(201, _detail(request.auth, listing))


@router.post("/{int:listing_id}/publish-notice", response={200: ListingDetail, **ERRORS}, summary="公布督办通知")
def publish_notice(request, listing_id: int, payload: VersionIn | None = None):
    payload = payload or VersionIn()
    listing = services.publish_notice(request.auth, _visible(request.auth, listing_id), version=payload.version)
    return _detail(request.auth, listing)


@router.post("/{int:listing_id}/public", response={200: ListingDetail, **ERRORS}, summary="公开信息设置")
def set_public(request, listing_id: int, payload: PublicIn):
    listing = services.set_public(request.auth, _visible(request.auth, listing_id), **payload.dict())
    return _detail(request.auth, listing)


@router.post("/{int:listing_id}/plan", response={200: ListingDetail, **ERRORS}, summary="报送整改方案(五落实,均必填)")
def file_plan(request, listing_id: int, payload: PlanIn):
    listing = services.file_plan(request.auth, _visible(request.auth, listing_id), **payload.dict())
    return _detail(request.auth, listing)


@router.post("/{int:listing_id}/shutdown", response={200: ListingDetail, **ERRORS}, summary="停产情况(none/partial/full)")
def set_shutdown(request, listing_id: int, payload: ShutdownIn):
    listing = services.set_shutdown(request.auth, _visible(request.auth, listing_id), **payload.dict())
    return _detail(request.auth, listing)


@router.post("/{int:listing_id}/extensions", response={201: ListingDetail, **ERRORS},
             summary="申请延期(整改期限前至少20个工作日)")
def request_extension(request, listing_id: int, payload: ExtensionIn):
    ext = services.request_extension(request.auth, _visible(request.auth, listing_id), **payload.dict())
    return Status(201, _detail(request.auth, ext.listing))


@router.post("/extensions/{int:extension_id}/decide", response={200: ListingDetail, **ERRORS},
             summary="延期审批(批准则整改期限顺延)")
def decide_extension(request, extension_id: int, payload: DecideIn):
    ext = get_visible(ExtensionRequest, request.auth, extension_id)
    ext = services.decide_extension(request.auth, ext, approve=payload.approve, note=payload.note)
    return _detail(request.auth, ext.listing)


@router.post("/{int:listing_id}/request-acceptance", response={200: ListingDetail, **ERRORS}, summary="申请验收")
def request_acceptance(request, listing_id: int, payload: NoteIn | None = None):
    payload = payload or NoteIn()
    listing = services.request_acceptance(request.auth, _visible(request.auth, listing_id), **payload.dict())
    return _detail(request.auth, listing)


@router.post("/{int:listing_id}/acceptance", response={200: ListingDetail, **ERRORS},
             summary="验收(通过/不通过,验收人不能是申请人)")
def acceptance(request, listing_id: int, payload: AcceptanceIn):
    listing = services.accept(request.auth, _visible(request.auth, listing_id), **payload.dict())
    return _detail(request.auth, listing)


@router.post("/{int:listing_id}/delist", response={200: ListingDetail, **ERRORS}, summary="摘牌销号(验收通过且隐患已销号)")
def delist(request, listing_id: int, payload: NoteIn | None = None):
    payload = payload or NoteIn()
    listing = services.delist(request.auth, _visible(request.auth, listing_id), **payload.dict())
    return _detail(request.auth, listing)


@router.post("/{int:listing_id}/publish-delisting", response={200: ListingDetail, **ERRORS}, summary="公布摘牌销号")
def publish_delisting(request, listing_id: int, payload: VersionIn | None = None):
    payload = payload or VersionIn()
    listing = services.publish_delisting(request.auth, _visible(request.auth, listing_id), version=payload.version)
    return _detail(request.auth, listing)


@router.post("/{int:listing_id}/archive", response={200: ListingDetail, **ERRORS}, summary="归档(须填写理由,不删除)")
def archive(request, listing_id: int, payload: ListingReasonIn):
    listing = services.archive(request.auth, _visible(request.auth, listing_id), **payload.dict())
    return _detail(request.auth, listing)
