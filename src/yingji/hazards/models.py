"""Hazards (隐患): the closed loop 排查 → 登记 → 整改 → 验收 → 销号.

``Hazard`` is the record; ``HazardEvent`` the append-only transition log (who, when, why);
``Rectification`` the evidence a rectifier submits (description, cost, and photos/documents as
core attachments on it). The state machine is the table ``TRANSITIONS`` below; every change goes
through ``yingji.hazards.services``.

Scoping (``yingji.core.scoping``): a hazard sits in an area (块), optionally a sector (条) and
optionally a registered site (enterprise accounts see their bound sites' hazards). Actions:

``view``    the VIEW capability over the row's location
``report``  the REPORT capability over the location (creating hazards)
``rectify`` acting as the party responsible for the fix: EDIT for area grants (town/department
            officers), REPORT for site-bound grants (the site's own enterprise account)
``manage``  EDIT over the location (archive): never grid workers or enterprises
``accept``  受理 (responsible person, deadline) as the rule table ``HANDLING`` says for the hazard's
            finder and level: the government side (EDIT, area grants) for hazards it found, the
            site's own enterprise (REPORT, site-bound grants) for its self-found ones
``verify``  验收销号 / 退回, likewise by ``HANDLING`` (enterprise-found general hazards may be closed by
            the enterprise itself — 自查自改 — or by the government side; everything else by the
            government side only)
``edit``    EDIT over the location; plus, for REPORT-only grants, rows still being composed inside
            the reporting transaction (state ``draft`` never commits), so that a grid worker's or an
            enterprise's photos can be attached by the core attachments service while reporting.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from yingji.core import roles
from yingji.core.models.base import Archivable, Timestamped
from yingji.core.scoping import Grant, ScopedModel


class State(models.TextChoices):
    DRAFT = "draft", _("登记中")          # only inside the reporting transaction; never committed
    REPORTED = "reported", _("已上报")
    RECTIFYING = "rectifying", _("整改中")
    SUBMITTED = "submitted", _("已提交整改")
    CLOSED = "closed", _("已销号")


OPEN_STATES = (State.REPORTED, State.RECTIFYING, State.SUBMITTED)


class Source(models.TextChoices):
    INSPECTION = "inspection", _("检查发现")
    SELF_REPORT = "self_report", _("企业自查")
    TIP_OFF = "tip_off", _("举报")
    GRID_PATROL = "grid_patrol", _("网格巡查")
    OTHER = "other", _("其他")


class Level(models.TextChoices):
    GENERAL = "general", _("一般隐患")
    MAJOR = "major", _("重大隐患")


class Side(models.TextChoices):
    """Who found a hazard (the reporter's side), and who may act on it (``HANDLING``)."""
    GOVERNMENT = "government", _("监管部门")
    ENTERPRISE = "enterprise", _("企业")


@dataclass(frozen=True)
class Handling:
    accept: frozenset      # sides that accept (受理: who fixes it, by when — the deadline)
    verify: frozenset      # sides that verify and close (验收销号) or send the fix back (退回)


_GOV, _ENT = frozenset({Side.GOVERNMENT}), frozenset({Side.ENTERPRISE})

# Who accepts and who verifies, by (the finder's side, the hazard's level): the one readable
# table. The enterprise always rectifies at its own sites (``rectify`` scope) whoever found the
# hazard. A hazard the government side found (inspection, grid patrol, tip-off) is accepted and
# its deadline set by the government side, never by the enterprise; an enterprise's self-found
# hazard (企业自查) is accepted by the enterprise, which sets its own deadline; a self-found
# general hazard may be closed by the enterprise itself (自查自改) or the government side, a
# self-found major one only by the government side. The scoping actions ``accept`` and
# ``verify`` (``Hazard.scope_q``) are this table in SQL; ``services.reaches`` is it in Python.
HANDLING: dict[tuple[str, str], Handling] = {
    (Side.GOVERNMENT, Level.GENERAL): Handling(accept=_GOV, verify=_GOV),
    (Side.GOVERNMENT, Level.MAJOR): Handling(accept=_GOV, verify=_GOV),
    (Side.ENTERPRISE, Level.GENERAL): Handling(accept=_ENT, verify=_ENT | _GOV),
    (Side.ENTERPRISE, Level.MAJOR): Handling(accept=_ENT, verify=_GOV),
}
HANDLED_ACTIONS = {"accept": "accept", "verify": "verify"}   # scoping action -> Handling attribute


def grant_side(grant: Grant) -> str:
    return Side.ENTERPRISE if grant.site_ids is not None else Side.GOVERNMENT


def side_capability(side: str) -> str:
    """What a grant of ``side`` needs to act for its side: enterprises REPORT, officers EDIT."""
    return roles.REPORT if side == Side.ENTERPRISE else roles.EDIT


class Category(models.TextChoices):
    EQUIPMENT = "equipment", _("设备设施")
    ENVIRONMENT = "environment", _("作业环境")
    MANAGEMENT = "management", _("安全管理")
    FIRE = "fire", _("消防安全")
    ELECTRICAL = "electrical", _("用电安全")
    HAZCHEM = "hazchem", _("危险化学品")
    DUST = "dust", _("粉尘防爆")
    CONFINED_SPACE = "confined_space", _("有限空间")
    AMMONIA = "ammonia", _("涉氨制冷")
    GAS = "gas", _("燃气使用")
    HOT_WORK = "hot_work", _("动火作业")
    OTHER = "other", _("其他")


class Action(models.TextChoices):
    REPORT = "report", _("上报")
    FIX_ON_SPOT = "fix_on_spot", _("当场整改")
    ACCEPT = "accept", _("受理")
    SUBMIT = "submit_rectification", _("提交整改")
    VERIFY = "verify", _("验收销号")
    SEND_BACK = "send_back", _("退回")
    ARCHIVE = "archive", _("归档")
    ESCALATE = "escalate", _("超期升级")


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str | None      # None: the state does not change (archive)
    scope: str              # the scoping action the actor needs over the hazard (see module doc)


# The state machine: the one readable table. Nothing else changes ``Hazard.state``.
TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    Transition(Action.REPORT, (State.DRAFT,), State.REPORTED, "report"),
    Transition(Action.FIX_ON_SPOT, (State.DRAFT,), State.CLOSED, "report"),
    Transition(Action.ACCEPT, (State.REPORTED,), State.RECTIFYING, "accept"),
    Transition(Action.SUBMIT, (State.RECTIFYING,), State.SUBMITTED, "rectify"),
    Transition(Action.VERIFY, (State.SUBMITTED,), State.CLOSED, "verify"),
    Transition(Action.SEND_BACK, (State.SUBMITTED,), State.RECTIFYING, "verify"),
    Transition(Action.ARCHIVE, OPEN_STATES + (State.CLOSED,), None, "manage"),
)}


