"""Four-colour risk grading of supervised sites (红/橙/黄/蓝 = 重大/较大/一般/低).

A site's colour comes from configurable rules (:class:`RuleSet` with its :class:`Rule` rows):
inherent factors (industry, traits, kind, scale, head count) plus dynamic factors that other
modules feed through :func:`yingji.risk.services.set_dynamic_factors` into
:class:`SiteRiskFactor` (open and major hazards, overdue hazards, enforcement cases, accidents).
Each computation that changes a site's result is kept as a :class:`SiteRiskAssessment`
(history, with every factor and its points); ``registry.Site.risk_colour`` holds the latest colour.

Rule sets are versioned reference data: publishing never edits a set, it creates the next
version and deactivates the previous one (kept for history). Exactly one set is active.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from yingji.core import roles
from yingji.core.scoping import Grant, ScopedModel, area_subtree_ids

# Colours from lowest to highest.
COLOUR_ORDER = ("blue", "yellow", "orange", "red")
COLOUR_RANK = {c: i for i, c in enumerate(COLOUR_ORDER)}


class Colour(models.TextChoices):
    RED = "red", _("红(重大风险)")
    ORANGE = "orange", _("橙(较大风险)")
    YELLOW = "yellow", _("黄(一般风险)")
    BLUE = "blue", _("蓝(低风险)")


class Factor(models.TextChoices):
    INDUSTRY_SECTION = "industry_section", _("行业门类")
    INDUSTRY_DIVISION = "industry_division", _("行业大类")
    TRAIT = "trait", _("风险特征")
    SITE_KIND = "site_kind", _("对象类别")
    SCALE = "scale", _("规模")
    EMPLOYEES_AT_LEAST = "employees_at_least", _("从业人数不少于")
    OPEN_HAZARDS = "open_hazards", _("未整改隐患数")
    OPEN_MAJOR_HAZARDS = "open_major_hazards", _("未整改重大隐患数")
    OVERDUE_HAZARDS = "overdue_hazards", _("逾期未整改隐患数")
    ENFORCEMENT_CASES_12M = "enforcement_cases_12m", _("近12个月执法立案数")
    ACCIDENTS_12M = "accidents_12m", _("近12个月生产安全事故数")


# Counting (dynamic) factors: the value is a count kept in SiteRiskFactor.
DYNAMIC_FACTORS = (
    Factor.OPEN_HAZARDS, Factor.OPEN_MAJOR_HAZARDS, Factor.OVERDUE_HAZARDS, Factor.ENFORCEMENT_CASES_12M,
    Factor.ACCIDENTS_12M,
)
DYNAMIC_FIELDS = tuple(str(f) for f in DYNAMIC_FACTORS)


class RuleSet(models.Model):
    """One published version of the grading rules. Never edited after publishing."""

    name = models.CharField(_("名称"), max_length=64)
    version = models.PositiveIntegerField(_("版本"), unique=True)
    is_active = models.BooleanField(_("现行"), default=False)
    red_at = models.IntegerField(_("红色(重大风险)分值下限"))
    orange_at = models.IntegerField(_("橙色(较大风险)分值下限"))
    yellow_at = models.IntegerField(_("黄色(一般风险)分值下限"))
    note = models.CharField(_("修订说明"), max_length=500, blank=True)
    changes = models.JSONField(_("与上一版本的差异"), default=dict, blank=True)
    published_at = models.DateTimeField(_("发布时间"))
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("发布人"))

    class Meta:
        ordering = ["-version"]
        verbose_name = _("风险分级规则集")
        verbose_name_plural = _("风险分级规则集")
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="risk_ruleset_one_active"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def thresholds(self) -> dict:
        return {"red": self.red_at, "orange": self.orange_at, "yellow": self.yellow_at}

    def delete(self, *args, **kwargs):
        from yingji.core.scoping import HardDeleteForbidden

        raise HardDeleteForbidden("rule sets are superseded, never deleted")


class Rule(models.Model):
    """One scoring rule of a rule set.

    * Inherent factors fire when the site matches ``match`` (an industry section letter or
      division code, a trait code, a site kind, a scale) or, for ``employees_at_least``, when the
      head count is at least ``match``; they add ``points``.
    * Counting factors fire when the count is at least ``match`` (default 1) and add
      ``points + per_unit × count``, capped at ``cap`` when set.

    A fired rule with ``floor_colour`` lifts the colour to at least that colour, whatever the score.
    """

    ruleset = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="rules")
    factor = models.CharField(_("因素"), max_length=24, choices=Factor.choices)
    match = models.CharField(_("匹配值"), max_length=32, blank=True)
    points = models.IntegerField(_("分值"), default=0)
    per_unit = models.IntegerField(_("每项加分"), default=0)
    cap = models.IntegerField(_("封顶分值"), null=True, blank=True)
    floor_colour = models.CharField(_("最低等级"), max_length=8, choices=Colour.choices, blank=True)
    label = models.CharField(_("说明"), max_length=64)
    sort = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["ruleset", "sort", "id"]
        verbose_name = _("风险分级规则")
        verbose_name_plural = _("风险分级规则")

    def __str__(self) -> str:
        return self.label

    @property
    def is_dynamic(self) -> bool:
        return self.factor in DYNAMIC_FIELDS

    def delete(self, *args, **kwargs):
        from yingji.core.scoping import HardDeleteForbidden

        raise HardDeleteForbidden("rules belong to a published rule set, never deleted")


class SiteRiskFactor(models.Model):
    """The dynamic inputs of one site's grade, written only by
    :func:`yingji.risk.services.set_dynamic_factors` (hazards, enforcement, accidents modules).
    Not read directly by users: it is shown through the site's assessment."""

    site = models.OneToOneField("registry.Site", on_delete=models.PROTECT, related_name="risk_factors")
    open_hazards = models.PositiveIntegerField(_("未整改隐患数"), default=0)
    open_major_hazards = models.PositiveIntegerField(_("未整改重大隐患数"), default=0)
    overdue_hazards = models.PositiveIntegerField(_("逾期未整改隐患数"), default=0)
    enforcement_cases_12m = models.PositiveIntegerField(_("近12个月执法立案数"), default=0)
    accidents_12m = models.PositiveIntegerField(_("近12个月生产安全事故数"), default=0)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("动态风险因素")
        verbose_name_plural = _("动态风险因素")

    def __str__(self) -> str:
        return f"{self.site_id}: {self.counts()}"

    def counts(self) -> dict:
        return {f: getattr(self, f) for f in DYNAMIC_FIELDS}


