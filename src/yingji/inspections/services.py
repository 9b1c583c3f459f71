"""Write services (and the figures) of campaigns and inspections.

Campaigns: ``create_campaign`` / ``update_campaign`` (EDIT over the organising area), ``activate_campaign``
(筹备中 → 进行中), ``close_campaign`` (进行中 → 已结束), ``archive_campaign``, ``add_assignment`` /
``revoke_assignment`` (the assignee is notified). ``sites_in_scope`` is THE definition of a campaign's sites; ``campaign_progress``
computes coverage and hazard figures by aggregate queries restricted to what the viewer may see.

Inspections: ``start_inspection`` (mode rules below; the checklist versions assembled for the site
become PENDING results), ``record_result`` (符合/不符合/不适用, photos as attachments on the result),
``confirm_hazard`` / ``fix_on_spot`` (through ``hazards.services.report_hazard``), ``complete_inspection``
(refused while items are pending or a failed item has neither hazard nor on-the-spot fix),
``archive_inspection``.

Who may start which mode (``MODE_RULES``): 企业自查 the site's own enterprise account (site-bound grant)
or officers; 网格巡查 grid workers of the site's area; 镇街检查/部门检查/执法抽查/服务式执法 EDIT over the
site (officers, inspectors). Results are recorded by the inspection's lead and co-inspectors only.
"""
from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from functools import reduce
from operator import or_

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yingji.core import attachments, audit, roles
from yingji.core.audit import service
from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.core.models import Area, Organisation, Sector, User
from yingji.core.scoping import grants_for
from yingji.core.validators import clean_coordinates
from yingji.core.validators import clean_date as _date
from yingji.core.validators import field_error as _err
from yingji.core.validators import clean_text as _text

from .models import (Campaign, CampaignAssignment, CampaignStatus, Inspection, InspectionResult, InspectionState,
                     Mode, Result)

MAX_FILES = 9
NAME_MAX = 100


# ---------------------------------------------------------------- input cleaning

def _pk(value, field: str, message: str) -> int:
    try:
        return int(getattr(value, "pk", value))
    except (TypeError, ValueError):
        raise _err(field, message) from None


def _pks(values, field: str, message: str) -> list[int]:
    if values in (None, ""):
        return []
    if isinstance(values, (str, int)) or hasattr(values, "pk"):
        values = [values]
    return list(dict.fromkeys(_pk(v, field, message) for v in values if v not in (None, "")))


def _files(files) -> list:
    files = [f for f in (files or []) if f is not None]
    if len(files) > MAX_FILES:
        raise _err("files", _("一次最多上传%(n)d个文件") % {"n": MAX_FILES})
    return files


def _actor_required(actor) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise Forbidden(_("请先登录"))


def clean_key(value) -> str | None:
    from yingji.hazards.services import clean_key as hazard_key

    return hazard_key(value)


def _discard_files(created: list) -> None:
    from yingji.hazards.services import _discard_files as discard

    discard(created)


# ---------------------------------------------------------------- campaigns: reads

def status_label(status: str) -> str:
    return str(CampaignStatus(status).label) if status in CampaignStatus.values else status


def get_campaign(user, pk, action: str = "view") -> Campaign:
    """The campaign ``pk`` if ``user`` may ``action`` it: out of scope → NotFound, visible but
    not allowed → Forbidden."""
    _actor_required(user)
    try:
        pk = int(getattr(pk, "pk", pk))
    except (TypeError, ValueError):
        raise NotFound() from None
    obj = Campaign.objects.restrict(user, action).filter(pk=pk).first()
    if obj is None:
        if action != "view" and Campaign.objects.visible_to(user).filter(pk=pk).exists():
            raise Forbidden(_("您无权修改该专项行动"))
        raise NotFound()
    return obj


def can_edit_campaign(user, campaign: Campaign) -> bool:
    return Campaign.objects.restrict(user, "edit").filter(pk=campaign.pk).exists()


def sites_in_scope(campaign: Campaign, base=None):
    """The non-archived sites a campaign covers (``base``: a Site queryset to start from, e.g.
    the viewer's visible sites): in the scope areas' subtrees (or the organising area's), of
    the scope sectors, traits and kinds where given. Subqueries only; unordered."""
    from yingji.registry.models import Site

    qs = (base if base is not None else Site.objects.all()).filter(archived_at__isnull=True)
    organising = campaign.area.code
    codes = [c for c in campaign.scope_areas.values_list("code", flat=True) if c.startswith(organising)]
    codes = codes or [organising]
    qs = qs.filter(area_id__in=Area.objects.filter(reduce(or_, [Q(code__startswith=c) for c in codes]))
                   .values("pk"))
    sector_ids = list(campaign.scope_sectors.values_list("pk", flat=True))
    if sector_ids:
        qs = qs.filter(pk__in=Site.sectors.through.objects.filter(sector_id__in=sector_ids).values("site_id"))
    trait_ids = list(campaign.scope_traits.values_list("pk", flat=True))
    if trait_ids:
        qs = qs.filter(pk__in=Site.traits.through.objects.filter(risktrait_id__in=trait_ids).values("site_id"))
    if campaign.scope_kinds:
        qs = qs.filter(kind__in=list(campaign.scope_kinds))
    return qs


def campaigns_for_site(user, site):
    """Active campaigns visible to ``user`` whose scope includes ``site`` (start-form choices)."""
    result = []
    for c in Campaign.objects.visible_to(user).filter(status=CampaignStatus.ACTIVE, archived_at__isnull=True) \
            .select_related("area").order_by("-starts_on", "-id")[:50]:
        if sites_in_scope(c).filter(pk=site.pk).exists():
            result.append(c)
    return result


# ---------------------------------------------------------------- campaigns: progress
#
# THE figures of a campaign (page, API and export all call ``campaign_progress``). Each figure
# has one definition, written out in ``PROGRESS_DEFINITIONS`` and shown next to it (口径):
#
#   范围内对象  target sites: non-archived sites the viewer may see that match the scope
#               (``sites_in_scope``)
#   已检查对象  target sites with at least one completed, non-archived inspection linked to
#               the campaign (a site inspected twice counts once)
#   覆盖率      已检查对象 ÷ 范围内对象
#   检查次数    completed, non-archived inspections linked to the campaign, of target sites;
#               in-progress ones are counted apart (``in_progress``), and completed ones of sites
#               no longer in scope (scope narrowed, site archived) too (``inspections_outside``)
#   发现隐患    non-draft, non-archived hazards linked to the campaign (their closed / major /
#               open-and-overdue subsets)
#   分区域      by the area of the site (hazard: its area) under each child of the organising
#               area; sites at the organising area itself get a row of their own: rows add up
#   分行业领域  by the site's sector membership: a site in two sectors counts in both rows (with
#               its inspections and hazards), so rows may add up to more than the total
#               (``multi_sector_sites`` says by how many sites); sites without a sector get a
#               row of their own, so every target site is in at least one row
#
# Everything is restricted to what the viewer may see (the visible_to querysets).

