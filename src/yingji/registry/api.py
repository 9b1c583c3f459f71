"""Site registry API, mounted at /api/v1/sites: list (filters + keyset), detail, create, patch,
archive, host/tenant, enterprise manager bindings, and the reference lists (industries, traits)."""
from __future__ import annotations

import datetime
from decimal import Decimal

from django.http import HttpResponse
from ninja import Router, Schema, Status
from ninja.renderers import JSONRenderer
from pydantic import Field

from yingji.core.api import ERRORS, AreaRef, SectorRef
from yingji.core.errors import InvalidInput, NotFound
from yingji.core.models import User
from yingji.core.pagination import keyset_page
from yingji.core.privacy import PhoneReveal
from yingji.core.services import get_visible

from . import queries, services
from .models import Industry, RiskTrait, Site, SiteBinding

router = Router(tags=["registry"])
_RENDERER = JSONRenderer()


class IndustryOut(Schema):
    code: str
    level: str
    section: str
    name: str


class TraitOut(Schema):
    code: str
    name: str
    description: str


class SiteRef(Schema):
    id: int
    name: str


class SiteOut(Schema):
    id: int
    kind: str
    name: str
    name_pinyin: str
    credit_code: str | None
    industry: IndustryOut | None
    sectors: list[SectorRef]
    traits: list[str]
    scale: str
    employees: int | None
    address: str
    area: AreaRef
    latitude: float | None
    longitude: float | None
    legal_rep: str
    legal_rep_phone: str
    safety_manager: str
    safety_manager_phone: str
    status: str
    risk_colour: str | None
    host: SiteRef | None
    tenants: list[SiteRef] = []
    source: str
    note: str
    archived: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime


class SitePage(Schema):
    items: list[SiteOut]
    next_cursor: str | None


class SiteIn(Schema):
    kind: str = "enterprise"
    name: str = Field(max_length=100)
    credit_code: str | None = None
    area_id: int
    industry: str | None = Field(None, description="GB/T 4754-2017 门类字母或大类两位代码")
    sectors: list[str] = Field(default_factory=list, description="行业领域编码")
    traits: list[str] = Field(default_factory=list, description="风险特征编码")
    scale: str | None = None
    employees: int | None = None
    address: str = ""
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    legal_rep: str = ""
    legal_rep_phone: str = ""
    safety_manager: str = ""
    safety_manager_phone: str = ""
    status: str = "operating"
    note: str = ""


class SitePatch(Schema):
    kind: str | None = None
    name: str | None = None
    credit_code: str | None = None
    area_id: int | None = None
    industry: str | None = None
    sectors: list[str] | None = None
    traits: list[str] | None = None
    scale: str | None = None
    employees: int | None = None
    address: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    legal_rep: str | None = None
    legal_rep_phone: str | None = None
    safety_manager: str | None = None
    safety_manager_phone: str | None = None
    status: str | None = None
    note: str | None = None


class HostIn(Schema):
    host_id: int | None = None


class ArchiveIn(Schema):
    reason: str = ""


class BindIn(Schema):
    username: str


class BindingOut(Schema):
    id: int
    site_id: int
    username: str
    created_at: datetime.datetime
    revoked: bool


def _site_out(site: Site, user, with_tenants: bool = False, hosts: dict | None = None) -> dict:
    """``hosts``: visible host sites by id, prefetched for a page (None: look this one up)."""
    host = None
    if site.host_id:
        host = hosts.get(site.host_id) if hosts is not None else \
            Site.objects.visible_to(user).filter(pk=site.host_id).values("id", "name").first()
    data = {
        **{f: getattr(site, f) for f in (
            "id", "kind", "name", "name_pinyin", "credit_code", "scale", "employees", "address", "legal_rep",
            "legal_rep_phone", "safety_manager", "safety_manager_phone", "status", "risk_colour", "source",
            "note", "created_at", "updated_at")},
        "industry": site.industry,
        "sectors": list(site.sectors.all()),
        "traits": [t.code for t in site.traits.all()],
        "area": site.area,
        "latitude": float(site.latitude) if site.latitude is not None else None,
        "longitude": float(site.longitude) if site.longitude is not None else None,
        "host": host,
        "archived": site.archived_at is not None,
        "tenants": [],
    }
    _mask_phones(data, PhoneReveal(user, Site).load([site.pk]))
    if with_tenants:
        data["tenants"] = list(Site.objects.visible_to(user).filter(host=site).values("id", "name")
                               .order_by("id")[:500])
    return data


