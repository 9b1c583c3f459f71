"""Write services of listed supervision (挂牌督办).

Every change loads the listing through the one access rule (out of scope → ``NotFound``, visible
but not allowed → ``Forbidden``), checks the state (→ ``Conflict`` with a Chinese message) and
the optional client ``version``, then changes the row with a conditional UPDATE (``WHERE state
= expected AND version = v``) so that of two people acting at once exactly one wins. Each writes
a ``ListingEvent`` (the timeline) and an audit entry in the same transaction, and notifies the
people concerned through ``yingji.core.notifications`` (inbox now, outbox after commit).

Dates: deadlines are calendar dates; the statutory periods are working days
(``yingji.supervision.workdays``): the notice is published within 5 working days of listing,
an extension is asked for at least 20 working days before the deadline and decided within 10
working days, the delisting is published within 5 working days. The deadline, also when
extended, is at most one year after the listing date.
"""
from __future__ import annotations

import datetime
import logging
import re
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yingji.core.validators import clean_text
from yingji.core.validators import clean_choice as _choice
from yingji.core.validators import clean_date as _date
from yingji.core.validators import field_error as _err
from yingji.core import audit, roles
from yingji.core.audit import service
from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.core.models import AreaLevel, Organisation
from yingji.core.models.areas import LEVEL_CODE_LENGTH
from yingji.core.scoping import grants_for

from . import workdays
from .models import (ACTIVE_STATES, AcceptanceResult, Decision, EventAction, ExtensionRequest, Listing,
                     ListingEvent, ListingLevel, ListingState, Shutdown)

PUBLISH_WORKING_DAYS = 5
EXTENSION_NOTICE_WORKING_DAYS = 20
EXTENSION_DECISION_WORKING_DAYS = 10
PHONE_IN_TEXT = re.compile(r"1\d{10}|0\d{2,3}-?\d{7,8}|\d{7,}")
NAME_SPLIT = re.compile(r"[、,，;；/\s]+")


def today() -> datetime.date:
    """The current local date (one place, so tests can move the clock)."""
    return timezone.localdate()


# ---------------------------------------------------------------- input cleaning

def _text(field: str, value, max_length: int, label: str, required: bool = False) -> str:
    return clean_text(field, value, max_length, label, required, empty_message=_("请填写%(label)s"))


def _money(field: str, value, label: str):
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise _err(field, _("%(label)s须为数字") % {"label": label}) from None
    if not amount.is_finite() or amount <= 0 or amount >= Decimal("1000000000000"):
        raise _err(field, _("%(label)s须大于0且小于1万亿元") % {"label": label})
    return amount.quantize(Decimal("0.01"))


