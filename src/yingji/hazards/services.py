"""Write services of the hazard closed loop.

Every state change goes through ``_transition`` (via the public services below): it checks the
actor's capability and scope (out of scope → ``NotFound``, visible but not allowed →
``Forbidden``), the state (→ ``Conflict`` with a Chinese message), the optional client
``version``, then changes the row with a conditional UPDATE (``WHERE state = expected AND
version = v``) so that of two people acting at once exactly one wins; it writes a
``HazardEvent`` and an audit entry in the same transaction.

Idempotency: a report carries ``idempotency_key`` (unique on ``Hazard``); a transition carries
one too (unique on ``HazardEvent``). A retry with a known key returns the existing hazard
instead of acting twice, also when the two calls race (the unique constraint decides).

Hook points for modules that come later: notifications (on accept = assignment, send-back and
escalation: see ``_after_commit``), inspections/campaigns (nullable FKs on ``Hazard``).
"""
from __future__ import annotations

import datetime
import functools
import logging
import re
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from yingji.core.validators import clean_date
from yingji.core.validators import clean_choice as _choice
from yingji.core.validators import field_error as _err
from yingji.core.validators import clean_text as _text
from yingji.core import attachments, audit, hotsql, roles, sqlinsert
from yingji.core.audit import service
from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.core.models import Area, AreaLevel, Sector
from yingji.core.scoping import grants_for
from yingji.core.validators import clean_coordinates

from .models import (HANDLED_ACTIONS, OPEN_STATES, TRANSITIONS, Action, Category, Hazard, HazardEvent, Level,
                     Outcome, Rectification, Side, Source, State, grant_side, side_capability)

log = logging.getLogger(__name__)

IDEMPOTENCY_KEY_MAX = 64
MAX_FILES = 9
PHONE_RE = re.compile(r"^1\d{10}$|^0\d{2,3}-?\d{7,8}(-\d{1,6})?$")
KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")


# ---------------------------------------------------------------- input cleaning

def _date(field: str, value, label: str, required: bool = False):
    return clean_date(field, value, label, required=required)


def _phone(value) -> str:
    value = ("" if value is None else str(value)).strip().replace(" ", "")
    if value and not PHONE_RE.match(value):
        raise _err("responsible_phone", _("责任人电话格式不正确(手机号11位或固话如0575-87012345)"))
    return value


def _cost(value):
    if value in (None, ""):
        return None
    try:
        cost = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise _err("cost", _("整改资金须为数字")) from None
    if not cost.is_finite() or cost < 0 or cost >= Decimal("10000000000"):
        raise _err("cost", _("整改资金须在0到100亿元之间"))
    return cost.quantize(Decimal("0.01"))


def clean_key(value) -> str | None:
    """An idempotency key from a header or form field: None when absent, InvalidInput when bad."""
    key = ("" if value is None else str(value)).strip()
    if not key:
        return None
    if not KEY_RE.match(key):
        raise _err("idempotency_key", _("幂等键须为8到64位字母、数字或 _ . : -"))
    return key


def _actor_required(actor) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise Forbidden(_("请先登录"))


def _files(files) -> list:
    files = [f for f in (files or []) if f is not None]
    if len(files) > MAX_FILES:
        raise _err("files", _("一次最多上传%(n)d个文件") % {"n": MAX_FILES})
    return files


def _is_site_bound(actor) -> bool:
    grants = grants_for(actor)
    return bool(grants) and all(g.site_ids is not None for g in grants)


# ---------------------------------------------------------------- reads used by services and views

def reaches(actor, hazard: Hazard, action: str) -> bool:
    """Whether ``actor`` may perform scoping ``action`` ("report", "manage", "rectify", "view",
    "edit") on ``hazard`` — evaluated in Python on the actor's grants, for a row that is not
    saved yet (its ``area`` must be set). The same rule as ``Hazard.objects.restrict(actor,
    action)``: ``Hazard.scope_q`` / ``ScopedModel.location_q`` (tests/hazards/test_risk_feed.py
    checks that both agree for every persona)."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    area_code = hazard.area.code
    for grant in grants_for(actor):
        if action in HANDLED_ACTIONS:
            side = grant_side(grant)
            if side not in getattr(hazard.handling, HANDLED_ACTIONS[action]):
                continue
            capability, draft_only = side_capability(side), False
        elif action in ("report", "rectify", "manage"):
            if action == "report":
                capability = roles.REPORT
            elif action == "rectify":
                capability = roles.REPORT if grant.site_ids is not None else roles.EDIT
            else:
                capability = roles.EDIT if grant.site_ids is None else None
            draft_only = False
        elif action == "edit" and not grant.allows(roles.EDIT):
            capability, draft_only = roles.REPORT, True
        else:
            capability, draft_only = Hazard.capability_for(action), False
        if capability is None or not grant.allows(capability):
            continue
        if draft_only and hazard.state != State.DRAFT:
            continue
        if grant.site_ids is not None:
            if hazard.site_id is not None and hazard.site_id in grant.site_ids:
                return True
            continue
        if not grant.area_is_root and not area_code.startswith(grant.area_code):
            continue
        if grant.sector_ids and hazard.sector_id not in grant.sector_ids:
            continue
        return True
    return False


_STATE_LABELS = dict(State.choices)      # lazy labels: str() translates into the active language
_ACTION_LABELS = dict(Action.choices)


def state_label(state: str) -> str:
    label = _STATE_LABELS.get(state)
    return state if label is None else str(label)


def action_label(action: str) -> str:
    label = _ACTION_LABELS.get(action)
    return action if label is None else str(label)


def allowed_actions(user, hazard: Hazard) -> list[str]:
    """The transitions ``user`` may perform on ``hazard`` now (for buttons); services re-check."""
    if hazard.archived_at is not None or not getattr(user, "is_authenticated", False):
        return []
    result = []
    for action in (Action.ACCEPT, Action.SUBMIT, Action.VERIFY, Action.SEND_BACK, Action.ARCHIVE):
        spec = TRANSITIONS[action]
        if hazard.state not in spec.sources:
            continue
        if not Hazard.objects.restrict(user, spec.scope).filter(pk=hazard.pk).exists():
            continue
        if action == Action.VERIFY and _rectifier_id(hazard) == user.pk:
            continue
        result.append(str(action))
    return result


# ---------------------------------------------------------------- who accepts / verifies (models.HANDLING)

def side_label(sides) -> str:
    """Who acts, for people: the government side, the enterprise, or either."""
    sides = set(sides)
    if sides == {Side.GOVERNMENT, Side.ENTERPRISE}:
        return _("企业(非整改人)或属地镇街/行业监管部门")
    if sides == {Side.ENTERPRISE}:
        return _("企业")
    return _("属地镇街或行业监管部门")


def finder_label(hazard: Hazard) -> str:
    if hazard.finder == Side.ENTERPRISE:
        return _("企业自查发现")
    return _("监管部门发现(%(source)s)") % {"source": hazard.get_source_display()}


def handling_rule(hazard: Hazard) -> str:
    """The hazard's row of ``HANDLING`` as a sentence (the detail page's "由谁受理/验收")."""
    rule = hazard.handling
    text = _("由%(accept)s受理并确定整改期限,整改后由%(verify)s验收销号") % {
        "accept": side_label(rule.accept), "verify": side_label(rule.verify)}
    if hazard.finder == Side.GOVERNMENT:
        text += _(";企业不能自行受理或验收,只需按期整改并提交整改证据")
    elif Side.ENTERPRISE in rule.verify:
        text += _("(自查自改)")
    else:
        text += _("(重大隐患须经监管部门验收)")
    return text


def next_step(user, hazard: Hazard, allowed: list[str]) -> str:
    """What happens next and who does it — shown whenever a button is not there for ``user``
    (the verify button never vanishes without saying who may verify and when)."""
    if hazard.archived_at is not None or hazard.state not in OPEN_STATES:
        return ""
    rule = hazard.handling
    verify_by = side_label(rule.verify)
    if hazard.state == State.REPORTED:
        return _("待%(who)s受理(确定整改责任人和整改期限);待%(v)s验收(整改提交后)") % {
            "who": side_label(rule.accept), "v": verify_by}
    if hazard.state == State.RECTIFYING:
        return _("待整改责任单位整改并提交整改证据;待%(v)s验收(整改提交后)") % {"v": verify_by}
    line = _("待%(v)s验收") % {"v": verify_by}
    if Action.VERIFY not in allowed and getattr(user, "pk", None) is not None and _rectifier_id(hazard) == user.pk:
        line += _("(整改人不能验收自己提交的整改)")
    return line


def rule_refusal(actor, hazard: Hazard, action: str) -> str:
    """The Chinese reason ``actor`` (who can see ``hazard``) may not perform ``action`` on it."""
    spec_scope = TRANSITIONS[action].scope
    attr = HANDLED_ACTIONS.get(spec_scope)
    if attr is None:
        return _("您无权对该隐患执行“%(action)s”") % {"action": action_label(action)}
    sides = getattr(hazard.handling, attr)
    mine = {grant_side(g) for g in grants_for(actor)}
    if action == Action.ACCEPT:
        if Side.ENTERPRISE in mine and Side.ENTERPRISE not in sides:
            return _("该隐患由监管部门检查发现,须由属地镇街或行业监管部门受理并确定整改期限;"
                     "企业按期整改并提交整改证据即可")
        if Side.GOVERNMENT in mine and Side.GOVERNMENT not in sides:
            return _("该隐患为企业自查发现,由企业自行受理并确定整改期限")
        return _("您无权受理该隐患:须由%(who)s受理") % {"who": side_label(sides)}
    if Side.ENTERPRISE in mine and Side.ENTERPRISE not in sides:
        if hazard.finder == Side.ENTERPRISE:
            return _("企业自查发现的重大隐患须由属地镇街或行业监管部门验收销号")
        return _("该隐患由监管部门检查发现,须由属地镇街或行业监管部门验收,企业不能自行验收销号")
    return _("您无权对该隐患执行“%(action)s”:须由%(who)s办理") % {
        "action": action_label(action), "who": side_label(sides)}


def _rectifier_id(hazard: Hazard) -> int | None:
    return (Rectification.objects.filter(hazard_id=hazard.pk, submitted_at__isnull=False)
            .order_by("-id").values_list("submitted_by_id", flat=True).first())


def open_counts(site_id: int) -> dict:
    """The site's open, open major and overdue hazards (one query on the site/state index)."""
    from django.db.models import Count, Q

    return Hazard.objects.filter(site_id=site_id, state__in=OPEN_STATES, archived_at__isnull=True).aggregate(
        open_hazards=Count("id"), open_major_hazards=Count("id", filter=Q(level=Level.MAJOR)),
        overdue_hazards=Count("id", filter=Q(is_overdue=True)))