PROGRESS_DEFINITIONS = {
    "coverage": gettext_lazy("覆盖率 = 已检查对象 ÷ 范围内对象。范围内对象:符合本行动范围(区域、行业领域、风险特征、"
                             "对象类别)且未注销的监管对象;已检查对象:其中至少有一次本行动检查已完成的对象"
                             "(同一对象检查多次只计一家)。"),
    "inspections": gettext_lazy("检查次数:关联本行动、已完成且未归档、对象在范围内的检查,同一对象多次检查分别计数;"
                                "检查中的不计入。"),
    "hazards": gettext_lazy("发现隐患:关联本行动的隐患(不含草稿和已归档);已销号、重大、超期未改是其中的数量。"),
    "by_area": gettext_lazy("分区域:按监管对象所在区域归入组织区域的下一级区域,各行之和等于合计。"),
    "by_sector": gettext_lazy("分行业领域:按监管对象所属的行业领域统计,同属多个行业领域的对象(及其检查、隐患)"
                              "在每个所属领域各计一次,因此各行之和可能大于合计;未设行业领域的对象单列一行。"),
    "visibility": gettext_lazy("以上数字均只统计您有权查看的记录。"),
}


def _pct(part: int, whole: int) -> float | None:
    return round(part * 100.0 / whole, 1) if whole else None


def _overdue_q(today):
    from yingji.hazards.models import OPEN_STATES

    return Q(state__in=OPEN_STATES) & (Q(is_overdue=True) | Q(deadline__lt=today))


def _progress_sets(campaign: Campaign, user) -> dict:
    """The viewer's rows of a campaign (querysets): target sites, the inspected ones, the
    completed inspections of target sites, in-progress ones, completed ones outside, hazards."""
    from yingji.hazards.models import Hazard, State
    from yingji.registry.models import Site

    sites = sites_in_scope(campaign, Site.objects.visible_to(user))
    linked = Inspection.objects.visible_to(user).filter(campaign_id=campaign.pk, archived_at__isnull=True)
    target = Q(site_id__in=sites.values("pk"))
    completed = linked.filter(target, state=InspectionState.COMPLETED)
    return {
        "sites": sites,
        "inspected": sites.filter(pk__in=completed.values("site_id")),
        "inspections": completed,
        "in_progress": linked.filter(target, state=InspectionState.IN_PROGRESS),
        "outside": linked.filter(~target, state=InspectionState.COMPLETED),
        "hazards": (Hazard.objects.visible_to(user).filter(campaign_id=campaign.pk, archived_at__isnull=True)
                    .exclude(state=State.DRAFT)),
    }


def _hazard_aggregates(today) -> dict:
    from yingji.hazards.models import Level, State

    return {"found": Count("id"), "closed": Count("id", filter=Q(state=State.CLOSED)),
            "major": Count("id", filter=Q(level=Level.MAJOR)), "overdue": Count("id", filter=_overdue_q(today))}


def _row(label, key, sites, inspected, inspections, h) -> dict:
    return {"key": key, "label": label, "sites_in_scope": sites, "sites_inspected": inspected,
            "coverage": _pct(inspected, sites), "inspections": inspections,
            "hazards_found": h.get("found", 0), "hazards_closed": h.get("closed", 0),
            "major_hazards": h.get("major", 0), "open_overdue": h.get("overdue", 0)}


def _grouped(qs, key_expr) -> dict:
    return {r["k"]: r["n"] for r in qs.annotate(k=key_expr).values("k").annotate(n=Count("id")).order_by()}


def _hazards_grouped(hazards, key_expr, today) -> dict:
    return {r["k"]: r for r in hazards.annotate(k=key_expr).values("k").annotate(**_hazard_aggregates(today))
            .order_by()}


def _by_area(campaign: Campaign, user, sets: dict, today) -> list[dict]:
    """One row per visible child of the organising area (sites by their area's code prefix), and
    one for sites at the organising area itself when there are any."""
    children = list(Area.objects.visible_to(user).filter(parent_id=campaign.area_id, archived_at__isnull=True)
                    .order_by("code"))
    rows = {}
    for length in sorted({len(a.code) for a in children}):
        prefix = Substr("area__code", 1, length)
        s, i_sites = _grouped(sets["sites"], prefix), _grouped(sets["inspected"], prefix)
        ins, hz = _grouped(sets["inspections"], prefix), _hazards_grouped(sets["hazards"], prefix, today)
        for a in children:
            if len(a.code) == length:
                rows[a.code] = _row(a.name, a.pk, s.get(a.code, 0), i_sites.get(a.code, 0), ins.get(a.code, 0),
                                    hz.get(a.code, {}))
    result = [rows[a.code] for a in children]
    own = Q(area_id=campaign.area_id)
    itself = _row(_("%(name)s(本级)") % {"name": campaign.area.name}, campaign.area_id,
                  sets["sites"].filter(own).count(), sets["inspected"].filter(own).count(),
                  sets["inspections"].filter(own).count(),
                  sets["hazards"].filter(own).aggregate(**_hazard_aggregates(today)))
    if itself["sites_in_scope"] or itself["inspections"] or itself["hazards_found"]:
        result.insert(0, itself)
    return result


def _by_sector(campaign: Campaign, sets: dict, today) -> tuple[list[dict], int]:
    """One row per sector by the sites' sector membership (the campaign's scope sectors when it
    has any, else every sector a target site belongs to), plus a row for target sites without a
    sector. Returns the rows and how many sites fall in more than one row."""
    from yingji.registry.models import Site

    through = Site.sectors.through
    sites, inspected = sets["sites"], sets["inspected"]
    s = {r["sector_id"]: r["n"] for r in through.objects.filter(site_id__in=sites.values("pk"))
         .values("sector_id").annotate(n=Count("site_id")).order_by()}
    i_sites = {r["sector_id"]: r["n"] for r in through.objects.filter(site_id__in=inspected.values("pk"))
               .values("sector_id").annotate(n=Count("site_id")).order_by()}
    # The M2M join gives one row per (inspection, sector of its site); no sector → None.
    ins = _grouped(sets["inspections"], F("site__sectors"))
    hz = _hazards_grouped(sets["hazards"], F("site__sectors"), today)
    scoped = set(campaign.scope_sectors.values_list("pk", flat=True))
    sector_ids = scoped or set(s)
    sectors = list(Sector.objects.filter(pk__in=sector_ids).order_by("sort", "id"))
    rows = [_row(sec.name, sec.pk, s.get(sec.pk, 0), i_sites.get(sec.pk, 0), ins.get(sec.pk, 0), hz.get(sec.pk, {}))
            for sec in sectors]
    if not scoped:
        none = Q(sectors__isnull=True)
        unsectored = _row(_("未设行业领域"), None, sites.filter(none).count(), inspected.filter(none).count(),
                          ins.get(None, 0), hz.get(None, {}))
        if unsectored["sites_in_scope"] or unsectored["inspections"] or unsectored["hazards_found"]:
            rows.append(unsectored)
    multi = (through.objects.filter(site_id__in=sites.values("pk"), sector_id__in=[sec.pk for sec in sectors])
             .values("site_id").annotate(n=Count("sector_id")).filter(n__gt=1).count())
    return rows, multi


