"""Write services of the core app: areas, people and roles, tokens, reference data.

Each function checks permission and state, writes the change and its audit entry in one
transaction (``@audit.service``), and raises a ``YingjiError`` with a Chinese message.
"""
from __future__ import annotations

import functools
import re
import secrets

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit, hotsql, roles
from .audit import service
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .validators import clean_coordinates
from .models import ApiToken, Area, AreaLevel, LoginFailure, Organisation, RoleAssignment, Sector, User
from .models.areas import LEVEL_CODE_LENGTH
from .scoping import forget_grants, grants_for


# ---------------------------------------------------------------- access helpers

def get_visible(model, user, pk, action: str = "view"):
    """The record ``pk`` if ``user`` may ``action`` it; NotFound otherwise (never 403)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound() from None
    obj = model.objects.restrict(user, action).filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    return obj


def require_editable(obj, user, action: str = "edit"):
    """Re-check ``obj`` against the user's scope for ``action``.

    Out of scope entirely → NotFound; visible but not allowed → Forbidden.
    """
    model = type(obj)
    if model.objects.restrict(user, action).filter(pk=obj.pk).exists():
        return obj
    if model.objects.visible_to(user).filter(pk=obj.pk).exists():
        raise Forbidden()
    raise NotFound()


def can(user, capability: str, area: Area, sector_ids=()) -> bool:
    """Whether ``user`` holds ``capability`` over ``area`` (and, if given, all of ``sector_ids``)."""
    for g in grants_for(user):
        if g.site_ids is not None or not g.allows(capability):
            continue
        if not area.code.startswith(g.area_code):
            continue
        if g.sector_ids and (not sector_ids or not set(sector_ids) <= g.sector_ids):
            continue
        return True
    return False


def require(user, capability: str, area: Area, sector_ids=()) -> None:
    if not can(user, capability, area, sector_ids):
        if Area.objects.visible_to(user).filter(pk=area.pk).exists():
            raise Forbidden()
        raise NotFound()


def _actor_required(actor) -> None:
    if actor is None or not actor.is_authenticated:
        raise Forbidden(_("请先登录"))


# ---------------------------------------------------------------- areas

def next_child_code(parent: Area, level: int) -> str:
    width = LEVEL_CODE_LENGTH[level] - len(parent.code)
    codes = Area.objects.filter(parent=parent, code__startswith=parent.code).values_list("code", flat=True)
    used = {int(c[len(parent.code):]) for c in codes if c[len(parent.code):].isdigit()}
    n = 1
    while n in used:
        n += 1
    if n >= 10 ** width:
        raise InvalidInput(_("该区域下的编码已用尽"))
    return parent.code + str(n).zfill(width)


def _clean_name(name) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("名称不能为空"), detail={"name": _("名称不能为空")})
    if len(name) > 64:
        raise InvalidInput(_("名称不能超过64个字"), detail={"name": _("名称不能超过64个字")})
    return name


def _area_lost_race() -> Conflict:
    return Conflict(_("该区域已被他人移动或归档,请刷新后重试"), code="stale")


def _hold_area(area: Area, **match) -> None:
    """``area`` is still where and as the caller read it (same code, not archived): a conditional
    no-op UPDATE that holds the row on PostgreSQL until the transaction ends. Lost → Conflict."""
    if not Area.objects.filter(pk=area.pk, code=area.code, archived_at__isnull=True, **match).update(
            updated_at=F("updated_at")):
        raise _area_lost_race()


@service("core.create_area")
def create_area(actor, *, parent: Area, name: str, kind: str = "", code: str | None = None,
                latitude=None, longitude=None, is_demo: bool = False) -> Area:
    _actor_required(actor)
    if parent is None:
        raise InvalidInput(_("请选择上级区域"), detail={"parent": _("请选择上级区域")})
    require(actor, roles.MANAGE_AREAS, parent)
    if parent.is_archived:
        raise InvalidInput(_("上级区域已归档"))
    if parent.level >= AreaLevel.GRID:
        raise InvalidInput(_("网格下不能再设下级区域"))
    level = parent.level + 1
    if code:
        code = code.strip()
        if not (code.isdigit() and code.startswith(parent.code) and len(code) == LEVEL_CODE_LENGTH[level]):
            raise InvalidInput(
                _("区划代码须为%(n)d位数字且以上级代码%(p)s开头") % {"n": LEVEL_CODE_LENGTH[level], "p": parent.code},
                detail={"code": _("区划代码格式不正确")},
            )
        if Area.objects.filter(code=code).exists():
            raise InvalidInput(_("区划代码已存在"), detail={"code": _("区划代码已存在")})
    else:
        code = next_child_code(parent, level)
    _hold_area(parent)
    lat, lng = clean_coordinates(latitude, longitude)
    area = Area.objects.create(code=code, name=_clean_name(name), level=level, kind=(kind or "").strip()[:16],
                               parent=parent, latitude=lat, longitude=lng, is_demo=is_demo)
    audit.record("area.create", area, audit.diff({}, audit.snapshot(area, ["code", "name", "level", "kind", "parent"])),
                 actor=actor)
    return area


@service("core.update_area")
def update_area(actor, area: Area, *, name=None, kind=None, latitude=None, longitude=None) -> Area:
    _actor_required(actor)
    area = Area.objects.select_for_update().get(pk=area.pk)
    require_editable(area, actor)
    before = audit.snapshot(area)
    if name is not None:
        area.name = _clean_name(name)
    if kind is not None:
        area.kind = kind.strip()[:16]
    if latitude is not None or longitude is not None:
        area.latitude, area.longitude = clean_coordinates(latitude, longitude)
    area.save(update_fields=["name", "kind", "latitude", "longitude", "updated_at"])  # never code/parent/archive
    changes = audit.diff(before, audit.snapshot(area))
    audit.record("area.update", area, changes, actor=actor)
    return area


@service("core.move_area")
def move_area(actor, area: Area, new_parent: Area) -> Area:
    """Move an area (e.g. a village to another town). It and everything below it get codes
    under the new parent, so every record in the subtree is re-scoped with it."""
    _actor_required(actor)
    area = Area.objects.select_for_update().get(pk=area.pk)
    if area.parent_id is None:
        raise InvalidInput(_("不能移动最上级区域"))
    require_editable(area, actor)
    require(actor, roles.MANAGE_AREAS, new_parent)
    if new_parent.level != area.level - 1:
        raise InvalidInput(_("目标上级区域层级不符:%(name)s须移到%(level)s之下") % {
            "name": area.name, "level": AreaLevel(area.level - 1).label})
    if new_parent.pk == area.parent_id:
        raise InvalidInput(_("该区域已在所选上级区域之下"))
    if new_parent.is_archived:
        raise InvalidInput(_("目标上级区域已归档"))
    old_prefix = area.code
    _hold_area(area, parent_id=area.parent_id)  # not moved or archived since it was read
    _hold_area(new_parent)  # nor the new parent; and two moves into it take their codes in turn
    new_prefix = next_child_code(new_parent, area.level)
    subtree = list(Area.objects.select_for_update().filter(code__startswith=old_prefix).order_by("code"))
    items = []
    for node in subtree:
        before = {"code": node.code, "parent": node.parent_id}
        node.code = new_prefix + node.code[len(old_prefix):]
        if node.pk == area.pk:
            node.parent = new_parent
        items.append((node, audit.diff(before, {"code": node.code, "parent": node.parent_id})))
    Area.objects.bulk_update(subtree, ["code", "parent"], batch_size=500)
    audit.record_many("area.move", items, note=_("移至%(parent)s") % {"parent": new_parent.name}, actor=actor)
    forget_grants(actor)
    area.refresh_from_db()
    return area


@service("core.archive_area")
def archive_area(actor, area: Area) -> Area:
    _actor_required(actor)
    area = Area.objects.select_for_update().get(pk=area.pk)
    require_editable(area, actor)
    if area.parent_id is None:
        raise InvalidInput(_("不能归档最上级区域"))
    if area.children.filter(archived_at__isnull=True).exists():
        raise InvalidInput(_("该区域下还有未归档的下级区域,请先处理"))
    if RoleAssignment.objects.filter(area=area, revoked_at__isnull=True).exists():
        raise InvalidInput(_("该区域还有在岗人员,请先调整其角色"))
    now = timezone.now()
    if not Area.objects.filter(pk=area.pk, code=area.code, archived_at__isnull=True).update(
            archived_at=now, archived_by=actor, updated_at=now):
        raise _area_lost_race()
    area.archived_at, area.archived_by, area.updated_at = now, actor, now
    audit.record("area.archive", area, {"archived_at": [None, area.archived_at]}, actor=actor)
    return area


# ---------------------------------------------------------------- people and roles

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{3,150}$")
PHONE_RE = re.compile(r"^1\d{10}$|^0\d{2,3}-?\d{7,8}$")


def _clean_phone(phone) -> str:
    phone = (phone or "").strip().replace(" ", "")
    if phone and not PHONE_RE.match(phone):
        raise InvalidInput(_("手机号格式不正确"), detail={"phone": _("手机号格式不正确")})
    return phone


def _password_message(error: DjangoValidationError) -> str:
    # Django's zh-Hans catalogue lacks this (plural) message; never show English.
    if error.code == "password_too_short":
        return _("密码太短,至少需要%(n)d个字符") % {"n": (error.params or {}).get("min_length", 8)}
    return " ".join(str(m) for m in error.messages)


def _validate_password(password: str, user: User | None = None) -> None:
    if not isinstance(password, str) or not password:
        raise InvalidInput(_("请输入密码"), detail={"password": [_("请输入密码")]})
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        messages = [_password_message(e) for e in exc.error_list]
        raise InvalidInput(";".join(messages), detail={"password": messages}) from None


def _check_grant(actor, role: str, area: Area, sectors) -> list[int]:
    if role not in roles.ROLE_LABELS:
        raise InvalidInput(_("角色无效"), detail={"role": _("角色无效")})
    if area is None:
        raise InvalidInput(_("请选择管辖区域"), detail={"area": _("请选择管辖区域")})
    if area.is_archived:
        raise InvalidInput(_("该区域已归档"), detail={"area": _("该区域已归档")})
    sector_ids = sorted({s.pk for s in sectors or []})
    if sector_ids and role not in roles.SECTOR_ROLES:
        raise InvalidInput(_("该角色不能限定行业领域"), detail={"sectors": _("该角色不能限定行业领域")})
    if actor is not None:  # None = the console (`yingji createuser`), run by the operator
        require(actor, roles.MANAGE_USERS, area, sector_ids)
        # One grant of the actor must cover it all: the area, the sectors and the role (roles.GRANTABLE),
        # so a sector-narrowed administrator who is also a town officer cannot combine the two into an
        # administrator over every sector of the town.
        if not any(_grant_covers(g, area, sector_ids) and role in roles.GRANTABLE.get(g.role, frozenset())
                   for g in grants_for(actor)):
            raise Forbidden(_("您无权授予“%(role)s”角色") % {"role": roles.ROLE_LABELS[role]})
    return sector_ids


def _grant_covers(g, area: Area, sector_ids) -> bool:
    """Whether grant ``g`` holds manage_users over ``area`` and all of ``sector_ids`` (as ``can``)."""
    if g.site_ids is not None or not g.allows(roles.MANAGE_USERS) or not area.code.startswith(g.area_code):
        return False
    return not g.sector_ids or (bool(sector_ids) and set(sector_ids) <= g.sector_ids)


def _grants_anything(g) -> bool:
    """A county-wide grant, over every sector, that may grant every role."""
    return (g.area_is_root and not g.sector_ids and g.site_ids is None and g.allows(roles.MANAGE_USERS)
            and set(roles.ROLE_LABELS) <= roles.GRANTABLE.get(g.role, frozenset()))


def require_manageable_user(actor, user: User, *, hidden: Exception | None = None) -> None:
    """THE rule for changing a person's roles and site bindings (and, through ``User.scope_q``,
    every other write on their account): the actor must manage the person's whole scope — every
    live role of theirs one that a single manage_users grant of the actor could have granted,
    inside that grant's area subtree — so a person holding a county role, a role in another town,
    or no role at all is out of a town officer's reach. Nobody changes their own roles. A console
    superuser's platform roles are changed by a county-wide administrator only. Out of sight →
    ``hidden`` (default NotFound); visible but beyond reach → Forbidden."""
    if user.pk == actor.pk:
        raise Forbidden(_("不能更改或撤销自己的角色,请联系上级管理员"))
    if User.objects.editable_by(actor).filter(pk=user.pk).exists():
        return
    if user.is_superuser and any(_grants_anything(g) for g in grants_for(actor)):
        return  # a console superuser's platform roles: a county-wide administrator's (not their password)
    if User.objects.visible_to(actor).filter(pk=user.pk).exists():
        raise Forbidden(_("该用户还有超出您管理范围的角色,请联系上级管理员"))
    raise hidden if hidden is not None else NotFound()


@service("core.create_user")
def create_user(actor, *, username: str, password: str, display_name: str = "", phone: str = "",
                organisation: Organisation | None = None, role: str, area: Area, sectors=(),
                must_change_password: bool = True, is_superuser: bool = False) -> User:
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise InvalidInput(_("用户名须为3-150位字母、数字或 _ . @ -"), detail={"username": _("用户名格式不正确")})
    if User.objects.filter(username__iexact=username).exists():
        raise InvalidInput(_("用户名已被使用"), detail={"username": _("用户名已被使用")})
    sector_ids = _check_grant(actor, role, area, sectors)
    if is_superuser and actor is not None:
        raise Forbidden(_("只能在控制台创建超级管理员"))
    user = User(username=username, display_name=(display_name or "").strip()[:32], phone=_clean_phone(phone),
                organisation=organisation, must_change_password=must_change_password,
                is_superuser=is_superuser, is_staff=is_superuser)
    _validate_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise InvalidInput(_("用户名已被使用"), detail={"username": _("用户名已被使用")}) from None
    audit.record("user.create", user, audit.diff({}, audit.snapshot(
        user, ["username", "display_name", "phone", "organisation", "is_superuser"])), actor=actor)
    _assign(actor, user, role, area, sector_ids)
    return user


def _assign(actor, user, role, area, sector_ids) -> RoleAssignment:
    assignment = RoleAssignment.objects.create(user=user, role=role, area=area, granted_by=actor)
    if sector_ids:
        assignment.sectors.set(sector_ids)
    audit.record("user.grant_role", user, {"role": [None, role], "area": [None, area.code],
                                           "sectors": [None, sector_ids]}, actor=actor)
    forget_grants(user)
    return assignment


@service("core.grant_role")
def grant_role(actor, user: User, *, role: str, area: Area, sectors=()) -> RoleAssignment:
    _actor_required(actor)
    sector_ids = _check_grant(actor, role, area, sectors)
    # The person's row is locked: concurrent role changes of one person are serialised, so the
    # check of their whole scope holds when the role is written.
    require_manageable_user(actor, User.objects.select_for_update().get(pk=user.pk))
    if RoleAssignment.objects.filter(user=user, role=role, area=area, revoked_at__isnull=True).exists():
        raise InvalidInput(_("该用户已有此角色"))
    return _assign(actor, user, role, area, sector_ids)


@service("core.revoke_role")
def revoke_role(actor, assignment: RoleAssignment) -> RoleAssignment:
    _actor_required(actor)
    assignment = RoleAssignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.user_id == actor.pk:
        raise Forbidden(_("不能更改或撤销自己的角色,请联系上级管理员"))
    require_editable(assignment, actor)
    require_manageable_user(actor, User.objects.select_for_update().get(pk=assignment.user_id))
    if assignment.revoked_at is not None:
        raise InvalidInput(_("该角色已撤销"))
    now = timezone.now()
    if not RoleAssignment.objects.filter(pk=assignment.pk, revoked_at__isnull=True).update(revoked_at=now,
                                                                                          revoked_by=actor):
        raise Conflict(_("该角色已被他人撤销,请刷新后重试"), code="stale")
    assignment.revoked_at, assignment.revoked_by = now, actor
    audit.record("user.revoke_role", assignment.user,
                 {"role": [assignment.role, None], "area": [assignment.area.code, None]}, actor=actor)
    forget_grants(assignment.user)
    return assignment


@service("core.update_user")
def update_user(actor, user: User, *, display_name=None, phone=None, organisation=...) -> User:
    _actor_required(actor)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.pk != actor.pk:
        require_editable(user, actor)
    before = audit.snapshot(user, ["display_name", "phone", "organisation"])
    if display_name is not None:
        user.display_name = display_name.strip()[:32]
    if phone is not None:
        user.phone = _clean_phone(phone)
    if organisation is not ...:
        user.organisation = organisation
    user.save()
    audit.record("user.update", user, audit.diff(before, audit.snapshot(user, list(before))), actor=actor)
    return user


@service("core.set_active")
def set_user_active(actor, user: User, active: bool) -> User:
    _actor_required(actor)
    user = User.objects.select_for_update().get(pk=user.pk)
    require_editable(user, actor)
    if user.pk == actor.pk:
        raise InvalidInput(_("不能停用自己的账号"))
    if user.is_active == active:
        raise InvalidInput(_("账号已是该状态"))
    archived_at = None if active else timezone.now()
    if not User.objects.filter(pk=user.pk, is_active=not active).update(is_active=active, archived_at=archived_at):
        raise Conflict(_("该账号已被他人启用或停用,请刷新后重试"), code="stale")
    user.is_active, user.archived_at = active, archived_at
    changes, note = {"is_active": [not active, active]}, ""
    if not active:
        # An inactive account is refused by the session and token checks already; its tokens and
        # sessions are ended too, so that reactivating it does not bring them back.
        changes, note = _end_access(user, changes)
    audit.record("user.activate" if active else "user.deactivate", user, changes, note=note, actor=actor)
    return user


def _end_access(user: User, changes: dict, *, sessions: bool = True) -> tuple[dict, str]:
    """Revoke every live API token of ``user`` and (``sessions``) delete their stored sessions; the
    audit changes and note saying so."""
    tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    ended = end_sessions(user) if sessions else 0
    changes = dict(changes)
    if tokens:
        changes["api_tokens"] = [tokens, 0]
    if ended:
        changes["sessions"] = [ended, 0]
    if sessions:
        note = _("已撤销该用户的全部API令牌(%(t)d个)并结束其全部登录会话") % {"t": tokens}
    else:
        note = _("已撤销该用户的全部API令牌(%(t)d个)并结束其他登录会话") % {"t": tokens}
    return changes, note


def end_sessions(user: User) -> int:
    """Delete the stored sessions of ``user`` (database-backed session engines; the session store
    has no index by user, so the live sessions are read and decoded — an administrator's action,
    a few thousand rows). Whatever the engine, a session also ends on its next request when the
    password changed (Django compares the session's password hash) or the account is inactive."""
    from importlib import import_module

    from django.conf import settings

    store = import_module(settings.SESSION_ENGINE).SessionStore
    model_class = getattr(store, "get_model_class", None)
    if model_class is None:
        return 0
    ended = 0
    rows = (model_class().objects.filter(expire_date__gt=timezone.now())
            .values_list("session_key", "session_data"))
    for key, data in rows.iterator(chunk_size=2000):
        if str(store().decode(data).get("_auth_user_id")) == str(user.pk):
            store(session_key=key).delete()
            ended += 1
    return ended


@service("core.reset_password")
def reset_password(actor, user: User, new_password: str) -> User:
    _actor_required(actor)
    user = User.objects.select_for_update().get(pk=user.pk)
    require_editable(user, actor)
    if user.pk == actor.pk:
        raise InvalidInput(_("请在“修改密码”页面修改自己的密码"))
    _validate_password(new_password, user)
    user.set_password(new_password)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    changes, note = _end_access(user, {"password": ["***", "***"]})
    audit.record("user.reset_password", user, changes, note=note, actor=actor)
    return user


@service("core.change_password")
def change_own_password(user: User, old_password: str, new_password: str) -> User:
    _actor_required(user)
    if not user.check_password(old_password or ""):
        raise InvalidInput(_("原密码不正确"), detail={"old_password": _("原密码不正确")})
    if old_password == new_password:
        raise InvalidInput(_("新密码不能与原密码相同"), detail={"new_password": _("新密码不能与原密码相同")})
    _validate_password(new_password, user)
    user.set_password(new_password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
    # The other sessions end on their next request (their password hash no longer matches; the
    # page keeps the current one with update_session_auth_hash); the tokens are revoked here.
    changes, note = _end_access(user, {"password": ["***", "***"]}, sessions=False)
    audit.record("user.change_password", user, changes, note=note, actor=user)
    return user


# ---------------------------------------------------------------- sign-in throttling
#
# Failures are counted per account and per client address separately (LoginFailure rows):
# LOGIN_FAILURE_LIMIT failures of one account within the window lock that account, from any address;
# LOGIN_IP_FAILURE_LIMIT (much higher) failures from one address lock that address, so that one person
# mistyping behind an office's NAT address does not lock out the office. Failed bearer tokens are
# counted per address on their own (rows with an empty username) against the same address limit.

TOKEN_FAILURE = ""  # LoginFailure.username of a failed bearer token


def _failure_window():
    import datetime

    from django.conf import settings

    return timezone.now() - datetime.timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def login_throttled(username: str, ip: str | None) -> bool:
    """Whether a sign-in as ``username`` from ``ip`` is refused for now."""
    from django.conf import settings

    since = _failure_window()
    username = (username or "").strip().lower()
    if username and LoginFailure.objects.filter(username=username, at__gte=since).count() \
            >= settings.LOGIN_FAILURE_LIMIT:
        return True
    return bool(ip) and LoginFailure.objects.filter(ip=ip, at__gte=since).exclude(
        username=TOKEN_FAILURE).count() >= settings.LOGIN_IP_FAILURE_LIMIT


def note_login_failure(username: str, ip: str | None) -> None:
    LoginFailure.objects.create(username=(username or "").strip().lower()[:150], ip=ip)


def token_failure_throttled(ip: str | None) -> bool:
    """Note one failed bearer token from ``ip``; True when the address is over the limit (then the
    failure is not stored: the table does not grow under a flood)."""
    from django.conf import settings

    if not ip:
        return False
    if LoginFailure.objects.filter(ip=ip, username=TOKEN_FAILURE, at__gte=_failure_window()).count() \
            >= settings.LOGIN_IP_FAILURE_LIMIT:
        return True
    LoginFailure.objects.create(username=TOKEN_FAILURE, ip=ip)
    return False


@service("core.login")
def record_login(user: User) -> None:
    audit.record("auth.login", user, {}, actor=user)


@service("core.logout")
def record_logout(user: User) -> None:
    audit.record("auth.logout", user, {}, actor=user)


# ---------------------------------------------------------------- API tokens

TOKEN_PREFIX = "yj_"


@service("core.create_token")
def create_token(actor, user: User, name: str = "api") -> tuple[ApiToken, str]:
    """A new bearer token for ``user``; returns the token row and the plain key (shown once).
    ``actor=None`` is the console (`yingji token create`)."""
    if actor is not None and actor.pk != user.pk:
        require_editable(user, actor)
    name = (name or "api").strip()[:64] or "api"
    if not user.is_active:
        raise InvalidInput(_("账号已停用"))
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=key[:10], key_hash=ApiToken.hash(key))
    audit.record("token.create", user, {"token": [None, f"{token.prefix}… ({name})"]}, actor=actor)
    return token, key


@service("core.revoke_token")
def revoke_token(actor, token: ApiToken) -> ApiToken:
    """``actor=None`` is the console (`yingji token revoke`)."""
    if actor is not None:
        _actor_required(actor)
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if actor is not None and token.user_id != actor.pk:
        require_editable(token.user, actor)
    if token.revoked_at:
        raise InvalidInput(_("令牌已撤销"))
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record("token.revoke", token.user, {"token": [f"{token.prefix}… ({token.name})", None]}, actor=actor)
    return token


def user_for_token(key: str) -> User | None:
    if not key or not key.startswith(TOKEN_PREFIX):
        return None
    # Every API request runs this: one prepared statement (the user with its live token's id and
    # last use), no compiled ORM query.
    sql, names = _token_sql()
    rows = hotsql.fetch(sql, [ApiToken.hash(key)])
    if not rows:
        return None
    row = rows[0]
    user = hotsql.instance(User, names, row[:-2])
    if not user.is_active:
        return None
    user.token_id = row[-2]
    last_used = hotsql.convert(ApiToken, "last_used_at", row[-1])
    now = timezone.now()
    if last_used is None or (now - last_used).total_seconds() > 60:
        ApiToken.objects.filter(pk=user.token_id).update(last_used_at=now)  # bookkeeping, not a business write
    return user


@functools.cache
def _token_sql() -> tuple[str, tuple[str, ...]]:
    """The token lookup's statement, built once from the models' tables and columns, and the
    user fields it reads (all of them)."""
    from django.db import connection

    q = connection.ops.quote_name
    t, u = ApiToken._meta, User._meta
    names = tuple(f.attname for f in u.concrete_fields)
    col = hotsql.column
    sql = (f"SELECT {hotsql.columns(User, names, 'u')}, t.{col(t, 'id')}, t.{col(t, 'last_used_at')} "
           f"FROM {q(t.db_table)} t INNER JOIN {q(u.db_table)} u ON u.{col(u, 'id')} = t.{col(t, 'user')} "
           f"WHERE t.{col(t, 'key_hash')} = %s AND t.{col(t, 'revoked_at')} IS NULL")
    return sql, names


# ---------------------------------------------------------------- reference data

def _require_reference(actor) -> None:
    _actor_required(actor)
    root = Area.objects.filter(parent__isnull=True).first()
    if root is None or not can(actor, roles.MANAGE_REFERENCE, root):
        raise Forbidden()


@service("core.save_organisation")
def save_organisation(actor, org: Organisation | None = None, **fields) -> Organisation:
    _require_reference(actor)
    allowed = {"code", "name", "short_name", "kind", "parent", "area", "lead", "sort"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput(_("未知字段:%(f)s") % {"f": ", ".join(sorted(unknown))})
    if "name" in fields:
        fields["name"] = _clean_name(fields["name"])
    before = audit.snapshot(org) if org else {}
    org = org or Organisation()
    for k, v in fields.items():
        setattr(org, k, v)
    if not org.code or not org.kind or not org.area_id:
        raise InvalidInput(_("编码、类型和所属区域不能为空"))
    if Organisation.objects.filter(code=org.code).exclude(pk=org.pk).exists():
        raise InvalidInput(_("编码已存在"), detail={"code": _("编码已存在")})
    org.save()
    audit.record("organisation.save", org, audit.diff(before, audit.snapshot(org)), actor=actor)
    return org


@service("core.save_sector")
def save_sector(actor, sector: Sector | None = None, **fields) -> Sector:
    _require_reference(actor)
    allowed = {"code", "name", "department", "committee", "sort"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput(_("未知字段:%(f)s") % {"f": ", ".join(sorted(unknown))})
    if "name" in fields:
        fields["name"] = _clean_name(fields["name"])
    before = audit.snapshot(sector) if sector else {}
    sector = sector or Sector()
    for k, v in fields.items():
        setattr(sector, k, v)
    if not sector.code or not sector.department_id:
        raise InvalidInput(_("编码和主管部门不能为空"))
    if Sector.objects.filter(code=sector.code).exclude(pk=sector.pk).exists():
        raise InvalidInput(_("编码已存在"), detail={"code": _("编码已存在")})
    sector.save()
    audit.record("sector.save", sector, audit.diff(before, audit.snapshot(sector)), actor=actor)
    return sector
