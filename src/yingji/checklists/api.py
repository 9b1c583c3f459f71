"""Checklists API, mounted at /api/v1/checklists.

Reads are open to every signed-in user (drafts only to editors); ``for-site/{site_id}`` answers
the checklist versions assembled for a site the user can see (out of scope → 404). Writes (the
editor) need MANAGE_REFERENCE over the county; a published version is frozen (409 ``frozen``:
"已发布的版本不能修改,请新建修订版本").
"""
from __future__ import annotations

import datetime

from ninja import Router, Schema, Status
from pydantic import Field

from yingji.core.api import ERRORS
from yingji.core.errors import NotFound
from yingji.core.services import get_visible

from . import queries, services
from .models import ChecklistItem, ChecklistSection, ChecklistVersion

router = Router(tags=["checklists"])


class ChecklistRef(Schema):
    id: int
    code: str
    name: str


class CriterionOut(Schema):
    id: int
    code: str
    standard: str
    clause: str
    text: str


class ItemOut(Schema):
    id: int
    code: str
    order: int
    question: str
    basis: str
    hazard_level: str
    category: str
    photo_required: bool
    criterion: CriterionOut | None


class SectionOut(Schema):
    id: int
    order: int
    title: str
    items: list[ItemOut]


class VersionRef(Schema):
    id: int
    number: int
    status: str
    note: str
    published_at: datetime.datetime | None
    item_count: int


class ModuleOut(Schema):
    id: int
    code: str
    name: str
    description: str
    applies_to_all: bool
    sectors: list[ChecklistRef]
    traits: list[ChecklistRef]
    site_kinds: list[str]
    applicability: list[str]
    archived: bool
    current_version_id: int | None
    current_version_number: int | None
    item_count: int


class VersionOut(Schema):
    id: int
    module: ChecklistRef
    number: int
    status: str
    note: str
    published_at: datetime.datetime | None
    sections: list[SectionOut]


class ModuleDetail(ModuleOut):
    current_version: VersionOut | None
    versions: list[VersionRef]


class ModuleIn(Schema):
    code: str = ""
    name: str = ""
    description: str = ""
    applies_to_all: bool = False
    sectors: list[int | str] = []
    traits: list[int | str] = []
    site_kinds: list[str] = []
    sort: int | None = None


class ModuleUpdateIn(Schema):
    name: str | None = None
    description: str | None = None
    applies_to_all: bool | None = None
    sectors: list[int | str] | None = None
    traits: list[int | str] | None = None
    site_kinds: list[str] | None = None
    sort: int | None = None


class SectionIn(Schema):
    title: str = Field("", max_length=1000)


class ItemIn(Schema):
    code: str = ""
    question: str = Field("", max_length=2000)
    basis: str = Field("", max_length=2000)
    hazard_level: str = ""
    criterion: int | str | None = None
    category: str = ""
    photo_required: bool = False


class ItemUpdateIn(Schema):
    code: str | None = None
    question: str | None = Field(None, max_length=2000)
    basis: str | None = Field(None, max_length=2000)
    hazard_level: str | None = None
    criterion: int | str | None = None
    category: str | None = None
    photo_required: bool | None = None
    section_id: int | None = None


class ChecklistMoveIn(Schema):
    direction: str = ""


class PublishIn(Schema):
    note: str = Field("", max_length=1000)


# ---------------------------------------------------------------- output helpers

def _ref(obj) -> dict:
    return {"id": obj.pk, "code": obj.code, "name": obj.name}


def _criterion(c) -> dict | None:
    if c is None:
        return None
    return {"id": c.pk, "code": c.code, "standard": c.standard, "clause": c.clause, "text": c.text}


def _item(i: ChecklistItem) -> dict:
    return {"id": i.pk, "code": i.code, "order": i.order, "question": i.question, "basis": i.basis,
            "hazard_level": i.hazard_level, "category": i.category, "photo_required": i.photo_required,
            "criterion": _criterion(i.criterion)}