def campaign_progress(campaign: Campaign, user, today=None) -> dict:
    """Coverage and hazard figures of ``campaign`` as ``user`` may see them (definitions above,
    in ``PROGRESS_DEFINITIONS``; the page shows each next to its figure).

    ``overall``: sites in scope, sites inspected, coverage %, completed inspections, hazards found /
    closed / major / open and overdue, plus ``in_progress`` and ``inspections_outside``.
    ``by_area`` and ``by_sector``: the same per row. ``multi_sector_sites``: target sites counted
    in more than one sector row. ``definitions``: the 口径 of each figure, as text.
    """
    today = today or timezone.localdate()
    sets = _progress_sets(campaign, user)
    h = sets["hazards"].aggregate(**_hazard_aggregates(today))
    overall = _row(_("合计"), None, sets["sites"].count(), sets["inspected"].count(), sets["inspections"].count(), h)
    overall["target_coverage"] = float(campaign.target_coverage) if campaign.target_coverage is not None else None
    overall["in_progress"] = sets["in_progress"].count()
    overall["inspections_outside"] = sets["outside"].count()
    by_sector, multi = _by_sector(campaign, sets, today)
    return {"overall": overall, "by_area": _by_area(campaign, user, sets, today), "by_sector": by_sector,
            "multi_sector_sites": multi, "definitions": {k: str(v) for k, v in PROGRESS_DEFINITIONS.items()},
            "as_of": timezone.now()}


# ---------------------------------------------------------------- campaigns: writes

def _clean_campaign(actor, data: dict, current: Campaign | None = None) -> dict:
    from yingji.registry.models import RiskTrait, SiteKind

    get = (lambda k, d=None: data.get(k, getattr(current, k, d) if current is not None else d))
    fields = {
        "name": _text("name", get("name"), NAME_MAX, _("名称"), required=True),
        "description": _text("description", get("description", ""), 5000, _("工作要求")),
        "target_note": _text("target_note", get("target_note", ""), 500, _("目标说明")),
    }
    # Organising area: visible, live; EDIT over it is checked on the saved row.
    area = data.get("area", current.area if current is not None else None)
    if area in (None, ""):
        raise _err("area", _("请选择组织区域"))
    area_obj = Area.objects.visible_to(actor).filter(pk=_pk(area, "area", _("组织区域无效")),
                                                     archived_at__isnull=True).first()
    if area_obj is None:
        raise _err("area", _("组织区域不存在或无权访问"))
    fields["area"] = area_obj
    organiser = data.get("organiser", current.organiser if current is not None else None)
    if organiser in (None, ""):
        fields["organiser"] = None
    else:
        org = Organisation.objects.filter(pk=_pk(organiser, "organiser", _("牵头单位无效")),
                                          archived_at__isnull=True).first()
        if org is None:
            raise _err("organiser", _("牵头单位无效"))
        fields["organiser"] = org
    starts = _date("starts_on", get("starts_on"), _("开始日期"))
    ends = _date("ends_on", get("ends_on"), _("结束日期"))
    if starts > ends:
        raise _err("ends_on", _("结束日期不能早于开始日期"))
    if (ends - starts).days > 3 * 366:
        raise _err("ends_on", _("专项行动最长三年"))
    fields["starts_on"], fields["ends_on"] = starts, ends
    coverage = get("target_coverage")
    if coverage in (None, ""):
        fields["target_coverage"] = None
    else:
        try:
            value = Decimal(str(coverage).strip().rstrip("%"))
        except (InvalidOperation, ValueError):
            raise _err("target_coverage", _("目标覆盖率须为数字")) from None
        if not value.is_finite() or value < 0 or value > 100:
            raise _err("target_coverage", _("目标覆盖率须在0到100之间"))
        fields["target_coverage"] = value.quantize(Decimal("0.01"))
    kinds = data.get("scope_kinds", list(current.scope_kinds) if current is not None else [])
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    bad = [k for k in kinds if k not in SiteKind.values]
    if bad:
        raise _err("scope_kinds", _("对象类别无效:%(v)s") % {"v": "、".join(map(str, bad))})
    fields["scope_kinds"] = list(dict.fromkeys(kinds))

    m2m = {}
    if "scope_areas" in data or current is None:
        ids = _pks(data.get("scope_areas"), "scope_areas", _("范围区域无效"))
        areas = list(Area.objects.visible_to(actor).filter(pk__in=ids, archived_at__isnull=True))
        if len(areas) != len(ids):
            raise _err("scope_areas", _("范围区域不存在或无权访问"))
        outside = [a.name for a in areas if not a.code.startswith(area_obj.code)]
        if outside:
            raise _err("scope_areas", _("范围区域须在组织区域之内:%(names)s") % {"names": "、".join(outside)})
        m2m["scope_areas"] = areas
    elif current is not None:
        outside = [a.name for a in current.scope_areas.all() if not a.code.startswith(area_obj.code)]
        if outside:
            raise _err("scope_areas", _("范围区域须在组织区域之内:%(names)s") % {"names": "、".join(outside)})
    if "scope_sectors" in data or current is None:
        ids = _pks(data.get("scope_sectors"), "scope_sectors", _("行业领域无效"))
        sectors = list(Sector.objects.filter(pk__in=ids, archived_at__isnull=True))
        if len(sectors) != len(ids):
            raise _err("scope_sectors", _("行业领域无效"))
        m2m["scope_sectors"] = sectors
    if "scope_traits" in data or current is None:
        ids = _pks(data.get("scope_traits"), "scope_traits", _("风险特征无效"))
        traits = list(RiskTrait.objects.filter(pk__in=ids))
        if len(traits) != len(ids):
            raise _err("scope_traits", _("风险特征无效"))
        m2m["scope_traits"] = traits
    return fields, m2m


SNAPSHOT = ["name", "description", "area", "organiser", "starts_on", "ends_on", "status", "scope_kinds",
            "target_coverage", "target_note"]


def _m2m_snapshot(c: Campaign) -> dict:
    return {"scope_areas": sorted(c.scope_areas.values_list("pk", flat=True)),
            "scope_sectors": sorted(c.scope_sectors.values_list("pk", flat=True)),
            "scope_traits": sorted(c.scope_traits.values_list("pk", flat=True))}


@service("inspections.create_campaign")
def create_campaign(actor, *, name, area, starts_on, ends_on, description="", organiser=None, scope_areas=(),
                    scope_sectors=(), scope_traits=(), scope_kinds=(), target_coverage=None,
                    target_note="") -> Campaign:
    """A new campaign (筹备中) organised by ``area``, where the actor holds EDIT."""
    _actor_required(actor)
    fields, m2m = _clean_campaign(actor, dict(
        name=name, area=area, starts_on=starts_on, ends_on=ends_on, description=description, organiser=organiser,
        scope_areas=scope_areas, scope_sectors=scope_sectors, scope_traits=scope_traits,
        scope_kinds=scope_kinds, target_coverage=target_coverage, target_note=target_note))
    campaign = Campaign.objects.create(created_by=actor, **fields)
    if not can_edit_campaign(actor, campaign):
        raise Forbidden(_("您无权在该区域组织专项行动"))
    for name_, values in m2m.items():
        getattr(campaign, name_).set(values)
    changes = audit.diff({}, audit.snapshot(campaign, SNAPSHOT))
    changes.update(audit.diff({}, _m2m_snapshot(campaign)))
    audit.record("campaign.create", campaign, changes, actor=actor)
    return campaign


