"""Write services of the site registry: create, update, archive sites; host/tenant (厂中厂);
bind enterprise safety managers to their sites.

Each function checks permission and state, writes the change and its audit entry in one
transaction (``@audit.service``) and raises a ``YingjiError`` with a Chinese message.
"""
from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from pypinyin import Style, lazy_pinyin

from yingji.core import audit, roles
from yingji.core.audit import service
from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.core.models import Area, RoleAssignment, Sector, User
from yingji.core.scoping import forget_grants
from yingji.core.services import grant_role, require, require_editable, require_manageable_user
from yingji.core.validators import clean_coordinates

from .creditcode import validate_credit_code
from .models import (CREDIT_CODE_REQUIRED_KINDS, Industry, RiskTrait, Site, SiteBinding, SiteKind,
                     SiteScale, SiteSource, SiteStatus)

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
PHONE_RE = re.compile(r"^1\d{10}$|^0\d{2,3}-?\d{7,8}(-\d{1,6})?$")
MAX_HOST_DEPTH = 10

# Fields a caller may set through create_site / update_site.
SITE_FIELDS = (
    "kind", "name", "credit_code", "industry", "sectors", "traits", "scale", "employees", "address", "area",
    "latitude", "longitude", "legal_rep", "legal_rep_phone", "safety_manager", "safety_manager_phone", "status",
    "note",
)
# The risk colour is not set by people: the risk engine (yingji.risk) grades every site.
AUDITED_FIELDS = [f for f in SITE_FIELDS if f not in ("sectors", "traits")] + ["host", "archived_at", "risk_colour"]


def pinyin_initials(text: str) -> str:
    """Lower-case pinyin initials of ``text``, only [a-z0-9] kept (大唐袜业 → ``dtwy``)."""
    letters = "".join(lazy_pinyin(text or "", style=Style.FIRST_LETTER, errors="default"))
    return _NOT_ALNUM.sub("", letters.lower())[:100]


def _err(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, detail={field: message})


def _actor_required(actor) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise Forbidden(_("请先登录"))


# ---------------------------------------------------------------- cleaning

def _clean_text(field: str, value, max_length: int, label: str, required: bool = False) -> str:
    value = (value or "").strip() if isinstance(value, str) or value is None else str(value).strip()
    if required and not value:
        raise _err(field, _("%(label)s不能为空") % {"label": label})
    if len(value) > max_length:
        raise _err(field, _("%(label)s不能超过%(n)d个字") % {"label": label, "n": max_length})
    return value


def _clean_phone(field: str, value, label: str) -> str:
    value = (value or "").strip().replace(" ", "")
    if value and not PHONE_RE.match(value):
        raise _err(field, _("%(label)s格式不正确(手机号11位或固话如0575-87012345)") % {"label": label})
    return value


def _clean_choice(field: str, value, choices, label: str, allow_empty: bool) -> str | None:
    if value in (None, ""):
        if allow_empty:
            return None
        raise _err(field, _("请选择%(label)s") % {"label": label})
    value = str(value)
    if value not in choices.values:
        raise _err(field, _("%(label)s无效:%(v)s") % {"label": label, "v": value})
    return value


def _clean_employees(value):
    if value in (None, ""):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise _err("employees", _("从业人数须为整数")) from None
    if n < 0 or n > 1_000_000:
        raise _err("employees", _("从业人数须在0到1000000之间"))
    return n


def _clean_credit_code(value, kind: str, exclude_pk=None) -> str | None:
    raw = (value or "").strip() if isinstance(value, str) or value is None else str(value)
    if not raw:
        if kind in CREDIT_CODE_REQUIRED_KINDS:
            raise _err("credit_code", _("%(kind)s须填写统一社会信用代码") % {"kind": SiteKind(kind).label})
        return None
    ok, code, reason = validate_credit_code(raw)
    if not ok:
        raise _err("credit_code", _("统一社会信用代码无效:%(reason)s") % {"reason": reason})
    duplicate = Site.objects.filter(credit_code=code, archived_at__isnull=True)
    if exclude_pk is not None:
        duplicate = duplicate.exclude(pk=exclude_pk)
    if duplicate.exists():
        raise _err("credit_code", _("统一社会信用代码%(code)s已登记") % {"code": code})
    return code