def _page_out(items: list[Site], user) -> list[dict]:
    """The list's items: what ``_site_out`` gives for each, with the sectors, traits and hosts of
    the whole page read in three plain queries (no related model instances)."""
    ids = [s.pk for s in items]
    sectors: dict[int, list[dict]] = {}
    traits: dict[int, list[str]] = {}
    if ids:
        for sid, pk, code, name in (Site.sectors.through.objects.filter(site_id__in=ids)
                                    .order_by("sector__sort", "sector__code")
                                    .values_list("site_id", "sector_id", "sector__code", "sector__name")):
            sectors.setdefault(sid, []).append({"id": pk, "code": code, "name": name})
        for sid, code in (Site.traits.through.objects.filter(site_id__in=ids)
                          .order_by("risktrait__sort", "risktrait__code").values_list("site_id", "risktrait__code")):
            traits.setdefault(sid, []).append(code)
    host_ids = {s.host_id for s in items if s.host_id}
    hosts = {h["id"]: h for h in Site.objects.visible_to(user).filter(pk__in=host_ids).values("id", "name")} \
        if host_ids else {}
    reveal = PhoneReveal(user, Site).load(ids)
    out = []
    for site in items:
        industry, area = site.industry, site.area
        out.append({
            **{f: getattr(site, f) for f in _PLAIN_FIELDS},
            "industry": {"code": industry.code, "level": industry.level, "section": industry.section,
                         "name": industry.name} if industry is not None else None,
            "sectors": sectors.get(site.pk, []),
            "traits": traits.get(site.pk, []),
            "area": {"id": area.pk, "code": area.code, "name": area.name},
            "latitude": float(site.latitude) if site.latitude is not None else None,
            "longitude": float(site.longitude) if site.longitude is not None else None,
            "host": hosts.get(site.host_id) if site.host_id else None,
            "archived": site.archived_at is not None,
            "tenants": [],
        })
        _mask_phones(out[-1], reveal)
    return out


PHONE_FIELDS = ("legal_rep_phone", "safety_manager_phone")


def _mask_phones(data: dict, reveal: PhoneReveal) -> None:
    """Phones in full for who may edit the site, masked for everyone else (``core.privacy``)."""
    for name in PHONE_FIELDS:
        data[name] = reveal.phone(data["id"], data[name])


_PLAIN_FIELDS = ("id", "kind", "name", "name_pinyin", "credit_code", "scale", "employees", "address", "legal_rep",
                 "legal_rep_phone", "safety_manager", "safety_manager_phone", "status", "risk_colour", "source",
                 "note", "created_at", "updated_at")


def _binding_out(b: SiteBinding) -> dict:
    return {"id": b.pk, "site_id": b.site_id, "username": b.assignment.user.username, "created_at": b.created_at,
            "revoked": b.revoked_at is not None}


def _visible_site(user, site_id: int) -> Site:
    return get_visible(Site, user, site_id)


# ---------------------------------------------------------------- reference data

@router.get("/industries", response={200: list[IndustryOut], **ERRORS}, summary="国民经济行业分类(GB/T 4754-2017)")
def list_industries(request):
    return list(Industry.objects.order_by("section", "level", "code"))


@router.get("/traits", response={200: list[TraitOut], **ERRORS}, summary="风险特征")
def list_traits(request):
    return list(RiskTrait.objects.filter(archived_at__isnull=True))


# ---------------------------------------------------------------- sites

@router.get("", response={200: SitePage, **ERRORS}, summary="监管对象列表(筛选 + 键集分页)")
def list_sites(request, q: str | None = None, area_id: int | None = None, sector: str | None = None,
               industry: str | None = None, trait: str | None = None, colour: str | None = None,
               status: str | None = None, kind: str | None = None, include_archived: bool = False,
               cursor: str | None = None, limit: int = 50):
    qs = queries.site_search(request.user, q=q, area=area_id, sector=sector, industry=industry, trait=trait,
                             colour=colour, status=status, kind=kind, include_archived=include_archived)
    items, next_cursor = keyset_page(qs.select_related("area", "industry"), cursor, limit)
    page = {"items": _page_out(items, request.user), "next_cursor": next_cursor}
    # ``page`` is built to the SitePage schema already (a test holds it to the schema's own
    # validation); rendering it as is spares re-validating 50 items x 30 fields per request.
    # Rendered as the NinjaAPI renders (its default JSON renderer), without importing yingji.api:
    # the API imports this router, so importing it back would make an import circle.
    return HttpResponse(_RENDERER.render(request, page, response_status=200), status=200,
                        content_type=f"{_RENDERER.media_type}; charset={_RENDERER.charset}")