def _campaign_lost_race() -> Conflict:
    return Conflict(_("该专项行动已被他人处理,请刷新后重试"), code="stale")


def _claim_campaign(campaign: Campaign, statuses, **fields) -> None:
    """Write ``fields`` only if the campaign is still in one of ``statuses`` and not archived (what
    the caller read): a conditional UPDATE, portable where SQLite ignores ``select_for_update``.
    It holds the row on PostgreSQL until the transaction ends. Lost → Conflict, nothing written."""
    if not fields:
        fields = {"status": F("status")}  # hold and check only
    if Campaign.objects.filter(pk=campaign.pk, status__in=list(statuses), archived_at__isnull=True).update(
            **fields) != 1:
        raise _campaign_lost_race()


def _load_campaign_for_edit(actor, campaign) -> Campaign:
    _actor_required(actor)
    obj = get_campaign(actor, campaign, "edit")
    obj = Campaign.objects.select_for_update().get(pk=obj.pk)
    if obj.archived_at is not None:
        raise Conflict(_("该专项行动已归档"), code="archived")
    return obj


@service("inspections.update_campaign")
def update_campaign(actor, campaign, **data) -> Campaign:
    """Change a campaign's fields (only those given). A closed campaign is frozen."""
    campaign = _load_campaign_for_edit(actor, campaign)
    if campaign.status == CampaignStatus.CLOSED:
        raise Conflict(_("专项行动已结束,不能修改"), code="invalid_state")
    allowed = set(SNAPSHOT) - {"status"} | {"scope_areas", "scope_sectors", "scope_traits"}
    unknown = set(data) - allowed
    if unknown:
        raise _err(sorted(unknown)[0], _("不能修改该字段"))
    before = audit.snapshot(campaign, SNAPSHOT)
    before.update(_m2m_snapshot(campaign))
    fields, m2m = _clean_campaign(actor, data, current=campaign)
    for k, v in fields.items():
        setattr(campaign, k, v)
    _claim_campaign(campaign, [campaign.status])
    campaign.save(update_fields=[*fields, "updated_at"])  # never the status or archive fields it read
    if not can_edit_campaign(actor, campaign):
        raise Forbidden(_("您无权在该区域组织专项行动"))
    for name_, values in m2m.items():
        getattr(campaign, name_).set(values)
    after = audit.snapshot(campaign, SNAPSHOT)
    after.update(_m2m_snapshot(campaign))
    changes = audit.diff(before, after)
    audit.record("campaign.update", campaign, changes, actor=actor)
    return campaign


def _set_status(actor, campaign, source: str, target: str, verb: str) -> Campaign:
    campaign = _load_campaign_for_edit(actor, campaign)
    if campaign.status != source:
        raise Conflict(_("专项行动当前状态为“%(s)s”,不能%(verb)s") % {"s": status_label(campaign.status), "verb": verb},
                       code="invalid_state")
    _claim_campaign(campaign, [source], status=target, updated_at=timezone.now())
    campaign.refresh_from_db()
    audit.record(f"campaign.{'activate' if target == CampaignStatus.ACTIVE else 'close'}", campaign,
                 {"status": [source, target]}, actor=actor)
    return campaign


@service("inspections.activate_campaign")
def activate_campaign(actor, campaign) -> Campaign:
    """筹备中 → 进行中: inspections may now be started in it."""
    return _set_status(actor, campaign, CampaignStatus.DRAFT, CampaignStatus.ACTIVE, _("启动"))


@service("inspections.close_campaign")
def close_campaign(actor, campaign) -> Campaign:
    """进行中 → 已结束: no new inspections; figures stay."""
    return _set_status(actor, campaign, CampaignStatus.ACTIVE, CampaignStatus.CLOSED, _("结束"))


@service("inspections.archive_campaign")
def archive_campaign(actor, campaign, reason="") -> Campaign:
    """Archive a campaign (e.g. created by mistake): hidden from lists, never deleted; its
    inspections and hazards keep pointing at it."""
    campaign = _load_campaign_for_edit(actor, campaign)
    reason = _text("reason", reason, 500, _("归档理由"), required=True)
    now = timezone.now()
    _claim_campaign(campaign, CampaignStatus.values, archived_at=now, archived_by=actor, updated_at=now)
    campaign.refresh_from_db()
    audit.record("campaign.archive", campaign, {"archived_at": [None, now]}, note=reason, actor=actor)
    return campaign


def _town_officers(area) -> list:
    from yingji.core.models import RoleAssignment

    return [a.user for a in RoleAssignment.objects.filter(
        area=area, revoked_at__isnull=True, user__is_active=True,
        role__in=[roles.TOWN_OFFICER, roles.CITY_ADMIN]).select_related("user")]


def _assignees(assignment: CampaignAssignment) -> list:
    if assignment.user_id:
        return [assignment.user]
    people = []
    if assignment.area_id:
        people += _town_officers(assignment.area)
    if assignment.organisation_id:
        people += list(User.objects.filter(organisation_id=assignment.organisation_id, is_active=True,
                                           archived_at__isnull=True)[:50])
    return people


@service("inspections.add_assignment")
def add_assignment(actor, campaign, *, task, area=None, organisation=None, user=None,
                   target_sites=None) -> CampaignAssignment:
    """Give a town (area), a department (organisation) or an inspector (user) a task in the
    campaign; the assignees are notified in their inbox."""
    from yingji.core.models.notifications import NotificationKind
    from yingji.core.notifications import notify

    campaign = _load_campaign_for_edit(actor, campaign)
    if campaign.status == CampaignStatus.CLOSED:
        raise Conflict(_("专项行动已结束,不能再分派任务"), code="invalid_state")
    task = _text("task", task, 500, _("任务"), required=True)
    fields = {}
    if area not in (None, ""):
        obj = Area.objects.visible_to(actor).filter(pk=_pk(area, "area", _("责任区域无效")),
                                                    archived_at__isnull=True).first()
        if obj is None or not obj.code.startswith(campaign.area.code):
            raise _err("area", _("责任区域须在组织区域之内"))
        fields["area"] = obj
    if organisation not in (None, ""):
        obj = Organisation.objects.filter(pk=_pk(organisation, "organisation", _("责任单位无效")),
                                          archived_at__isnull=True).first()
        if obj is None:
            raise _err("organisation", _("责任单位无效"))
        fields["organisation"] = obj
    if user not in (None, ""):
        obj = User.objects.visible_to(actor).filter(pk=_pk(user, "user", _("责任人无效")), is_active=True).first()
        if obj is None:
            raise _err("user", _("责任人不存在或无权访问"))
        fields["user"] = obj
    if not fields:
        raise _err("area", _("请指定责任区域、责任单位或责任人"))
    if target_sites in (None, ""):
        target = None
    else:
        try:
            target = int(target_sites)
        except (TypeError, ValueError):
            raise _err("target_sites", _("目标检查家数须为整数")) from None
        if target < 0 or target > 1_000_000:
            raise _err("target_sites", _("目标检查家数须在0到1000000之间"))
    _claim_campaign(campaign, (CampaignStatus.DRAFT, CampaignStatus.ACTIVE))
    assignment = CampaignAssignment.objects.create(campaign=campaign, task=task, target_sites=target, **fields)
    audit.record("campaign.assign", assignment, audit.diff({}, audit.snapshot(
        assignment, ["campaign", "area", "organisation", "user", "task", "target_sites"])), actor=actor)
    audit.record("campaign.assign", campaign, {"assignment": [None, assignment.pk]}, actor=actor)
    people = [p for p in _assignees(assignment) if p.pk != actor.pk]
    if people:
        notify(people, kind=NotificationKind.ASSIGNMENT, title=_("专项行动任务:%(name)s") % {"name": campaign.name},
               body=task, link=f"/campaigns/{campaign.pk}/", obj=campaign,
               dedupe_key=f"campaign:{campaign.pk}:assignment:{assignment.pk}")
    return assignment


