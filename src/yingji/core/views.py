"""Core pages: sign-in, home, areas, people and roles, organisations and sectors, audit.

Views stay thin: they parse input with a form, call a service, and render. Reads start from
``visible_to(user)``; a record outside the user's scope answers 404.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import forms, privacy, queries, roles, services
from .errors import Forbidden, InvalidInput, YingjiError
from .middleware import client_ip, error_page  # noqa: F401 - error_page is used by core.uploads
from .models import Area, AreaLevel, Organisation, RoleAssignment, Sector, User
from .pagination import keyset_page
from .scoping import grants_for, user_has_capability


def _form_error(form, exc: InvalidInput) -> None:
    """Attach a service error to the matching form field (or the form as a whole)."""
    placed = False
    for field, msg in (exc.detail or {}).items():
        if field in form.fields:
            form.add_error(field, msg if isinstance(msg, (str, list)) else str(msg))
            placed = True
    if not placed:
        form.add_error(None, exc.message)


# ---------------------------------------------------------------- sign-in

def login_view(request):
    if request.user.is_authenticated:
        return redirect("core:home")
    form = forms.LoginForm(request.POST or None)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    status = 200
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"].strip()
        ip = client_ip(request)
        if services.login_throttled(username, ip):
            minutes = max(1, settings.LOGIN_FAILURE_WINDOW_SECONDS // 60)
            form.add_error(None, _("登录失败次数过多,请%(m)d分钟后再试") % {"m": minutes})
            status = 429
        else:
            user = authenticate(request, username=username, password=form.cleaned_data["password"])
            if user is None:
                services.note_login_failure(username, ip)
                form.add_error(None, _("用户名或密码错误"))
                status = 401
            else:
                login(request, user)
                services.record_login(user)
                if user.must_change_password:
                    messages.warning(request, _("请先修改初始密码"))
                    return redirect("core:password_change")
                if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()},
                                                                 require_https=request.is_secure()):
                    return HttpResponseRedirect(next_url)
                return redirect("core:home")
    elif request.method == "POST":
        status = 400
    return render(request, "core/login.html", {"form": form, "next": next_url}, status=status)


def admin_login(request, extra_context=None):
    """The Django admin's sign-in page (``admin.site.login``): one sign-in path for everybody — the
    platform's own, with its throttling and audit entry — then back to the admin."""
    from urllib.parse import urlencode

    next_url = request.GET.get("next") or reverse("admin:index")
    return HttpResponseRedirect(reverse("core:login") + "?" + urlencode({"next": next_url}))


@require_POST
def logout_view(request):
    if request.user.is_authenticated:
        services.record_logout(request.user)
    logout(request)
    messages.info(request, _("您已安全退出"))
    return redirect("core:login")


@login_required
def password_change(request):
    form = forms.PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.change_own_password(request.user, form.cleaned_data["old_password"],
                                         form.cleaned_data["new_password"])
        except InvalidInput as exc:
            _form_error(form, exc)
        else:
            from django.contrib.auth import update_session_auth_hash

            update_session_auth_hash(request, request.user)
            messages.success(request, _("密码已修改"))
            return redirect("core:home")
    return render(request, "core/password_change.html", {"form": form}, status=400 if form.errors else 200)


# ---------------------------------------------------------------- home

@login_required
def home(request):
    """The home page answers "how are we doing" for the user's role: the to-do lines and the
    panels the apps contribute (core.contrib), each read through the access rule."""
    from . import contrib
    from .worklist import worklist

    user = request.user
    grants = grants_for(user)
    assignments = (RoleAssignment.objects.filter(user=user, revoked_at__isnull=True)
                   .select_related("area").prefetch_related("sectors"))
    government = any(g.site_ids is None for g in grants)
    level_counts = []
    if government:
        visible_areas = Area.objects.visible_to(user).filter(archived_at__isnull=True)
        by_level = {row["level"]: row["n"] for row in visible_areas.values("level").annotate(n=Count("id"))}
        level_counts = [(label, by_level.get(value, 0)) for value, label in AreaLevel.choices]
    return render(request, "core/home.html", {
        "worklist": worklist(user) if grants else [],
        "panels": contrib.home_panels(user) if grants else [],
        "assignments": assignments,
        "level_counts": level_counts,
        "has_grants": bool(grants),
        "top_areas": queries.top_areas(user) if government else [],
    })


# ---------------------------------------------------------------- global search

def _search_groups(user, q: str) -> list[dict]:
    from . import contrib

    return [{"key": key, "kind": results[0].kind, "results": results} for key, results in contrib.search(user, q)]


@login_required
def search(request):
    """The global search: sites by name, credit code or pinyin initials, hazards and inspections
    by number, each provider bounded and read through the access rule. ``partial=1`` (htmx, as
    you type) answers the drop-down; otherwise the full results page (Enter)."""
    from . import contrib

    q = (request.GET.get("q") or "").strip()[:contrib.SEARCH_MAX_LENGTH]
    groups = _search_groups(request.user, q) if q else []
    if request.GET.get("partial") or request.headers.get("HX-Request"):
        return render(request, "core/partials/search_results.html", {"q": q, "groups": groups})
    return render(request, "core/search.html", {"q": q, "groups": groups})


