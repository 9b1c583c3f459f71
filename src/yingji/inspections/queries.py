"""Read helpers of inspections and campaigns, shared by pages and API. Everything starts from
``visible_to(user)``; callers page by keyset on ``id``."""
from __future__ import annotations

import datetime

from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext as _

from yingji.core.errors import InvalidInput
from yingji.core.models import Area, Attachment
from yingji.core import roles
from yingji.core.scoping import area_subtree_ids, grants_for

from .models import Campaign, CampaignAssignment, CampaignStatus, Inspection, InspectionResult, InspectionState, Mode


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, detail={field: message})


def _int(value, field: str) -> int:
    try:
        return int(getattr(value, "pk", value))
    except (TypeError, ValueError):
        raise _bad(field, _("编号无效")) from None


def _day(value, field: str):
    if value in (None, ""):
        return None
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip())
    except ValueError:
        raise _bad(field, _("日期格式不正确,应为年-月-日")) from None


def inspection_search(user, *, mode=None, campaign=None, area=None, state=None, site=None, date_from=None,
                      date_to=None, mine=False, include_archived=False):
    """Inspections visible to ``user`` matching every given filter (unordered; page with keyset)."""
    from django.utils import timezone

    qs = Inspection.objects.visible_to(user)
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    if mode not in (None, ""):
        if mode not in Mode.values:
            raise _bad("mode", _("检查方式无效"))
        qs = qs.filter(mode=mode)
    if state not in (None, ""):
        if state not in InspectionState.values:
            raise _bad("state", _("状态无效"))
        qs = qs.filter(state=state)
    if campaign not in (None, ""):
        qs = qs.filter(campaign_id=_int(campaign, "campaign"))
    if site not in (None, ""):
        qs = qs.filter(site_id=_int(site, "site"))
    if area not in (None, ""):
        obj = area if isinstance(area, Area) else Area.objects.filter(pk=_int(area, "area")).first()
        if obj is None:
            raise _bad("area", _("区域不存在"))
        qs = qs.filter(area_id__in=area_subtree_ids(obj.code))
    start, end = _day(date_from, "date_from"), _day(date_to, "date_to")
    if start and end and start > end:
        raise _bad("date_to", _("结束日期不能早于开始日期"))
    tz = timezone.get_current_timezone()
    if start:
        qs = qs.filter(started_at__gte=datetime.datetime.combine(start, datetime.time.min, tz))
    if end:
        qs = qs.filter(started_at__lt=datetime.datetime.combine(end + datetime.timedelta(days=1),
                                                                datetime.time.min, tz))
    if mine and getattr(user, "pk", None):
        qs = qs.filter(lead_id=user.pk)
    return qs


def campaign_search(user, *, status=None, q=None, include_archived=False):
    qs = Campaign.objects.visible_to(user)
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    if status not in (None, ""):
        if status not in CampaignStatus.values:
            raise _bad("status", _("状态无效"))
        qs = qs.filter(status=status)
    if q and str(q).strip():
        text = str(q).strip()
        if len(text) > 100:
            raise _bad("q", _("查询内容过长"))
        qs = qs.filter(name__contains=text)
    return qs


def assignments_for(user, campaign: Campaign):
    return list(CampaignAssignment.objects.visible_to(user).filter(campaign_id=campaign.pk)
                .select_related("area", "organisation", "user").order_by("revoked_at", "id"))


def results_for(user, inspection: Inspection) -> list[InspectionResult]:
    """The inspection's results in checklist order, each with ``photos`` (visible attachments)."""
    rows = list(InspectionResult.objects.visible_to(user).filter(inspection_id=inspection.pk)
                .select_related("item__section", "item__version__module", "item__criterion", "hazard", "answered_by")
                .order_by("item__version__module__sort", "item__version_id", "item__section__order",
                          "item__section_id", "item__order", "item_id"))
    ct = ContentType.objects.get_for_model(InspectionResult)
    photos: dict[int, list] = {}
    for a in (Attachment.objects.visible_to(user).filter(content_type=ct, object_id__in=[r.pk for r in rows],
                                                         archived_at__isnull=True).order_by("id")):
        photos.setdefault(a.object_id, []).append(a)
    for r in rows:
        r.photos = photos.get(r.pk, [])
    return rows


def grouped_results(rows) -> list[dict]:
    """``[{module, sections: [{title, rows}]}]`` for the form."""
    groups: list[dict] = []
    for r in rows:
        module = r.item.version.module
        if not groups or groups[-1]["version_id"] != r.item.version_id:
            groups.append({"version_id": r.item.version_id, "module": module, "version": r.item.version,
                           "sections": []})
        sections = groups[-1]["sections"]
        if not sections or sections[-1]["id"] != r.item.section_id:
            sections.append({"id": r.item.section_id, "title": r.item.section.title, "rows": []})
        sections[-1]["rows"].append(r)
    return groups


# ---------------------------------------------------------------- the usual mode of each role

# THE default inspection mode of each role (the start form preselects it; the API uses it when
# ``mode`` is omitted). The first role in this order whose grant reaches the site decides, and
# only if the user may start that mode there (``services.allowed_modes``).
DEFAULT_MODE_BY_ROLE = {
    roles.ENTERPRISE: Mode.SELF,          # 企业安全管理员: 企业自查
    roles.GRID_WORKER: Mode.GRID,         # 网格员: 网格巡查
    roles.TOWN_OFFICER: Mode.TOWN,        # 镇街工作人员: 镇街检查
    roles.INSPECTOR: Mode.SPOT,           # 执法检查人员: 执法抽查
    roles.DEPT_OFFICER: Mode.DEPARTMENT,  # 部门监管人员: 部门检查
    roles.CITY_ADMIN: Mode.DEPARTMENT,    # 市级管理员 (应急管理局): 部门检查
}


def _grant_reaches(grant, site, site_sectors: set) -> bool:
    if grant.site_ids is not None:
        return site.pk in grant.site_ids
    return site.area.code.startswith(grant.area_code) and (not grant.sector_ids or bool(grant.sector_ids & site_sectors))


def default_mode(user, site, modes=None) -> str | None:
    """The mode ``user`` usually inspects ``site`` in (``DEFAULT_MODE_BY_ROLE``), among ``modes``
    (default: the modes the user may start there); None when the user may start none."""
    from . import services

    modes = list(services.allowed_modes(user, site) if modes is None else modes)
    if not modes:
        return None
    site_sectors = set(site.sectors.values_list("pk", flat=True))
    reaching = {g.role for g in grants_for(user) if _grant_reaches(g, site, site_sectors)}
    for role, mode in DEFAULT_MODE_BY_ROLE.items():
        if role in reaching and mode in modes:
            return mode
    return modes[0]


def default_mode_for_site_id(user, site_id) -> str:
    """``default_mode`` for a site given by id (the API); "" when the site is not visible or the
    user may start nothing there (the service then answers with its own error)."""
    from yingji.registry.models import Site

    try:
        pk = int(site_id)
    except (TypeError, ValueError):
        return ""
    site = Site.objects.visible_to(user).filter(pk=pk, archived_at__isnull=True).select_related("area").first()
    return (default_mode(user, site) or "") if site is not None else ""
