"""Campaigns (专项行动) and inspections (检查).

``Campaign``: a time-boxed drive organised by an area's office (the county, or a town) with a
scope (areas, sectors, risk traits, site kinds; empty = no restriction) and targets;
``CampaignAssignment`` says who does what (a town, a department, an inspector).
Coverage = distinct sites with a completed inspection in the campaign ÷ sites in scope.

``Inspection``: one visit to one site in one mode, by its inspectors, at a time and place (GPS
from the phone where given), optionally within a campaign, using the checklist versions
assembled for the site (``yingji.checklists``). ``InspectionResult`` is one item's answer with
notes (photos are core attachments on it); a failed item proposes a hazard that the inspector
confirms (``hazards.Hazard.inspection``/``checklist_item`` point back) or records as fixed on the
spot (当场整改).

Scoping: inspections and results sit in the site's area and are visible like the site (area
subtree, the inspection's sector, the enterprise's bound sites). Officers (EDIT) edit them; grid
workers and enterprises (REPORT only) edit them only while in progress (see ``_inspection_q``).
A campaign is visible to users inside its organising area and to users of the areas below it
that it concerns — no scope areas, or a scope area above, at or below theirs (a town officer
sees the county's campaigns); it is editable with EDIT over the organising area.
All writes go through ``yingji.inspections.services``.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from yingji.core import roles
from yingji.core.models.base import Archivable, Timestamped
from yingji.core.scoping import Grant, ScopedModel


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("筹备中")
    ACTIVE = "active", _("进行中")
    CLOSED = "closed", _("已结束")


class Campaign(ScopedModel, Archivable, Timestamped):
    scope_area = "area"
    scope_capabilities = {"view": roles.VIEW, "edit": roles.EDIT}

    name = models.CharField(_("名称"), max_length=100)
    description = models.TextField(_("工作要求"), blank=True)
    area = models.ForeignKey("core.Area", on_delete=models.PROTECT, related_name="campaigns",
                             verbose_name=_("组织区域"))
    organiser = models.ForeignKey("core.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="campaigns", verbose_name=_("牵头单位"))
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    status = models.CharField(_("状态"), max_length=8, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    # Scope: empty means "no restriction on this dimension" (areas: the organising area's subtree).
    scope_areas = models.ManyToManyField("core.Area", blank=True, related_name="+", verbose_name=_("范围:区域"))
    scope_sectors = models.ManyToManyField("core.Sector", blank=True, related_name="campaigns",
                                           verbose_name=_("范围:行业领域"))
    scope_traits = models.ManyToManyField("registry.RiskTrait", blank=True, related_name="campaigns",
                                          verbose_name=_("范围:风险特征"))
    scope_kinds = models.JSONField(_("范围:对象类别"), default=list, blank=True)  # registry SiteKind values
    target_coverage = models.DecimalField(_("目标覆盖率(%)"), max_digits=5, decimal_places=2, null=True, blank=True)
    target_note = models.CharField(_("目标说明"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("创建人"))

    class Meta:
        ordering = ["-starts_on", "-id"]
        verbose_name = _("专项行动")
        verbose_name_plural = _("专项行动")
        indexes = [models.Index(fields=["area", "status"], name="inspections_campaign_area")]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_q(cls, grant: Grant, action: str) -> Q | None:
        capability = cls.capability_for(action)
        if capability is None or not grant.allows(capability) or grant.site_ids is not None:
            return None
        inside = cls.location_q(grant)
        if action != "view" or grant.area_is_root:
            return inside
        # Campaigns organised above the user's area concern it too, unless their scope is
        # narrowed to other areas: no scope areas, or a scope area above, at or below the user's.
        code = grant.area_code
        ancestors = [code[:n] for n in range(1, len(code))]
        through = cls.scope_areas.through
        concerning = through.objects.filter(
            Q(area__code__in=ancestors + [code]) | Q(area__code__startswith=code)).values("campaign_id")
        narrowed = through.objects.values("campaign_id")
        return inside | (Q(area__code__in=ancestors) & (~Q(pk__in=narrowed) | Q(pk__in=concerning)))


class CampaignAssignment(ScopedModel):
    """Who does what in a campaign: a town (area), a department (organisation) or an inspector."""

    scope_area = "campaign__area"
    scope_capabilities = {"view": roles.VIEW}

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="assignments")
    area = models.ForeignKey("core.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("责任区域"))
    organisation = models.ForeignKey("core.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("责任单位"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+", verbose_name=_("责任人"))
    task = models.CharField(_("任务"), max_length=500)
    target_sites = models.PositiveIntegerField(_("目标检查家数"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)

    class Meta:
        ordering = ["campaign", "id"]
        verbose_name = _("专项行动分工")
        verbose_name_plural = _("专项行动分工")

    def __str__(self) -> str:
        return self.task[:30]

    @classmethod
    def scope_q(cls, grant: Grant, action: str) -> Q | None:
        inner = Campaign.scope_q(grant, action)
        if inner is None:
            return None
        if not inner:
            return inner
        return Q(campaign__in=Campaign.objects.filter(inner).values("pk"))


class Mode(models.TextChoices):
    SELF = "self", _("企业自查")
    GRID = "grid", _("网格巡查")
    TOWN = "town", _("镇街检查")
    DEPARTMENT = "department", _("部门检查")
    SPOT = "spot", _("执法抽查")
    SERVICE = "service", _("服务式执法")


class InspectionState(models.TextChoices):
    IN_PROGRESS = "in_progress", _("检查中")
    COMPLETED = "completed", _("已完成")


def _inspection_q(cls, grant: Grant, action: str, state_path: str) -> Q | None:
    """Actions on inspections and their results:

    ``view``    VIEW over the location (area subtree, sector, the enterprise's bound sites)
    ``manage``  EDIT over the location (officers, inspectors): archive, supervise
    ``edit``    EDIT over the location; REPORT-only grants (grid workers, enterprises) only while
                the inspection is in progress (their own patrols and self-inspections)
    """
    if action == "manage":
        if grant.site_ids is not None or not grant.allows(roles.EDIT):
            return None
        return cls.location_q(grant)
    if action == "edit" and not grant.allows(roles.EDIT):
        if not grant.allows(roles.REPORT):
            return None
        location = cls.location_q(grant)
        return None if location is None else location & Q(**{state_path: InspectionState.IN_PROGRESS})
    return ScopedModel.scope_q.__func__(cls, grant, action)


class Inspection(ScopedModel, Archivable, Timestamped):
    scope_area = "area"
    scope_sector = "sector"
    scope_site = "site"
    scope_capabilities = {"view": roles.VIEW, "edit": roles.EDIT}

    site = models.ForeignKey("registry.Site", on_delete=models.PROTECT, related_name="inspections",
                             verbose_name=_("监管对象"))
    area = models.ForeignKey("core.Area", on_delete=models.PROTECT, related_name="inspections",
                             verbose_name=_("所属区域"), db_index=False)  # the site's area
    sector = models.ForeignKey("core.Sector", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="inspections", verbose_name=_("行业领域"))
    mode = models.CharField(_("检查方式"), max_length=12, choices=Mode.choices)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="inspections", verbose_name=_("专项行动"), db_index=False)
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("检查负责人"))
    inspectors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+",
                                        verbose_name=_("检查人员"))
    started_at = models.DateTimeField(_("检查时间"))
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    place = models.CharField(_("检查地点"), max_length=200, blank=True)
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    gps_accuracy = models.PositiveIntegerField(_("定位精度(米)"), null=True, blank=True)
    versions = models.ManyToManyField("checklists.ChecklistVersion", blank=True, related_name="inspections",
                                      verbose_name=_("使用的检查清单版本"))
    state = models.CharField(_("状态"), max_length=12, choices=InspectionState.choices,
                             default=InspectionState.IN_PROGRESS)
    summary = models.TextField(_("检查结论"), blank=True)
    # Denormalised tallies, maintained by the services (lists and figures read them).
    items_total = models.PositiveIntegerField(_("检查项数"), default=0)
    items_failed = models.PositiveIntegerField(_("不符合项数"), default=0)
    hazards_found = models.PositiveIntegerField(_("发现隐患数"), default=0)
    idempotency_key = models.CharField(max_length=64, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("检查记录")
        verbose_name_plural = _("检查记录")
        indexes = [
            models.Index(fields=["area", "id"], name="inspections_area_id"),
            models.Index(fields=["site", "started_at"], name="inspections_site_time"),
            models.Index(fields=["campaign", "state", "site"], name="inspections_campaign_site"),
            models.Index(fields=["mode", "id"], name="inspections_mode_id"),
            models.Index(fields=["started_at"], name="inspections_started"),
        ]

    def __str__(self) -> str:
        return f"{self.get_mode_display()} #{self.pk}"

    @classmethod
    def scope_q(cls, grant: Grant, action: str) -> Q | None:
        return _inspection_q(cls, grant, action, "state")


class Result(models.TextChoices):
    PENDING = "pending", _("未检查")
    PASS = "pass", _("符合")
    FAIL = "fail", _("不符合")
    NOT_APPLICABLE = "na", _("不适用")


class InspectionResult(ScopedModel):
    scope_area = "inspection__area"
    scope_sector = "inspection__sector"
    scope_site = "inspection__site"
    scope_capabilities = {"view": roles.VIEW, "edit": roles.EDIT}

    inspection = models.ForeignKey(Inspection, on_delete=models.PROTECT, related_name="results")
    item = models.ForeignKey("checklists.ChecklistItem", on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("检查项"))
    result = models.CharField(_("检查结果"), max_length=8, choices=Result.choices, default=Result.PENDING)
    note = models.CharField(_("情况说明"), max_length=1000, blank=True)
    hazard = models.ForeignKey("hazards.Hazard", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name=_("对应隐患"))
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["inspection", "id"]
        verbose_name = _("检查项结果")
        verbose_name_plural = _("检查项结果")
        constraints = [
            models.UniqueConstraint(fields=["inspection", "item"], name="inspections_result_item_uniq"),
        ]

    def __str__(self) -> str:
        return f"#{self.inspection_id} {self.item_id} {self.result}"

    @classmethod
    def scope_q(cls, grant: Grant, action: str) -> Q | None:
        return _inspection_q(cls, grant, action, "inspection__state")