def _flag(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _actor_required(actor) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise Forbidden(_("请先登录"))


def _version(version, current: int) -> None:
    if version in (None, ""):
        return
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise _err("version", _("版本号无效")) from None
    if version != current:
        raise _lost_race()


def _lost_race() -> Conflict:
    return Conflict(_("该督办记录已被他人处理,请刷新后重试"), code="stale")


def _hold_hazard(hazard, states) -> None:
    """The hazard is still as this call read it (same version, one of ``states``, not archived):
    a conditional no-op UPDATE that also holds the row (PostgreSQL) until the transaction ends,
    so a hazard transition racing with this listing change waits, then re-checks its version."""
    from yingji.hazards.models import Hazard

    if not Hazard.objects.filter(pk=hazard.pk, version=hazard.version, state__in=list(states),
                                 archived_at__isnull=True).update(updated_at=F("updated_at")):
        raise Conflict(_("该隐患已被他人处理,请刷新后重试"), code="stale")


# ---------------------------------------------------------------- labels and reads for pages

def state_label(state: str) -> str:
    return str(ListingState(state).label) if state in ListingState.values else state


def action_label(action: str) -> str:
    return str(EventAction(action).label) if action in EventAction.values else action


def last_extension_day(listing: Listing) -> datetime.date:
    """The last day an extension may be asked for: 20 working days before the deadline."""
    return workdays.add_working_days(listing.deadline, -EXTENSION_NOTICE_WORKING_DAYS)


def latest_deadline(listing: Listing) -> datetime.date:
    """The latest deadline the listing may ever have: one year after the listing date."""
    return workdays.add_years(listing.listed_on, 1)


def calendar_warning(listing: Listing) -> str | None:
    """The warning a page shows when a working-day date of ``listing`` (notice, extension, decision,
    delisting) runs through a year whose official calendar is not loaded."""
    dates = [listing.listed_on, listing.publish_due, listing.deadline, last_extension_day(listing),
             listing.delist_publish_due]
    dates += [d for pair in listing.extensions.filter(decision=Decision.PENDING)
              .values_list("requested_on", "decide_due") for d in pair]
    return workdays.calendar_warning(*dates)


def _estimated(data: dict, *dates) -> dict:
    """Flag an event whose working-day date was counted over a year not loaded (weekends only)."""
    years = workdays.uncovered_years(*dates)
    if years:
        data["calendar_estimated"] = years
    return data


# Which actions a page offers, with the scoping action and states each needs (services re-check).
ACTIONS = {
    "publish_notice": ("manage", None),
    "set_public": ("manage", None),
    "file_plan": ("rectify", (ListingState.LISTED, ListingState.RECTIFYING)),
    "shutdown": ("manage", ACTIVE_STATES),
    "request_extension": ("rectify", (ListingState.LISTED, ListingState.RECTIFYING)),
    "request_acceptance": ("rectify", (ListingState.RECTIFYING,)),
    "acceptance": ("manage", (ListingState.ACCEPTANCE_REQUESTED,)),
    "delist": ("manage", (ListingState.ACCEPTED,)),
    "publish_delisting": ("manage", (ListingState.DELISTED,)),
    "archive": ("manage", None),
}


def allowed_actions(user, listing: Listing) -> list[str]:
    """The actions ``user`` may take on ``listing`` now (for buttons)."""
    if listing.archived_at is not None or not getattr(user, "is_authenticated", False):
        return []
    scopes = {s: Listing.objects.restrict(user, s).filter(pk=listing.pk).exists() for s in ("manage", "rectify")}
    result = []
    for action, (scope, states) in ACTIONS.items():
        if not scopes[scope] or (states is not None and listing.state not in states):
            continue
        if action == "publish_notice" and listing.published_at is not None:
            continue
        if action == "publish_delisting" and (listing.delist_published_at is not None or listing.published_at is None):
            continue
        if action == "acceptance" and listing.acceptance_requested_by_id == user.pk:
            continue
        if action == "request_extension" and listing.extensions.filter(decision=Decision.PENDING).exists():
            continue
        result.append(action)
    return result


def can_decide(user, extension: ExtensionRequest) -> bool:
    return (extension.decision == Decision.PENDING
            and ExtensionRequest.objects.restrict(user, "manage").filter(pk=extension.pk).exists())


def listing_levels_for(user, hazard) -> list[str]:
    """The listing levels ``user`` may record for ``hazard`` (town officers: town; county users: all)."""
    reach = _reach(user, hazard)
    if reach is None:
        return []
    if reach <= AreaLevel.COUNTY:
        return [ListingLevel.TOWN, ListingLevel.COUNTY, ListingLevel.CITY, ListingLevel.PROVINCE]
    if reach == AreaLevel.TOWN:
        return [ListingLevel.TOWN]
    return []


def _reach(user, hazard) -> int | None:
    """The highest area level (1 county, 2 town, …) at which ``user`` holds EDIT over ``hazard``."""
    levels = {n: lvl for lvl, n in LEVEL_CODE_LENGTH.items()}
    best = None
    code = hazard.area.code
    for g in grants_for(user):
        if g.site_ids is not None or not g.allows(roles.EDIT) or not code.startswith(g.area_code):
            continue
        if g.sector_ids and hazard.sector_id not in g.sector_ids:
            continue
        level = AreaLevel.COUNTY if g.area_is_root else levels.get(len(g.area_code), AreaLevel.GRID)
        best = level if best is None else min(best, level)
    return best


# ---------------------------------------------------------------- notifications

def _town_of(listing: Listing):
    from yingji.core.models import Area

    code = listing.hazard.area.code[:LEVEL_CODE_LENGTH[AreaLevel.TOWN]]
    return Area.objects.filter(code=code, level=AreaLevel.TOWN).first()


def _officers_at(area, role_list) -> list:
    from yingji.core.models import RoleAssignment

    if area is None:
        return []
    return [a.user for a in RoleAssignment.objects.filter(
        area=area, revoked_at__isnull=True, user__is_active=True, role__in=role_list).select_related("user")]


def _body_officers(listing: Listing) -> list:
    """The listing body's side: the town's officers for a town listing, the county's
    administrators otherwise; and whoever listed it."""
    if listing.level == ListingLevel.TOWN:
        people = _officers_at(_town_of(listing), [roles.TOWN_OFFICER])
    else:
        from yingji.core.models import Area

        county = Area.objects.filter(code=listing.hazard.area.code[:LEVEL_CODE_LENGTH[AreaLevel.COUNTY]]).first()
        people = _officers_at(county, [roles.CITY_ADMIN])
    return people + [listing.listed_by]


def _site_managers(listing: Listing) -> list:
    if not listing.hazard.site_id:
        return []
    from yingji.registry.models import SiteBinding

    return [b.assignment.user for b in SiteBinding.objects.filter(
        site_id=listing.hazard.site_id, revoked_at__isnull=True, assignment__revoked_at__isnull=True,
        assignment__user__is_active=True).select_related("assignment__user")]


def _notify(listing: Listing, actor, recipients, *, kind, title: str, body: str, key: str) -> None:
    from yingji.core.notifications import notify

    recipients = [u for u in recipients if u is not None and u.pk != getattr(actor, "pk", None)]
    if recipients:
        notify(recipients, kind=kind, title=title, body=body, link=f"/supervision/{listing.pk}/", obj=listing,
               dedupe_key=f"listing:{listing.pk}:{key}")


# ---------------------------------------------------------------- the shared core

def _load(actor, listing, scope: str, what: str) -> Listing:
    """The listing if ``actor`` may act on it with ``scope``: out of scope → NotFound, visible
    but not allowed → Forbidden."""
    _actor_required(actor)
    try:
        pk = int(listing.pk if isinstance(listing, Listing) else listing)
    except (TypeError, ValueError):
        raise NotFound() from None
    found = (Listing.objects.restrict(actor, scope).filter(pk=pk)
             .select_related("hazard", "hazard__area", "hazard__site").first())
    if found is None:
        if Listing.objects.visible_to(actor).filter(pk=pk).exists():
            raise Forbidden(_("您无权对该挂牌督办执行“%(action)s”") % {"action": what})
        raise NotFound()
    if found.archived_at is not None:
        raise Conflict(_("该挂牌督办已归档,不能执行“%(action)s”") % {"action": what}, code="archived")
    return found


def _require_state(listing: Listing, states, what: str) -> None:
    if listing.state not in states:
        raise Conflict(_("该挂牌督办当前状态为“%(state)s”,不能执行“%(action)s”") % {
            "state": state_label(listing.state), "action": what}, code="invalid_state")


def _begin(actor, listing, action: str, version, states=None) -> Listing:
    scope = ACTIONS[action][0]
    what = action_label(_EVENT_OF.get(action, action))
    listing = _load(actor, listing, scope, what)
    _version(version, listing.version)
    if states is not None:
        _require_state(listing, states, what)
    return listing


_EVENT_OF = {"shutdown": EventAction.SHUTDOWN, "acceptance": EventAction.ACCEPTANCE}


def _change(actor, listing: Listing, event: str, *, fields: dict | None = None, target: str | None = None,
            note: str = "", data: dict | None = None, changes: dict | None = None, audit_note: str = "") -> Listing:
    """Compare-and-set ``listing`` (as loaded and checked by the caller): the fields, the state,
    version + 1; then the timeline event and the audit entry."""
    now = timezone.now()
    update = dict(fields or {})
    from_state = listing.state
    if target is not None:
        update["state"] = target
    updated = Listing.objects.filter(pk=listing.pk, state=from_state, version=listing.version,
                                     archived_at__isnull=True).update(version=F("version") + 1, updated_at=now,
                                                                      **update)
    if updated != 1:
        raise _lost_race()
    ListingEvent.objects.create(listing=listing, action=event, from_state=from_state,
                                to_state=target or from_state, actor=actor, at=now, note=note[:500],
                                data=audit._plain(data or {}))
    listing.refresh_from_db()
    audit_changes = {}
    if target is not None and target != from_state:
        audit_changes["state"] = [from_state, target]
    audit_changes.update(changes or {})
    audit.record(f"supervision.{event}", listing, audit_changes, note=audit_note or note, actor=actor)
    return listing


def _check_public_title(title: str, hazard, extra_names=()) -> str:
    if PHONE_IN_TEXT.search(title):
        raise _err("public_title", _("公开标题不能包含电话号码等个人信息"))
    names = set()
    for text in (hazard.responsible_person, *extra_names):
        names |= {n for n in NAME_SPLIT.split(text or "") if len(n) >= 2}
    for name in sorted(names):
        if name in title:
            raise _err("public_title", _("公开标题不能包含个人姓名(%(name)s)") % {"name": name})
    return title


# ---------------------------------------------------------------- list

def _resolve_hazard(actor, hazard):
    from yingji.hazards.models import Hazard

    _actor_required(actor)
    try:
        pk = int(hazard.pk if isinstance(hazard, Hazard) else hazard)
    except (TypeError, ValueError):
        raise _err("hazard", _("隐患编号无效")) from None
    found = Hazard.objects.restrict(actor, "manage").filter(pk=pk).select_related("area", "site").first()
    if found is None:
        if Hazard.objects.visible_to(actor).filter(pk=pk).exists():
            raise Forbidden(_("您无权对该隐患挂牌督办"))
        raise NotFound()
    return found


def check_listable(actor, hazard):
    """The hazard if ``actor`` may list it now; the error the listing would raise otherwise."""
    from yingji.hazards.models import Level

    hazard = _resolve_hazard(actor, hazard)
    if hazard.level != Level.MAJOR:
        raise Conflict(_("只有重大隐患才能挂牌督办"), code="not_major")
    if not hazard.is_open:
        raise Conflict(_("该隐患已销号或已归档,不能挂牌督办"), code="not_open")
    existing = Listing.objects.filter(hazard_id=hazard.pk).first()
    if existing is not None:
        raise Conflict(_("该隐患已挂牌督办(督办编号 #%(id)d)") % {"id": existing.pk}, code="already_listed")
    if not listing_levels_for(actor, hazard):
        raise Forbidden(_("只有镇街或县级监管人员可以挂牌督办"))
    return hazard


def _resolve_body(listing_body, listing_body_name: str) -> tuple[Organisation | None, str]:
    org = None
    if listing_body not in (None, ""):
        try:
            pk = int(listing_body.pk if isinstance(listing_body, Organisation) else listing_body)
        except (TypeError, ValueError):
            raise _err("listing_body", _("挂牌单位无效")) from None
        org = Organisation.objects.filter(pk=pk, archived_at__isnull=True).first()
        if org is None:
            raise _err("listing_body", _("挂牌单位无效"))
    name = _text("listing_body_name", listing_body_name, 100, _("挂牌单位名称"))
    if not name:
        if org is None:
            raise _err("listing_body_name", _("请选择或填写挂牌单位"))
        name = org.name
    return org, name


@service("supervision.list")
def list_hazard(actor, hazard, *, level, notice_number, notice_text, deadline, listing_body=None,
                listing_body_name="", shutdown=None, publishable=True, public_title="") -> Listing:
    """挂牌督办: list a major, open hazard with a supervision notice and a deadline (≤ 1 year)."""
    hazard = check_listable(actor, hazard)
    level = _choice("level", level, ListingLevel, _("挂牌级别"))
    if level not in listing_levels_for(actor, hazard):
        raise Forbidden(_("镇街只能挂牌镇街级督办,县级及以上挂牌须由县级监管人员登记"))
    org, body_name = _resolve_body(listing_body, listing_body_name)
    number = _text("notice_number", notice_number, 64, _("督办通知书文号"), required=True)
    text = _text("notice_text", notice_text, 4000, _("督办要求"), required=True)
    listed_on = today()
    due = _date("deadline", deadline, _("整改期限"))
    if due <= listed_on:
        raise _err("deadline", _("整改期限须晚于挂牌日期"))
    if due > workdays.add_years(listed_on, 1):
        raise _err("deadline", _("整改期限最长为挂牌之日起一年(不晚于%(d)s)") % {
            "d": workdays.add_years(listed_on, 1).isoformat()})
    shutdown = _choice("shutdown", shutdown, Shutdown, _("停产情况"), default=Shutdown.NONE)
    title = _text("public_title", public_title, 100, _("公开标题")) or hazard.title[:100]
    title = _check_public_title(title, hazard)
    from yingji.hazards.models import OPEN_STATES

    _hold_hazard(hazard, OPEN_STATES)
    now = timezone.now()
    listing = Listing(
        hazard=hazard, level=level, listing_body=org, listing_body_name=body_name, notice_number=number,
        notice_text=text, listed_at=now, listed_on=listed_on, listed_by=actor, deadline=due,
        original_deadline=due, publish_due=workdays.add_working_days(listed_on, PUBLISH_WORKING_DAYS),
        shutdown=shutdown, publishable=_flag(publishable), public_title=title)
    try:
        with transaction.atomic():
            listing.save(force_insert=True)
    except IntegrityError:  # listed by someone else at the same moment
        raise Conflict(_("该隐患已挂牌督办"), code="already_listed") from None
    ListingEvent.objects.create(listing=listing, action=EventAction.LIST, from_state="", to_state=listing.state,
                                actor=actor, at=now, note=number,
                                data=_estimated({"level": level, "deadline": due.isoformat(), "shutdown": shutdown},
                                                listed_on, listing.publish_due))
    audit.record("supervision.list", listing, audit.diff({}, audit.snapshot(listing, [
        "hazard", "level", "listing_body", "listing_body_name", "notice_number", "deadline", "publish_due",
        "shutdown", "publishable", "public_title"])), actor=actor)
    from yingji.core.models.notifications import NotificationKind

    _notify(listing, actor, _site_managers(listing) + _officers_at(_town_of(listing), [roles.TOWN_OFFICER]),
            kind=NotificationKind.ASSIGNMENT, key="list",
            title=_("重大隐患挂牌督办:%(t)s") % {"t": hazard.title},
            body=_("督办通知 %(n)s,整改期限 %(d)s;请报送“五落实”整改方案") % {"n": number, "d": due.isoformat()})
    return listing


# ---------------------------------------------------------------- publication and public data

@service("supervision.publish_notice")
def publish_notice(actor, listing, *, version=None) -> Listing:
    """公布督办通知 (due within 5 working days of listing)."""
    listing = _begin(actor, listing, "publish_notice", version)
    if listing.published_at is not None:
        raise Conflict(_("督办通知已于%(d)s公布") % {"d": timezone.localtime(listing.published_at).date().isoformat()},
                       code="already_published")
    late = today() > listing.publish_due
    now = timezone.now()
    return _change(actor, listing, EventAction.PUBLISH_NOTICE, fields={"published_at": now, "published_by": actor},
                   data={"late": late, "due": listing.publish_due},
                   changes={"published_at": [None, now]},
                   note=_("超过应公布日期%(d)s") % {"d": listing.publish_due.isoformat()} if late else "")


@service("supervision.set_public")
def set_public(actor, listing, *, publishable, public_title, version=None) -> Listing:
    """What the public list may show: whether the listing is shown at all, and under which title."""
    listing = _begin(actor, listing, "set_public", version)
    title = _text("public_title", public_title, 100, _("公开标题"), required=True)
    title = _check_public_title(title, listing.hazard, [listing.responsible_people])
    publishable = _flag(publishable)
    changes = audit.diff({"publishable": listing.publishable, "public_title": listing.public_title},
                         {"publishable": publishable, "public_title": title})
    if not changes:
        raise _err("public_title", _("公开信息没有变化"))
    return _change(actor, listing, EventAction.SET_PUBLIC, fields={"publishable": publishable, "public_title": title},
                   changes=changes)


# ---------------------------------------------------------------- the plan (五落实) and shutdown

PLAN_FIELDS = (
    ("measures", gettext_lazy("整改措施"), gettext_lazy("措施落实")),
    ("funds", gettext_lazy("整改资金"), gettext_lazy("资金落实")),
    ("responsible_people", gettext_lazy("责任人员"), gettext_lazy("责任落实")),
    ("plan_deadline", gettext_lazy("完成时限"), gettext_lazy("时限落实")),
    ("contingency", gettext_lazy("应急预案"), gettext_lazy("预案落实")),
)


@service("supervision.file_plan")
def file_plan(actor, listing, *, measures="", funds=None, responsible_people="", plan_deadline=None,
              contingency="", version=None) -> Listing:
    """报送整改方案: all five of 五落实 are required (a revision while rectifying replaces it)."""
    listing = _begin(actor, listing, "file_plan", version, (ListingState.LISTED, ListingState.RECTIFYING))
    given = {"measures": measures, "funds": funds, "responsible_people": responsible_people,
             "plan_deadline": plan_deadline, "contingency": contingency}
    missing = {}
    for field, label, pillar in PLAN_FIELDS:
        value = given[field]
        if value is None or (isinstance(value, str) and not value.strip()):
            missing[field] = _("请填写%(label)s(%(pillar)s)") % {"label": label, "pillar": pillar}
    if missing:
        labels = "、".join(str(label) for field, label, _p in PLAN_FIELDS if field in missing)
        raise InvalidInput(_("整改方案“五落实”不完整,缺少:%(fields)s") % {"fields": labels}, detail=missing)
    fields = {
        "measures": _text("measures", measures, 4000, _("整改措施")),
        "funds": _money("funds", funds, _("整改资金")),
        "responsible_people": _text("responsible_people", responsible_people, 200, _("责任人员")),
        "plan_deadline": _date("plan_deadline", plan_deadline, _("完成时限")),
        "contingency": _text("contingency", contingency, 4000, _("应急预案")),
    }
    if fields["plan_deadline"] > listing.deadline:
        raise _err("plan_deadline", _("完成时限不能晚于督办整改期限%(d)s") % {"d": listing.deadline.isoformat()})
    if fields["plan_deadline"] < listing.listed_on:
        raise _err("plan_deadline", _("完成时限不能早于挂牌日期"))
    changes = audit.diff(audit.snapshot(listing, list(fields)), audit._plain(fields))
    now = timezone.now()
    revision = listing.plan_filed_at is not None
    listing = _change(actor, listing, EventAction.FILE_PLAN, target=ListingState.RECTIFYING,
                      fields={**fields, "plan_filed_at": now, "plan_filed_by": actor}, changes=changes,
                      data={"revision": revision, "funds": fields["funds"],
                            "plan_deadline": fields["plan_deadline"]},
                      note=_("修订整改方案") if revision else "")
    from yingji.core.models.notifications import NotificationKind

    _notify(listing, actor, _body_officers(listing), kind=NotificationKind.SYSTEM, key=f"plan:{listing.version}",
            title=_("已报送整改方案:%(t)s") % {"t": listing.hazard.title},
            body=_("完成时限 %(d)s") % {"d": fields["plan_deadline"].isoformat()})
    return listing


@service("supervision.set_shutdown")
def set_shutdown(actor, listing, *, shutdown, note="", version=None) -> Listing:
    """停产情况: none / partial (局部停产) / full (全部停产)."""
    listing = _begin(actor, listing, "shutdown", version, ACTIVE_STATES)
    value = _choice("shutdown", shutdown, Shutdown, _("停产情况"))
    if value == listing.shutdown:
        raise _err("shutdown", _("停产情况没有变化"))
    note = _text("note", note, 500, _("说明"))
    return _change(actor, listing, EventAction.SHUTDOWN, fields={"shutdown": value}, note=note,
                   changes={"shutdown": [listing.shutdown, value]}, data={"shutdown": value})


# ---------------------------------------------------------------- extensions

@service("supervision.request_extension")
def request_extension(actor, listing, *, new_deadline, reason, version=None) -> ExtensionRequest:
    """申请延期: at least 20 working days before the deadline; the new deadline is later than
    the current one and at most one year after the listing date."""
    listing = _begin(actor, listing, "request_extension", version, (ListingState.LISTED, ListingState.RECTIFYING))
    now_date = today()
    last = last_extension_day(listing)
    if now_date > last:
        message = _("延期申请须在整改期限(%(deadline)s)前至少20个工作日提出,最迟应于%(last)s提出;"
                    "现已超过申请期限,不能申请延期") % {"deadline": listing.deadline.isoformat(),
                                                       "last": last.isoformat()}
        raise InvalidInput(message, detail={"requested_on": message}, code="extension_too_late")
    new = _date("new_deadline", new_deadline, _("申请延至日期"))
    if new <= listing.deadline:
        raise _err("new_deadline", _("申请延至日期须晚于当前整改期限%(d)s") % {"d": listing.deadline.isoformat()})
    limit = latest_deadline(listing)
    if new > limit:
        raise _err("new_deadline", _("延期后的整改期限不能超过挂牌之日起一年(%(d)s)") % {"d": limit.isoformat()})
    reason = _text("reason", reason, 2000, _("延期理由"), required=True)
    now = timezone.now()
    ext = ExtensionRequest(listing=listing, requested_at=now, requested_on=now_date, requested_by=actor,
                           current_deadline=listing.deadline, new_deadline=new, reason=reason,
                           decide_due=workdays.add_working_days(now_date, EXTENSION_DECISION_WORKING_DAYS))
    try:
        with transaction.atomic():
            ext.save(force_insert=True)
    except IntegrityError:  # the partial unique index: one pending request per listing
        raise Conflict(_("已有待审批的延期申请,请等待审批结果"), code="pending_extension") from None
    _change(actor, listing, EventAction.REQUEST_EXTENSION, note=reason,
            data=_estimated({"extension": ext.pk, "new_deadline": new, "decide_due": ext.decide_due},
                            now_date, ext.decide_due),
            audit_note=_("申请延至%(d)s") % {"d": new.isoformat()})
    audit.record("supervision.extension_request", ext, audit.diff({}, audit.snapshot(ext, [
        "listing", "current_deadline", "new_deadline", "reason", "decide_due"])), actor=actor)
    from yingji.core.models.notifications import NotificationKind

    _notify(listing, actor, _body_officers(listing), kind=NotificationKind.ASSIGNMENT, key=f"extension:{ext.pk}",
            title=_("延期申请待审批:%(t)s") % {"t": listing.hazard.title},
            body=_("申请延至 %(d)s,请于 %(due)s 前审批") % {"d": new.isoformat(), "due": ext.decide_due.isoformat()})
    return ext


@service("supervision.decide_extension")
def decide_extension(actor, extension, *, approve, note="") -> ExtensionRequest:
    """延期审批 by the listing body's side (EDIT): approval moves the deadline."""
    _actor_required(actor)
    try:
        pk = int(extension.pk if isinstance(extension, ExtensionRequest) else extension)
    except (TypeError, ValueError):
        raise NotFound() from None
    ext = ExtensionRequest.objects.restrict(actor, "manage").filter(pk=pk).first()
    if ext is None:
        if ExtensionRequest.objects.visible_to(actor).filter(pk=pk).exists():
            raise Forbidden(_("您无权审批该延期申请"))
        raise NotFound()
    if ext.decision != Decision.PENDING:
        raise Conflict(_("该延期申请已审批(%(d)s)") % {"d": ext.get_decision_display()}, code="decided")
    listing = _load(actor, ext.listing_id, "manage", action_label(EventAction.DECIDE_EXTENSION))
    _require_state(listing, ACTIVE_STATES, action_label(EventAction.DECIDE_EXTENSION))
    approve = _flag(approve)
    note = _text("note", note, 500, _("审批意见"), required=not approve)
    now = timezone.now()
    decision = Decision.APPROVED if approve else Decision.REJECTED
    late = timezone.localdate(now) > ext.decide_due
    updated = ExtensionRequest.objects.filter(pk=ext.pk, decision=Decision.PENDING).update(
        decision=decision, decided_at=now, decided_by=actor, decision_note=note, updated_at=now)
    if updated != 1:
        raise _lost_race()
    fields = {"deadline": ext.new_deadline} if approve else {}
    changes = {"deadline": [listing.deadline, ext.new_deadline]} if approve else {}
    listing = _change(actor, listing, EventAction.DECIDE_EXTENSION, fields=fields, changes=changes, note=note,
                      data={"extension": ext.pk, "decision": decision, "late": late,
                            "new_deadline": ext.new_deadline},
                      audit_note=(_("批准延期至%(d)s") % {"d": ext.new_deadline.isoformat()} if approve
                                  else _("不予批准延期")) + (_("(超过审批期限)") if late else ""))
    ext.refresh_from_db()
    audit.record("supervision.extension_decide", ext, {"decision": [Decision.PENDING, decision]},
                 note=note, actor=actor)
    from yingji.core.models.notifications import NotificationKind

    _notify(listing, actor, [ext.requested_by], kind=NotificationKind.SYSTEM if approve else NotificationKind.SEND_BACK,
            key=f"extension:{ext.pk}:decided",
            title=(_("延期已批准:%(t)s") if approve else _("延期未获批准:%(t)s")) % {"t": listing.hazard.title},
            body=(_("整改期限延至 %(d)s") % {"d": ext.new_deadline.isoformat()}) if approve else note)
    return ext


# ---------------------------------------------------------------- acceptance and delisting

@service("supervision.request_acceptance")
def request_acceptance(actor, listing, *, note="", version=None) -> Listing:
    """申请验收: after the hazard's rectification has been submitted (or verified)."""
    from yingji.hazards.models import State as HazardState

    listing = _begin(actor, listing, "request_acceptance", version, (ListingState.RECTIFYING,))
    hazard = listing.hazard
    if hazard.state not in (HazardState.SUBMITTED, HazardState.CLOSED):
        raise Conflict(_("请先在隐患整改中提交整改材料后再申请验收(隐患当前状态:%(s)s)") % {
            "s": hazard.get_state_display()}, code="hazard_not_submitted")
    note = _text("note", note, 500, _("说明"))
    _hold_hazard(hazard, (HazardState.SUBMITTED, HazardState.CLOSED))
    now = timezone.now()
    listing = _change(actor, listing, EventAction.REQUEST_ACCEPTANCE, target=ListingState.ACCEPTANCE_REQUESTED,
                      fields={"acceptance_requested_at": now, "acceptance_requested_by": actor,
                              "acceptance_result": "", "acceptance_note": "", "acceptance_at": None,
                              "acceptance_by": None}, note=note)
    from yingji.core.models.notifications import NotificationKind

    _notify(listing, actor, _body_officers(listing), kind=NotificationKind.ASSIGNMENT,
            key=f"acceptance_request:{listing.version}",
            title=_("挂牌督办待验收:%(t)s") % {"t": listing.hazard.title}, body=note or _("企业已申请验收"))
    return listing


@service("supervision.accept")
def accept(actor, listing, *, passed, note="", version=None) -> Listing:
    """验收: passed → 验收通过; failed (with a reason) → back to 整改中. Not by the requester."""
    listing = _begin(actor, listing, "acceptance", version, (ListingState.ACCEPTANCE_REQUESTED,))
    if listing.acceptance_requested_by_id == actor.pk:
        raise Forbidden(_("申请验收人不能验收自己的申请,请由其他人员验收"), code="self_accept")
    passed = _flag(passed)
    note = _text("note", note, 500, _("验收意见"), required=not passed)
    result = AcceptanceResult.PASSED if passed else AcceptanceResult.FAILED
    now = timezone.now()
    listing = _change(actor, listing, EventAction.ACCEPTANCE,
                      target=ListingState.ACCEPTED if passed else ListingState.RECTIFYING,
                      fields={"acceptance_result": result, "acceptance_note": note, "acceptance_at": now,
                              "acceptance_by": actor},
                      changes={"acceptance_result": [listing.acceptance_result, result]}, note=note,
                      data={"result": result})
    from yingji.core.models.notifications import NotificationKind

    _notify(listing, actor, _site_managers(listing) + [listing.acceptance_requested_by],
            kind=NotificationKind.SYSTEM if passed else NotificationKind.SEND_BACK,
            key=f"acceptance:{listing.version}",
            title=(_("挂牌督办验收通过:%(t)s") if passed else _("挂牌督办验收未通过:%(t)s")) % {"t": listing.hazard.title},
            body=note)
    return listing


@service("supervision.delist")
def delist(actor, listing, *, note="", version=None) -> Listing:
    """摘牌销号: after a passed acceptance check, with the hazard itself closed (验收销号)."""
    from yingji.hazards.models import State as HazardState

    listing = _begin(actor, listing, "delist", version, (ListingState.ACCEPTED,))
    if listing.hazard.state != HazardState.CLOSED:
        raise Conflict(_("隐患尚未验收销号(当前状态:%(s)s),请先在隐患页面完成验收销号后再摘牌") % {
            "s": listing.hazard.get_state_display()}, code="hazard_not_closed")
    note = _text("note", note, 500, _("说明"))
    _hold_hazard(listing.hazard, (HazardState.CLOSED,))
    now = timezone.now()
    due = workdays.add_working_days(timezone.localdate(now), PUBLISH_WORKING_DAYS)
    listing = _change(actor, listing, EventAction.DELIST, target=ListingState.DELISTED,
                      fields={"delisted_at": now, "delisted_by": actor, "delist_publish_due": due}, note=note,
                      data=_estimated({"publish_due": due}, now, due), changes={"delisted_at": [None, now]})
    from yingji.core.models.notifications import NotificationKind

    _notify(listing, actor, _site_managers(listing), kind=NotificationKind.SYSTEM, key="delist",
            title=_("已摘牌销号:%(t)s") % {"t": listing.hazard.title}, body=note)
    return listing


@service("supervision.publish_delisting")
def publish_delisting(actor, listing, *, version=None) -> Listing:
    """公布摘牌销号 (due within 5 working days of delisting)."""
    listing = _begin(actor, listing, "publish_delisting", version, (ListingState.DELISTED,))
    if listing.delist_published_at is not None:
        raise Conflict(_("摘牌销号已公布"), code="already_published")
    if listing.published_at is None:
        raise Conflict(_("督办通知尚未公布,请先公布督办通知"), code="notice_unpublished")
    late = today() > listing.delist_publish_due
    now = timezone.now()
    return _change(actor, listing, EventAction.PUBLISH_DELISTING, fields={"delist_published_at": now},
                   changes={"delist_published_at": [None, now]},
                   data={"late": late, "due": listing.delist_publish_due},
                   note=_("超过应公布日期%(d)s") % {"d": listing.delist_publish_due.isoformat()} if late else "")


@service("supervision.archive")
def archive(actor, listing, *, reason, version=None) -> Listing:
    """归档 (e.g. listed by mistake): hidden from lists and from the public; never deleted."""
    listing = _begin(actor, listing, "archive", version)
    reason = _text("reason", reason, 500, _("归档理由"), required=True)
    now = timezone.now()
    listing = _change(actor, listing, EventAction.ARCHIVE, note=reason, changes={"archived_at": [None, now]},
                      fields={"archived_at": now, "archived_by": actor})
    return listing


# ---------------------------------------------------------------- reminders (periodic job)

DUE_SOON_WORKING_DAYS = 10


def remind_due(today: datetime.date | None = None) -> dict:
    """期限提醒, run by the worker (job ``supervision.remind``): for every active listing, remind
    the site and the listing body when the deadline is within 10 working days, escalate to the
    listing body when it has passed, and chase notices and extension decisions that are late.
    Each reminder goes out once per deadline (notification dedupe keys); each listing reminded
    gets one audit entry (the system). Active listings are few (tens, not thousands)."""
    today = today or timezone.localdate()
    soon = workdays.add_working_days(today, DUE_SOON_WORKING_DAYS)
    counts = {"due_soon": 0, "overdue": 0, "notice_late": 0, "decision_late": 0}
    if workdays.uncovered_years(today, soon):
        counts["calendar_estimated"] = workdays.uncovered_years(today, soon)
        logging.getLogger("yingji.supervision").warning(workdays.calendar_warning(today, soon))
    listings = (Listing.objects.filter(state__in=ACTIVE_STATES, archived_at__isnull=True)
                .select_related("hazard__area", "hazard__site", "listed_by").order_by("id"))
    for listing in listings:
        late = list(listing.extensions.filter(decision=Decision.PENDING, decide_due__lt=today))
        due = []
        if listing.deadline < today:
            due.append("overdue")
        elif listing.deadline <= soon:
            due.append("due_soon")
        if listing.published_at is None and listing.publish_due < today:
            due.append("notice_late")
        if late:
            due.append("decision_late")
        if due:
            _remind(listing, due, late)
            for what in due:
                counts[what] += 1
    return counts


@service("supervision.remind")
def _remind(listing: Listing, due: list[str], late: list) -> None:
    from yingji.core.models.notifications import NotificationKind

    title = listing.public_title or listing.hazard.title
    if "overdue" in due:
        _notify(listing, None, _body_officers(listing) + _site_managers(listing),
                kind=NotificationKind.ESCALATION, key=f"overdue:{listing.deadline.isoformat()}",
                title=_("挂牌督办隐患已超过整改期限:%(t)s") % {"t": title},
                body=_("整改期限%(d)s已过,请督促整改或依法处理。") % {"d": listing.deadline.isoformat()})
    if "due_soon" in due:
        _notify(listing, None, _site_managers(listing) + _body_officers(listing),
                kind=NotificationKind.DEADLINE, key=f"due-soon:{listing.deadline.isoformat()}",
                title=_("挂牌督办隐患整改期限临近:%(t)s") % {"t": title},
                body=_("整改期限为%(d)s,请按期完成整改并申请验收。") % {"d": listing.deadline.isoformat()})
    if "notice_late" in due:
        _notify(listing, None, _body_officers(listing), kind=NotificationKind.DEADLINE, key="notice-late",
                title=_("督办通知未按期公布:%(t)s") % {"t": title},
                body=_("督办通知应于%(d)s前公布。") % {"d": listing.publish_due.isoformat()})
    for ext in late:
        _notify(listing, None, _body_officers(listing), kind=NotificationKind.DEADLINE,
                key=f"decision-late:{ext.pk}", title=_("延期申请未按期审批:%(t)s") % {"t": title},
                body=_("延期申请应于%(d)s前审批。") % {"d": ext.decide_due.isoformat()})
    audit.record("supervision.remind", listing, {"reminders": [None, ", ".join(due)]}, actor=None)
