"""Reads of the checklist pages and API (one place for both).

Checklists are reference data visible to every signed-in user; drafts only to those who may edit
them (``services.can_manage``) — for everybody else a draft looks absent (404).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Subquery
from django.utils.translation import gettext_lazy as _l

from yingji.core.errors import NotFound

from . import services
from .models import ChecklistItem, ChecklistModule, ChecklistSection, ChecklistVersion, VersionStatus

COMPARED = ("section_title", "question", "basis", "hazard_level", "criterion_id", "category", "photo_required")


def modules_for(user):
    """Modules with their published version's id, number and item count (``current_*``);
    archived ones only for editors."""
    published = ChecklistVersion.objects.filter(module=OuterRef("pk"), status=VersionStatus.PUBLISHED)
    draft = ChecklistVersion.objects.filter(module=OuterRef("pk"), status=VersionStatus.DRAFT)
    counts = (ChecklistItem.objects.filter(version__module=OuterRef("pk"), version__status=VersionStatus.PUBLISHED)
              .order_by().values("version__module").annotate(n=Count("pk")).values("n"))
    qs = ChecklistModule.objects.annotate(
        current_id=Subquery(published.values("pk")[:1], output_field=IntegerField()),
        current_number=Subquery(published.values("number")[:1], output_field=IntegerField()),
        draft_id=Subquery(draft.values("pk")[:1], output_field=IntegerField()),
        item_count=Subquery(counts[:1], output_field=IntegerField()),
    ).prefetch_related("sectors", "traits").order_by("sort", "code")
    if not services.can_manage(user):
        qs = qs.filter(archived_at__isnull=True)
    return qs


def get_module(user, pk) -> ChecklistModule:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound() from None
    module = modules_for(user).filter(pk=pk).first()
    if module is None:
        raise NotFound()
    return module


def get_version(user, pk) -> ChecklistVersion:
    """A version the user may read: published/superseded for everyone signed in, drafts for editors."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound() from None
    qs = ChecklistVersion.objects.select_related("module", "created_by", "published_by")
    if not services.can_manage(user):
        qs = qs.exclude(status=VersionStatus.DRAFT).filter(module__archived_at__isnull=True)
    version = qs.filter(pk=pk).first()
    if version is None:
        raise NotFound()
    return version


def versions_of(user, module: ChecklistModule) -> list[ChecklistVersion]:
    qs = module.versions.annotate(item_count=Count("items")).select_related("published_by", "created_by")
    if not services.can_manage(user):
        qs = qs.exclude(status=VersionStatus.DRAFT)
    return list(qs.order_by("-number"))


def sections_with_items(version: ChecklistVersion) -> list[ChecklistSection]:
    """The version's sections in order, each with ``item_list`` (items in order, criterion loaded)."""
    items = ChecklistItem.objects.select_related("criterion").order_by("order", "id")
    sections = list(version.sections.order_by("order", "id").prefetch_related(Prefetch("items", queryset=items)))
    from yingji.hazards.models import Category

    labels = dict(Category.choices)
    for s in sections:
        s.item_list = list(s.items.all())
        for i in s.item_list:
            i.category_label = labels.get(i.category, i.category)
            i.change, i.changed_fields = "", []
    return sections


FIELD_LABELS = {"section_title": _l("所属分节"), "question": _l("检查内容"), "basis": _l("依据"),
                "hazard_level": _l("隐患等级"), "criterion_id": _l("重大隐患判定条款"), "category": _l("隐患类别"),
                "photo_required": _l("须拍照")}


def mark_changes(sections, changes: "Diff") -> None:
    """Mark each item of ``sections`` with ``change`` (added/changed) and the changed fields' labels."""
    for s in sections:
        for i in s.item_list:
            i.change = changes.status.get(i.code, "")
            i.changed_fields = [str(FIELD_LABELS[f]) for f in changes.changes.get(i.code, [])]


def kind_labels(kinds) -> list[str]:
    from yingji.registry.models import SiteKind

    labels = dict(SiteKind.choices)
    return [str(labels.get(k, k)) for k in kinds or []]


def applicability(module: ChecklistModule) -> list[str]:
    """Readable applicability: "所有对象" or the sectors, traits and site kinds."""
    from django.utils.translation import gettext as _

    if module.applies_to_all:
        return [_("所有监管对象")]
    parts = [s.name for s in module.sectors.all()] + [t.name for t in module.traits.all()]
    return parts + kind_labels(module.site_kinds)


def previous_version(version: ChecklistVersion) -> ChecklistVersion | None:
    return (ChecklistVersion.objects.filter(module_id=version.module_id, number__lt=version.number)
            .exclude(status=VersionStatus.DRAFT).order_by("-number").first())


@dataclass
class Diff:
    base: ChecklistVersion | None
    status: dict = field(default_factory=dict)    # item code -> "added" | "changed"
    changes: dict = field(default_factory=dict)   # item code -> [field, ...]
    removed: list = field(default_factory=list)   # items of base missing from the version

    @property
    def count(self) -> int:
        return len(self.status) + len(self.removed)


def _keyed(version: ChecklistVersion) -> dict:
    return {i.code: i for i in version.items.select_related("section", "criterion")}


def _values(item: ChecklistItem) -> dict:
    return {"section_title": item.section.title, "question": item.question, "basis": item.basis,
            "hazard_level": item.hazard_level, "criterion_id": item.criterion_id, "category": item.category,
            "photo_required": item.photo_required}


def diff(version: ChecklistVersion, base: ChecklistVersion | None = None) -> Diff:
    """What changed from ``base`` (default: the previous non-draft version) to ``version``, by
    item code: added, changed (with the fields) and removed items."""
    base = base if base is not None else previous_version(version)
    result = Diff(base=base)
    if base is None:
        return result
    old, new = _keyed(base), _keyed(version)
    for code, item in new.items():
        if code not in old:
            result.status[code] = "added"
            continue
        before, after = _values(old[code]), _values(item)
        changed = [f for f in COMPARED if before[f] != after[f]]
        if changed:
            result.status[code] = "changed"
            result.changes[code] = changed
    result.removed = sorted((i for c, i in old.items() if c not in new), key=lambda i: (i.section.order, i.order))
    return result


def criteria():
    from .models import MajorHazardCriterion

    return MajorHazardCriterion.objects.all()