@service("inspections.revoke_assignment")
def revoke_assignment(actor, assignment) -> CampaignAssignment:
    """Withdraw a task (kept, marked revoked)."""
    _actor_required(actor)
    pk = _pk(assignment, "assignment", _("分工无效"))
    row = CampaignAssignment.objects.visible_to(actor).filter(pk=pk).first()
    if row is None:
        raise NotFound()
    _load_campaign_for_edit(actor, row.campaign_id)
    now = timezone.now()
    if CampaignAssignment.objects.filter(pk=pk, revoked_at__isnull=True).update(revoked_at=now) != 1:
        raise Conflict(_("该分工已撤销"), code="invalid_state")
    row.refresh_from_db()
    audit.record("campaign.revoke_assignment", row, {"revoked_at": [None, now]}, actor=actor)
    return row


# ---------------------------------------------------------------- inspections: reads

def assembled_versions(site) -> list:
    """The checklist versions to use at ``site`` (published, matching; see yingji.checklists)."""
    from yingji.checklists.services import assemble_for_site

    return list(assemble_for_site(site))


def _reaching_grants(actor, row: Inspection) -> list:
    """The actor's grants whose area/sector/site binding contains the (saved) inspection."""
    return [g for g in grants_for(actor)
            if (q := Inspection.location_q(g)) is not None and Inspection.objects.filter(q, pk=row.pk).exists()]


def _mode_allowed(mode: str, grants) -> bool:
    if mode == Mode.SELF:
        return any(g.site_ids is not None or g.allows(roles.EDIT) for g in grants)
    if mode == Mode.GRID:
        return any(g.role == roles.GRID_WORKER for g in grants)
    return any(g.site_ids is None and g.allows(roles.EDIT) for g in grants)


def colleagues_for(user, site, limit: int = 200) -> list:
    """People the user may take along to inspect ``site`` (the start form's choices): active users
    the user may see, holding an officer, inspector or grid role at the site's area or above it,
    who can see the site themselves (the service checks that again)."""
    from yingji.core.models import RoleAssignment
    from yingji.registry.models import Site

    code = site.area.code
    ancestors = [code[:n] for n in range(1, len(code) + 1)]
    holders = RoleAssignment.objects.filter(
        revoked_at__isnull=True, area__code__in=ancestors,
        role__in=[roles.TOWN_OFFICER, roles.DEPT_OFFICER, roles.INSPECTOR, roles.GRID_WORKER, roles.CITY_ADMIN],
    ).values("user_id")
    people = (User.objects.visible_to(user).filter(pk__in=holders, is_active=True, archived_at__isnull=True)
              .exclude(pk=user.pk).order_by("username")[:limit])
    return [p for p in people if Site.objects.visible_to(p).filter(pk=site.pk).exists()]


def allowed_modes(user, site, sector=None) -> list[str]:
    """The modes ``user`` may start at ``site`` (for the start form; the service re-checks)."""
    result = []
    site_sectors = set(site.sectors.values_list("pk", flat=True))
    for mode in Mode.values:
        for g in grants_for(user):
            if g.site_ids is not None:
                inside = site.pk in g.site_ids
            else:
                inside = site.area.code.startswith(g.area_code) and (
                    not g.sector_ids or bool(g.sector_ids & (site_sectors | ({sector.pk} if sector else set()))))
            if inside and (g.allows(roles.REPORT) or g.allows(roles.EDIT)) and _mode_allowed(mode, [g]):
                result.append(mode)
                break
    return result


def is_inspector(user, inspection: Inspection) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return inspection.lead_id == user.pk or inspection.inspectors.filter(pk=user.pk).exists()


def can_record(user, inspection: Inspection) -> bool:
    return (inspection.state == InspectionState.IN_PROGRESS and inspection.archived_at is None
            and is_inspector(user, inspection)
            and Inspection.objects.restrict(user, "edit").filter(pk=inspection.pk).exists())


# ---------------------------------------------------------------- inspections: writes

def _resolve_site(actor, site):
    from yingji.registry.models import Site

    if site in (None, ""):
        raise _err("site", _("请选择监管对象"))
    pk = _pk(site, "site", _("监管对象无效"))
    obj = Site.objects.visible_to(actor).filter(pk=pk).select_related("area").first()
    if obj is None:
        raise NotFound(_("监管对象不存在或无权访问"))
    if obj.archived_at is not None:
        raise _err("site", _("该监管对象已归档,不能检查"))
    return obj


def _resolve_sector(actor, sector, site) -> Sector | None:
    site_sectors = list(site.sectors.filter(archived_at__isnull=True).order_by("sort", "id"))
    if sector not in (None, ""):
        obj = Sector.objects.filter(pk=_pk(sector, "sector", _("行业领域无效")), archived_at__isnull=True).first()
        if obj is None:
            raise _err("sector", _("行业领域无效"))
        return obj
    mine: set[int] = set()
    for g in grants_for(actor):
        if g.sector_ids and g.site_ids is None and site.area.code.startswith(g.area_code):
            mine |= set(g.sector_ids)
    if mine:
        for s in site_sectors:
            if s.pk in mine:
                return s
        return Sector.objects.filter(pk=next(iter(mine)), archived_at__isnull=True).first() if len(mine) == 1 else None
    return site_sectors[0] if len(site_sectors) == 1 else None


def _resolve_campaign(actor, campaign, site):
    if campaign in (None, ""):
        return None
    obj = Campaign.objects.visible_to(actor).filter(pk=_pk(campaign, "campaign", _("专项行动无效"))).first()
    if obj is None or obj.archived_at is not None:
        raise _err("campaign", _("专项行动不存在或无权访问"))
    if obj.status != CampaignStatus.ACTIVE:
        raise _err("campaign", _("专项行动“%(name)s”未在进行中") % {"name": obj.name})
    if not sites_in_scope(obj).filter(pk=site.pk).exists():
        raise _err("campaign", _("该监管对象不在专项行动“%(name)s”的范围内") % {"name": obj.name})
    return obj