@router.get("/{int:site_id}", response={200: SiteOut, **ERRORS}, summary="监管对象详情(含厂中厂)")
def get_site(request, site_id: int):
    return _site_out(_visible_site(request.user, site_id), request.user, with_tenants=True)


def _fields(payload: dict) -> dict:
    fields = dict(payload)
    if "area_id" in fields:
        fields["area"] = fields.pop("area_id")
    return fields


@router.post("", response={201: SiteOut, **ERRORS}, summary="登记监管对象")
def create_site(request, payload: SiteIn):
    site = services.create_site(request.user, **_fields(payload.dict()))
    return Status(201, _site_out(site, request.user, with_tenants=True))


@router.patch("/{int:site_id}", response={200: SiteOut, **ERRORS}, summary="修改监管对象")
def update_site(request, site_id: int, payload: SitePatch):
    site = _visible_site(request.user, site_id)
    fields = _fields(payload.dict(exclude_unset=True))
    required = {"kind", "name", "area", "status", "sectors", "traits"}
    nulls = sorted(k for k in required if k in fields and fields[k] is None)
    if nulls:
        raise InvalidInput("以下字段不能为空:%s" % ", ".join(nulls), detail={k: "不能为空" for k in nulls})
    site = services.update_site(request.user, site, **fields)
    return _site_out(site, request.user, with_tenants=True)


@router.post("/{int:site_id}/archive", response={200: SiteOut, **ERRORS}, summary="归档监管对象")
def archive_site(request, site_id: int, payload: ArchiveIn | None = None):
    site = services.archive_site(request.user, _visible_site(request.user, site_id),
                                 reason=payload.reason if payload else "")
    return _site_out(site, request.user, with_tenants=True)


@router.post("/{int:site_id}/host", response={200: SiteOut, **ERRORS}, summary="设置所在厂房/园区(厂中厂)")
def set_host(request, site_id: int, payload: HostIn):
    tenant = _visible_site(request.user, site_id)
    host = _visible_site(request.user, payload.host_id) if payload.host_id is not None else None
    site = services.set_host(request.user, tenant, host)
    return _site_out(site, request.user, with_tenants=True)


@router.get("/{int:site_id}/managers", response={200: list[BindingOut], **ERRORS}, summary="绑定的企业账号")
def list_managers(request, site_id: int):
    site = _visible_site(request.user, site_id)
    services.require_site_user_admin(request.user, site)
    bindings = (SiteBinding.objects.filter(site=site, revoked_at__isnull=True)
                .select_related("assignment__user").order_by("id"))
    return [_binding_out(b) for b in bindings]


@router.post("/{int:site_id}/managers", response={201: BindingOut, **ERRORS}, summary="绑定企业安全管理员账号")
def bind_manager(request, site_id: int, payload: BindIn):
    site = _visible_site(request.user, site_id)
    person = User.objects.filter(username__iexact=payload.username.strip(), is_active=True).first()
    if person is None:
        raise InvalidInput("账号不存在或已停用", detail={"username": "账号不存在或已停用"})
    try:
        binding = services.bind_site_manager(request.user, person, site)
    except InvalidInput as exc:
        if "user" in (exc.detail or {}):  # the request's field is "username" (the same answer as "nobody")
            raise InvalidInput(exc.message, detail={"username": exc.detail["user"]}) from None
        raise
    return Status(201, _binding_out(binding))


@router.post("/{int:site_id}/managers/{int:binding_id}/revoke", response={200: BindingOut, **ERRORS},
             summary="解除企业账号绑定")
def unbind_manager(request, site_id: int, binding_id: int):
    site = _visible_site(request.user, site_id)
    binding = SiteBinding.objects.filter(pk=binding_id, site=site).first()
    if binding is None:
        raise NotFound()
    return _binding_out(services.unbind_site_manager(request.user, binding))
