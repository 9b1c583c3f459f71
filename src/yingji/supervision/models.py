"""Listed supervision of major hazards (重大事故隐患挂牌督办).

A major, open hazard (``hazards.Hazard``, level ``major``) is *listed* by a government body (a
town or the county, or recorded as listed by the city/province): a supervision notice with a
deadline of at most one year, published within 5 working days. The responsible site files a
"five in place" plan (五落实: measures, funds, responsible people, deadline, contingency plan),
often while shut down; it may ask for an extension at least 20 working days before the
deadline, decided within 10 working days. After the fix, an acceptance check; passed, the hazard
is delisted (摘牌销号) and the delisting published within 5 working days.

``Listing`` is the record, ``ExtensionRequest`` an extension request, ``ListingEvent`` the
append-only log shown as the timeline. Every change goes through ``yingji.supervision.services``.

Scoping: through the hazard (its area, sector and site). Actions:

``view``     VIEW over the hazard's location
``manage``   EDIT over the location, never for site-bound grants (the listing body's side:
             notice, publication, decisions, acceptance, delisting); ``edit`` is the same
``rectify``  the party carrying out the plan: EDIT for area grants, REPORT for the site's own
             enterprise account (file the plan, ask for an extension or for acceptance)
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yingji.core import roles
from yingji.core.models.base import Archivable, Timestamped
from yingji.core.scoping import Grant, ScopedModel


class ListingLevel(models.TextChoices):
    TOWN = "town", _("镇街挂牌")
    COUNTY = "county", _("县级挂牌")
    CITY = "city", _("市级挂牌")
    PROVINCE = "province", _("省级挂牌")


class ListingState(models.TextChoices):
    LISTED = "listed", _("已挂牌")
    RECTIFYING = "rectifying", _("整改中")
    ACCEPTANCE_REQUESTED = "acceptance_requested", _("已申请验收")
    ACCEPTED = "accepted", _("验收通过")
    DELISTED = "delisted", _("已摘牌销号")


ACTIVE_STATES = (ListingState.LISTED, ListingState.RECTIFYING, ListingState.ACCEPTANCE_REQUESTED)


class Shutdown(models.TextChoices):
    NONE = "none", _("未停产")
    PARTIAL = "partial", _("局部停产")
    FULL = "full", _("全部停产")


class AcceptanceResult(models.TextChoices):
    PASSED = "passed", _("验收通过")
    FAILED = "failed", _("验收不通过")


class Decision(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("不予批准")


class EventAction(models.TextChoices):
    LIST = "list", _("挂牌督办")
    PUBLISH_NOTICE = "publish_notice", _("公布督办通知")
    FILE_PLAN = "file_plan", _("报送整改方案(五落实)")
    SHUTDOWN = "shutdown", _("停产状态变更")
    REQUEST_EXTENSION = "request_extension", _("申请延期")
    DECIDE_EXTENSION = "decide_extension", _("延期审批")
    REQUEST_ACCEPTANCE = "request_acceptance", _("申请验收")
    ACCEPTANCE = "acceptance", _("验收")
    DELIST = "delist", _("摘牌销号")
    PUBLISH_DELISTING = "publish_delisting", _("公布摘牌销号")
    SET_PUBLIC = "set_public", _("公开信息设置")
    ARCHIVE = "archive", _("归档")


def _hazard_scope_q(cls, grant: Grant, action: str) -> Q | None:
    """The actions of records scoped through a listed hazard (see the module doc)."""
    if action == "view":
        capability = roles.VIEW
    elif action in ("manage", "edit"):
        capability = roles.EDIT if grant.site_ids is None else None
    elif action == "rectify":
        capability = roles.REPORT if grant.site_ids is not None else roles.EDIT
    else:
        return None
    if capability is None or not grant.allows(capability):
        return None
    return cls.location_q(grant)


class Listing(ScopedModel, Archivable, Timestamped):
    scope_area = "hazard__area"
    scope_sector = "hazard__sector"
    scope_site = "hazard__site"
    scope_capabilities = {"view": roles.VIEW, "edit": roles.EDIT}

    hazard = models.OneToOneField("hazards.Hazard", on_delete=models.PROTECT, related_name="listing",
                                  verbose_name=_("隐患"))
    level = models.CharField(_("挂牌级别"), max_length=12, choices=ListingLevel.choices)
    listing_body = models.ForeignKey("core.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("挂牌单位"))
    listing_body_name = models.CharField(_("挂牌单位名称"), max_length=100)
    notice_number = models.CharField(_("督办通知书文号"), max_length=64)
    notice_text = models.TextField(_("督办要求"))
    listed_at = models.DateTimeField(_("挂牌时间"))
    listed_on = models.DateField(_("挂牌日期"))
    listed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("挂牌人"))
    deadline = models.DateField(_("整改期限"))
    original_deadline = models.DateField(_("原定整改期限"))
    publish_due = models.DateField(_("应公布日期"))
    published_at = models.DateTimeField(_("公布时间"), null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("公布人"))
    state = models.CharField(_("状态"), max_length=24, choices=ListingState.choices, default=ListingState.LISTED)
    shutdown = models.CharField(_("停产情况"), max_length=8, choices=Shutdown.choices, default=Shutdown.NONE)
    # 五落实: the rectification plan.
    measures = models.TextField(_("整改措施"), blank=True)
    funds = models.DecimalField(_("整改资金(元)"), max_digits=14, decimal_places=2, null=True, blank=True)
    responsible_people = models.CharField(_("责任人员"), max_length=200, blank=True)
    plan_deadline = models.DateField(_("方案完成时限"), null=True, blank=True)
    contingency = models.TextField(_("应急预案"), blank=True)
    plan_filed_at = models.DateTimeField(_("方案报送时间"), null=True, blank=True)
    plan_filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+", verbose_name=_("方案报送人"))
    # Acceptance check.
    acceptance_requested_at = models.DateTimeField(_("申请验收时间"), null=True, blank=True)
    acceptance_requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                                on_delete=models.PROTECT, related_name="+",
                                                verbose_name=_("申请验收人"))
    acceptance_result = models.CharField(_("验收结果"), max_length=8, choices=AcceptanceResult.choices, blank=True)
    acceptance_note = models.CharField(_("验收意见"), max_length=500, blank=True)
    acceptance_at = models.DateTimeField(_("验收时间"), null=True, blank=True)
    acceptance_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+", verbose_name=_("验收人"))
    # Delisting.
    delisted_at = models.DateTimeField(_("摘牌时间"), null=True, blank=True)
    delisted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("摘牌人"))
    delist_publish_due = models.DateField(_("摘牌应公布日期"), null=True, blank=True)
    delist_published_at = models.DateTimeField(_("摘牌公布时间"), null=True, blank=True)
    # What the public list may show (set by the officer).
    publishable = models.BooleanField(_("可向社会公开"), default=True)
    public_title = models.CharField(_("公开标题"), max_length=100)
    version = models.PositiveIntegerField(_("版本"), default=1)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("挂牌督办")
        verbose_name_plural = _("挂牌督办")
        indexes = [
            models.Index(fields=["state", "deadline"], name="listing_state_deadline"),
            models.Index(fields=["level", "state"], name="listing_level_state"),
            models.Index(fields=["publishable", "published_at"], name="listing_public"),
        ]

    def __str__(self) -> str:
        return f"{self.public_title} (#{self.pk})" if self.pk else self.public_title

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES and self.archived_at is None

    @property
    def is_overdue(self) -> bool:
        return self.is_active and self.deadline < timezone.localdate()

    @property
    def publish_overdue(self) -> bool:
        return self.published_at is None and self.publish_due < timezone.localdate()

    @property
    def delist_publish_overdue(self) -> bool:
        return (self.delisted_at is not None and self.delist_published_at is None
                and self.delist_publish_due is not None and self.delist_publish_due < timezone.localdate())

    @property
    def public_state(self) -> str:
        """What the public may know of the state: listed, or delisted once that is published."""
        return str(_("已摘牌销号") if self.delist_published_at else _("挂牌督办中"))

    @classmethod
    def scope_q(cls, grant: Grant, action: str) -> Q | None:
        return _hazard_scope_q(cls, grant, action)


class ExtensionRequest(ScopedModel, Timestamped):
    scope_area = "listing__hazard__area"
    scope_sector = "listing__hazard__sector"
    scope_site = "listing__hazard__site"
    scope_capabilities = {"view": roles.VIEW, "edit": roles.EDIT}

    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="extensions",
                                verbose_name=_("挂牌督办"))
    requested_at = models.DateTimeField(_("申请时间"))
    requested_on = models.DateField(_("申请日期"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("申请人"))
    current_deadline = models.DateField(_("原整改期限"))
    new_deadline = models.DateField(_("申请延至"))
    reason = models.TextField(_("延期理由"))
    decision = models.CharField(_("审批结果"), max_length=12, choices=Decision.choices, default=Decision.PENDING)
    decide_due = models.DateField(_("应审批日期"))
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("审批人"))
    decision_note = models.CharField(_("审批意见"), max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("延期申请")
        verbose_name_plural = _("延期申请")
        indexes = [models.Index(fields=["decision", "decide_due"], name="extension_decision_due")]
        constraints = [
            # at most one pending request per listing (also when two requests race)
            models.UniqueConstraint(fields=["listing"], condition=Q(decision="pending"),
                                    name="extension_one_pending"),
        ]

    def __str__(self) -> str:
        return f"{_('延期申请')} #{self.pk}"

    @property
    def is_overdue(self) -> bool:
        """Pending past the 10-working-day decision period."""
        return self.decision == Decision.PENDING and self.decide_due < timezone.localdate()

    @property
    def decided_late(self) -> bool:
        return self.decided_at is not None and timezone.localdate(self.decided_at) > self.decide_due

    @classmethod
    def scope_q(cls, grant: Grant, action: str) -> Q | None:
        return _hazard_scope_q(cls, grant, action)


class ListingEvent(ScopedModel):
    """One step of a listing's life (the timeline). Append-only."""

    scope_area = "listing__hazard__area"
    scope_sector = "listing__hazard__sector"
    scope_site = "listing__hazard__site"
    scope_capabilities = {"view": roles.VIEW}

    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(_("操作"), max_length=24, choices=EventAction.choices)
    from_state = models.CharField(_("原状态"), max_length=24, choices=ListingState.choices, blank=True)
    to_state = models.CharField(_("新状态"), max_length=24, choices=ListingState.choices, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("操作人"))
    at = models.DateTimeField(_("时间"))
    note = models.CharField(_("说明"), max_length=500, blank=True)
    data = models.JSONField(_("数据"), default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("督办记录")
        verbose_name_plural = _("督办记录")

    def __str__(self) -> str:
        return f"{self.get_action_display()} #{self.listing_id}"

    @classmethod
    def scope_q(cls, grant: Grant, action: str) -> Q | None:
        return _hazard_scope_q(cls, grant, action) if action == "view" else None



class WorkCalendar(models.Model):
    """A year's official calendar (国务院办公厅关于节假日安排的通知) loaded by ``yingji
    load_calendar``: the days off (holidays) and the weekend days worked (调休上班). Reference data,
    not scoped; one row per year, changed in place (audited), never deleted. Years whose calendar
    is built into ``workdays.ADJUSTED_WORKDAYS`` are not loaded here."""

    year = models.PositiveSmallIntegerField(_("年份"), unique=True)
    holidays = models.JSONField(_("放假日期"), default=list)     # ["2027-01-01", …]
    workdays = models.JSONField(_("调休上班日期"), default=list)  # ["2027-02-06", …]
    names = models.JSONField(default=dict, blank=True)           # date → holiday name
    source = models.CharField(_("来源"), max_length=200, blank=True)
    loaded_at = models.DateTimeField(_("载入时间"))
    loaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")

    class Meta:
        ordering = ["year"]
        verbose_name = _("工作日历")
        verbose_name_plural = _("工作日历")

    def __str__(self) -> str:
        return f"{self.year}年工作日历"

    def delete(self, *args, **kwargs):
        from yingji.core.scoping import HardDeleteForbidden

        raise HardDeleteForbidden("a loaded calendar is replaced by loading the year again, never deleted")