def _resolve_inspectors(actor, inspectors, site) -> list:
    from yingji.registry.models import Site

    ids = [i for i in _pks(inspectors, "inspectors", _("检查人员无效")) if i != actor.pk]
    people = list(User.objects.filter(pk__in=ids, is_active=True, archived_at__isnull=True))
    if len(people) != len(ids):
        raise _err("inspectors", _("检查人员无效"))
    for p in people:
        if not Site.objects.visible_to(p).filter(pk=site.pk).exists():
            from yingji.core.privacy import visible_people_ids

            if p.pk not in visible_people_ids(actor, [p.pk]):  # never name people the actor may not see
                raise _err("inspectors", _("检查人员无效"))
            raise _err("inspectors", _("%(name)s无权检查该监管对象") % {"name": p})
    return people


def _int_or_none(value, field: str, label: str, low: int, high: int):
    if value in (None, ""):
        return None
    try:
        n = int(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError, TypeError):
        raise _err(field, _("%(label)s须为数字") % {"label": label}) from None
    if n < low or n > high:
        raise _err(field, _("%(label)s须在%(a)d到%(b)d之间") % {"label": label, "a": low, "b": high})
    return n


def _existing_start(actor, key: str) -> Inspection | None:
    found = Inspection.objects.filter(idempotency_key=key).first()
    if found is None:
        return None
    if found.lead_id != actor.pk:
        raise Conflict(_("该幂等键已被其他操作使用"), detail={"idempotency_key": _("幂等键已被使用")},
                       code="idempotency_conflict")
    audit.record("inspection.start_repeat", found, {}, note=_("重复提交,返回已有检查"), actor=actor)
    return found


@service("inspections.start")
def start_inspection(actor, site, mode, *, campaign=None, inspectors=(), place="", latitude=None, longitude=None,
                     gps_accuracy=None, sector=None, idempotency_key=None) -> Inspection:
    """Start an inspection of ``site`` in ``mode``; the actor leads it. The checklist items of the
    versions assembled for the site become PENDING results. A retry with the same
    ``idempotency_key`` returns the inspection the first call started."""
    _actor_required(actor)
    key = clean_key(idempotency_key)
    if key is not None:
        existing = _existing_start(actor, key)
        if existing is not None:
            return existing
    site = _resolve_site(actor, site)
    if mode not in Mode.values:
        raise _err("mode", _("请选择检查方式") if mode in (None, "") else _("检查方式无效:%(v)s") % {"v": mode})
    sector = _resolve_sector(actor, sector, site)
    campaign = _resolve_campaign(actor, campaign, site)
    people = _resolve_inspectors(actor, inspectors, site)
    lat, lng = clean_coordinates(latitude, longitude, within_china=True)
    accuracy = _int_or_none(gps_accuracy, "gps_accuracy", _("定位精度"), 0, 100000)
    place = _text("place", place, 200, _("检查地点")) or site.address[:200]
    if campaign is not None:
        _claim_campaign(campaign, (CampaignStatus.ACTIVE,))  # not closed or archived since it was read
    row = Inspection(site=site, area=site.area, sector=sector, mode=mode, campaign=campaign, lead=actor,
                     started_at=timezone.now(), place=place, latitude=lat, longitude=lng, gps_accuracy=accuracy,
                     idempotency_key=key)
    try:
        with transaction.atomic():  # savepoint: a lost race on the key rolls back only this insert
            row.save(force_insert=True)
    except IntegrityError:
        existing = _existing_start(actor, key) if key else None
        if existing is None:
            raise
        return existing
    grants = _reaching_grants(actor, row)
    if not grants:
        if sector is None and any(g.sector_ids for g in grants_for(actor)):
            raise _err("sector", _("请选择您负责的行业领域"))
        raise Forbidden(_("您无权检查该监管对象"))
    if not _mode_allowed(mode, grants):
        raise Forbidden(_("您无权发起“%(mode)s”") % {"mode": Mode(mode).label})
    if people:
        row.inspectors.set(people)
    versions = assembled_versions(site)
    if versions:
        from yingji.checklists.models import ChecklistItem

        row.versions.set(versions)
        item_ids = list(ChecklistItem.objects.filter(version__in=versions).order_by(
            "version__module__sort", "version_id", "section__order", "order", "id").values_list("pk", flat=True))
        InspectionResult.objects.bulk_create(
            [InspectionResult(inspection=row, item_id=i) for i in item_ids], batch_size=500)
        Inspection.objects.filter(pk=row.pk).update(items_total=len(item_ids))
        row.items_total = len(item_ids)
    changes = audit.diff({}, audit.snapshot(row, ["site", "area", "sector", "mode", "campaign", "lead", "place",
                                                  "latitude", "longitude", "gps_accuracy", "items_total",
                                                  "idempotency_key"]))
    if people:
        changes["inspectors"] = [None, [p.pk for p in people]]
    changes["versions"] = [None, [v.pk for v in versions]]
    audit.record("inspection.start", row, changes, actor=actor)
    return row


def _load_inspection(actor, inspection, *, lock: bool = True) -> Inspection:
    """An inspection the actor may work on now: in scope for ``edit`` (else NotFound / Forbidden),
    in progress, not archived, and the actor is its lead or a co-inspector."""
    _actor_required(actor)
    pk = _pk(inspection, "inspection", _("检查记录无效"))
    qs = Inspection.objects.restrict(actor, "edit").filter(pk=pk)
    row = (qs.select_for_update() if lock else qs).first()
    if row is None:
        if Inspection.objects.visible_to(actor).filter(pk=pk).exists():
            raise Forbidden(_("您无权填写该检查记录"))
        raise NotFound()
    if row.archived_at is not None:
        raise Conflict(_("该检查记录已归档"), code="archived")
    if row.state != InspectionState.IN_PROGRESS:
        raise Conflict(_("该检查已完成,不能再修改"), code="invalid_state")
    if not is_inspector(actor, row):
        raise Forbidden(_("只有本次检查的检查人员可以填写检查结果"))
    return row


def _inspection_lost_race() -> Conflict:
    return Conflict(_("该检查已被他人完成或归档,请刷新后重试"), code="stale")


def _result_lost_race() -> Conflict:
    return Conflict(_("该检查项已被他人修改,请刷新后重试"), code="stale")


def _claim_inspection(inspection_id: int) -> None:
    """The inspection is still in progress and not archived: a conditional UPDATE (holding the row
    on PostgreSQL until the transaction ends); lost → Conflict before anything is written."""
    if Inspection.objects.filter(pk=inspection_id, state=InspectionState.IN_PROGRESS,
                                 archived_at__isnull=True).update(updated_at=timezone.now()) != 1:
        raise _inspection_lost_race()