def _capability_q(cls, grant: Grant, action: str) -> Q | None:
    """Hazard-specific actions, shared by the models scoped through a hazard."""
    if action == "report":
        capability = roles.REPORT
    elif action == "rectify":
        capability = roles.REPORT if grant.site_ids is not None else roles.EDIT
    elif action == "manage":
        capability = roles.EDIT if grant.site_ids is None else None
    else:
        return ScopedModel.scope_q.__func__(cls, grant, action)
    if capability is None or not grant.allows(capability):
        return None
    return cls.location_q(grant)


class Hazard(ScopedModel, Archivable, Timestamped):
    scope_area = "area"
    scope_sector = "sector"
    scope_site = "site"
    scope_capabilities = {"view": roles.VIEW, "edit": roles.EDIT}

    # No single-column indexes on site and area: (site, state) and (area, state) serve them.
    site = models.ForeignKey("registry.Site", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="hazards", verbose_name=_("监管对象"), db_index=False)
    area = models.ForeignKey("core.Area", on_delete=models.PROTECT, related_name="hazards",
                             verbose_name=_("所属区域"), db_index=False)
    sector = models.ForeignKey("core.Sector", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="hazards", verbose_name=_("行业领域"))
    # The reporter's side (site-bound reporters: the enterprise), fixed at the report: with
    # ``level`` it decides who accepts and who verifies (``HANDLING``).
    finder = models.CharField(_("发现方"), max_length=12, choices=Side.choices, default=Side.GOVERNMENT)
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices, default=Source.OTHER)
    level = models.CharField(_("隐患等级"), max_length=8, choices=Level.choices, default=Level.GENERAL)
    category = models.CharField(_("隐患类别"), max_length=16, choices=Category.choices, default=Category.OTHER)
    title = models.CharField(_("标题"), max_length=100)
    description = models.TextField(_("隐患描述"))
    location = models.CharField(_("具体位置"), max_length=200, blank=True)
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    responsible_unit = models.CharField(_("整改责任单位"), max_length=100, blank=True)
    responsible_person = models.CharField(_("整改责任人"), max_length=32, blank=True)
    responsible_phone = models.CharField(_("责任人电话"), max_length=20, blank=True)
    deadline = models.DateField(_("整改期限"), null=True, blank=True)
    state = models.CharField(_("状态"), max_length=12, choices=State.choices, default=State.DRAFT)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("上报人"))
    reported_at = models.DateTimeField(_("上报时间"))
    accepted_at = models.DateTimeField(_("受理时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("销号时间"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+", verbose_name=_("验收人"))
    fixed_on_spot = models.BooleanField(_("当场整改"), default=False)
    is_overdue = models.BooleanField(_("超期"), default=False)
    escalation_level = models.PositiveSmallIntegerField(_("升级层级"), default=0)
    escalated_at = models.DateTimeField(_("升级时间"), null=True, blank=True)
    escalated_to = models.ForeignKey("core.Area", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("升级至"))
    inspection = models.ForeignKey("inspections.Inspection", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="hazards", verbose_name=_("检查记录"))
    campaign = models.ForeignKey("inspections.Campaign", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="hazards", verbose_name=_("专项行动"), db_index=False)
    checklist_item = models.ForeignKey("checklists.ChecklistItem", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+", verbose_name=_("检查项"))
    version = models.PositiveIntegerField(_("版本"), default=1)
    # Unique by a constraint, not ``unique=True``: no second, LIKE-capable index (keys are only
    # ever looked up whole); every report pays for each index of this table.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("隐患")
        verbose_name_plural = _("隐患")
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="hazard_idempotency_key_unique")]
        indexes = [
            models.Index(fields=["state", "deadline"], name="hazard_state_deadline"),
            models.Index(fields=["area", "state"], name="hazard_area_state"),
            models.Index(fields=["site", "state"], name="hazard_site_state"),
            models.Index(fields=["campaign", "state"], name="hazard_campaign_state"),
            models.Index(fields=["level", "state"], name="hazard_level_state"),
            models.Index(fields=["reported_at"], name="hazard_reported_at"),
            # Level filters inside an area subtree (per-area scans return only that level, and only
            # live rows: the page's keys come from the index alone), and the overdue list read
            # newest-first (1M hazards: 400 → 47 ms and 99 → 2 ms; 10M: a town's major hazards
            # 540 → 15 ms for the keys with ``keyset_page(keys_first=True)``).
            models.Index(fields=["area", "level", "id"], condition=Q(archived_at__isnull=True),
                         name="hazard_live_area_level_id"),
            models.Index(fields=["id"], condition=Q(is_overdue=True), name="hazard_overdue_id"),
        ]

    def __str__(self) -> str:
        return f"{self.title} (#{self.pk})" if self.pk else self.title

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES and self.archived_at is None

    @classmethod
    def scope_q(cls, grant: Grant, action: str) -> Q | None:
        if action == "edit" and not grant.allows(roles.EDIT):
            # REPORT-only grants (grid workers, enterprises) may attach photos to a hazard only
            # while reporting it, i.e. inside the transaction that creates it.
            if not grant.allows(roles.REPORT):
                return None
            location = cls.location_q(grant)
            return None if location is None else location & Q(state=State.DRAFT)
        if action in HANDLED_ACTIONS:
            side = grant_side(grant)
            if not grant.allows(side_capability(side)):
                return None
            location = cls.location_q(grant)
            if location is None:
                return None
            attr = HANDLED_ACTIONS[action]
            pairs = [key for key, rule in HANDLING.items() if side in getattr(rule, attr)]
            if not pairs:
                return None
            rule_q = Q()
            for finder, level in pairs:
                rule_q |= Q(finder=finder, level=level)
            return location & rule_q
        return _capability_q(cls, grant, action)

    @property
    def handling(self) -> Handling:
        return HANDLING[(self.finder, self.level)]