class Reason(models.TextChoices):
    INITIAL = "initial", _("首次评定")
    RULE_CHANGE = "rule_change", _("规则调整")
    SITE_CHANGE = "site_change", _("对象信息变更")
    DYNAMIC_UPDATE = "dynamic_update", _("动态因素变化")


class SiteRiskAssessment(ScopedModel):
    """One computed grade of a site, kept as history. Written only when the result changed.

    Scoped through its site: the site's area subtree, its supervising sectors (M2M) and, for
    enterprise safety managers, the sites bound to them. Nobody edits history.
    """

    scope_area = "site__area"
    scope_sector = "site__sectors"
    scope_sector_is_m2m = True
    scope_site = "site"
    scope_capabilities = {"view": roles.VIEW}

    site = models.ForeignKey("registry.Site", on_delete=models.PROTECT, related_name="risk_assessments")
    ruleset = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="assessments")
    score = models.IntegerField(_("风险分值"))
    colour = models.CharField(_("风险等级"), max_length=8, choices=Colour.choices)
    previous_colour = models.CharField(_("原风险等级"), max_length=8, choices=Colour.choices, blank=True)
    factors = models.JSONField(_("计分因素"), default=list)
    digest = models.CharField(max_length=16, help_text="fingerprint of score, colour and factors (engine.digest)")
    reason = models.CharField(_("原因"), max_length=16, choices=Reason.choices)
    computed_at = models.DateTimeField(_("评定时间"))
    computed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")

    class Meta:
        ordering = ["-id"]
        verbose_name = _("风险评定记录")
        verbose_name_plural = _("风险评定记录")
        indexes = [models.Index(fields=["site", "id"], name="risk_assessment_site_id")]

    def __str__(self) -> str:
        return f"{self.site_id} {self.colour} {self.score}"

    @property
    def colour_label(self) -> str:
        return str(Colour(self.colour).label) if self.colour else ""

    @classmethod
    def location_q(cls, grant: Grant) -> Q | None:
        """The site's own rule, expressed through the ``site`` FK (the generic rule cannot follow
        an M2M across a relation)."""
        from yingji.registry.models import Site

        if grant.site_ids is not None:
            return Q(site_id__in=list(grant.site_ids)) if grant.site_ids else None
        q = Q()
        if not grant.area_is_root:
            q &= Q(site__area_id__in=area_subtree_ids(grant.area_code))
        if grant.sector_ids:
            through = Site.sectors.through
            q &= Q(site_id__in=through.objects.filter(sector_id__in=list(grant.sector_ids)).values("site_id"))
        return q
