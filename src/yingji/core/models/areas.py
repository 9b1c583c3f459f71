from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import Archivable, ScopedModel, Timestamped


class AreaLevel(models.IntegerChoices):
    COUNTY = 1, _("县(市)")
    TOWN = 2, _("镇街")
    VILLAGE = 3, _("村社")
    GRID = 4, _("网格")


# Digits each level adds to the prefix-nested code: 330681 / 001 / 001 / 001.
LEVEL_CODE_LENGTH = {AreaLevel.COUNTY: 6, AreaLevel.TOWN: 9, AreaLevel.VILLAGE: 12, AreaLevel.GRID: 15}


class Area(ScopedModel, Archivable, Timestamped):
    """An administrative area. ``code`` is prefix-nested, so a subtree is ``code LIKE 'prefix%'``.

    County 330681, town 330681001, village 330681001001 (the 12-digit statistical code), grid
    330681001001001. ``division_code`` gives the 12-digit statistical form.
    """

    scope_area = "self"
    scope_capabilities = {"view": "view", "edit": "manage_areas"}

    code = models.CharField(_("区划代码"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    level = models.PositiveSmallIntegerField(_("层级"), choices=AreaLevel.choices)
    kind = models.CharField(_("类型"), max_length=16, blank=True, help_text=_("街道、镇、乡、村、社区、网格"))
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    is_demo = models.BooleanField(_("演示数据"), default=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("行政区域")
        verbose_name_plural = _("行政区域")
        indexes = [models.Index(fields=["parent", "code"]), models.Index(fields=["level", "code"])]

    def __str__(self) -> str:
        return self.name

    @property
    def division_code(self) -> str:
        return self.code[:12].ljust(12, "0")

    @property
    def full_name(self) -> str:
        return " / ".join(a.name for a in self.ancestors(include_self=True))

    def ancestors(self, include_self: bool = False):
        """Ancestors root-first, found by code prefixes (one query)."""
        prefixes = [self.code[:n] for n in LEVEL_CODE_LENGTH.values() if n < len(self.code)]
        if include_self:
            prefixes.append(self.code)
        return list(Area.objects.filter(code__in=prefixes).order_by("level"))

    def is_within(self, other: "Area") -> bool:
        return self.code.startswith(other.code)