# ---------------------------------------------------------------- the site's risk feed

RISK_FEED_JOB = "hazards.feed_risk"


def risk_feed_slot_seconds() -> int:
    """Reports and transitions of one site within one slot cause one regrade (default 10 s)."""
    return max(1, int(getattr(settings, "HAZARD_RISK_FEED_SECONDS", 10)))


def risk_feed_grace_seconds() -> int:
    """How long after its slot ends the regrade waits, so that changes made in the slot have
    committed before it counts (default 5 s; a request transaction takes milliseconds)."""
    return max(0, int(getattr(settings, "HAZARD_RISK_FEED_GRACE_SECONDS", 5)))


def _risk_module() -> bool:
    from django.apps import apps

    return apps.is_installed("yingji.risk")


def _queue_risk_feed(hazard: Hazard) -> None:
    """Record, in the transaction of the change, that the site's dynamic risk factors need
    recomputing: one ``hazards.feed_risk`` job per site per slot (idempotency key
    ``hazards.feed_risk:<site>:<slot>``), due when the slot has ended plus the grace period.
    Later changes in the same slot find the queued job; the worker then regrades once."""
    if not hazard.site_id or not _risk_module():
        return
    from yingji.core import jobs
    from yingji.core.models import JobStatus

    period = risk_feed_slot_seconds()
    slot = int(timezone.now().timestamp()) // period
    for _attempt in range(3):
        run_after = datetime.datetime.fromtimestamp((slot + 1) * period + risk_feed_grace_seconds(),
                                                    tz=datetime.timezone.utc)
        status = jobs.enqueue_coalesced(RISK_FEED_JOB, area=hazard.area, params={"site": hazard.site_id},
                                        run_after=run_after, key=f"{RISK_FEED_JOB}:{hazard.site_id}:{slot}")
        if status == JobStatus.QUEUED:
            return
        slot += 1  # that slot's job has already started (clock skew, a slow request): queue the next one


def feed_risk(site_id: int) -> dict:
    """Push the site's open/major/overdue hazard counts into its risk grade (the worker runs it
    for ``hazards.feed_risk``; risk is imported lazily: hazards must not depend on it). A call
    that changes nothing writes nothing; a change is audited as the system
    (``risk.dynamic_factors``, ``risk.assess``)."""
    from yingji.registry.models import Site
    from yingji.risk.services import set_dynamic_factors

    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return {"site": site_id, "skipped": True}
    counts = open_counts(site_id)
    assessment = set_dynamic_factors(site, **counts)
    return {"site": site_id, **counts, "colour": assessment.colour if assessment is not None else None}


def _after_commit(hazard: Hazard, action: str, actor=None) -> None:
    """Work that follows a change, queued in its transaction: notifications (sent after commit
    by the outbox) and the regrade of the site's dynamic risk factors (a job, see
    :func:`_queue_risk_feed`)."""
    _notify(hazard, action, actor)
    _queue_risk_feed(hazard)


def _officers(area) -> list:
    """Active town officers / city administrators holding a role exactly at ``area``."""
    from yingji.core.models import RoleAssignment

    if area is None:
        return []
    return [a.user for a in RoleAssignment.objects.filter(
        area=area, revoked_at__isnull=True, user__is_active=True,
        role__in=[roles.TOWN_OFFICER, roles.CITY_ADMIN]).select_related("user")]


def _site_managers(hazard: Hazard) -> list:
    if not hazard.site_id:
        return []
    from yingji.registry.models import SiteBinding

    return [b.assignment.user for b in SiteBinding.objects.filter(
        site_id=hazard.site_id, revoked_at__isnull=True, assignment__revoked_at__isnull=True,
        assignment__user__is_active=True).select_related("assignment__user")]


def _acceptor(hazard: Hazard):
    """Who accepted the hazard last (the responsible officer, or the enterprise for its own)."""
    event = (HazardEvent.objects.filter(hazard_id=hazard.pk, action=Action.ACCEPT, actor__isnull=False)
             .select_related("actor").order_by("-id").first())
    return event.actor if event is not None else None


