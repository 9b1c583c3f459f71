"""Core API: who am I, my areas, users (administrators), audit, reference data, tokens."""
from __future__ import annotations

import datetime
from typing import Annotated

from ninja import Router, Schema, Status
from pydantic import BaseModel, Field

from . import privacy, queries, roles, services
from .audit_display import action_label, changes_display
from .errors import InvalidInput, NotFound
from .models import ApiToken, Area, Organisation, RoleAssignment, Sector, User
from .pagination import keyset_page
from .scoping import grants_for, user_has_capability

router = Router(tags=["core"])


class Out(BaseModel):
    """Base of answers built as dicts in Python (lists above all): plain pydantic validation,
    without ninja ``Schema``'s per-field attribute resolver (which also reads ORM objects,
    at several times the cost per field)."""


class Error(Schema):
    code: str
    message: str
    detail: dict


class AreaRef(Schema):
    id: int
    code: str
    name: str


class AreaOut(Schema):
    id: int
    code: str
    division_code: str
    name: str
    level: int
    kind: str
    parent_id: int | None
    latitude: float | None
    longitude: float | None
    archived: bool
    is_demo: bool

    @staticmethod
    def resolve_archived(obj):
        return obj.archived_at is not None


class AreaPage(Schema):
    items: list[AreaOut]
    next_cursor: str | None


class SectorRef(Schema):
    id: int
    code: str
    name: str


class AssignmentOut(Schema):
    id: int
    role: str
    role_label: str
    area: AreaRef
    sectors: list[SectorRef]
    revoked: bool

    @staticmethod
    def resolve_sectors(obj):
        return list(obj.sectors.all())

    @staticmethod
    def resolve_revoked(obj):
        return obj.revoked_at is not None


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    phone: str
    organisation: str | None
    must_change_password: bool
    roles: list[AssignmentOut]
    capabilities: list[str]


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    phone: str
    organisation_id: int | None
    is_active: bool
    roles: list[AssignmentOut] = []


class UserPage(Schema):
    items: list[UserOut]
    next_cursor: str | None


class AuditChangeOut(Schema):
    """One recorded change as a person reads it (``changes`` keeps the raw values)."""
    field: str
    label: str
    before: str
    after: str


class AuditOut(Schema):
    id: int
    at: datetime.datetime
    actor_id: int | None
    actor_name: str
    action: str
    model: str
    object_id: int
    object_repr: str
    changes: dict
    action_display: str = ""
    changes_display: list[AuditChangeOut] = []
    note: str
    request_id: str
    ip: str | None

    @staticmethod
    def resolve_model(obj):
        return f"{obj.content_type.app_label}.{obj.content_type.model}"

    @staticmethod
    def resolve_action_display(obj):
        return action_label(obj.action)

    @staticmethod
    def resolve_changes_display(obj):
        return changes_display(obj)


class AuditPage(Schema):
    items: list[AuditOut]
    next_cursor: str | None


class OrgOut(Schema):
    id: int
    code: str
    name: str
    short_name: str
    kind: str
    area_id: int
    parent_id: int | None


class SectorOut(Schema):
    id: int
    code: str
    name: str
    department_id: int
    committee_id: int | None


# A database id: out-of-range integers are an input error, not a database overflow.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class AreaIn(Schema):
    parent_id: Id
    name: str = Field(max_length=64)
    kind: str = ""
    code: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class AreaPatch(Schema):
    name: str | None = None
    kind: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class MoveIn(Schema):
    new_parent_id: Id


class GrantIn(Schema):
    role: str
    area_id: Id
    sector_ids: list[Id] = []


class UserIn(GrantIn):
    username: str
    password: str
    display_name: str = ""
    phone: str = ""
    organisation_id: Id | None = None


class TokenIn(Schema):
    name: str = "api"


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime.datetime
    last_used_at: datetime.datetime | None
    revoked: bool

    @staticmethod
    def resolve_revoked(obj):
        return obj.revoked_at is not None


class TokenCreated(TokenOut):
    token: str


# The answers any operation may give besides its own: every error in the one error shape.
ERRORS = {400: Error, 401: Error, 403: Error, 404: Error, 409: Error, 422: Error}


def file_answer(media_type: str = "application/octet-stream") -> dict:
    """``openapi_extra`` of an operation answering a file: its 200 is the file itself (declared
    next to ``response=ERRORS``, which documents the error answers)."""
    return {"responses": {200: {"description": "文件", "content": {
        media_type: {"schema": {"type": "string", "format": "binary"}}}}}}


def _visible_area(user, pk) -> Area:
    return services.get_visible(Area, user, pk)


