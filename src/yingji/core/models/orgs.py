from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import Archivable, Timestamped


class OrgKind(models.TextChoices):
    DEPARTMENT = "department", _("政府部门")
    COMMITTEE = "committee", _("安委会")
    SUB_COMMITTEE = "sub_committee", _("专业委员会")
    TOWN_OFFICE = "town_office", _("镇街应消办")
    OTHER = "other", _("其他")


class Organisation(Archivable, Timestamped):
    """Reference data visible to every signed-in user: departments, committees, town offices."""

    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    short_name = models.CharField(_("简称"), max_length=32, blank=True)
    kind = models.CharField(_("类型"), max_length=16, choices=OrgKind.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    area = models.ForeignKey("core.Area", on_delete=models.PROTECT, related_name="organisations")
    lead = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="led_committees",
        verbose_name=_("牵头单位"),
    )
    members = models.ManyToManyField("self", blank=True, symmetrical=False, related_name="member_of",
                                     verbose_name=_("成员单位"))
    sort = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["kind", "sort", "code"]
        verbose_name = _("组织机构")
        verbose_name_plural = _("组织机构")

    def __str__(self) -> str:
        return self.name


class Sector(Archivable, Timestamped):
    """A line of supervision (行业领域), supervised by one department. Reference data."""

    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=32)
    department = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="sectors",
                                   verbose_name=_("主管部门"))
    committee = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="committee_sectors", verbose_name=_("专业委员会"))
    sort = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort", "code"]
        verbose_name = _("行业领域")
        verbose_name_plural = _("行业领域")

    def __str__(self) -> str:
        return self.name