def _rectifier(hazard: Hazard):
    rect = (Rectification.objects.filter(hazard_id=hazard.pk, submitted_at__isnull=False)
            .select_related("submitted_by").order_by("-id").first())
    return rect.submitted_by if rect is not None else None


def _reporter(hazard: Hazard):
    from yingji.core.models import User

    return User.objects.filter(pk=hazard.reported_by_id).first()


def _concerned(hazard: Hazard) -> list:
    """The people a hazard's outcome concerns: its reporter, the site's bound enterprise
    managers, the responsible officer (who accepted it) and whoever submitted its fix."""
    return [_reporter(hazard), *_site_managers(hazard), _acceptor(hazard), _rectifier(hazard)]


def _deadline_text(hazard: Hazard) -> str:
    return hazard.deadline.isoformat() if hazard.deadline else "—"


def _message(hazard: Hazard, event: str) -> tuple[str, str, str]:
    """(notification kind, title, body) of a hazard event."""
    from yingji.core.models.notifications import NotificationKind

    label = hazard.title or hazard.description[:30]
    if event == Action.ACCEPT:
        return (NotificationKind.ASSIGNMENT, _("隐患已受理,请按期整改:%(t)s") % {"t": label},
                _("整改责任人:%(p)s;整改期限:%(d)s") % {"p": hazard.responsible_person or "—",
                                                 "d": _deadline_text(hazard)})
    if event == Action.SUBMIT:
        return NotificationKind.ASSIGNMENT, _("待验收:%(t)s") % {"t": label}, _("企业已提交整改材料")
    if event == Action.SEND_BACK:
        last = hazard.events.filter(action=Action.SEND_BACK).order_by("-id").first()
        return (NotificationKind.SEND_BACK, _("整改被退回:%(t)s") % {"t": label},
                last.reason if last is not None else "")
    if event == Action.VERIFY:
        return NotificationKind.SYSTEM, _("隐患已验收销号:%(t)s") % {"t": label}, ""
    if event == "due_soon":
        return (NotificationKind.DEADLINE, _("隐患整改期限临近:%(t)s") % {"t": label},
                _("整改期限为%(d)s,请按期完成整改并提交整改证据。") % {"d": _deadline_text(hazard)})
    if event == "overdue":
        return (NotificationKind.DEADLINE, _("隐患已超过整改期限:%(t)s") % {"t": label},
                _("整改期限%(d)s已过,请尽快整改并提交整改证据。") % {"d": _deadline_text(hazard)})
    return (NotificationKind.ESCALATION, _("隐患超期升级:%(t)s") % {"t": label},
            _("已超过整改期限%(d)s") % {"d": _deadline_text(hazard)})


# Who hears of what (besides the escalation's officers and, for a submission, the verifiers):
# every event of a hazard's outcome reaches its reporter, the site's bound enterprise managers,
# the responsible officer and the rectifier — each once, never the person who acted.
NOTIFIED_EVENTS = (Action.ACCEPT, Action.SEND_BACK, Action.VERIFY, "due_soon", "overdue")


def notify_event(hazard: Hazard, event: str, *, actor=None, recipients=None, key: str | None = None,
                 exclude=()) -> list:
    """Inbox (and channel) messages for one hazard ``event``, in the caller's transaction:
    nothing is sent if it rolls back, the outbox delivers after commit. ``key`` dedupes: the
    same event never notifies the same person twice."""
    from yingji.core.notifications import notify

    people = _concerned(hazard) if recipients is None else recipients
    skip = {getattr(actor, "pk", None)} | {getattr(u, "pk", u) for u in exclude}
    people = [u for u in people if u is not None and u.pk not in skip]
    if not people:
        return []
    kind, title, body = _message(hazard, event)
    return notify(people, kind=kind, title=title, body=body, link=f"/hazards/{hazard.pk}/", obj=hazard,
                  dedupe_key=key or f"hazard:{hazard.pk}:{event}:{hazard.version}")


def _notify(hazard: Hazard, action: str, actor=None) -> None:
    """The notifications of a transition (see ``NOTIFIED_EVENTS``), of a submission (the town's
    officers and the responsible officer verify) and of an escalation (the officers of the area
    it went to; on becoming overdue, also the hazard's people)."""
    if action in NOTIFIED_EVENTS:
        notify_event(hazard, action, actor=actor)
    elif action == Action.SUBMIT:
        town = next((a for a in hazard.area.ancestors(include_self=True) if a.level == 2), None)
        officer = _acceptor(hazard)
        verifiers = _officers(town) + ([officer] if officer is not None and not _is_site_bound(officer) else [])
        notify_event(hazard, action, actor=actor, recipients=verifiers)
    elif action == Action.ESCALATE:
        officers = _officers(hazard.escalated_to)
        notify_event(hazard, action, recipients=officers,
                     key=f"hazard:{hazard.pk}:{action}:{hazard.version}:{hazard.escalation_level}")
        if hazard.escalation_level == 1:
            notify_event(hazard, "overdue", exclude=officers,
                         key=f"hazard:{hazard.pk}:overdue:{_deadline_text(hazard)}")


# ---------------------------------------------------------------- the transition core

def _state_conflict(hazard: Hazard, action: str) -> Conflict:
    return Conflict(_("该隐患当前状态为“%(state)s”,不能执行“%(action)s”") % {
        "state": state_label(hazard.state), "action": action_label(action)}, code="invalid_state")


def _lost_race() -> Conflict:
    return Conflict(_("该隐患已被他人处理,请刷新后重试"), code="stale")


def _load(actor, pk, action: str) -> Hazard:
    """The hazard ``pk`` if ``actor`` may perform ``action`` on it: out of scope → NotFound,
    visible but not allowed → Forbidden."""
    _actor_required(actor)
    spec = TRANSITIONS[action]
    try:
        pk = int(pk.pk if isinstance(pk, Hazard) else pk)
    except (TypeError, ValueError):
        raise NotFound() from None
    hazard = Hazard.objects.restrict(actor, spec.scope).filter(pk=pk).first()
    if hazard is None:
        visible = Hazard.objects.visible_to(actor).filter(pk=pk).select_related("area").first()
        if visible is not None:
            raise Forbidden(rule_refusal(actor, visible, action))
        raise NotFound()
    return hazard


def _check(hazard: Hazard, action: str, version) -> None:
    if hazard.archived_at is not None:
        raise Conflict(_("该隐患已归档,不能执行“%(action)s”") % {"action": action_label(action)},
                       code="archived")
    if version not in (None, ""):  # the client's view is out of date: someone acted meanwhile
        try:
            version = int(version)
        except (TypeError, ValueError):
            raise _err("version", _("版本号无效")) from None
        if version != hazard.version:
            raise _lost_race()
    if hazard.state not in TRANSITIONS[action].sources:
        raise _state_conflict(hazard, action)


def precheck(actor, hazard, action: str, version=None, idempotency_key=None) -> Hazard:
    """Raise the error ``action`` would raise now for permission, scope and state (for pages,
    before parsing the action's form); the service checks all of it again. A retry of a
    transition that already happened (same idempotency key) passes."""
    key = clean_key(idempotency_key)
    if key is not None and HazardEvent.objects.filter(idempotency_key=key, actor_id=actor.pk, action=action).exists():
        return hazard
    hazard = _load(actor, hazard, action)
    _check(hazard, action, version)
    if action == Action.VERIFY and _rectifier_id(hazard) == actor.pk:
        raise Forbidden(_("整改人不能验收自己提交的整改,请由其他人员验收"), code="self_verify")
    return hazard