# ---------------------------------------------------------------- areas

@login_required
def area_list(request):
    q = (request.GET.get("q") or "").strip()
    results = None
    next_cursor = None
    if q:
        qs = Area.objects.visible_to(request.user).filter(name__contains=q)
        results, next_cursor = keyset_page(qs.select_related("parent"), request.GET.get("cursor"), 50,
                                           descending=False)
    return render(request, "core/area_list.html", {
        "q": q, "results": results, "next_cursor": next_cursor, "top_areas": queries.top_areas(request.user),
        "can_manage": user_has_capability(request.user, roles.MANAGE_AREAS),
    })


@login_required
def area_detail(request, pk):
    area = services.get_visible(Area, request.user, pk)
    children = Area.objects.visible_to(request.user).filter(parent=area).order_by("code")
    show_archived = request.GET.get("archived") == "1"
    if not show_archived:
        children = children.filter(archived_at__isnull=True)
    ancestors = [a for a in area.ancestors() if Area.objects.visible_to(request.user).filter(pk=a.pk).exists()]
    people = []
    if user_has_capability(request.user, roles.MANAGE_USERS):
        people = (RoleAssignment.objects.visible_to(request.user).filter(area=area, revoked_at__isnull=True)
                  .select_related("user")[:200])
    can_edit = Area.objects.editable_by(request.user).filter(pk=area.pk).exists()
    return render(request, "core/area_detail.html", {
        "area": area, "children": children[:1000], "ancestors": ancestors, "people": people,
        "can_edit": can_edit, "show_archived": show_archived,
        "can_add_child": can_edit and area.level < AreaLevel.GRID,
    })


@login_required
def area_create(request, parent_pk):
    parent = services.get_visible(Area, request.user, parent_pk)
    form = forms.AreaForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            area = services.create_area(request.user, parent=parent, **form.cleaned_data)
        except InvalidInput as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("已新增区域:%(name)s") % {"name": area.name})
            return redirect("core:area_detail", pk=area.pk)
    else:
        services.require(request.user, roles.MANAGE_AREAS, parent)
    return render(request, "core/area_form.html", {"form": form, "parent": parent},
                  status=400 if form.errors else 200)


@login_required
def area_edit(request, pk):
    area = services.get_visible(Area, request.user, pk)
    services.require_editable(area, request.user)
    initial = {"name": area.name, "kind": area.kind, "code": area.code, "latitude": area.latitude,
               "longitude": area.longitude}
    form = forms.AreaForm(request.POST or None, initial=initial)
    form.fields["code"].disabled = True
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_area(request.user, area, name=data["name"], kind=data["kind"],
                                 latitude=data["latitude"], longitude=data["longitude"])
        except InvalidInput as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("已保存"))
            return redirect("core:area_detail", pk=area.pk)
    return render(request, "core/area_form.html", {"form": form, "area": area}, status=400 if form.errors else 200)


@login_required
def area_move(request, pk):
    area = services.get_visible(Area, request.user, pk)
    services.require_editable(area, request.user)
    form = forms.AreaMoveForm(request.POST or None, user=request.user, area=area)
    if request.method == "POST" and form.is_valid():
        try:
            services.move_area(request.user, area, form.cleaned_data["new_parent"])
        except InvalidInput as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("已将%(name)s移至%(parent)s") % {
                "name": area.name, "parent": form.cleaned_data["new_parent"].name})
            return redirect("core:area_detail", pk=area.pk)
    return render(request, "core/area_move.html", {"form": form, "area": area}, status=400 if form.errors else 200)


@login_required
@require_POST
def area_archive(request, pk):
    area = services.get_visible(Area, request.user, pk)
    try:
        services.archive_area(request.user, area)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已归档:%(name)s") % {"name": area.name})
    return redirect("core:area_detail", pk=area.pk)


# ---------------------------------------------------------------- people

def _require_manage_users(user) -> None:
    if not user_has_capability(user, roles.MANAGE_USERS):
        raise services.NotFound()


@login_required
def user_list(request):
    _require_manage_users(request.user)
    q = request.GET.get("q") or ""
    users, next_cursor = keyset_page(queries.user_search(request.user, q).select_related("organisation"),
                                     request.GET.get("cursor"), 50, descending=False)
    return render(request, "core/user_list.html", {"users": users, "q": q, "next_cursor": next_cursor})