def _version(v: ChecklistVersion) -> dict:
    return {"id": v.pk, "module": _ref(v.module), "number": v.number, "status": v.status, "note": v.note,
            "published_at": v.published_at,
            "sections": [{"id": s.pk, "order": s.order, "title": s.title, "items": [_item(i) for i in s.item_list]}
                         for s in queries.sections_with_items(v)]}


def _module(m) -> dict:
    return {"id": m.pk, "code": m.code, "name": m.name, "description": m.description,
            "applies_to_all": m.applies_to_all, "sectors": [_ref(s) for s in m.sectors.all()],
            "traits": [_ref(t) for t in m.traits.all()], "site_kinds": list(m.site_kinds or []),
            "applicability": queries.applicability(m), "archived": m.archived_at is not None,
            "current_version_id": m.current_id, "current_version_number": m.current_number,
            "item_count": m.item_count or 0}


def _module_detail(user, module_id) -> dict:
    m = queries.get_module(user, module_id)
    out = _module(m)
    current = ChecklistVersion.objects.select_related("module").filter(pk=m.current_id).first() \
        if m.current_id else None
    out["current_version"] = _version(current) if current else None
    out["versions"] = [{"id": v.pk, "number": v.number, "status": v.status, "note": v.note,
                        "published_at": v.published_at, "item_count": v.item_count}
                       for v in queries.versions_of(user, m)]
    return out


def _editor(user) -> None:
    services.require_manager(user)


def _section(user, section_id) -> ChecklistSection:
    _editor(user)
    section = ChecklistSection.objects.select_related("version__module").filter(pk=section_id).first()
    if section is None:
        raise NotFound()
    return section


def _item_obj(user, item_id) -> ChecklistItem:
    _editor(user)
    item = ChecklistItem.objects.select_related("version__module").filter(pk=item_id).first()
    if item is None:
        raise NotFound()
    return item


def _version_for_edit(user, version_id) -> ChecklistVersion:
    _editor(user)
    return queries.get_version(user, version_id)


# ---------------------------------------------------------------- reads

@router.get("/modules", response={200: list[ModuleOut], **ERRORS}, summary="检查清单模块列表(含现行版本与检查项数)")
def list_modules(request):
    return [_module(m) for m in queries.modules_for(request.auth)]


@router.get("/modules/{int:module_id}", response={200: ModuleDetail, **ERRORS},
            summary="模块详情:现行版本的分节与检查项、版本记录")
def get_module(request, module_id: int):
    return _module_detail(request.auth, module_id)


@router.get("/versions/{int:version_id}", response={200: VersionOut, **ERRORS}, summary="某一版本的分节与检查项")
def get_version(request, version_id: int):
    return _version(queries.get_version(request.auth, version_id))


@router.get("/for-site/{int:site_id}", response={200: list[VersionOut], **ERRORS},
            summary="为监管对象组合的检查清单(适用模块的现行版本)")
def for_site(request, site_id: int):
    from yingji.registry.models import Site

    site = get_visible(Site, request.auth, site_id)
    return [_version(v) for v in services.assemble_for_site(site)]


@router.get("/criteria", response={200: list[CriterionOut], **ERRORS}, summary="重大事故隐患判定标准条款")
def list_criteria(request):
    return [_criterion(c) for c in queries.criteria()]


# ---------------------------------------------------------------- writes (editor)

@router.post("/modules", response={201: ModuleDetail, **ERRORS}, summary="新建模块(同时创建空白草稿第1版)")
def create_module(request, payload: ModuleIn):
    module = services.create_module(request.auth, **payload.dict())
    return Status(201, _module_detail(request.auth, module.pk))


@router.post("/modules/{int:module_id}", response={200: ModuleDetail, **ERRORS}, summary="修改模块信息与适用范围")
def update_module(request, module_id: int, payload: ModuleUpdateIn):
    _editor(request.auth)
    module = queries.get_module(request.auth, module_id)
    fields = {k: v for k, v in payload.dict().items() if v is not None}
    services.update_module(request.auth, module, **fields)
    return _module_detail(request.auth, module.pk)