class HazardEvent(ScopedModel):
    """One step of a hazard's life. Append-only: nothing edits or deletes an event."""

    scope_area = "hazard__area"
    scope_sector = "hazard__sector"
    scope_site = "hazard__site"
    scope_capabilities = {"view": roles.VIEW}

    hazard = models.ForeignKey(Hazard, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(_("操作"), max_length=24, choices=Action.choices)
    from_state = models.CharField(_("原状态"), max_length=12, choices=State.choices, blank=True)
    to_state = models.CharField(_("新状态"), max_length=12, choices=State.choices, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("操作人"))
    at = models.DateTimeField(_("时间"))
    reason = models.CharField(_("理由"), max_length=500, blank=True)
    data = models.JSONField(_("数据"), default=dict, blank=True)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("隐患处理记录")
        verbose_name_plural = _("隐患处理记录")
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="hazardevent_idempotency_key_unique")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} #{self.hazard_id}"

    @classmethod
    def scope_q(cls, grant: Grant, action: str) -> Q | None:
        return _capability_q(cls, grant, action)


class Outcome(models.TextChoices):
    PENDING = "pending", _("待验收")
    ACCEPTED = "accepted", _("验收通过")
    SENT_BACK = "sent_back", _("已退回")


class Rectification(ScopedModel):
    """Evidence of a fix: description and cost here, photos/documents as attachments on it.

    Attachments may be added only while the rectification is being submitted (``submitted_at``
    is empty only inside the submitting transaction): submitted evidence is frozen for everyone.
    """

    scope_area = "hazard__area"
    scope_sector = "hazard__sector"
    scope_site = "hazard__site"
    scope_capabilities = {"view": roles.VIEW}

    hazard = models.ForeignKey(Hazard, on_delete=models.PROTECT, related_name="rectifications")
    description = models.TextField(_("整改情况"))
    cost = models.DecimalField(_("整改资金(元)"), max_digits=12, decimal_places=2, null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("整改人"))
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    outcome = models.CharField(_("验收结果"), max_length=12, choices=Outcome.choices, default=Outcome.PENDING)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("验收人"))
    reviewed_at = models.DateTimeField(_("验收时间"), null=True, blank=True)
    review_note = models.CharField(_("验收意见"), max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("整改记录")
        verbose_name_plural = _("整改记录")

    def __str__(self) -> str:
        return f"{_('整改记录')} #{self.pk}"

    @classmethod
    def scope_q(cls, grant: Grant, action: str) -> Q | None:
        if action == "edit":
            inner = _capability_q(cls, grant, "rectify")
            return None if inner is None else inner & Q(submitted_at__isnull=True)
        return _capability_q(cls, grant, action)