def _begin(actor, hazard, action: str, version, idempotency_key) -> tuple[Hazard, str | None, bool]:
    """The shared start of a transition: a retry of one already done returns its result
    (``repeated``); otherwise the hazard, loaded through the scope/permission check (out of
    scope → NotFound) and checked for state and version."""
    _actor_required(actor)
    key = clean_key(idempotency_key)
    repeat = _repeat_of(actor, key, action)
    if repeat is not None:
        return repeat, key, True
    hazard = _load(actor, hazard, action)
    _check(hazard, action, version)
    return hazard, key, False


def _repeat_of(actor, key: str | None, action: str) -> Hazard | None:
    """The hazard an earlier call with the same idempotency key acted on (None: a new key)."""
    if key is None:
        return None
    event = HazardEvent.objects.filter(idempotency_key=key).select_related("hazard").first()
    if event is None:
        return None
    if event.actor_id != actor.pk or event.action != action:
        raise Conflict(_("该幂等键已被其他操作使用"), detail={"idempotency_key": _("幂等键已被使用")},
                       code="idempotency_conflict")
    audit.record(f"hazard.{action}_repeat", event.hazard, {}, note=_("重复提交,返回已有结果"), actor=actor)
    return event.hazard


def _transition(actor, hazard: Hazard, action: str, *, reason: str = "", data: dict | None = None,
                fields: dict | None = None, key: str | None = None, changes: dict | None = None,
                inserted: bool = False) -> Hazard:
    """Compare-and-set ``hazard`` (as loaded and checked by the caller) to the action's target
    state; write the event and the audit entry. Must run inside the caller's service transaction.

    ``inserted``: the caller has just inserted the row, in this transaction, already in the
    action's target state with the version counted (a report without photos): nobody else can
    have seen it, so only the event and the audit entry are written."""
    spec = TRANSITIONS[action]
    now = timezone.now()
    if inserted:
        from_state, target = spec.sources[0], hazard.state
        event = HazardEvent(hazard=hazard, action=action, from_state=from_state, to_state=target, actor=actor,
                            at=hazard.updated_at or now, reason=reason, data=data or {}, idempotency_key=key)
        sqlinsert.insert([event])
        audit_changes = {"state": [from_state, target]}
        audit_changes.update(changes or {})
        audit.record(f"hazard.{action}", hazard, audit_changes, note=reason, actor=actor)
        _after_commit(hazard, action, actor)
        return hazard
    target = spec.target or hazard.state
    update = dict(fields or {})
    updated = Hazard.objects.filter(pk=hazard.pk, state=hazard.state, version=hazard.version,
                                    archived_at__isnull=True).update(
        state=target, version=F("version") + 1, updated_at=now, **update)
    if updated != 1:
        if key is not None:
            repeat = _repeat_of(actor, key, action)
            if repeat is not None:
                return repeat
        raise _lost_race()
    from_state = hazard.state
    event = HazardEvent(hazard=hazard, action=action, from_state=from_state, to_state=target, actor=actor,
                        at=now, reason=reason, data=data or {}, idempotency_key=key)
    if key is None:
        event.save(force_insert=True)  # nothing unique to collide on: no savepoint round trips
    else:
        try:
            with transaction.atomic():
                event.save(force_insert=True)
        except IntegrityError:
            # The same key was used concurrently for another change: this one must not happen.
            raise Conflict(_("该幂等键已被其他操作使用"), detail={"idempotency_key": _("幂等键已被使用")},
                           code="idempotency_conflict") from None
    # The conditional UPDATE above matched (state, version): the row now holds exactly these values.
    hazard.state, hazard.version, hazard.updated_at = target, hazard.version + 1, now
    for name, value in update.items():
        setattr(hazard, name, value)
    audit_changes = {"state": [from_state, target]}
    audit_changes.update(changes or {})
    audit.record(f"hazard.{action}", hazard, audit_changes, note=reason, actor=actor)
    _after_commit(hazard, action, actor)
    return hazard


# ---------------------------------------------------------------- attachments inside a service

def _attach_all(actor, obj, files, created: list) -> None:
    for f in files:
        created.append(attachments.add_attachment(actor, obj, f))


def _discard_files(created: list) -> None:
    """The transaction that held these attachments rolled back: remove their stored files."""
    for att in created:
        for name in (att.storage_name, att.thumbnail_name):
            if not name:
                continue
            try:
                attachments.storage_path(name).unlink()
            except (FileNotFoundError, NotFound):
                pass


# ---------------------------------------------------------------- report

def _resolve_site(actor, site):
    """The report's site, visible to the actor and not archived, with its area, and its live
    sectors in order (``report_sector_ids``): one prepared statement, the scope decided in Python
    by ``Site.reaches`` (the rule of ``Site.objects.visible_to``)."""
    from yingji.registry.models import Site

    if site in (None, ""):
        return None
    try:
        pk = int(site.pk if isinstance(site, Site) else site)
    except (TypeError, ValueError):
        raise _err("site", _("监管对象无效")) from None
    sql, site_fields, area_fields = _site_sql()
    rows = hotsql.fetch(sql, [pk]) if -2**63 <= pk < 2**63 else []
    if rows:
        first, n = rows[0], len(site_fields)
        obj = hotsql.instance(Site, site_fields, first[:n])
        obj.area = hotsql.instance(Area, area_fields, first[n:n + len(area_fields)])
        sectors = [r[-2] for r in rows if r[-2] is not None]
        if Site.reaches(actor, "view", area_code=obj.area.code, sector_ids=sectors, site_id=obj.pk):
            obj.report_sector_ids = [r[-2] for r in rows if r[-2] is not None and r[-1] is None]
            if obj.archived_at is not None:
                raise _err("site", _("该监管对象已归档,不能上报隐患"))
            return obj
    raise NotFound(_("监管对象不存在或无权访问"), detail={"site": _("监管对象不存在或无权访问")})


@functools.cache
def _site_sql() -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """What a report reads of its site (a site row is wide: pinyin, address, contacts, …), its area
    (whole) and its sectors (one row per sector, live ones marked, in their order)."""
    from yingji.registry.models import Site

    q = connection.ops.quote_name
    site_fields = ("id", "name", "area_id", "archived_at")
    area_fields = tuple(f.attname for f in Area._meta.concrete_fields)
    through, sector, site, area = Site.sectors.through._meta, Sector._meta, Site._meta, Area._meta
    col = hotsql.column
    sql = (f"SELECT {hotsql.columns(Site, site_fields, 's')}, {hotsql.columns(Area, area_fields, 'a')}, "
           f"t.{col(through, 'sector')}, c.{col(sector, 'archived_at')} "
           f"FROM {q(site.db_table)} s INNER JOIN {q(area.db_table)} a ON a.{col(area, 'id')} = s.{col(site, 'area')} "
           f"LEFT OUTER JOIN {q(through.db_table)} t ON t.{col(through, 'site')} = s.{col(site, 'id')} "
           f"LEFT OUTER JOIN {q(sector.db_table)} c ON c.{col(sector, 'id')} = t.{col(through, 'sector')} "
           f"WHERE s.{col(site, 'id')} = %s ORDER BY c.{col(sector, 'sort')}, c.{col(sector, 'id')}")
    return sql, site_fields, area_fields