@login_required
def user_create(request):
    _require_manage_users(request.user)
    form = forms.UserCreateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            user = services.create_user(request.user, username=d["username"], password=d["password"],
                                        display_name=d["display_name"], phone=d["phone"],
                                        organisation=d["organisation"], role=d["role"], area=d["area"],
                                        sectors=d["sectors"])
        except (InvalidInput, Forbidden) as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("已创建用户:%(name)s") % {"name": user})
            return redirect("core:user_detail", pk=user.pk)
    return render(request, "core/user_form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def user_detail(request, pk):
    person = services.get_visible(User, request.user, pk)
    assignments = (RoleAssignment.objects.visible_to(request.user).filter(user=person)
                   .select_related("area", "granted_by")
                   .prefetch_related("sectors").order_by("revoked_at", "-id"))
    editable_ids = set()
    try:  # revoke buttons only where revoking is allowed: the person's whole scope, never one's own
        services.require_manageable_user(request.user, person)
    except (Forbidden, services.NotFound):
        pass
    else:
        editable_ids = set(RoleAssignment.objects.editable_by(request.user).filter(user=person)
                           .values_list("pk", flat=True))
    role_form = forms.RoleForm(user=request.user, prefix="role")
    edit_form = forms.UserEditForm(initial={"display_name": person.display_name, "phone": person.phone,
                                            "organisation": person.organisation_id}, prefix="edit")
    return render(request, "core/user_detail.html", {
        "person": person, "assignments": assignments, "editable_ids": editable_ids,
        "role_form": role_form, "edit_form": edit_form, "reset_form": forms.ResetPasswordForm(prefix="reset"),
    })


@login_required
@require_POST
def user_action(request, pk, action):
    person = services.get_visible(User, request.user, pk)
    try:
        if action == "grant":
            form = forms.RoleForm(request.POST, user=request.user, prefix="role")
            if not form.is_valid():
                raise InvalidInput(_("请检查角色、区域和行业领域的选择"),
                                   detail={k: [str(e) for e in v] for k, v in form.errors.items()})
            services.grant_role(request.user, person, role=form.cleaned_data["role"],
                                area=form.cleaned_data["area"], sectors=form.cleaned_data["sectors"])
            messages.success(request, _("已授予角色"))
        elif action == "revoke":
            assignment = services.get_visible(RoleAssignment, request.user, request.POST.get("assignment"))
            if assignment.user_id != person.pk:
                raise services.NotFound()
            services.revoke_role(request.user, assignment)
            messages.success(request, _("已撤销角色"))
        elif action == "edit":
            form = forms.UserEditForm(request.POST, prefix="edit")
            if not form.is_valid():
                raise InvalidInput(_("请检查填写的内容"),
                                   detail={k: [str(e) for e in v] for k, v in form.errors.items()})
            services.update_user(request.user, person, **form.cleaned_data)
            messages.success(request, _("已保存"))
        elif action in ("deactivate", "activate"):
            services.set_user_active(request.user, person, action == "activate")
            messages.success(request, _("账号已启用") if action == "activate" else _("账号已停用"))
        elif action == "reset_password":
            services.reset_password(request.user, person, request.POST.get("reset-new_password", ""))
            messages.success(request, _("密码已重置,用户下次登录须修改密码"))
        else:
            raise services.NotFound()
    except (InvalidInput, Forbidden) as exc:
        messages.error(request, exc.message)
        for field, errs in (exc.detail or {}).items():
            if isinstance(errs, list):
                for e in errs:
                    if e != exc.message:
                        messages.error(request, e)
    return redirect("core:user_detail", pk=person.pk)


# ---------------------------------------------------------------- reference data

@login_required
def org_list(request):
    orgs = Organisation.objects.filter(archived_at__isnull=True).select_related("area", "parent", "lead")
    sectors = Sector.objects.filter(archived_at__isnull=True).select_related("department", "committee")
    return render(request, "core/org_list.html", {"orgs": orgs, "sectors": sectors})


# ---------------------------------------------------------------- audit

@login_required
def audit_list(request):
    if not user_has_capability(request.user, roles.VIEW_AUDIT):
        raise services.NotFound()
    form = forms.AuditFilterForm(request.GET or None, model_choices=queries.audited_model_choices())
    entries, next_cursor = [], None
    if not request.GET or form.is_valid():
        data = form.cleaned_data if request.GET else {}
        qs = queries.audit_queryset(request.user, model=data.get("model") or None,
                                    object_id=data.get("object_id"), actor=data.get("actor") or None,
                                    action=data.get("action") or None, since=data.get("since"),
                                    until=data.get("until"), include_system=bool(data.get("include_system")))
        entries, next_cursor = keyset_page(qs, request.GET.get("cursor"), 50)
        entries = privacy.redact_audit_entries(request.user, entries)
    query = request.GET.copy()
    query.pop("cursor", None)
    return render(request, "core/audit_list.html", {
        "form": form, "entries": entries, "next_cursor": next_cursor, "query": query.urlencode(),
    }, status=400 if form.errors else 200)


def not_found(request, exception=None):
    if request.path.startswith("/api/"):  # unknown API paths answer in the API's error shape
        from django.http import JsonResponse

        return JsonResponse(services.NotFound().as_dict(), status=404, json_dumps_params={"ensure_ascii": False})
    return render(request, "core/error.html", {"error": services.NotFound()}, status=404)


def server_error(request):
    return render(request, "core/error.html", {"error": YingjiError(_("系统繁忙,请稍后再试"))}, status=500)


def redirect_to(name):
    return lambda request: redirect(reverse(name))