def _load_result(actor, result, inspection=None) -> InspectionResult:
    """``result``: an InspectionResult (or id); with ``inspection``, also a checklist item (or id)."""
    if isinstance(result, InspectionResult):
        pk = result.pk
        row = InspectionResult.objects.filter(pk=pk).first()
    elif inspection is not None:
        item_id = _pk(result, "item", _("检查项无效"))
        row = InspectionResult.objects.filter(inspection_id=_pk(inspection, "inspection", _("检查记录无效")),
                                              item_id=item_id).first()
    else:
        row = InspectionResult.objects.filter(pk=_pk(result, "result", _("检查项无效"))).first()
    if row is None or not InspectionResult.objects.visible_to(actor).filter(pk=row.pk).exists():
        raise NotFound()
    if inspection is not None and row.inspection_id != _pk(inspection, "inspection", _("检查记录无效")):
        raise NotFound()
    _load_inspection(actor, row.inspection_id)
    return InspectionResult.objects.select_related("item", "inspection__site", "inspection__campaign").get(pk=row.pk)


def _refresh_tallies(inspection_id: int) -> dict:
    from yingji.hazards.models import Hazard, State

    counts = InspectionResult.objects.filter(inspection_id=inspection_id).aggregate(
        total=Count("id"), failed=Count("id", filter=Q(result=Result.FAIL)))
    found = Hazard.objects.filter(inspection_id=inspection_id, archived_at__isnull=True).exclude(
        state=State.DRAFT).count()
    fields = {"items_total": counts["total"], "items_failed": counts["failed"], "hazards_found": found}
    Inspection.objects.filter(pk=inspection_id).update(updated_at=timezone.now(), **fields)
    return fields


def record_result(actor, inspection, item, result, note="", files=()) -> InspectionResult:
    """Answer one item (符合 / 不符合 / 不适用) with a note and photos. A failed item whose
    ``photo_required`` is set needs at least one photo (now or uploaded before)."""
    created: list = []
    try:
        return _record(actor, inspection, item, result, note, files, created)
    except BaseException:
        _discard_files(created)
        raise


record_result.service_name = "inspections.record_result"


@service("inspections.record_result")
def _record(actor, inspection, item, result, note, files, created) -> InspectionResult:
    row = _load_result(actor, item, inspection)
    if result not in (Result.PASS, Result.FAIL, Result.NOT_APPLICABLE):
        raise _err("result", _("请选择符合、不符合或不适用"))
    note = _text("note", note, 1000, _("情况说明"))
    files = _files(files)
    if row.hazard_id is not None and result != Result.FAIL:
        raise Conflict(_("该检查项已登记隐患,不能再改为“%(r)s”") % {"r": Result(result).label}, code="hazard_linked")
    if (result == Result.FAIL and row.item.photo_required and not files
            and not attachments.attachments_for(actor, row).exists()):
        raise _err("files", _("该检查项不符合时须拍照上传"))
    before = audit.snapshot(row, ["result", "note"])
    now = timezone.now()
    _claim_inspection(row.inspection_id)
    if InspectionResult.objects.filter(pk=row.pk, result=row.result, answered_at=row.answered_at,
                                       hazard=row.hazard_id).update(
            result=result, note=note, answered_by=actor, answered_at=now) != 1:
        raise _result_lost_race()
    row.refresh_from_db()
    for f in files:
        created.append(attachments.add_attachment(actor, row, f))
    _refresh_tallies(row.inspection_id)
    changes = audit.diff(before, {"result": result, "note": note})
    if files:
        changes["photos"] = [None, len(files)]
    audit.record("inspection.result", row, changes, actor=actor)
    return row


@service("inspections.pass_remaining")
def pass_remaining(actor, inspection, note="") -> int:
    """其余项全部符合: answer every item still pending as 符合 in one step (an inspector who found
    nothing more). One audit entry lists the item codes. Returns how many items were answered."""
    row = _load_inspection(actor, inspection)
    note = _text("note", note, 1000, _("情况说明"))
    pending = InspectionResult.objects.filter(inspection=row, result=Result.PENDING)
    codes = list(pending.order_by("id").values_list("item__code", flat=True))
    if not codes:
        raise Conflict(_("没有未检查的项目"), code="nothing_pending")
    _claim_inspection(row.pk)
    count = pending.update(result=Result.PASS, note=note, answered_by=actor, answered_at=timezone.now())
    _refresh_tallies(row.pk)
    audit.record("inspection.pass_remaining", row, {"passed": [None, count], "items": [None, ", ".join(codes)]},
                 actor=actor)
    return count


ITEM_LABEL_MAX = 20
_CLAUSE_END = re.compile(r"[,,;;。::((]")
_MODAL = re.compile(r"^(?:应当|应|须|必须|按规定|依法)+")


def item_label(item) -> str:
    """A checklist item's short name: the subject of its requirement (the question's first
    clause without a leading 应当/按规定…), at most ``ITEM_LABEL_MAX`` characters."""
    clause = _CLAUSE_END.split(item.question.strip(), 1)[0].strip()
    clause = _MODAL.sub("", clause).strip() or item.question.strip()
    return clause if len(clause) <= ITEM_LABEL_MAX else clause[:ITEM_LABEL_MAX - 1] + "…"


def proposed_title(item, note: str = "") -> str:
    """What a failed item's hazard is called: what was found — the item's short name and the
    inspector's observation ("疏散通道、安全出口畅通:堆放杂物"), or "未符合:<short name>" without
    one. Never the requirement's text ("应当…"), which says what should be, not what was found."""
    label = item_label(item)
    note = " ".join((note or "").split())
    return (f"{label}:{note}" if note else f"{_('未符合')}:{label}")[:100]


def hazard_sector_choices(user, row: InspectionResult) -> list:
    """The sectors to choose from for a failed item's hazard: none when it is decided (the
    inspection's sector, the checklist module's, the inspector's own or the site's only one), else
    the site's sectors (or every sector for a site filed under none) — the hazards service refuses
    the hazard without one (every hazard has a sector)."""
    from yingji.hazards.services import sector_candidates

    inspection = row.inspection
    if inspection.sector_id is not None:
        return []
    site = inspection.site
    live = Sector.objects.filter(archived_at__isnull=True).order_by("sort", "id")
    site_sectors = list(site.sectors.filter(archived_at__isnull=True).order_by("sort", "id")
                        .values_list("pk", flat=True))
    candidates = sector_candidates(user, site_sectors, site.area, row.item)
    if len(candidates) == 1:
        return []
    return list(live.filter(pk__in=candidates)) if candidates else list(live)


def _hazard_defaults(row: InspectionResult, data: dict) -> dict:
    item, inspection = row.item, row.inspection
    description = (data.get("description") or "").strip() or "\n".join(p for p in (item.question, row.note) if p)
    return dict(
        title=(data.get("title") or "").strip() or proposed_title(item, row.note),
        description=description,
        level=data.get("level") or item.hazard_level,
        category=data.get("category") or item.category,
        location=(data.get("location") or "").strip() or inspection.place,
        deadline=data.get("deadline"),
        responsible_unit=(data.get("responsible_unit") or "").strip() or inspection.site.name[:100],
        responsible_person=data.get("responsible_person") or "",
        responsible_phone=data.get("responsible_phone") or "",
    )


def hazard_proposal(row: InspectionResult) -> dict:
    """The pre-filled hazard a failed item proposes (for the form)."""
    return _hazard_defaults(row, {})