@router.post("/modules/{int:module_id}/archive", response={200: ModuleDetail, **ERRORS}, summary="归档模块")
def archive_module(request, module_id: int):
    _editor(request.auth)
    module = services.archive_module(request.auth, queries.get_module(request.auth, module_id))
    return _module_detail(request.auth, module.pk)


@router.post("/modules/{int:module_id}/revise", response={200: VersionOut, **ERRORS},
             summary="开始修订:返回草稿版本(复制自现行版本;已有草稿则返回该草稿)")
def revise(request, module_id: int):
    _editor(request.auth)
    draft = services.start_revision(request.auth, queries.get_module(request.auth, module_id))
    return _version(draft)


@router.post("/versions/{int:version_id}/publish", response={200: VersionOut, **ERRORS},
             summary="发布草稿(原现行版本变为已被替代)")
def publish(request, version_id: int, payload: PublishIn | None = None):
    version = services.publish(request.auth, _version_for_edit(request.auth, version_id),
                               note=(payload or PublishIn()).note)
    return _version(version)


@router.post("/versions/{int:version_id}/discard", response={200: ModuleDetail, **ERRORS}, summary="放弃草稿")
def discard(request, version_id: int):
    module = services.discard_draft(request.auth, _version_for_edit(request.auth, version_id))
    return _module_detail(request.auth, module.pk)


@router.post("/versions/{int:version_id}/sections", response={201: VersionOut, **ERRORS}, summary="在草稿中添加分节")
def add_section(request, version_id: int, payload: SectionIn):
    section = services.add_section(request.auth, _version_for_edit(request.auth, version_id), title=payload.title)
    return Status(201, _version(section.version))


@router.post("/sections/{int:section_id}", response={200: VersionOut, **ERRORS}, summary="修改分节标题")
def update_section(request, section_id: int, payload: SectionIn):
    section = services.update_section(request.auth, _section(request.auth, section_id), title=payload.title)
    return _version(section.version)


@router.post("/sections/{int:section_id}/move", response={200: VersionOut, **ERRORS}, summary="分节上移/下移(up/down)")
def move_section(request, section_id: int, payload: ChecklistMoveIn):
    section = services.move_section(request.auth, _section(request.auth, section_id), payload.direction)
    return _version(section.version)


@router.post("/sections/{int:section_id}/remove", response={200: VersionOut, **ERRORS}, summary="删除草稿中的分节及其检查项")
def remove_section(request, section_id: int):
    version = services.remove_section(request.auth, _section(request.auth, section_id))
    return _version(version)


@router.post("/sections/{int:section_id}/items", response={201: VersionOut, **ERRORS}, summary="在分节末尾添加检查项")
def add_item(request, section_id: int, payload: ItemIn):
    item = services.add_item(request.auth, _section(request.auth, section_id), **payload.dict())
    return Status(201, _version(item.version))


@router.post("/items/{int:item_id}", response={200: VersionOut, **ERRORS}, summary="修改草稿中的检查项")
def update_item(request, item_id: int, payload: ItemUpdateIn):
    data = payload.dict(exclude_unset=True)
    if "section_id" in data:
        data["section"] = data.pop("section_id")
    item = services.update_item(request.auth, _item_obj(request.auth, item_id), **data)
    return _version(item.version)


@router.post("/items/{int:item_id}/move", response={200: VersionOut, **ERRORS}, summary="检查项上移/下移(up/down)")
def move_item(request, item_id: int, payload: ChecklistMoveIn):
    item = services.move_item(request.auth, _item_obj(request.auth, item_id), payload.direction)
    return _version(item.version)


@router.post("/items/{int:item_id}/remove", response={200: VersionOut, **ERRORS}, summary="删除草稿中的检查项")
def remove_item(request, item_id: int):
    version = services.remove_item(request.auth, _item_obj(request.auth, item_id))
    return _version(version)