def _sectors(ids) -> list[Sector]:
    ids = set(ids or [])
    found = list(Sector.objects.filter(pk__in=ids, archived_at__isnull=True))
    if len(found) != len(ids):
        raise InvalidInput("行业领域不存在", detail={"sector_ids": "行业领域不存在"})
    return found


# ---------------------------------------------------------------- me

@router.get("/me", response={200: MeOut, **ERRORS}, summary="当前用户及其权限范围")
def me(request):
    user = request.user
    caps = set()
    for g in grants_for(user):
        caps |= roles.CAPABILITIES.get(g.role, frozenset())
    assignments = (RoleAssignment.objects.filter(user=user, revoked_at__isnull=True)
                   .select_related("area").prefetch_related("sectors"))
    return {
        "id": user.pk, "username": user.username, "display_name": user.display_name, "phone": user.phone,
        "organisation": str(user.organisation) if user.organisation_id else None,
        "must_change_password": user.must_change_password,
        "roles": list(assignments), "capabilities": sorted(caps),
    }


# ---------------------------------------------------------------- areas

@router.get("/areas", response={200: AreaPage, **ERRORS}, summary="我可见的行政区域(键集分页)")
def list_areas(request, parent_id: int | None = None, level: int | None = None, q: str | None = None,
               include_archived: bool = False, cursor: str | None = None, limit: int = 100):
    qs = Area.objects.visible_to(request.user)
    if parent_id is not None:
        qs = qs.filter(parent_id=parent_id)
    if level is not None:
        qs = qs.filter(level=level)
    if q:
        qs = qs.filter(name__contains=q.strip())
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    items, next_cursor = keyset_page(qs, cursor, limit, descending=False)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/areas/{area_id}", response={200: AreaOut, **ERRORS})
def get_area(request, area_id: int):
    return _visible_area(request.user, area_id)


@router.post("/areas", response={201: AreaOut, **ERRORS}, summary="新增下级区域")
def create_area(request, payload: AreaIn):
    parent = _visible_area(request.user, payload.parent_id)
    area = services.create_area(request.user, parent=parent, name=payload.name, kind=payload.kind,
                                code=payload.code, latitude=payload.latitude, longitude=payload.longitude)
    return Status(201, area)


@router.patch("/areas/{area_id}", response={200: AreaOut, **ERRORS})
def update_area(request, area_id: int, payload: AreaPatch):
    area = _visible_area(request.user, area_id)
    return services.update_area(request.user, area, **payload.dict(exclude_unset=True))


@router.post("/areas/{area_id}/move", response={200: AreaOut, **ERRORS}, summary="调整区域隶属(如村社划转)")
def move_area(request, area_id: int, payload: MoveIn):
    area = _visible_area(request.user, area_id)
    new_parent = _visible_area(request.user, payload.new_parent_id)
    return services.move_area(request.user, area, new_parent)


@router.post("/areas/{area_id}/archive", response={200: AreaOut, **ERRORS})
def archive_area(request, area_id: int):
    return services.archive_area(request.user, _visible_area(request.user, area_id))


# ---------------------------------------------------------------- users

def _require_manage_users(user):
    if not user_has_capability(user, roles.MANAGE_USERS):
        raise NotFound()


def _user_out(user: User, viewer=None, with_roles: bool = True) -> dict:
    """A person as ``viewer`` may see them: only the roles inside the viewer's scope."""
    assignments = []
    if with_roles:
        assignments = list(RoleAssignment.objects.visible_to(viewer).filter(user=user, revoked_at__isnull=True)
                           .select_related("area").prefetch_related("sectors"))
    return {"id": user.pk, "username": user.username, "display_name": user.display_name, "phone": user.phone,
            "organisation_id": user.organisation_id, "is_active": user.is_active, "roles": assignments}


@router.get("/users", response={200: UserPage, **ERRORS}, summary="我管理范围内的用户")
def list_users(request, q: str | None = None, cursor: str | None = None, limit: int = 50):
    _require_manage_users(request.user)
    items, next_cursor = keyset_page(queries.user_search(request.user, q), cursor, limit, descending=False)
    return {"items": [_user_out(u, with_roles=False) for u in items], "next_cursor": next_cursor}


@router.get("/users/{user_id}", response={200: UserOut, **ERRORS})
def get_user(request, user_id: int):
    return _user_out(services.get_visible(User, request.user, user_id), request.user)


@router.post("/users", response={201: UserOut, **ERRORS}, summary="新建用户并授予首个角色")
def create_user(request, payload: UserIn):
    area = _visible_area(request.user, payload.area_id)
    org = None
    if payload.organisation_id is not None:
        org = Organisation.objects.filter(pk=payload.organisation_id).first()
        if org is None:
            raise InvalidInput("所属单位不存在", detail={"organisation_id": "所属单位不存在"})
    user = services.create_user(request.user, username=payload.username, password=payload.password,
                                display_name=payload.display_name, phone=payload.phone, organisation=org,
                                role=payload.role, area=area, sectors=_sectors(payload.sector_ids))
    return Status(201, _user_out(user, request.user))