def _link_hazard(actor, row: InspectionResult, key, fixed: bool, sector=None, **kwargs):
    from yingji.hazards import services as hazards

    if key is not None:
        from yingji.hazards.models import Hazard

        earlier = Hazard.objects.filter(idempotency_key=key).first()
        if earlier is not None and row.hazard_id == earlier.pk:
            audit.record("inspection.hazard_repeat", row, {}, note=_("重复提交,返回已有隐患"), actor=actor)
            return earlier
    if row.result != Result.FAIL:
        raise Conflict(_("只有“不符合”的检查项可以登记隐患"), code="invalid_state")
    if row.hazard_id is not None:
        raise Conflict(_("该检查项已登记隐患"), code="hazard_linked")
    inspection = row.inspection
    # Claim the item as read (still failed, unlinked, same answer) before the hazard is reported.
    _claim_inspection(inspection.pk)
    if InspectionResult.objects.filter(pk=row.pk, hazard__isnull=True, result=Result.FAIL,
                                       answered_at=row.answered_at).update(answered_at=F("answered_at")) != 1:
        if InspectionResult.objects.filter(pk=row.pk, hazard__isnull=False).exists():
            raise Conflict(_("该检查项已登记隐患"), code="hazard_linked")
        raise _result_lost_race()
    hazard = hazards.report_hazard(actor, inspection=inspection, checklist_item=row.item,
                                   sector=inspection.sector or sector,
                                   latitude=inspection.latitude, longitude=inspection.longitude,
                                   idempotency_key=key, fixed_on_spot=fixed, **kwargs)
    if InspectionResult.objects.filter(pk=row.pk, hazard__isnull=True).update(hazard=hazard) != 1:
        raise Conflict(_("该检查项已登记隐患"), code="hazard_linked")
    row.refresh_from_db()
    tallies = _refresh_tallies(inspection.pk)
    audit.record("inspection.fix_on_spot" if fixed else "inspection.confirm_hazard", row,
                 {"hazard": [None, hazard.pk], "hazards_found": [None, tallies["hazards_found"]]}, actor=actor)
    return hazard


def confirm_hazard(actor, result, *, title="", description="", level=None, category=None, deadline=None,
                   location="", responsible_unit="", responsible_person="", responsible_phone="", files=(),
                   idempotency_key=None, sector=None):
    """Register the hazard a failed item proposes (values edited or the item's defaults: title =
    item short name + observation (``proposed_title``), level and category from the item,
    description = question + note; ``sector`` when ``hazard_sector_choices`` asks for one); the
    result links to it."""
    return _confirm(actor, result, dict(title=title, description=description, level=level, category=category,
                                        deadline=deadline, location=location, responsible_unit=responsible_unit,
                                        responsible_person=responsible_person,
                                        responsible_phone=responsible_phone, sector=sector), files, idempotency_key)


confirm_hazard.service_name = "inspections.confirm_hazard"


@service("inspections.confirm_hazard")
def _confirm(actor, result, data, files, idempotency_key):
    key = clean_key(idempotency_key)
    row = _load_result(actor, result)
    return _link_hazard(actor, row, key, False, files=_files(files), sector=data.get("sector"),
                        **_hazard_defaults(row, data))


def fix_on_spot(actor, result, *, rectification_description="", files=(), title="", description="", level=None,
                category=None, location="", cost=None, idempotency_key=None, sector=None):
    """Record a failed item as fixed on the spot (当场整改): a hazard closed at once with evidence.
    Major hazards are refused by the hazards service."""
    return _fix(actor, result, dict(title=title, description=description, level=level, category=category,
                                    location=location, sector=sector), rectification_description, files, cost,
                idempotency_key)


fix_on_spot.service_name = "inspections.fix_on_spot"


@service("inspections.fix_on_spot")
def _fix(actor, result, data, rectification_description, files, cost, idempotency_key):
    key = clean_key(idempotency_key)
    row = _load_result(actor, result)
    fields = _hazard_defaults(row, data)
    fields.pop("deadline")
    return _link_hazard(actor, row, key, True, sector=data.get("sector"),
                        rectification_description=rectification_description,
                        rectification_files=_files(files), cost=cost, **fields)


@service("inspections.complete")
def complete_inspection(actor, inspection, summary="") -> Inspection:
    """Finish an inspection: every item answered, and every failed item either registered as a
    hazard or fixed on the spot. The tallies are recomputed from the results."""
    row = _load_inspection(actor, inspection)
    summary = _text("summary", summary, 5000, _("检查结论"))
    results = InspectionResult.objects.filter(inspection_id=row.pk)
    pending = results.filter(result=Result.PENDING).count()
    if pending:
        raise Conflict(_("还有%(n)d项未检查,请逐项填写(不涉及的请选“不适用”)后再完成") % {"n": pending},
                       code="pending_items", detail={"pending": pending})
    open_failures = results.filter(result=Result.FAIL, hazard__isnull=True).count()
    if open_failures:
        raise Conflict(_("有%(n)d个不符合项尚未登记隐患或当场整改") % {"n": open_failures},
                       code="unresolved_failures", detail={"unresolved": open_failures})
    now = timezone.now()
    if Inspection.objects.filter(pk=row.pk, state=InspectionState.IN_PROGRESS, archived_at__isnull=True).update(
            state=InspectionState.COMPLETED, completed_at=now, summary=summary, updated_at=now) != 1:
        if Inspection.objects.filter(pk=row.pk, state=InspectionState.COMPLETED).exists():
            raise Conflict(_("该检查已完成,不能再修改"), code="invalid_state")
        raise _inspection_lost_race()
    before = audit.snapshot(row, ["state", "items_total", "items_failed", "hazards_found"])
    tallies = _refresh_tallies(row.pk)
    row.refresh_from_db()
    audit.record("inspection.complete", row, audit.diff(before, {"state": InspectionState.COMPLETED, **tallies}),
                 note=summary[:500], actor=actor)
    return row


@service("inspections.archive")
def archive_inspection(actor, inspection, reason="") -> Inspection:
    """Archive an inspection (e.g. started by mistake): hidden from lists and figures, never deleted.
    Officers with EDIT over it only."""
    _actor_required(actor)
    pk = _pk(inspection, "inspection", _("检查记录无效"))
    row = Inspection.objects.restrict(actor, "manage").select_for_update().filter(pk=pk).first()
    if row is None:
        if Inspection.objects.visible_to(actor).filter(pk=pk).exists():
            raise Forbidden(_("您无权归档该检查记录"))
        raise NotFound()
    if row.archived_at is not None:
        raise Conflict(_("该检查记录已归档"), code="archived")
    reason = _text("reason", reason, 500, _("归档理由"), required=True)
    now = timezone.now()
    if Inspection.objects.filter(pk=row.pk, archived_at__isnull=True).update(
            archived_at=now, archived_by=actor, updated_at=now) != 1:
        raise Conflict(_("该检查记录已被他人归档,请刷新后重试"), code="stale")
    row.refresh_from_db()
    audit.record("inspection.archive", row, {"archived_at": [None, now]}, note=reason, actor=actor)
    return row