def _resolve_area(actor, area) -> Area:
    if area in (None, ""):
        raise _err("area", _("未选择监管对象时须选择所属区域"))
    try:
        pk = int(area.pk if isinstance(area, Area) else area)
    except (TypeError, ValueError):
        raise _err("area", _("所属区域无效")) from None
    obj = Area.objects.visible_to(actor).filter(pk=pk).first()
    if obj is None:
        raise NotFound(_("所属区域不存在或无权访问"), detail={"area": _("所属区域不存在或无权访问")})
    if obj.archived_at is not None:
        raise _err("area", _("该区域已归档"))
    return obj


def module_sector_ids(checklist_item) -> list[int]:
    """The live sectors of the checklist module an item belongs to (a module is linked to the
    sectors it is for; the general module to none)."""
    if checklist_item is None:
        return []
    item_pk = getattr(checklist_item, "pk", checklist_item)
    return list(Sector.objects.filter(checklist_modules__versions__items=item_pk, archived_at__isnull=True)
                .order_by("sort", "id").values_list("pk", flat=True).distinct())


def sector_candidates(actor, site_sector_ids, area, checklist_item=None) -> list[int]:
    """The sectors a hazard reported by ``actor`` at a site with ``site_sector_ids`` (or, without a
    site, in ``area``) may belong to, best first; one candidate = decided without asking.

    In order: the checklist module's sectors that the site has (or the module's only sector);
    the reporter's own sectors among the site's (a sector-bound officer reports in their sector)
    or the reporter's only sector; the site's only sector. Otherwise all the site's sectors
    (the reporter must choose one of them), or none known (choose any)."""
    site_sectors = list(site_sector_ids or [])
    module = module_sector_ids(checklist_item)
    if module:
        both = [pk for pk in site_sectors if pk in module]
        if len(both) == 1:
            return both
        if not both and len(module) == 1:
            return module
    mine: set[int] = set()
    for g in grants_for(actor):
        if g.sector_ids and g.site_ids is None and area.code.startswith(g.area_code):
            mine |= set(g.sector_ids)
    if mine:
        for pk in site_sectors:
            if pk in mine:
                return [pk]
        if len(mine) == 1:
            found = Sector.objects.filter(pk=next(iter(mine)), archived_at__isnull=True).values_list(
                "pk", flat=True).first()
            if found is not None:
                return [found]
    return site_sectors


def _resolve_sector(actor, sector, site, area, checklist_item=None) -> tuple[int | None, InvalidInput | None]:
    """The id of the hazard's sector: the one given (checked), else the one
    :func:`sector_candidates` decides. No hazard without a sector: when it cannot be decided
    (a site of several sectors, or none known) the answer is (None, the 422 asking for one),
    raised by the report once the reporter's right to report there is established."""
    if sector not in (None, ""):
        try:
            pk = int(sector.pk if isinstance(sector, Sector) else sector)
            found = Sector.objects.filter(pk=pk, archived_at__isnull=True).values_list("pk", flat=True).first()
        except (TypeError, ValueError):
            found = Sector.objects.filter(code=str(sector), archived_at__isnull=True).values_list(
                "pk", flat=True).first()
        if found is None:
            raise _err("sector", _("行业领域无效"))
        return found, None
    candidates = sector_candidates(actor, site.report_sector_ids if site else [], area, checklist_item)
    if len(candidates) == 1:
        return candidates[0], None
    if candidates:
        names = "、".join(Sector.objects.filter(pk__in=candidates).order_by("sort", "id")
                         .values_list("name", flat=True))
        return None, _err("sector", _("该监管对象涉及多个行业领域(%(names)s),请选择隐患所属的行业领域") % {
            "names": names})
    return None, _err("sector", _("请选择隐患所属的行业领域"))


def _default_source(actor) -> str:
    from yingji.core import roles

    grants = grants_for(actor)
    if grants and all(g.site_ids is not None for g in grants):
        return Source.SELF_REPORT
    if grants and all(g.role == roles.GRID_WORKER for g in grants):
        return Source.GRID_PATROL
    return Source.INSPECTION


def report_hazard(actor, *, site=None, area=None, sector=None, source=None, level=None, category=None,
                  title="", description="", location="", latitude=None, longitude=None,
                  responsible_unit="", responsible_person="", responsible_phone="", deadline=None,
                  files=(), fixed_on_spot: bool = False, rectification_description="", cost=None,
                  rectification_files=(), idempotency_key=None, inspection=None, checklist_item=None) -> Hazard:
    """Report a hazard (state 已上报), with photos; or, ``fixed_on_spot``, record it found and
    closed on the spot (当场整改) with evidence: ``rectification_description`` and at least one
    of ``rectification_files``.

    The actor needs ``report`` over the hazard's place: the site (visible to the actor; its area
    is the hazard's area) or, without a site, ``area``. A retry with the same
    ``idempotency_key`` returns the hazard the first call created.
    """
    created: list = []
    try:
        return _report(actor, site=site, area=area, sector=sector, source=source, level=level, category=category,
                       title=title, description=description, location=location, latitude=latitude,
                       longitude=longitude, responsible_unit=responsible_unit,
                       responsible_person=responsible_person, responsible_phone=responsible_phone,
                       deadline=deadline, files=files, fixed_on_spot=fixed_on_spot,
                       rectification_description=rectification_description, cost=cost,
                       rectification_files=rectification_files, idempotency_key=idempotency_key,
                       inspection=inspection, checklist_item=checklist_item, created=created)
    except IntegrityError:
        _discard_files(created)
        # A call racing this one with the same key committed first (our whole transaction was
        # rolled back): answer with its hazard, as a retry would be answered.
        key = clean_key(idempotency_key)
        if (key is None or transaction.get_connection().in_atomic_block
                or not Hazard.objects.filter(idempotency_key=key).exists()):
            raise
        return _report_repeat(actor, key)
    except BaseException:
        _discard_files(created)
        raise


report_hazard.service_name = "hazards.report"


def _resolve_inspection(actor, inspection):
    from .contrib import resolve_inspection

    found = resolve_inspection(actor, getattr(inspection, "pk", inspection))
    if found is None:
        raise _err("inspection", _("检查记录不存在或您无权在该检查中登记隐患"))
    return found


def _existing_report(actor, key: str) -> Hazard | None:
    hazard = Hazard.objects.filter(idempotency_key=key).first()
    if hazard is None:
        return None
    if hazard.reported_by_id != actor.pk:
        raise Conflict(_("该幂等键已被其他操作使用"), detail={"idempotency_key": _("幂等键已被使用")},
                       code="idempotency_conflict")
    audit.record("hazard.report_repeat", hazard, {}, note=_("重复提交,返回已有隐患"), actor=actor)
    hazard.repeated = True  # tells the API to answer 200 (not 201), also when two calls raced
    return hazard


@service("hazards.report")
def _report_repeat(actor, key: str) -> Hazard | None:
    return _existing_report(actor, key)


