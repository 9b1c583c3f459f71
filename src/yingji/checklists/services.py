"""Write services of the modular checklists, and the assembly other apps call.

Checklists are county-wide reference data: only holders of MANAGE_REFERENCE over the root area
(the county) change them (``can_manage``). Content is versioned: a published version is frozen
(``Conflict``: "已发布的版本不能修改,请新建修订版本"); ``start_revision`` makes a draft copied from
the published version; ``publish`` validates the draft and supersedes the published version in
one transaction. Items of published or superseded versions are never deleted (inspections point
at them); a draft's sections and items may be removed, as nothing uses them yet.

Every write is an ``@audit.service`` writing ``audit.record`` in its transaction; errors are
``core.errors`` with Chinese messages.

Reads for other apps: ``assemble_for_site(site)`` (the published versions that apply to a site)
and ``items_of(versions)`` (their items, with sections, in order).
"""
from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from yingji.core import audit, roles
from yingji.core.validators import field_error as _err
from yingji.core.validators import clean_text as _text
from yingji.core.audit import service
from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.core.models import Sector
from yingji.core.scoping import grants_for

from .models import (ChecklistItem, ChecklistModule, ChecklistSection, ChecklistVersion, HazardLevel,
                     MajorHazardCriterion, VersionStatus)

MODULE_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
ITEM_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")
MODULE_FIELDS = ("code", "name", "description", "applies_to_all", "sectors", "traits", "site_kinds", "sort")
ITEM_FIELDS = ("code", "question", "basis", "hazard_level", "criterion", "category", "photo_required", "section")


# ---------------------------------------------------------------- permission and input helpers

