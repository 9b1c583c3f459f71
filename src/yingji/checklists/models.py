"""Modular checklists (模块化检查清单): reference data, versioned.

A ``ChecklistModule`` is one module (general safety management, dust explosion, …) that applies
to sites by sector, risk trait and/or site kind (or to every site: ``applies_to_all``). Its
content lives in ``ChecklistVersion`` → ``ChecklistSection`` → ``ChecklistItem``. A version is a
draft (editable), published (the one in use; frozen) or superseded. Editing a published module
makes a new draft copied from it; publishing the draft supersedes the old version. Inspections
keep the versions and items they used, so old inspections always show the questions asked.

``MajorHazardCriterion`` holds the criteria of the major-hazard standards (e.g. 工贸企业重大事故
隐患判定标准, 应急管理部令第10号) that an item may cite: failing such an item means a major hazard.

Checklists are visible to every signed-in user; only holders of MANAGE_REFERENCE edit them.
All writes go through ``yingji.checklists.services``.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from yingji.core.models.base import Archivable, Timestamped


class HazardLevel(models.TextChoices):
    # Same values as yingji.hazards.models.Level.
    GENERAL = "general", _("一般隐患")
    MAJOR = "major", _("重大隐患")


class MajorHazardCriterion(models.Model):
    """One criterion of a major-hazard standard (判定标准), e.g. 工贸行业 第十三条(一)."""

    code = models.CharField(_("编号"), max_length=32, unique=True)
    standard = models.CharField(_("标准"), max_length=100)
    clause = models.CharField(_("条款"), max_length=32, blank=True)
    text = models.TextField(_("判定内容"))
    sort = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort", "code"]
        verbose_name = _("重大事故隐患判定标准条款")
        verbose_name_plural = _("重大事故隐患判定标准条款")

    def __str__(self) -> str:
        return f"{self.code} {self.text[:30]}"


class ChecklistModule(Archivable, Timestamped):
    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    description = models.CharField(_("说明"), max_length=500, blank=True)
    applies_to_all = models.BooleanField(_("适用于所有对象"), default=False)
    sectors = models.ManyToManyField("core.Sector", blank=True, related_name="checklist_modules",
                                     verbose_name=_("适用行业领域"))
    traits = models.ManyToManyField("registry.RiskTrait", blank=True, related_name="checklist_modules",
                                    verbose_name=_("适用风险特征"))
    site_kinds = models.JSONField(_("适用对象类别"), default=list, blank=True)  # SiteKind values
    sort = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort", "code"]
        verbose_name = _("检查清单模块")
        verbose_name_plural = _("检查清单模块")

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")
    SUPERSEDED = "superseded", _("已被替代")


class ChecklistVersion(Timestamped):
    module = models.ForeignKey(ChecklistModule, on_delete=models.PROTECT, related_name="versions",
                               verbose_name=_("模块"))
    number = models.PositiveIntegerField(_("版本号"))
    status = models.CharField(_("状态"), max_length=12, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    note = models.CharField(_("修订说明"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("创建人"))
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("发布人"))

    class Meta:
        ordering = ["module", "-number"]
        verbose_name = _("检查清单版本")
        verbose_name_plural = _("检查清单版本")
        constraints = [
            models.UniqueConstraint(fields=["module", "number"], name="checklists_version_number_uniq"),
            models.UniqueConstraint(fields=["module"], condition=Q(status="draft"),
                                    name="checklists_one_draft_per_module"),
            models.UniqueConstraint(fields=["module"], condition=Q(status="published"),
                                    name="checklists_one_published_per_module"),
        ]

    def __str__(self) -> str:
        return f"{self.module.name} v{self.number}"

    @property
    def is_editable(self) -> bool:
        return self.status == VersionStatus.DRAFT


class ChecklistSection(models.Model):
    version = models.ForeignKey(ChecklistVersion, on_delete=models.PROTECT, related_name="sections")
    order = models.PositiveIntegerField(_("顺序"), default=0)
    title = models.CharField(_("标题"), max_length=100)

    class Meta:
        ordering = ["version", "order", "id"]
        verbose_name = _("检查清单分节")
        verbose_name_plural = _("检查清单分节")

    def __str__(self) -> str:
        return self.title


class ChecklistItem(models.Model):
    version = models.ForeignKey(ChecklistVersion, on_delete=models.PROTECT, related_name="items")
    section = models.ForeignKey(ChecklistSection, on_delete=models.PROTECT, related_name="items")
    order = models.PositiveIntegerField(_("顺序"), default=0)
    code = models.CharField(_("编号"), max_length=32)
    question = models.CharField(_("检查内容"), max_length=500)
    basis = models.CharField(_("依据"), max_length=500, blank=True)
    hazard_level = models.CharField(_("不符合时隐患等级"), max_length=8, choices=HazardLevel.choices,
                                    default=HazardLevel.GENERAL)
    criterion = models.ForeignKey(MajorHazardCriterion, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="items", verbose_name=_("对应重大隐患判定条款"))
    category = models.CharField(_("隐患类别"), max_length=16, default="other")  # hazards.models.Category value
    photo_required = models.BooleanField(_("不符合时须拍照"), default=False)

    class Meta:
        ordering = ["version", "section__order", "order", "id"]
        verbose_name = _("检查项")
        verbose_name_plural = _("检查项")
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="checklists_item_code_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.question[:30]}"
