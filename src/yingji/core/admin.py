"""Django admin: superusers only. Saves are audited; nothing can be deleted from here."""
from django.contrib import admin

from . import audit
from .models import Area, Organisation, RoleAssignment, Sector, User


class AuditedAdmin(admin.ModelAdmin):
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    has_change_permission = has_view_permission
    has_add_permission = lambda self, request: request.user.is_active and request.user.is_superuser  # noqa: E731

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        before = audit.snapshot(type(obj).objects.get(pk=obj.pk)) if change and obj.pk else {}
        super().save_model(request, obj, form, change)
        audit.record("admin.change" if change else "admin.add", obj, audit.diff(before, audit.snapshot(obj)),
                     actor=request.user)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(Area)
class AreaAdmin(AuditedAdmin):
    """Areas are created and moved through the platform's own pages (codes are derived)."""

    def has_add_permission(self, request):
        return False

    list_display = ("code", "name", "level", "kind", "archived_at")
    search_fields = ("code", "name")
    list_filter = ("level",)
    readonly_fields = ("code", "parent", "level")


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdmin):
    list_display = ("code", "name", "kind", "area")
    search_fields = ("code", "name")


@admin.register(Sector)
class SectorAdmin(AuditedAdmin):
    list_display = ("code", "name", "department", "committee")


@admin.register(User)
class UserAdmin(AuditedAdmin):
    """People are created with a role (`yingji createuser` or the 人员与角色 page), not here."""

    def has_add_permission(self, request):
        return False

    list_display = ("username", "display_name", "is_active", "is_superuser")
    search_fields = ("username", "display_name")
    exclude = ("password", "user_permissions", "groups")


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(AuditedAdmin):
    def has_add_permission(self, request):
        return False

    list_display = ("user", "role", "area", "revoked_at")
    readonly_fields = ("user", "granted_by", "revoked_by")


def _superuser_only(request) -> bool:
    return request.user.is_active and request.user.is_superuser


def _admin_login(request, extra_context=None):
    from .views import admin_login

    return admin_login(request, extra_context)


def _admin_logout(request, extra_context=None):
    from .views import logout_view

    return logout_view(request)


admin.site.has_permission = _superuser_only
# One sign-in path: the admin's login page sends to the platform's (throttled, audited) sign-in,
# and its sign-out is the platform's (audited).
admin.site.login = _admin_login
admin.site.logout = _admin_logout
admin.site.site_header = "应急管理平台 · 系统后台"
admin.site.site_title = "应急管理平台"