@router.post("/users/{user_id}/roles", response={201: AssignmentOut, **ERRORS}, summary="授予角色")
def grant_role(request, user_id: int, payload: GrantIn):
    _require_manage_users(request.user)
    # Only people already in the actor's scope: a local officer must not adopt an account that
    # holds no role (e.g. a console-made superuser) and then manage it.
    person = services.get_visible(User, request.user, user_id)
    area = _visible_area(request.user, payload.area_id)
    return Status(201, services.grant_role(request.user, person, role=payload.role, area=area,
                                           sectors=_sectors(payload.sector_ids)))


@router.post("/users/{user_id}/roles/{assignment_id}/revoke", response={200: AssignmentOut, **ERRORS})
def revoke_role(request, user_id: int, assignment_id: int):
    assignment = services.get_visible(RoleAssignment, request.user, assignment_id)
    if assignment.user_id != user_id:
        raise NotFound()
    return services.revoke_role(request.user, assignment)


@router.post("/users/{user_id}/deactivate", response={200: UserOut, **ERRORS})
def deactivate_user(request, user_id: int):
    return _user_out(services.set_user_active(request.user, services.get_visible(User, request.user, user_id),
                                              False), request.user)


@router.post("/users/{user_id}/activate", response={200: UserOut, **ERRORS})
def activate_user(request, user_id: int):
    return _user_out(services.set_user_active(request.user, services.get_visible(User, request.user, user_id),
                                              True), request.user)


# ---------------------------------------------------------------- audit

@router.get("/audit", response={200: AuditPage, **ERRORS}, summary="审计日志(按对象、操作人、时间筛选)")
def list_audit(request, model: str | None = None, object_id: int | None = None, actor: str | None = None,
               action: str | None = None, since: datetime.date | None = None, until: datetime.date | None = None,
               include_system: bool = False, cursor: str | None = None, limit: int = 50):
    if not user_has_capability(request.user, roles.VIEW_AUDIT):
        raise NotFound()
    qs = queries.audit_queryset(request.user, model=model, object_id=object_id, actor=actor, action=action,
                                since=since, until=until, include_system=include_system)
    items, next_cursor = keyset_page(qs, cursor, limit)
    return {"items": privacy.redact_audit_entries(request.user, items), "next_cursor": next_cursor}


# ---------------------------------------------------------------- reference data

@router.get("/organisations", response={200: list[OrgOut], **ERRORS}, summary="组织机构(参考数据)")
def list_organisations(request):
    return list(Organisation.objects.filter(archived_at__isnull=True))


@router.get("/sectors", response={200: list[SectorOut], **ERRORS}, summary="行业领域(参考数据)")
def list_sectors(request):
    return list(Sector.objects.filter(archived_at__isnull=True))


# ---------------------------------------------------------------- tokens

@router.get("/tokens", response={200: list[TokenOut], **ERRORS}, summary="我的API令牌")
def list_tokens(request):
    return list(ApiToken.objects.filter(user=request.user))


@router.post("/tokens", response={201: TokenCreated, **ERRORS}, summary="创建API令牌(明文仅返回一次)")
def create_token(request, payload: TokenIn):
    token, key = services.create_token(request.user, request.user, payload.name)
    token.token = key  # the plain key, returned this once
    return Status(201, token)


@router.post("/tokens/{token_id}/revoke", response={200: TokenOut, **ERRORS})
def revoke_token(request, token_id: int):
    token = ApiToken.objects.filter(pk=token_id, user=request.user).first()
    if token is None:
        raise NotFound()
    return services.revoke_token(request.user, token)


# ---------------------------------------------------------------- global search

class SearchResultOut(Schema):
    kind: str
    title: str
    url: str
    detail: str = ""


class SearchGroupOut(Schema):
    provider: str
    results: list[SearchResultOut]


class SearchOut(Schema):
    q: str
    groups: list[SearchGroupOut]


@router.get("/search", response={200: SearchOut, **ERRORS}, summary="全局搜索(监管对象名称/信用代码/拼音首字母,隐患、检查编号)")
def global_search(request, q: str = ""):
    from . import contrib

    if len(q) > contrib.SEARCH_MAX_LENGTH:
        raise InvalidInput("查询内容过长", detail={"q": "查询内容过长"})
    q = q.strip()
    groups = [{"provider": key, "results": [r.__dict__ for r in results]} for key, results in contrib.search(request.user, q)]
    return {"q": q, "groups": groups}