@service("hazards.report", batch_audit=True)
def _report(actor, *, site, area, sector, source, level, category, title, description, location, latitude,
            longitude, responsible_unit, responsible_person, responsible_phone, deadline, files, fixed_on_spot,
            rectification_description, cost, rectification_files, idempotency_key, inspection, checklist_item,
            created) -> Hazard:
    _actor_required(actor)
    key = clean_key(idempotency_key)
    outermost = not transaction.get_connection().savepoint_ids
    if key is not None and not outermost:
        # Inside a caller's transaction a repeat must be found before writing; as the outermost
        # transaction, the key's unique index finds it: the insert aborts the transaction and
        # ``report_hazard`` answers with the first report (one read less per report).
        existing = _existing_report(actor, key)
        if existing is not None:
            return existing
    if inspection is not None:
        inspection = _resolve_inspection(actor, inspection)
        site = inspection.site
        source = Source.INSPECTION
    site = _resolve_site(actor, site)
    if site is None and _is_site_bound(actor):
        raise _err("site", _("请选择本单位的监管对象"))
    area = site.area if site is not None else _resolve_area(actor, area)
    sector_id, no_sector = _resolve_sector(actor, sector, site, area,
                                           checklist_item if inspection is not None else None)
    level = _choice("level", level, Level, _("隐患等级"), default=Level.GENERAL)
    description = _text("description", description, 2000, _("隐患描述"), required=True)
    title = _text("title", title, 100, _("标题")) or description.splitlines()[0][:30]
    lat, lng = clean_coordinates(latitude, longitude, within_china=True)
    files = _files(files)
    fields = dict(
        site=site, area=area, sector_id=sector_id,
        finder=Side.ENTERPRISE if _is_site_bound(actor) else Side.GOVERNMENT,
        source=_choice("source", source, Source, _("来源"), default=_default_source(actor)),
        level=level, category=_choice("category", category, Category, _("隐患类别"), default=Category.OTHER),
        title=title, description=description, location=_text("location", location, 200, _("具体位置")),
        latitude=lat, longitude=lng,
        responsible_unit=_text("responsible_unit", responsible_unit, 100, _("整改责任单位")),
        responsible_person=_text("responsible_person", responsible_person, 32, _("整改责任人")),
        responsible_phone=_phone(responsible_phone),
        deadline=_date("deadline", deadline, _("整改期限")),
    )
    if fixed_on_spot:
        if level == Level.MAJOR:
            raise _err("fixed_on_spot", _("重大隐患不能当场整改销号,请按整改流程处理"))
        rect_description = _text("rectification_description", rectification_description, 2000, _("整改情况"),
                                 required=True)
        rect_cost = _cost(cost)
        rectification_files = _files(rectification_files)
        if not rectification_files:
            raise _err("rectification_files", _("当场整改须上传整改后的照片或材料"))
    now = timezone.now()
    if inspection is not None:
        fields.update(inspection=inspection, campaign=inspection.campaign, checklist_item=checklist_item)
    elif checklist_item is not None:
        raise _err("checklist_item", _("检查项须随检查记录一起提交"))
    hazard = Hazard(state=State.DRAFT, reported_by=actor, reported_at=now, idempotency_key=key, **fields)
    # The one access rule decides whether the actor may report here (area, sector, site): the
    # row is not saved yet, so its scope is evaluated on the actor's grants (``reaches``,
    # the same rule as ``Hazard.objects.restrict``) before anything is written.
    if not reaches(actor, hazard, "report"):
        if sector_id is None and any(g.sector_ids for g in grants_for(actor)):
            raise _err("sector", _("请选择您负责的行业领域"))
        raise Forbidden(_("您无权在该区域上报隐患"))
    if no_sector is not None:
        raise no_sector     # every hazard has a sector: the reporter must choose one
    if fixed_on_spot and not reaches(actor, hazard, "manage"):
        # Closing on the spot is reporting and verifying at once: only supervising officers.
        raise Forbidden(_("只有监管检查人员可以登记当场整改销号,请按整改流程上报"))
    # Without photos the report transition is written with the insert (already 已上报, version
    # 2, as draft → reported would leave it); photos are attached to the draft first (a
    # reporter's ``edit`` scope covers a hazard only while it is a draft).
    direct = not fixed_on_spot and not files
    if direct:
        hazard.state, hazard.version = TRANSITIONS[Action.REPORT].target, 2
    if key is None or outermost:
        # Outermost transaction: a lost race on the key aborts it as a whole and ``report_hazard``
        # answers with the first report (no savepoint round trips).
        sqlinsert.insert([hazard], returning_pk=True)
    else:
        try:
            with transaction.atomic():  # savepoint: a lost race on the key rolls back only this insert
                sqlinsert.insert([hazard], returning_pk=True)
        except IntegrityError:
            existing = _existing_report(actor, key)
            if existing is None:
                raise
            return existing
    _attach_all(actor, hazard, files, created)
    audit.record("hazard.create", hazard, audit.diff({}, audit.snapshot(hazard, [
        "site", "area", "sector", "finder", "source", "level", "category", "title", "description", "location",
        "responsible_unit", "responsible_person", "deadline", "idempotency_key"])), actor=actor)
    if not fixed_on_spot:
        return _transition(actor, hazard, Action.REPORT, data={"photos": len(files)}, inserted=direct)
    rect = Rectification.objects.create(hazard=hazard, description=rect_description, cost=rect_cost,
                                        submitted_by=actor)
    _attach_all(actor, rect, rectification_files, created)
    Rectification.objects.filter(pk=rect.pk).update(submitted_at=now, outcome=Outcome.ACCEPTED, reviewed_by=actor,
                                                    reviewed_at=now, review_note=_("当场整改"))
    return _transition(actor, hazard, Action.FIX_ON_SPOT,
                       data={"photos": len(files), "rectification": rect.pk, "evidence": len(rectification_files)},
                       fields={"fixed_on_spot": True, "closed_at": now, "closed_by": actor},
                       changes={"fixed_on_spot": [False, True]})


# ---------------------------------------------------------------- accept

@service("hazards.accept")
def accept(actor, hazard, *, responsible_unit="", responsible_person="", responsible_phone="", deadline=None,
           note="", version=None, idempotency_key=None) -> Hazard:
    """受理: the responsible party takes the hazard on, with who fixes it and by when."""
    hazard, key, repeated = _begin(actor, hazard, Action.ACCEPT, version, idempotency_key)
    if repeated:
        return hazard
    unit = _text("responsible_unit", responsible_unit, 100, _("整改责任单位")) or hazard.responsible_unit
    person = _text("responsible_person", responsible_person, 32, _("整改责任人")) or hazard.responsible_person
    phone = _phone(responsible_phone) or hazard.responsible_phone
    if not person:
        raise _err("responsible_person", _("请填写整改责任人"))
    due = _date("deadline", deadline, _("整改期限")) or hazard.deadline
    if due is None:
        raise _err("deadline", _("请填写整改期限"))
    today = timezone.localdate()
    if due < today:
        raise _err("deadline", _("整改期限不能早于今天"))
    if due > today + datetime.timedelta(days=366):
        raise _err("deadline", _("整改期限最长一年"))
    fields = {"responsible_unit": unit, "responsible_person": person, "responsible_phone": phone,
              "deadline": due, "accepted_at": timezone.now()}
    changes = audit.diff(audit.snapshot(hazard, ["responsible_unit", "responsible_person", "responsible_phone",
                                                 "deadline"]),
                         {"responsible_unit": unit, "responsible_person": person, "responsible_phone": phone,
                          "deadline": due.isoformat()})
    return _transition(actor, hazard, Action.ACCEPT, reason=_text("note", note, 500, _("说明")), fields=fields,
                       data={"responsible_unit": unit, "responsible_person": person, "deadline": due.isoformat()},
                       key=key, changes=changes)


# ---------------------------------------------------------------- rectification

def submit_rectification(actor, hazard, *, description="", cost=None, files=(), version=None,
                         idempotency_key=None) -> Hazard:
    """提交整改: evidence is required — a description and at least one photo or document."""
    created: list = []
    try:
        return _submit(actor, hazard, description=description, cost=cost, files=files, version=version,
                       idempotency_key=idempotency_key, created=created)
    except BaseException:
        _discard_files(created)
        raise