def can_manage(user) -> bool:
    """Whether ``user`` may edit checklists: MANAGE_REFERENCE over the root area (county-wide
    reference data; a grant lower in the tree or bound to sites does not suffice)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return any(g.allows(roles.MANAGE_REFERENCE) and g.area_is_root and g.site_ids is None
               for g in grants_for(user))


def require_manager(actor) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise Forbidden(_("请先登录"))
    if not can_manage(actor):
        raise Forbidden(_("只有市级管理员可以维护检查清单"))


def _bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _sort(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _err("sort", _("排序须为0到9999的整数")) from None
    if not 0 <= number <= 9999:
        raise _err("sort", _("排序须为0到9999的整数"))
    return number


def _lookup(model, values, field: str, missing: str, extra: Q | None = None) -> list:
    """Objects of ``model`` given as instances, ids or codes; InvalidInput when one is unknown."""
    values = list(values or [])
    objs = [v for v in values if isinstance(v, model)]
    keys = {v for v in values if not isinstance(v, model)}
    if keys:
        ids = {int(k) for k in keys if isinstance(k, int) or (isinstance(k, str) and k.isdigit())}
        codes = {str(k) for k in keys if not (isinstance(k, int) or (isinstance(k, str) and k.isdigit()))}
        qs = model.objects.filter(Q(pk__in=ids) | Q(code__in=codes))
        if extra is not None:
            qs = qs.filter(extra)
        found = list(qs)
        if len(found) != len(ids) + len(codes):
            raise _err(field, missing)
        objs += found
    return sorted({o.pk: o for o in objs}.values(), key=lambda o: o.pk)


def _site_kinds(values) -> list[str]:
    from yingji.registry.models import SiteKind

    kinds = []
    for v in values or []:
        v = str(v).strip()
        if v not in SiteKind.values:
            raise _err("site_kinds", _("对象类别无效:%(v)s") % {"v": v})
        if v not in kinds:
            kinds.append(v)
    return kinds


def _category(value) -> str:
    from yingji.hazards.models import Category

    value = "" if value is None else str(value).strip()
    if not value:
        return Category.OTHER
    if value not in Category.values:
        raise _err("category", _("隐患类别无效:%(v)s") % {"v": value})
    return value


def _level(value) -> str:
    value = "" if value is None else str(value).strip()
    if not value:
        return HazardLevel.GENERAL
    if value not in HazardLevel.values:
        raise _err("hazard_level", _("隐患等级无效:%(v)s") % {"v": value})
    return value


def _criterion(value) -> MajorHazardCriterion | None:
    if value in (None, ""):
        return None
    if isinstance(value, MajorHazardCriterion):
        return value
    found = _lookup(MajorHazardCriterion, [value], "criterion", _("重大隐患判定条款不存在"))
    return found[0]


def _direction(value) -> int:
    if value == "up":
        return -1
    if value == "down":
        return 1
    raise _err("direction", _("移动方向须为上移(up)或下移(down)"))


def _lock_module(module: ChecklistModule) -> ChecklistModule:
    return ChecklistModule.objects.select_for_update().get(pk=module.pk)


def _lock_version(version: ChecklistVersion) -> ChecklistVersion:
    return ChecklistVersion.objects.select_for_update().select_related("module").get(pk=version.pk)


def _require_draft(version: ChecklistVersion) -> None:
    """``version`` (as read) is a draft, and still is: a conditional UPDATE claims it (and holds
    the row on PostgreSQL) before anything of it is changed."""
    if version.status != VersionStatus.DRAFT:
        raise Conflict(_("已发布的版本不能修改,请新建修订版本"), code="frozen")
    if not ChecklistVersion.objects.filter(pk=version.pk, status=VersionStatus.DRAFT).update(
            updated_at=timezone.now()):
        raise Conflict(_("该草稿已被他人发布或放弃,请刷新后重试"), code="stale")


def _require_active(module: ChecklistModule) -> None:
    """``module`` (as read) is not archived, and still is not (conditional UPDATE, holding the row)."""
    if module.archived_at is not None:
        raise Conflict(_("该检查清单模块已归档,不能修改"), code="archived")
    if not ChecklistModule.objects.filter(pk=module.pk, archived_at__isnull=True).update(
            updated_at=F("updated_at")):
        raise Conflict(_("该检查清单模块已被他人归档,请刷新后重试"), code="stale")


def _item_snapshot(item: ChecklistItem) -> dict:
    return audit.snapshot(item, ["section", "order", "code", "question", "basis", "hazard_level", "criterion",
                                 "category", "photo_required"])


def _module_snapshot(module: ChecklistModule) -> dict:
    snap = audit.snapshot(module, ["code", "name", "description", "applies_to_all", "site_kinds", "sort",
                                   "archived_at"])
    if module.pk:
        snap["sectors"] = sorted(module.sectors.values_list("pk", flat=True))
        snap["traits"] = sorted(module.traits.values_list("pk", flat=True))
    return snap


# ---------------------------------------------------------------- modules

def _apply_module(module: ChecklistModule, fields: dict):
    unknown = set(fields) - set(MODULE_FIELDS)
    if unknown:
        raise InvalidInput(_("未知字段:%(f)s") % {"f": ", ".join(sorted(unknown))})
    if "code" in fields:
        code = _text("code", fields["code"], 32, _("编码"), required=True)
        if not MODULE_CODE_RE.match(code):
            raise _err("code", _("编码须为2到32位小写字母、数字或下划线,以字母开头"))
        if ChecklistModule.objects.filter(code=code).exclude(pk=module.pk).exists():
            raise _err("code", _("编码已存在:%(code)s") % {"code": code})
        module.code = code
    if "name" in fields:
        module.name = _text("name", fields["name"], 64, _("名称"), required=True)
    if "description" in fields:
        module.description = _text("description", fields["description"], 500, _("说明"))
    if "applies_to_all" in fields:
        module.applies_to_all = _bool(fields["applies_to_all"])
    if "site_kinds" in fields:
        module.site_kinds = _site_kinds(fields["site_kinds"])
    if "sort" in fields and fields["sort"] not in (None, ""):
        module.sort = _sort(fields["sort"])
    from yingji.registry.models import RiskTrait

    sectors = (_lookup(Sector, fields["sectors"], "sectors", _("行业领域不存在"), Q(archived_at__isnull=True))
               if "sectors" in fields else None)
    traits = (_lookup(RiskTrait, fields["traits"], "traits", _("风险特征不存在"), Q(archived_at__isnull=True))
              if "traits" in fields else None)
    return sectors, traits


@service("checklists.create_module")
def create_module(actor, *, code, name, description="", applies_to_all=False, sectors=(), traits=(),
                  site_kinds=(), sort=None) -> ChecklistModule:
    """A new module with an empty draft version 1 (edit it, then publish)."""
    require_manager(actor)
    module = ChecklistModule()
    sectors, traits = _apply_module(module, {
        "code": code, "name": name, "description": description, "applies_to_all": applies_to_all,
        "sectors": sectors, "traits": traits, "site_kinds": site_kinds, "sort": sort})
    if sort in (None, ""):
        module.sort = (ChecklistModule.objects.aggregate(m=Max("sort"))["m"] or 0) + 10
    try:
        with transaction.atomic():
            module.save()
    except IntegrityError:
        raise _err("code", _("编码已存在:%(code)s") % {"code": module.code}) from None
    module.sectors.set(sectors)
    module.traits.set(traits)
    audit.record("checklist.module_create", module, audit.diff({}, _module_snapshot(module)), actor=actor)
    version = ChecklistVersion.objects.create(module=module, number=1, created_by=actor)
    audit.record("checklist.revision_start", version, {"number": [None, 1]}, actor=actor)
    return module


@service("checklists.update_module")
def update_module(actor, module: ChecklistModule, **fields) -> ChecklistModule:
    """Change a module's metadata (name, description, applicability). Content is versioned and
    changed through a draft; metadata applies at once."""
    require_manager(actor)
    module = _lock_module(module)
    _require_active(module)
    before = _module_snapshot(module)
    sectors, traits = _apply_module(module, fields)
    # only the metadata: never write back the archive fields it read
    module.save(update_fields=["code", "name", "description", "applies_to_all", "site_kinds", "sort", "updated_at"])
    if sectors is not None:
        module.sectors.set(sectors)
    if traits is not None:
        module.traits.set(traits)
    audit.record("checklist.module_update", module, audit.diff(before, _module_snapshot(module)), actor=actor)
    return module


@service("checklists.archive_module")
def archive_module(actor, module: ChecklistModule) -> ChecklistModule:
    """Stop using a module: it is no longer assembled for sites. Its versions stay (inspections
    keep pointing at them)."""
    require_manager(actor)
    module = _lock_module(module)
    if module.archived_at is not None:
        raise Conflict(_("该检查清单模块已归档"), code="archived")
    now = timezone.now()
    if not ChecklistModule.objects.filter(pk=module.pk, archived_at__isnull=True).update(
            archived_at=now, archived_by=actor, updated_at=now):
        raise Conflict(_("该检查清单模块已被他人归档,请刷新后重试"), code="stale")
    module.archived_at, module.archived_by, module.updated_at = now, actor, now
    audit.record("checklist.module_archive", module, {"archived_at": [None, module.archived_at]}, actor=actor)
    return module


# ---------------------------------------------------------------- versions

def draft_of(module: ChecklistModule) -> ChecklistVersion | None:
    return module.versions.filter(status=VersionStatus.DRAFT).first()


def published_of(module: ChecklistModule) -> ChecklistVersion | None:
    return module.versions.filter(status=VersionStatus.PUBLISHED).first()


def _copy_content(source: ChecklistVersion, target: ChecklistVersion) -> int:
    items = list(source.items.order_by("section__order", "order", "id"))
    by_section: dict[int, list[ChecklistItem]] = {}
    for item in items:
        by_section.setdefault(item.section_id, []).append(item)
    copies = []
    for section in source.sections.order_by("order", "id"):
        new_section = ChecklistSection.objects.create(version=target, order=section.order, title=section.title)
        for item in by_section.get(section.pk, []):
            copies.append(ChecklistItem(
                version=target, section=new_section, order=item.order, code=item.code, question=item.question,
                basis=item.basis, hazard_level=item.hazard_level, criterion_id=item.criterion_id,
                category=item.category, photo_required=item.photo_required))
    ChecklistItem.objects.bulk_create(copies, batch_size=500)
    return len(copies)


@service("checklists.start_revision")
def start_revision(actor, module: ChecklistModule) -> ChecklistVersion:
    """The module's draft version: the existing draft, or a new one copied from the published
    version (empty when nothing is published)."""
    require_manager(actor)
    module = _lock_module(module)
    _require_active(module)
    draft = draft_of(module)
    if draft is not None:
        audit.record("checklist.revision_resume", draft, {}, actor=actor)
        return draft
    published = published_of(module)
    number = (module.versions.aggregate(m=Max("number"))["m"] or 0) + 1
    try:
        with transaction.atomic():  # the partial unique index: one draft per module
            draft = ChecklistVersion.objects.create(module=module, number=number, created_by=actor)
    except IntegrityError:
        raise Conflict(_("他人刚刚新建了该模块的修订草稿,请刷新后继续编辑"), code="stale") from None
    copied = _copy_content(published, draft) if published is not None else 0
    audit.record("checklist.revision_start", draft,
                 {"number": [None, number], "from_version": [None, published.number if published else None],
                  "items": [None, copied]}, actor=actor)
    return draft


def _validate_for_publish(version: ChecklistVersion) -> None:
    sections = list(version.sections.order_by("order", "id"))
    if not sections:
        raise InvalidInput(_("草稿没有任何检查项,不能发布"), code="empty")
    counts: dict[int, int] = {}
    codes: dict[str, int] = {}
    for section_id, code in version.items.values_list("section_id", "code"):
        counts[section_id] = counts.get(section_id, 0) + 1
        codes[code] = codes.get(code, 0) + 1
    if not codes:
        raise InvalidInput(_("草稿没有任何检查项,不能发布"), code="empty")
    empty = [s.title for s in sections if not counts.get(s.pk)]
    if empty:
        raise InvalidInput(_("分节“%(t)s”没有检查项,请添加检查项或删除该分节") % {"t": "”、“".join(empty)},
                           code="empty_section")
    duplicated = sorted(c for c, n in codes.items() if n > 1)
    if duplicated:
        raise InvalidInput(_("检查项编号重复:%(c)s") % {"c": "、".join(duplicated)}, code="duplicate_code")


@service("checklists.publish")
def publish(actor, version: ChecklistVersion, note: str = "") -> ChecklistVersion:
    """Publish a draft: it becomes the module's version in use and the previously published one
    is superseded, in one transaction."""
    require_manager(actor)
    _lock_module(version.module)
    version = _lock_version(version)
    _require_active(version.module)
    _require_draft(version)
    note = _text("note", note, 500, _("修订说明"))
    _validate_for_publish(version)
    previous = published_of(version.module)
    now = timezone.now()
    stale = Conflict(_("该模块的发布版本已被他人更改,请刷新后重试"), code="stale")
    # Conditional on what was read: the previous version still published, the draft still a draft.
    if previous is not None and not ChecklistVersion.objects.filter(
            pk=previous.pk, status=VersionStatus.PUBLISHED).update(status=VersionStatus.SUPERSEDED, updated_at=now):
        raise stale
    try:
        with transaction.atomic():  # the partial unique index: one published version per module
            published = ChecklistVersion.objects.filter(pk=version.pk, status=VersionStatus.DRAFT).update(
                status=VersionStatus.PUBLISHED, note=note, published_at=now, published_by=actor, updated_at=now)
    except IntegrityError:
        raise stale from None
    if not published:
        raise stale
    if previous is not None:
        previous.status = VersionStatus.SUPERSEDED
        audit.record("checklist.version_supersede", previous,
                     {"status": [VersionStatus.PUBLISHED, VersionStatus.SUPERSEDED]}, actor=actor)
    version.status, version.note, version.published_at, version.published_by = (
        VersionStatus.PUBLISHED, note, now, actor)
    version.updated_at = now
    audit.record("checklist.version_publish", version,
                 {"status": [VersionStatus.DRAFT, VersionStatus.PUBLISHED], "note": [None, note],
                  "items": [None, version.items.count()]}, actor=actor)
    return version


@service("checklists.discard_draft")
def discard_draft(actor, version: ChecklistVersion) -> ChecklistModule:
    """Throw a draft away (its sections and items go with it; nothing uses a draft)."""
    require_manager(actor)
    version = _lock_version(version)
    _require_draft(version)
    module = version.module
    audit.record("checklist.draft_discard", module,
                 {"draft": [version.number, None], "items": [version.items.count(), None]}, actor=actor)
    version.items.all().delete()
    version.sections.all().delete()
    version.delete()
    return module


# ---------------------------------------------------------------- sections

def _next_order(qs) -> int:
    return (qs.aggregate(m=Max("order"))["m"] or 0) + 1


@service("checklists.add_section")
def add_section(actor, version: ChecklistVersion, *, title) -> ChecklistSection:
    require_manager(actor)
    version = _lock_version(version)
    _require_draft(version)
    title = _text("title", title, 100, _("分节标题"), required=True)
    section = ChecklistSection.objects.create(version=version, title=title,
                                              order=_next_order(version.sections.all()))
    audit.record("checklist.section_add", section, {"title": [None, title], "version": [None, version.pk]},
                 actor=actor)
    return section


def _locked_section(section: ChecklistSection) -> ChecklistSection:
    version = _lock_version(section.version)
    _require_draft(version)
    section = ChecklistSection.objects.get(pk=section.pk)
    section.version = version
    return section


@service("checklists.update_section")
def update_section(actor, section: ChecklistSection, *, title) -> ChecklistSection:
    require_manager(actor)
    section = _locked_section(section)
    title = _text("title", title, 100, _("分节标题"), required=True)
    before = section.title
    section.title = title
    section.save(update_fields=["title"])
    audit.record("checklist.section_update", section, {"title": [before, title]}, actor=actor)
    return section


def _swap(obj, siblings, direction: int, model) -> bool:
    """Swap ``obj`` with its neighbour in ``siblings`` (ordered); renumber 1..n. False at an end."""
    ordered = list(siblings)
    index = next(i for i, o in enumerate(ordered) if o.pk == obj.pk)
    target = index + direction
    if not 0 <= target < len(ordered):
        return False
    ordered[index], ordered[target] = ordered[target], ordered[index]
    changed = []
    for position, o in enumerate(ordered, start=1):
        if o.order != position:
            o.order = position
            changed.append(o)
    model.objects.bulk_update(changed, ["order"])
    return True


@service("checklists.move_section")
def move_section(actor, section: ChecklistSection, direction: str) -> ChecklistSection:
    """Move a section up or down (no change at either end; still audited as a no-op request)."""
    require_manager(actor)
    step = _direction(direction)
    section = _locked_section(section)
    before = section.order
    moved = _swap(section, section.version.sections.order_by("order", "id"), step, ChecklistSection)
    section.refresh_from_db()
    audit.record("checklist.section_move", section, {"order": [before, section.order]} if moved else {},
                 note="" if moved else _("已在最前或最后,未移动"), actor=actor)
    return section


@service("checklists.remove_section")
def remove_section(actor, section: ChecklistSection) -> ChecklistVersion:
    """Remove a section of a draft, with its items."""
    require_manager(actor)
    section = _locked_section(section)
    version = section.version
    items = list(section.items.values_list("code", flat=True))
    audit.record("checklist.section_remove", version,
                 {"section": [section.title, None], "items": [items, None]}, actor=actor)
    section.items.all().delete()
    section.delete()
    return version


# ---------------------------------------------------------------- items

def _apply_item(item: ChecklistItem, version: ChecklistVersion, fields: dict) -> None:
    unknown = set(fields) - set(ITEM_FIELDS)
    if unknown:
        raise InvalidInput(_("未知字段:%(f)s") % {"f": ", ".join(sorted(unknown))})
    if "question" in fields:
        item.question = _text("question", fields["question"], 500, _("检查内容"), required=True)
    if "code" in fields:
        code = _text("code", fields["code"], 32, _("编号"), required=True)
        if not ITEM_CODE_RE.match(code):
            raise _err("code", _("编号只能包含字母、数字和 - _ .,如 FC-01"))
        if version.items.filter(code=code).exclude(pk=item.pk).exists():
            raise _err("code", _("编号已存在:%(code)s") % {"code": code})
        item.code = code
    if "basis" in fields:
        item.basis = _text("basis", fields["basis"], 500, _("依据"))
    if "hazard_level" in fields:
        item.hazard_level = _level(fields["hazard_level"])
    if "category" in fields:
        item.category = _category(fields["category"])
    if "photo_required" in fields:
        item.photo_required = _bool(fields["photo_required"])
    if "criterion" in fields:
        item.criterion = _criterion(fields["criterion"])
    if "section" in fields and fields["section"] not in (None, ""):
        target = fields["section"]
        target_id = target.pk if isinstance(target, ChecklistSection) else target
        try:
            target = version.sections.get(pk=int(target_id))
        except (TypeError, ValueError, ChecklistSection.DoesNotExist):
            raise _err("section", _("分节不存在")) from None
        if target.pk != item.section_id:
            item.section = target
            item.order = _next_order(target.items.all())
    if item.criterion_id is not None and item.hazard_level != HazardLevel.MAJOR:
        raise _err("hazard_level", _("对应重大隐患判定条款的检查项,隐患等级须为重大隐患"))


@service("checklists.add_item")
def add_item(actor, section: ChecklistSection, *, code, question, basis="", hazard_level="", criterion=None,
             category="", photo_required=False) -> ChecklistItem:
    """Append an item to a section of a draft. Citing a major-hazard criterion makes it major."""
    require_manager(actor)
    section = _locked_section(section)
    version = section.version
    if criterion not in (None, "") and hazard_level in (None, ""):
        hazard_level = HazardLevel.MAJOR
    item = ChecklistItem(version=version, section=section, order=_next_order(section.items.all()))
    _apply_item(item, version, {"code": code, "question": question, "basis": basis, "hazard_level": hazard_level,
                                "criterion": criterion, "category": category, "photo_required": photo_required})
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:
        raise _err("code", _("编号已存在:%(code)s") % {"code": item.code}) from None
    audit.record("checklist.item_add", item, audit.diff({}, _item_snapshot(item)), actor=actor)
    return item


def _locked_item(item: ChecklistItem) -> ChecklistItem:
    version = _lock_version(item.version)
    _require_draft(version)
    item = ChecklistItem.objects.select_related("section").get(pk=item.pk)
    item.version = version
    return item


@service("checklists.update_item")
def update_item(actor, item: ChecklistItem, **fields) -> ChecklistItem:
    """Change an item of a draft (also move it to another section of the same draft)."""
    require_manager(actor)
    item = _locked_item(item)
    before = _item_snapshot(item)
    _apply_item(item, item.version, fields)
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:
        raise _err("code", _("编号已存在:%(code)s") % {"code": item.code}) from None
    audit.record("checklist.item_update", item, audit.diff(before, _item_snapshot(item)), actor=actor)
    return item


@service("checklists.move_item")
def move_item(actor, item: ChecklistItem, direction: str) -> ChecklistItem:
    """Move an item up or down within its section."""
    require_manager(actor)
    step = _direction(direction)
    item = _locked_item(item)
    before = item.order
    moved = _swap(item, item.section.items.order_by("order", "id"), step, ChecklistItem)
    item.refresh_from_db()
    audit.record("checklist.item_move", item, {"order": [before, item.order]} if moved else {},
                 note="" if moved else _("已在最前或最后,未移动"), actor=actor)
    return item


@service("checklists.remove_item")
def remove_item(actor, item: ChecklistItem) -> ChecklistVersion:
    """Remove an item from a draft (items of published or superseded versions are never deleted)."""
    require_manager(actor)
    item = _locked_item(item)
    version = item.version
    audit.record("checklist.item_remove", version, {"item": [_item_snapshot(item), None]}, actor=actor)
    item.delete()
    return version


# ---------------------------------------------------------------- seed

@service("checklists.load_seed")
def load_seed(actor=None) -> dict:
    """Add the seeded modules and criteria that are missing and link sectors/traits that exist now
    (e.g. sectors created by the demo data after ``migrate``). System or administrator only."""
    if actor is not None:
        require_manager(actor)
    from .seed_data import load

    counts = load()
    module = ChecklistModule.objects.order_by("sort", "code").first()
    if module is None:  # pragma: no cover - load() always creates the seeded modules
        raise NotFound()
    audit.record("checklist.seed_load", module, {k: [0, v] for k, v in counts.items()}, note="检查清单初始数据",
                 actor=actor)
    return counts


# ---------------------------------------------------------------- reads other apps use

def assemble_for_site(site) -> list[ChecklistVersion]:
    """The published versions of the non-archived modules that apply to ``site``: modules for
    all sites, or one of whose sectors / risk traits the site has, or whose site kinds include
    the site's kind. Ordered by module sort. The caller has checked the site is visible."""
    sector_ids = list(site.sectors.values_list("pk", flat=True))
    trait_ids = list(site.traits.values_list("pk", flat=True))
    # Modules are a small reference table; site kinds are a JSON list (no portable "contains"
    # lookup on SQLite), so the few modules with kinds are matched here.
    kind_ids = [pk for pk, kinds in ChecklistModule.objects.filter(archived_at__isnull=True)
                .exclude(site_kinds=[]).values_list("pk", "site_kinds") if site.kind in (kinds or [])]
    match = Q(applies_to_all=True) | Q(pk__in=kind_ids)
    if sector_ids:
        match |= Q(sectors__in=sector_ids)
    if trait_ids:
        match |= Q(traits__in=trait_ids)
    module_ids = ChecklistModule.objects.filter(match, archived_at__isnull=True).values("pk")
    return list(ChecklistVersion.objects.filter(module_id__in=module_ids, status=VersionStatus.PUBLISHED)
                .select_related("module").order_by("module__sort", "module__code"))


def items_of(versions) -> list[ChecklistItem]:
    """The items of ``versions`` with their section (and version, module and criterion), in the
    order of the versions given, then section order and item order."""
    versions = list(versions)
    rank = {v.pk: i for i, v in enumerate(versions)}
    items = list(ChecklistItem.objects.filter(version_id__in=rank)
                 .select_related("section", "version__module", "criterion")
                 .order_by("section__order", "section_id", "order", "id"))
    items.sort(key=lambda i: rank[i.version_id])  # stable: keeps section/item order per version
    return items