def _clean_area(actor, value) -> Area:
    if value in (None, ""):
        raise _err("area", _("请选择所属区域"))
    area = value if isinstance(value, Area) else Area.objects.filter(pk=_int(value, "area")).first()
    if area is None or not Area.objects.visible_to(actor).filter(pk=area.pk).exists():
        raise _err("area", _("所属区域不存在或不在您的管辖范围内"))
    if area.is_archived:
        raise _err("area", _("所属区域已归档"))
    return area


def _int(value, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _err(field, _("编号无效")) from None


def _clean_industry(value) -> Industry | None:
    if value in (None, ""):
        return None
    if isinstance(value, Industry):
        return value
    value = str(value).strip()
    industry = Industry.objects.filter(code=value.upper() if value.isalpha() else value.zfill(2)).first()
    if industry is None:
        raise _err("industry", _("国民经济行业代码无效:%(v)s") % {"v": value})
    return industry


def _clean_sectors(values) -> list[Sector]:
    values = list(values or [])
    objs = [v for v in values if isinstance(v, Sector)]
    keys = [v for v in values if not isinstance(v, Sector)]
    if keys:
        ids = [k for k in keys if isinstance(k, int) or (isinstance(k, str) and k.isdigit())]
        codes = [k for k in keys if k not in ids]
        found = list(Sector.objects.filter(pk__in=[int(i) for i in ids], archived_at__isnull=True)) + list(
            Sector.objects.filter(code__in=codes, archived_at__isnull=True))
        if len({s.pk for s in found}) != len(set(keys)):
            raise _err("sectors", _("监管行业领域不存在"))
        objs += found
    return sorted({s.pk: s for s in objs}.values(), key=lambda s: s.pk)


def _clean_traits(values) -> list[RiskTrait]:
    values = list(values or [])
    objs = [v for v in values if isinstance(v, RiskTrait)]
    keys = [v for v in values if not isinstance(v, RiskTrait)]
    if keys:
        ids = [k for k in keys if isinstance(k, int) or (isinstance(k, str) and k.isdigit())]
        codes = [k for k in keys if k not in ids]
        found = list(RiskTrait.objects.filter(pk__in=[int(i) for i in ids])) + list(
            RiskTrait.objects.filter(code__in=codes))
        if len({t.pk for t in found}) != len(set(keys)):
            raise _err("traits", _("风险特征不存在"))
        objs += found
    return sorted({t.pk: t for t in objs}.values(), key=lambda t: t.pk)


def _apply(actor, site: Site, fields: dict) -> tuple[list[Sector] | None, list[RiskTrait] | None]:
    """Validate ``fields`` and set them on ``site``; returns new sectors/traits (None = unchanged)."""
    unknown = set(fields) - set(SITE_FIELDS)
    if unknown:
        raise InvalidInput(_("未知字段:%(f)s") % {"f": ", ".join(sorted(unknown))})
    if "kind" in fields:
        site.kind = _clean_choice("kind", fields["kind"], SiteKind, _("类别"), allow_empty=False)
    if "name" in fields:
        site.name = _clean_text("name", fields["name"], 100, _("名称"), required=True)
        site.name_pinyin = pinyin_initials(site.name)
    if "credit_code" in fields or "kind" in fields:
        raw = fields["credit_code"] if "credit_code" in fields else site.credit_code
        site.credit_code = _clean_credit_code(raw, site.kind, exclude_pk=site.pk)
    if "industry" in fields:
        site.industry = _clean_industry(fields["industry"])
    if "scale" in fields:
        site.scale = _clean_choice("scale", fields["scale"], SiteScale, _("规模"), allow_empty=True) or ""
    if "employees" in fields:
        site.employees = _clean_employees(fields["employees"])
    if "address" in fields:
        site.address = _clean_text("address", fields["address"], 200, _("地址"))
    if "area" in fields:
        site.area = _clean_area(actor, fields["area"])
    if "latitude" in fields or "longitude" in fields:
        site.latitude, site.longitude = clean_coordinates(fields.get("latitude", site.latitude),
                                                          fields.get("longitude", site.longitude), within_china=True)
    for name, label in (("legal_rep", _("法定代表人")), ("safety_manager", _("安全负责人"))):
        if name in fields:
            setattr(site, name, _clean_text(name, fields[name], 32, label))
    for name, label in (("legal_rep_phone", _("法定代表人电话")), ("safety_manager_phone", _("安全负责人电话"))):
        if name in fields:
            setattr(site, name, _clean_phone(name, fields[name], label))
    if "status" in fields:
        site.status = _clean_choice("status", fields["status"], SiteStatus, _("经营状态"), allow_empty=False)
    if "note" in fields:
        site.note = _clean_text("note", fields["note"], 500, _("备注"))
    sectors = _clean_sectors(fields["sectors"]) if "sectors" in fields else None
    traits = _clean_traits(fields["traits"]) if "traits" in fields else None
    return sectors, traits


def _columns(fields: dict) -> list[str]:
    """The columns ``_apply(actor, site, fields)`` may have set (an update writes only those: never
    the host, archive or risk columns it read)."""
    columns = {f for f in fields if f not in ("sectors", "traits")}
    if "name" in fields:
        columns.add("name_pinyin")
    if "kind" in fields:
        columns.add("credit_code")
    if "latitude" in fields or "longitude" in fields:
        columns |= {"latitude", "longitude"}
    return sorted(columns) + ["updated_at"]


def _lost_race() -> Conflict:
    return Conflict(_("该监管对象已被他人归档或修改,请刷新后重试"), code="stale")


def _hold(site: Site, **match) -> None:
    """``site`` is still live (not archived) and matches ``match`` as read: a conditional no-op
    UPDATE that holds the row on PostgreSQL until the transaction ends. Lost → Conflict."""
    if not Site.objects.filter(pk=site.pk, archived_at__isnull=True, **match).update(updated_at=F("updated_at")):
        raise _lost_race()


def _save(site: Site, update_fields: list[str] | None = None) -> None:
    try:
        with transaction.atomic():
            site.save(update_fields=update_fields)
    except IntegrityError:
        raise _err("credit_code", _("统一社会信用代码%(code)s已登记") % {"code": site.credit_code}) from None


def _snapshot(site: Site) -> dict:
    data = audit.snapshot(site, AUDITED_FIELDS)
    data["sectors"] = sorted(site.sectors.values_list("pk", flat=True)) if site.pk else []
    data["traits"] = sorted(site.traits.values_list("code", flat=True)) if site.pk else []
    return data


# ---------------------------------------------------------------- sites

@service("registry.create_site")
def create_site(actor, *, source: str = SiteSource.MANUAL, **fields) -> Site:
    """Register a site. ``area`` (Area or id) and ``name`` are required; enterprises need a valid
    credit code. The actor needs ``edit`` over the area (and, if sector-bound, the sectors)."""
    _actor_required(actor)
    fields.setdefault("kind", SiteKind.ENTERPRISE)
    if "area" not in fields:
        raise _err("area", _("请选择所属区域"))
    site = Site(source=source)
    sectors, traits = _apply(actor, site, {"name": fields.pop("name", ""), **fields})
    require(actor, roles.EDIT, site.area, [s.pk for s in sectors or []])
    _save(site)
    if sectors:
        site.sectors.set(sectors)
    if traits:
        site.traits.set(traits)
    audit.record("site.create", site, audit.diff({}, _snapshot(site)), actor=actor)
    _grade(actor, site)
    return site


def _grade(actor, site: Site) -> None:
    """Regrade the site's risk colour after a change (joins this transaction)."""
    from . import grading

    colour = grading.grade_site(actor, site)
    if colour is not None:
        site.risk_colour = colour


def _lock(site: Site) -> Site:
    return Site.objects.select_for_update().get(pk=site.pk)


@service("registry.update_site")
def update_site(actor, site: Site, **fields) -> Site:
    """Change a site's fields. The actor must be able to edit it before and after the change
    (a record cannot be moved out of the editor's own scope)."""
    _actor_required(actor)
    site = _lock(site)
    require_editable(site, actor)
    if site.is_archived:
        raise InvalidInput(_("该监管对象已归档,不能修改"))
    before = _snapshot(site)
    sectors, traits = _apply(actor, site, fields)
    _hold(site)
    _save(site, _columns(fields))
    if sectors is not None:
        site.sectors.set(sectors)
    if traits is not None:
        site.traits.set(traits)
    if not Site.objects.editable_by(actor).filter(pk=site.pk).exists():
        field = "area" if "area" in fields else "sectors"
        raise _err(field, _("修改后该监管对象将超出您的管辖范围(区域或行业领域),请检查"))
    changes = audit.diff(before, _snapshot(site))
    audit.record("site.update", site, changes, actor=actor)
    _grade(actor, site)
    return site


@service("registry.archive_site")
def archive_site(actor, site: Site, reason: str = "") -> Site:
    _actor_required(actor)
    site = _lock(site)
    require_editable(site, actor)
    if site.is_archived:
        raise InvalidInput(_("该监管对象已归档"))
    live_tenants = site.tenants.filter(archived_at__isnull=True)
    if live_tenants.exists():
        names = "、".join(live_tenants.values_list("name", flat=True)[:3])
        raise InvalidInput(_("该对象内还有在册的入驻企业(%(names)s),请先解除挂靠或归档") % {"names": names})
    now = timezone.now()
    if not Site.objects.filter(pk=site.pk, archived_at__isnull=True).update(archived_at=now, archived_by=actor,
                                                                           updated_at=now):
        raise _lost_race()
    site.archived_at, site.archived_by, site.updated_at = now, actor, now
    audit.record("site.archive", site, {"archived_at": [None, site.archived_at]},
                 note=_clean_text("reason", reason, 200, _("原因")), actor=actor)
    return site


@service("registry.set_host")
def set_host(actor, tenant: Site, host: Site | None) -> Site:
    """Record that ``tenant`` sits inside ``host`` (厂中厂 / 园中园); ``host=None`` clears it."""
    _actor_required(actor)
    tenant = _lock(tenant)
    require_editable(tenant, actor)
    if tenant.is_archived:
        raise InvalidInput(_("该监管对象已归档,不能修改"))
    old_host_id = tenant.host_id
    if host is not None:
        if not Site.objects.visible_to(actor).filter(pk=host.pk).exists():
            raise NotFound()
        host = Site.objects.get(pk=host.pk)
        if host.pk == tenant.pk:
            raise _err("host", _("不能把对象挂靠在自己名下"))
        if host.is_archived:
            raise _err("host", _("所选厂房/园区已归档"))
        # No cycles: walk up from the host; reaching the tenant would close a loop.
        node, depth = host, 0
        while node.host_id is not None:
            if node.host_id == tenant.pk:
                raise _err("host", _("不能形成循环挂靠:%(host)s已挂靠在%(tenant)s名下") % {
                    "host": host.name, "tenant": tenant.name})
            depth += 1
            if depth > MAX_HOST_DEPTH:
                raise _err("host", _("挂靠层级过深"))
            node = Site.objects.only("pk", "host_id").get(pk=node.host_id)
    new_host_id = host.pk if host is not None else None
    if new_host_id == old_host_id:
        raise _err("host", _("挂靠关系没有变化"))
    if host is not None:
        _hold(host)  # the host is not archived meanwhile (its archive refuses live tenants)
    now = timezone.now()
    if not Site.objects.filter(pk=tenant.pk, archived_at__isnull=True, host_id=old_host_id).update(
            host=host, updated_at=now):
        raise _lost_race()
    tenant.host, tenant.updated_at = host, now
    audit.record("site.set_host", tenant, {"host": [old_host_id, new_host_id]}, actor=actor)
    if host is not None:
        audit.record("site.tenant_added", host, {"tenants": [None, tenant.pk]}, note=tenant.name, actor=actor)
    if old_host_id is not None:
        old_host = Site.objects.get(pk=old_host_id)
        audit.record("site.tenant_removed", old_host, {"tenants": [tenant.pk, None]}, note=tenant.name,
                     actor=actor)
    return tenant


# ---------------------------------------------------------------- enterprise safety managers

def require_site_user_admin(actor, site: Site) -> Site:
    """``site`` if the actor sees it and holds ``manage_users`` over its area (404 / 403 otherwise)."""
    if not Site.objects.visible_to(actor).filter(pk=site.pk).exists():
        raise NotFound()
    require(actor, roles.MANAGE_USERS, site.area)
    return site


@service("registry.bind_site_manager")
def bind_site_manager(actor, user: User, site: Site) -> SiteBinding:
    """Bind an enterprise safety manager to ``site``: uses the user's enterprise role assignment
    (granting one over the site's area if they have none) and records a SiteBinding. The user then
    sees exactly their bound sites. The actor needs ``manage_users`` over the site's area and must
    manage the account's whole scope (``core.services.require_manageable_user``): a town officer
    binds only accounts whose roles all lie in their town — not a county-level account."""
    _actor_required(actor)
    site = require_site_user_admin(actor, Site.objects.get(pk=site.pk))
    if site.is_archived:
        raise InvalidInput(_("该监管对象已归档"))
    if user is None or not user.is_active:
        raise _err("user", _("账号不存在或已停用"))
    # An account out of the actor's sight answers like a missing one (no probing of usernames).
    require_manageable_user(actor, User.objects.select_for_update().get(pk=user.pk),
                            hidden=_err("user", _("账号不存在或已停用")))
    other_roles = RoleAssignment.objects.filter(user=user, revoked_at__isnull=True).exclude(role=roles.ENTERPRISE)
    if other_roles.exists():
        raise _err("user", _("该账号是工作人员账号,不能绑定为企业安全管理员"))
    assignment = (RoleAssignment.objects.filter(user=user, role=roles.ENTERPRISE, revoked_at__isnull=True)
                  .order_by("id").first())
    if assignment is None:
        assignment = grant_role(actor, user, role=roles.ENTERPRISE, area=site.area)
    if SiteBinding.objects.filter(site=site, assignment=assignment, revoked_at__isnull=True).exists():
        raise _err("user", _("该账号已绑定此监管对象"))
    _hold(site)
    try:
        with transaction.atomic():  # the partial unique index: one live binding per site and account
            binding = SiteBinding.objects.create(site=site, assignment=assignment, created_by=actor)
    except IntegrityError:
        raise Conflict(_("该账号刚被他人绑定到此监管对象,请刷新后重试"), code="stale") from None
    audit.record("site.bind_manager", site, {"managers": [None, user.username]}, actor=actor)
    forget_grants(user)
    return binding


@service("registry.unbind_site_manager")
def unbind_site_manager(actor, binding: SiteBinding) -> SiteBinding:
    _actor_required(actor)
    binding = SiteBinding.objects.select_for_update().select_related("site", "assignment__user").get(pk=binding.pk)
    require_site_user_admin(actor, binding.site)
    require_manageable_user(actor, User.objects.select_for_update().get(pk=binding.assignment.user_id),
                            hidden=Forbidden(_("该企业账号不在您的管理范围内,请联系上级管理员")))
    if binding.revoked_at is not None:
        raise InvalidInput(_("该绑定已解除"))
    now = timezone.now()
    if not SiteBinding.objects.filter(pk=binding.pk, revoked_at__isnull=True).update(revoked_at=now,
                                                                                    revoked_by=actor):
        raise Conflict(_("该绑定已被他人解除,请刷新后重试"), code="stale")
    binding.revoked_at, binding.revoked_by = now, actor
    user = binding.assignment.user
    audit.record("site.unbind_manager", binding.site, {"managers": [user.username, None]}, actor=actor)
    forget_grants(user)
    return binding


__all__ = [
    "pinyin_initials", "create_site", "update_site", "archive_site", "set_host", "bind_site_manager",
    "unbind_site_manager",
]