submit_rectification.service_name = "hazards.submit_rectification"


@service("hazards.submit_rectification")
def _submit(actor, hazard, *, description, cost, files, version, idempotency_key, created) -> Hazard:
    hazard, key, repeated = _begin(actor, hazard, Action.SUBMIT, version, idempotency_key)
    if repeated:
        return hazard
    description = _text("description", description, 2000, _("整改情况"), required=True)
    cost = _cost(cost)
    files = _files(files)
    if not files:
        raise _err("files", _("请上传整改后的照片或材料:没有整改证据不能提交"))
    rect = Rectification.objects.create(hazard=hazard, description=description, cost=cost, submitted_by=actor)
    _attach_all(actor, rect, files, created)
    now = timezone.now()
    # Freeze the evidence: a submitted rectification takes no further attachments.
    Rectification.objects.filter(pk=rect.pk).update(submitted_at=now)
    return _transition(actor, hazard, Action.SUBMIT, data={"rectification": rect.pk, "evidence": len(files),
                                                           "cost": str(cost) if cost is not None else None},
                       key=key)


def _pending_rectification(hazard: Hazard) -> Rectification:
    rect = (Rectification.objects.filter(hazard_id=hazard.pk, submitted_at__isnull=False)
            .order_by("-id").first())
    if rect is None or rect.outcome != Outcome.PENDING:
        if not Hazard.objects.filter(pk=hazard.pk, version=hazard.version).exists():
            # Decided by someone else between our read of the hazard and of its rectification
            # (their transition and the outcome commit together): a lost race, not missing evidence.
            raise _lost_race()
        raise Conflict(_("该隐患没有待验收的整改记录"), code="no_evidence")
    return rect


@service("hazards.verify")
def verify(actor, hazard, *, note="", version=None, idempotency_key=None) -> Hazard:
    """验收销号: by someone with ``edit`` over the hazard who did not submit the rectification."""
    hazard, key, repeated = _begin(actor, hazard, Action.VERIFY, version, idempotency_key)
    if repeated:
        return hazard
    rect = _pending_rectification(hazard)
    if rect.submitted_by_id == actor.pk:
        raise Forbidden(_("整改人不能验收自己提交的整改,请由其他人员验收"), code="self_verify")
    if not attachments.attachments_for(actor, rect).exists():
        raise Conflict(_("该整改记录没有证据材料,不能销号"), code="no_evidence")
    note = _text("note", note, 500, _("验收意见"))
    now = timezone.now()
    hazard = _transition(actor, hazard, Action.VERIFY, reason=note, fields={"closed_at": now, "closed_by": actor},
                         data={"rectification": rect.pk}, key=key)
    Rectification.objects.filter(pk=rect.pk, outcome=Outcome.PENDING).update(
        outcome=Outcome.ACCEPTED, reviewed_by=actor, reviewed_at=now, review_note=note)
    return hazard


@service("hazards.send_back")
def send_back(actor, hazard, *, reason="", version=None, idempotency_key=None) -> Hazard:
    """退回: the rectification is not accepted; the hazard goes back to 整改中 with a reason."""
    hazard, key, repeated = _begin(actor, hazard, Action.SEND_BACK, version, idempotency_key)
    if repeated:
        return hazard
    reason = _text("reason", reason, 500, _("退回理由"), required=True)
    rect = _pending_rectification(hazard)
    now = timezone.now()
    hazard = _transition(actor, hazard, Action.SEND_BACK, reason=reason, data={"rectification": rect.pk}, key=key)
    Rectification.objects.filter(pk=rect.pk, outcome=Outcome.PENDING).update(
        outcome=Outcome.SENT_BACK, reviewed_by=actor, reviewed_at=now, review_note=reason)
    return hazard


@service("hazards.archive")
def archive(actor, hazard, *, reason="", version=None) -> Hazard:
    """归档 (e.g. a duplicate report): hidden from work lists, never deleted; the log stays."""
    _actor_required(actor)
    hazard = _load(actor, hazard, Action.ARCHIVE)
    _check(hazard, Action.ARCHIVE, version)
    reason = _text("reason", reason, 500, _("归档理由"), required=True)
    now = timezone.now()
    return _transition(actor, hazard, Action.ARCHIVE, reason=reason,
                       fields={"archived_at": now, "archived_by": actor},
                       changes={"archived_at": [None, now]})


# ---------------------------------------------------------------- overdue escalation

def escalation_interval() -> datetime.timedelta:
    return datetime.timedelta(days=int(getattr(settings, "HAZARD_ESCALATION_DAYS", 7)))


def escalation_targets(area: Area) -> list[Area]:
    """Where an overdue hazard in ``area`` goes, nearest first: its town, then the county (a
    hazard held at town level goes to the county; one at county level stays there)."""
    above = [a for a in area.ancestors() if a.level <= AreaLevel.TOWN]
    above.reverse()
    return above or [area]


def _next_escalation(hazard: Hazard, now) -> int | None:
    targets = escalation_targets(hazard.area)
    if hazard.escalation_level == 0:
        return 1
    if hazard.escalation_level >= len(targets):
        return None
    if hazard.escalated_at is None or now - hazard.escalated_at >= escalation_interval():
        return hazard.escalation_level + 1
    return None


class _NothingToDo(Exception):
    pass


@service("hazards.escalate")
def _escalate(hazard: Hazard, level: int, target: Area, now) -> Hazard:
    updated = Hazard.objects.filter(pk=hazard.pk, escalation_level=hazard.escalation_level,
                                    state__in=OPEN_STATES, archived_at__isnull=True).update(
        is_overdue=True, escalation_level=level, escalated_at=now, escalated_to=target, updated_at=now)
    if updated != 1:  # closed, archived or escalated by someone else meanwhile
        raise _NothingToDo()
    HazardEvent.objects.create(
        hazard=hazard, action=Action.ESCALATE, from_state=hazard.state, to_state=hazard.state, actor=None, at=now,
        reason=_("超过整改期限%(d)s,升级至%(area)s") % {"d": hazard.deadline.isoformat(), "area": target.name},
        data={"level": level, "to_area": target.pk, "to_area_name": target.name,
              "deadline": hazard.deadline.isoformat()})
    before = {"is_overdue": hazard.is_overdue, "escalation_level": hazard.escalation_level,
              "escalated_to": hazard.escalated_to_id}
    hazard.refresh_from_db()
    audit.record("hazard.escalate", hazard, audit.diff(before, {
        "is_overdue": True, "escalation_level": level, "escalated_to": target.pk}),
        note=_("超期升级至%(area)s") % {"area": target.name}, actor=None)
    _after_commit(hazard, Action.ESCALATE)
    return hazard


def escalate(hazard, now=None) -> Hazard | None:
    """Flag one overdue hazard and raise it one level (a system action). None: nothing to do
    (not overdue, closed, at the top already, or not yet due for the next level)."""
    now = now or timezone.now()
    pk = hazard.pk if isinstance(hazard, Hazard) else hazard
    hazard = Hazard.objects.select_related("area").filter(pk=pk).first()
    if (hazard is None or hazard.state not in OPEN_STATES or hazard.archived_at is not None
            or hazard.deadline is None or hazard.deadline >= timezone.localdate(now)):
        return None
    level = _next_escalation(hazard, now)
    if level is None:
        return None
    target = escalation_targets(hazard.area)[level - 1]
    try:
        return _escalate(hazard, level, target, now)
    except _NothingToDo:
        return None


