"""Supervised sites (监管对象): enterprises and places.

A :class:`Site` is scoped like every business record: by its area (块, down to a grid), by its
supervising sectors (条, many-to-many) and, for enterprise safety managers, by the sites bound
to their role assignment (:class:`SiteBinding`). Industry (GB/T 4754-2017) and risk traits are
reference data loaded by data migrations.

Scale: ~170k sites per county and ~2M per province, so every list filter has an index, lists
page by keyset on ``id`` and nothing counts the whole table.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from yingji.core.models.base import Archivable, Timestamped
from yingji.core.scoping import ScopedModel


class IndustryLevel(models.TextChoices):
    SECTION = "section", _("门类")
    DIVISION = "division", _("大类")


class Industry(models.Model):
    """GB/T 4754-2017 industry classification: 20 sections (A-T) and 97 divisions (01-97)."""

    code = models.CharField(_("代码"), max_length=8, unique=True)
    level = models.CharField(_("层级"), max_length=10, choices=IndustryLevel.choices)
    section = models.CharField(_("门类"), max_length=1, db_index=True)
    name = models.CharField(_("名称"), max_length=64)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")

    class Meta:
        ordering = ["section", "level", "code"]
        verbose_name = _("国民经济行业")
        verbose_name_plural = _("国民经济行业")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def is_section(self) -> bool:
        return self.level == IndustryLevel.SECTION


class RiskTrait(models.Model):
    """A risk trait of a site (涉危险化学品, 粉尘涉爆, 涉氨制冷, 有限空间, …). Reference data."""

    code = models.CharField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=32)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    sort = models.PositiveIntegerField(default=0)
    archived_at = models.DateTimeField(_("停用时间"), null=True, blank=True)

    class Meta:
        ordering = ["sort", "code"]
        verbose_name = _("风险特征")
        verbose_name_plural = _("风险特征")

    def __str__(self) -> str:
        return self.name


class SiteKind(models.TextChoices):
    ENTERPRISE = "enterprise", _("企业")
    INDIVIDUAL = "individual", _("个体工商户")
    SMALL_PLACE = "small_place", _("小场所(九小场所)")
    CROWDED_PLACE = "crowded_place", _("人员密集场所")
    RENTAL_HOUSING = "rental_housing", _("居住出租房")
    SELF_BUILT = "self_built", _("自建房")
    CONSTRUCTION = "construction", _("建设工地")
    PARK = "park", _("园区/厂房")
    OTHER = "other", _("其他")


# Kinds that must carry a unified social credit code (others may leave it empty).
CREDIT_CODE_REQUIRED_KINDS = frozenset({SiteKind.ENTERPRISE})


class SiteStatus(models.TextChoices):
    OPERATING = "operating", _("在营")
    SUSPENDED = "suspended", _("停产停业")
    CLOSED = "closed", _("关闭")


class SiteScale(models.TextChoices):
    LARGE = "large", _("大型")
    MEDIUM = "medium", _("中型")
    SMALL = "small", _("小型")
    MICRO = "micro", _("微型")
    # What towns' sheets say instead of large/medium/small/micro (statistics' "designated size").
    ABOVE = "above", _("规上(规模以上)")
    BELOW = "below", _("规下(规模以下)")
    QUOTA_ABOVE = "q_above", _("限上(限额以上)")
    QUOTA_BELOW = "q_below", _("限下(限额以下)")


class RiskColour(models.TextChoices):
    RED = "red", _("红(重大风险)")
    ORANGE = "orange", _("橙(较大风险)")
    YELLOW = "yellow", _("黄(一般风险)")
    BLUE = "blue", _("蓝(低风险)")


class SiteSource(models.TextChoices):
    MANUAL = "manual", _("手工录入")
    IMPORT = "import", _("批量导入")
    DEMO = "demo", _("演示数据")
    SEED = "seed", _("压测数据")


class Site(ScopedModel, Archivable, Timestamped):
    """A supervised enterprise or place."""

    scope_area = "area"
    scope_sector = "sectors"
    scope_sector_is_m2m = True
    scope_site = "pk"

    kind = models.CharField(_("类别"), max_length=16, choices=SiteKind.choices, default=SiteKind.ENTERPRISE)
    name = models.CharField(_("名称"), max_length=100)
    name_pinyin = models.CharField(_("名称拼音首字母"), max_length=100, blank=True, db_index=True)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, null=True, blank=True, db_index=True)
    # FK columns below are indexed by the (column, id) composite indexes in Meta, not on their own.
    industry = models.ForeignKey(Industry, null=True, blank=True, on_delete=models.PROTECT, related_name="sites",
                                 verbose_name=_("国民经济行业"), db_index=False)
    sectors = models.ManyToManyField("core.Sector", blank=True, related_name="sites", verbose_name=_("监管行业领域"))
    traits = models.ManyToManyField(RiskTrait, blank=True, related_name="sites", verbose_name=_("风险特征"))
    scale = models.CharField(_("规模"), max_length=8, choices=SiteScale.choices, blank=True)
    employees = models.PositiveIntegerField(_("从业人数"), null=True, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    area = models.ForeignKey("core.Area", on_delete=models.PROTECT, related_name="sites", verbose_name=_("所属区域"),
                             db_index=False)
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    legal_rep = models.CharField(_("法定代表人"), max_length=32, blank=True)
    legal_rep_phone = models.CharField(_("法定代表人电话"), max_length=20, blank=True)
    safety_manager = models.CharField(_("安全负责人"), max_length=32, blank=True)
    safety_manager_phone = models.CharField(_("安全负责人电话"), max_length=20, blank=True)
    status = models.CharField(_("经营状态"), max_length=12, choices=SiteStatus.choices, default=SiteStatus.OPERATING)
    risk_colour = models.CharField(_("风险等级"), max_length=8, choices=RiskColour.choices, null=True, blank=True)
    host = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="tenants",
                             verbose_name=_("所在厂房/园区"), db_index=False)
    founded = models.DateField(_("成立日期"), null=True, blank=True)
    source = models.CharField(_("来源"), max_length=8, choices=SiteSource.choices, default=SiteSource.MANUAL)
    note = models.CharField(_("备注"), max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("监管对象")
        verbose_name_plural = _("监管对象")
        indexes = [
            # Every list filter pairs with the keyset key (id) so "filter + ORDER BY id" stays indexed.
            models.Index(fields=["area", "id"], name="registry_site_area_id"),
            models.Index(fields=["status", "id"], name="registry_site_status_id"),
            models.Index(fields=["risk_colour", "id"], name="registry_site_colour_id"),
            models.Index(fields=["industry", "id"], name="registry_site_industry_id"),
            models.Index(fields=["kind", "id"], name="registry_site_kind_id"),
            models.Index(fields=["host", "id"], name="registry_site_host_id"),
            models.Index(fields=["archived_at", "id"], name="registry_site_archived_id"),
            # Import matching on name + address (the trigram index serves substring search, not equality).
            models.Index(fields=["name", "address"], name="registry_site_name_address"),
            # The map: bbox filters, and the cheap count of sites without coordinates.
            models.Index(fields=["latitude", "longitude"], name="registry_site_geo"),
            models.Index(fields=["area"], condition=Q(latitude__isnull=True) | Q(longitude__isnull=True),
                         name="registry_site_unlocated"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["credit_code"], name="registry_site_credit_code_live_uniq",
                                    condition=Q(credit_code__isnull=False, archived_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def colour_label(self) -> str:
        return str(RiskColour(self.risk_colour).label) if self.risk_colour else ""


class SiteBinding(models.Model):
    """An enterprise safety manager's role assignment bound to one site (they see only bound sites).

    Revoked, never deleted. Read only through the site and the user's grants.
    """

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="bindings")
    assignment = models.ForeignKey("core.RoleAssignment", on_delete=models.PROTECT, related_name="site_bindings")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        ordering = ["-id"]
        verbose_name = _("企业账号绑定")
        verbose_name_plural = _("企业账号绑定")
        indexes = [models.Index(fields=["assignment", "revoked_at"], name="registry_binding_assignment")]
        constraints = [
            models.UniqueConstraint(fields=["site", "assignment"], condition=Q(revoked_at__isnull=True),
                                    name="registry_binding_live_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.assignment.user} → {self.site}"

    def delete(self, *args, **kwargs):
        from yingji.core.scoping import HardDeleteForbidden

        raise HardDeleteForbidden("site bindings are revoked, never deleted")


class MapCellRun(models.Model):
    """One refresh of the map's pre-aggregated cells (``yingji.registry.maps.refresh_cells``):
    when the sites were read (``as_of``) and how many cells it wrote. Committed with its cells."""

    as_of = models.DateTimeField(_("数据截至"))
    finished_at = models.DateTimeField(_("完成时间"))
    duration_ms = models.PositiveIntegerField(_("耗时(毫秒)"), default=0)
    cells = models.PositiveIntegerField(_("格网行数"), default=0)
    sites = models.PositiveIntegerField(_("监管对象数"), default=0)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("地图汇总刷新记录")
        verbose_name_plural = _("地图汇总刷新记录")

    def __str__(self) -> str:
        return f"{_('地图汇总')} #{self.pk}"


class MapCell(models.Model):
    """Located, not archived sites counted per grid cell of the map's finest clustering zoom
    (``maps.BASE_ZOOM``) × own area × risk colour × status: *derived* data, rebuilt by each run
    (plain ``models.Model``, may be deleted). Readers apply the user's scope on ``area_code``
    (``maps.site_map``), and coarser zooms add cells up (cells nest across zooms)."""

    run = models.ForeignKey(MapCellRun, on_delete=models.CASCADE, related_name="+", db_index=False)
    gy = models.IntegerField()                 # floor(latitude / base cell)
    gx = models.IntegerField()                 # floor(longitude / base cell)
    area_code = models.CharField(max_length=20)
    colour = models.CharField(max_length=8, blank=True)   # "" = not rated
    status = models.CharField(max_length=16)
    n = models.PositiveIntegerField()
    sum_lat = models.FloatField()
    sum_lng = models.FloatField()
    min_id = models.BigIntegerField()

    class Meta:
        verbose_name = _("地图格网汇总")
        verbose_name_plural = _("地图格网汇总")
        indexes = [models.Index(fields=["run", "gy", "gx"], name="registry_mapcell_grid")]
