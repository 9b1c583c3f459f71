import hashlib

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .. import roles
from ..scoping import Grant, ScopedModel, ScopedQuerySet, area_subtree_ids


class ScopedUserManager(UserManager.from_queryset(ScopedQuerySet)):
    pass


class User(AbstractUser, ScopedModel):
    """A person. Visible to those who manage users in an area where the person holds a role."""

    scope_area = None  # overridden by location_q below
    scope_capabilities = {"view": roles.MANAGE_USERS, "edit": roles.MANAGE_USERS}

    display_name = models.CharField(_("姓名"), max_length=32, blank=True)
    phone = models.CharField(_("手机号"), max_length=20, blank=True)
    organisation = models.ForeignKey(
        "core.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="staff",
        verbose_name=_("所属单位"),
    )
    must_change_password = models.BooleanField(_("须修改密码"), default=False)
    archived_at = models.DateTimeField(_("停用时间"), null=True, blank=True)

    objects = ScopedUserManager()

    class Meta:
        ordering = ["username"]
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.display_name or self.username

    @classmethod
    def location_q(cls, grant: Grant) -> Q | None:
        if grant.site_ids is not None:
            return None
        assignments = RoleAssignment.objects.filter(revoked_at__isnull=True)
        if not grant.area_is_root:
            assignments = assignments.filter(area_id__in=area_subtree_ids(grant.area_code))
        else:
            return Q()
        return Q(pk__in=assignments.values("user_id"))

    @classmethod
    def scope_q(cls, grant: Grant, action: str) -> Q | None:
        """Viewing a person needs a role of theirs in the grant's area; managing them (edit:
        profile, password, (de)activation) needs *every* active role of theirs to be one the
        grant could have granted, inside its area — so a town officer cannot take over an
        account that also holds a county role or a role in another town. Superusers are
        managed at the console only (they may use the Django admin)."""
        q = super().scope_q(grant, action)
        if q is None or action == "view":
            return q
        q &= Q(is_superuser=False)
        beyond = beyond_grant(grant)
        if beyond is None:
            return q
        return q & ~Q(pk__in=beyond.values("user_id"))


class RoleAssignment(ScopedModel):
    """One role held by one user over an area subtree, optionally narrowed to sectors."""

    scope_area = "area"
    scope_capabilities = {"view": roles.MANAGE_USERS, "edit": roles.MANAGE_USERS}

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="assignments")
    role = models.CharField(_("角色"), max_length=20, choices=roles.ROLE_CHOICES)
    area = models.ForeignKey("core.Area", on_delete=models.PROTECT, related_name="assignments",
                             verbose_name=_("管辖区域"))
    sectors = models.ManyToManyField("core.Sector", blank=True, related_name="assignments",
                                     verbose_name=_("行业领域"))
    granted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["user_id", "id"]
        verbose_name = _("角色分配")
        verbose_name_plural = _("角色分配")
        indexes = [models.Index(fields=["area", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.user} · {roles.ROLE_LABELS.get(self.role, self.role)} · {self.area}"

    @classmethod
    def scope_q(cls, grant: Grant, action: str) -> Q | None:
        """Revoking (edit) needs a role the grant could have granted."""
        q = super().scope_q(grant, action)
        if q is None or action == "view":
            return q
        grantable = roles.GRANTABLE.get(grant.role, frozenset())
        if set(roles.ROLE_LABELS) <= grantable:
            return q
        return q & Q(role__in=sorted(grantable))

    @property
    def role_label(self) -> str:
        return str(roles.ROLE_LABELS.get(self.role, self.role))


def beyond_grant(grant: Grant):
    """Active role assignments that ``grant`` could not have granted (another role, or outside
    its area subtree); None when it could have granted any."""
    grantable = roles.GRANTABLE.get(grant.role, frozenset())
    all_roles = set(roles.ROLE_LABELS) <= grantable
    if all_roles and grant.area_is_root:
        return None
    outside = Q()
    if not all_roles:
        outside |= ~Q(role__in=sorted(grantable))
    if not grant.area_is_root:
        outside |= ~Q(area_id__in=area_subtree_ids(grant.area_code))
    return RoleAssignment.objects.filter(outside, revoked_at__isnull=True)


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the plain value is shown once."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=64)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("API令牌")
        verbose_name_plural = _("API令牌")

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def delete(self, *args, **kwargs):  # revoked, never deleted
        from ..scoping import HardDeleteForbidden

        raise HardDeleteForbidden("API tokens are revoked, never deleted")


class LoginFailure(models.Model):
    """One failed sign-in, for throttling (by username and by client address)."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["ip", "at"])]