escalate.service_name = "hazards.escalate"


def _below_top_escalation():
    """Hazards not yet at the last of their ``escalation_targets``, in SQL: one in a village or
    grid goes to its town, then the county (two levels); one held at town or county level goes
    to the county only (one level)."""
    from django.db.models import Q

    return Q(escalation_level__lt=1) | Q(escalation_level__lt=2, area__level__gte=AreaLevel.VILLAGE)


def overdue_candidates(now=None):
    """Open hazards past their deadline that are not flagged yet or are due for the next level.
    Hazards already at the county are not candidates again: without this every hourly run
    re-read every long-overdue hazard (43,642 at the county bench scale, to escalate 63)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    qs = Hazard.objects.filter(state__in=OPEN_STATES, archived_at__isnull=True, deadline__lt=today)
    due = now - escalation_interval()
    from django.db.models import Q

    return qs.filter(Q(is_overdue=False) | (Q(escalated_at__lte=due) & _below_top_escalation())).order_by("id")


def escalate_overdue(now=None, progress=None) -> dict:
    """Escalate every due hazard, one transaction each (used by the job and the command)."""
    now = now or timezone.now()
    ids = list(overdue_candidates(now).values_list("pk", flat=True))
    flagged = escalated = 0
    for i, pk in enumerate(ids, 1):
        result = escalate(pk, now=now)
        if result is not None:
            escalated += 1
            if result.escalation_level == 1:
                flagged += 1
        if progress is not None and (i % 200 == 0 or i == len(ids)):
            progress(i, len(ids), _("已检查%(n)d条") % {"n": i})
    return {"candidates": len(ids), "escalated": escalated, "newly_overdue": flagged}


# ---------------------------------------------------------------- deadline reminders

DUE_SOON_DAYS = 3


def due_soon_candidates(today=None):
    """Hazards being rectified whose deadline is within ``DUE_SOON_DAYS`` days (today included)."""
    today = today or timezone.localdate()
    return Hazard.objects.filter(state=State.RECTIFYING, archived_at__isnull=True, deadline__gte=today,
                                 deadline__lte=today + datetime.timedelta(days=DUE_SOON_DAYS)).order_by("id")


def remind_due(today=None, progress=None) -> dict:
    """期限提醒 (job ``hazards.remind_due``, daily): tell the people of every hazard due within
    three days — one notification per hazard per person per day (dedupe key with the date), so
    any number of runs on one day remind once. Each notification is audited by ``core.notify``."""
    today = today or timezone.localdate()
    ids = list(due_soon_candidates(today).values_list("pk", flat=True))
    reminded = sent = 0
    for i, pk in enumerate(ids, 1):
        with transaction.atomic():
            hazard = (Hazard.objects.select_for_update().select_related("area")
                      .filter(pk=pk, state=State.RECTIFYING, archived_at__isnull=True).first())
            if hazard is not None:
                created = notify_event(hazard, "due_soon", key=f"hazard:{pk}:due_soon:{today.isoformat()}")
                reminded += bool(created)
                sent += len(created)
        if progress is not None and (i % 200 == 0 or i == len(ids)):
            progress(i, len(ids), _("已检查%(n)d条") % {"n": i})
    return {"candidates": len(ids), "reminded": reminded, "notifications": sent}


# ---------------------------------------------------------------- sectors of older hazards

FILL_BATCH = 500


def determinable_sector(hazard: Hazard, site_sectors: list[int], module_sectors: list[int],
                        reporter_sectors: set[int]) -> int | None:
    """The sector an older sector-less hazard belongs to, when it can be told: its inspection's,
    its checklist module's (among the site's), the site's only one, the reporter's only one."""
    if hazard.inspection_id and hazard.inspection.sector_id:
        return hazard.inspection.sector_id
    both = [pk for pk in site_sectors if pk in module_sectors]
    if len(both) == 1:
        return both[0]
    if not both and len(module_sectors) == 1:
        return module_sectors[0]
    if len(site_sectors) == 1:
        return site_sectors[0]
    if not site_sectors and len(reporter_sectors) == 1:
        return next(iter(reporter_sectors))
    return None


def fill_missing_sectors(progress=None) -> dict:
    """Give every sector-less hazard the sector that can be told (``determinable_sector``), in
    batches of ``FILL_BATCH`` (one transaction and one audit entry per hazard, as the system).
    Hazards whose sector cannot be told keep none and are counted (``undetermined``)."""
    from yingji.core.models import RoleAssignment
    from yingji.registry.models import Site

    ids = list(Hazard.objects.filter(sector__isnull=True).order_by("id").values_list("pk", flat=True))
    filled = 0
    for start in range(0, len(ids), FILL_BATCH):
        filled += _fill_sectors(ids[start:start + FILL_BATCH], Site, RoleAssignment)
        if progress is not None:
            progress(min(start + FILL_BATCH, len(ids)), len(ids), _("已检查%(n)d条") % {"n": start})
    return {"candidates": len(ids), "filled": filled, "undetermined": len(ids) - filled}


fill_missing_sectors.service_name = "hazards.fill_sector"


def _fill_sectors(ids: list[int], Site, RoleAssignment) -> int:
    from collections import defaultdict

    hazards = list(Hazard.objects.filter(pk__in=ids, sector__isnull=True).select_related("inspection"))
    live = set(Sector.objects.filter(archived_at__isnull=True).values_list("pk", flat=True))
    site_sectors: dict = defaultdict(list)
    for site_id, sector_id in (Site.sectors.through.objects.filter(site_id__in={h.site_id for h in hazards})
                               .order_by("sector__sort", "sector_id").values_list("site_id", "sector_id")):
        if sector_id in live:
            site_sectors[site_id].append(sector_id)
    module_sectors: dict = defaultdict(list)
    # the checklist item's model through the hazard's own FK: checklists sit above hazards
    ChecklistItem = Hazard._meta.get_field("checklist_item").related_model
    for item_id, sector_id in (ChecklistItem.objects.filter(pk__in={h.checklist_item_id for h in hazards})
                               .values_list("pk", "version__module__sectors")):
        if sector_id in live:
            module_sectors[item_id].append(sector_id)
    reporter_sectors: dict = defaultdict(set)
    for user_id, sector_id in (RoleAssignment.objects.filter(user_id__in={h.reported_by_id for h in hazards},
                                                             revoked_at__isnull=True, sectors__isnull=False)
                               .values_list("user_id", "sectors")):
        if sector_id in live:
            reporter_sectors[user_id].add(sector_id)
    changes = []
    for h in hazards:
        pk = determinable_sector(h, site_sectors.get(h.site_id, []), module_sectors.get(h.checklist_item_id, []),
                                 reporter_sectors.get(h.reported_by_id, set()))
        if pk is not None:
            changes.append((h, pk))
    if changes:
        _fill_batch(changes)
    return len(changes)


@service("hazards.fill_sector")
def _fill_batch(changes: list) -> None:
    entries = []
    for hazard, sector_id in changes:
        if Hazard.objects.filter(pk=hazard.pk, sector__isnull=True).update(sector_id=sector_id) == 1:
            entries.append((hazard, {"sector": [None, sector_id]}))
    if entries:
        audit.record_many("hazard.fill_sector", entries, note=_("补填行业领域"), actor=None)
