"""Site registry pages: list with filters, profile, create/edit, archive, host, managers.

Views stay thin: parse with a form, call a service or query, render. Reads start from
``visible_to(user)``; a site outside the user's scope answers 404.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from yingji.core import roles
from yingji.core.errors import InvalidInput, NotFound
from yingji.core.models import User
from yingji.core.pagination import keyset_page
from yingji.core.scoping import user_has_capability
from yingji.core.services import can, get_visible, require_editable
from yingji.core.views import _form_error

from . import forms, queries, services
from .models import Site, SiteBinding, SiteKind

PAGE_SIZE = 50


@login_required
def site_list(request):
    form = forms.SiteFilterForm(request.GET or None, user=request.user)
    sites, next_cursor, error = [], None, None
    if not request.GET or form.is_valid():
        data = form.cleaned_data if request.GET else {}
        try:
            qs = queries.site_search(
                request.user, q=data.get("q"), area=data.get("area"), sector=data.get("sector"),
                industry=data.get("industry"), trait=data.get("trait"), colour=data.get("colour"),
                status=data.get("status"), kind=data.get("kind"), include_archived=bool(data.get("archived")))
            sites, next_cursor = keyset_page(qs.select_related("area", "industry"), request.GET.get("cursor"),
                                             PAGE_SIZE)
        except InvalidInput as exc:
            error = exc.message
    query = request.GET.copy()
    query.pop("cursor", None)
    return render(request, "registry/site_list.html", {
        "form": form, "sites": sites, "next_cursor": next_cursor, "query": query.urlencode(), "error": error,
        "can_create": user_has_capability(request.user, roles.EDIT),
    }, status=400 if (form.errors or error) else 200)


@login_required
def site_detail(request, pk):
    user = request.user
    site = get_visible(Site, user, pk)
    visible = Site.objects.visible_to(user)
    host = visible.filter(pk=site.host_id).first() if site.host_id else None
    tenants = list(visible.filter(host=site).select_related("area").order_by("archived_at", "name")[:500])
    can_edit = Site.objects.editable_by(user).filter(pk=site.pk).exists()
    can_manage = can(user, roles.MANAGE_USERS, site.area)
    bindings = []
    if can_manage:
        bindings = list(SiteBinding.objects.filter(site=site, revoked_at__isnull=True)
                        .select_related("assignment__user", "created_by"))
    return render(request, "registry/site_detail.html", {
        "site": site, "host": host, "host_hidden": bool(site.host_id and host is None), "tenants": tenants,
        "sectors": list(site.sectors.all()), "traits": list(site.traits.all()),
        "ancestors": site.area.ancestors(include_self=True), "can_edit": can_edit, "can_manage": can_manage,
        "bindings": bindings, "timeline": queries.site_timeline(user, site),
        "can_view_audit": user_has_capability(user, roles.VIEW_AUDIT),
        "host_form": forms.HostForm(initial={"host": site.host_id or ""}),
        "bind_form": forms.BindManagerForm(),
    })


def _site_fields(data: dict) -> dict:
    fields = dict(data)
    fields["industry"] = data.get("industry")
    fields["sectors"] = list(data.get("sectors") or [])
    fields["traits"] = list(data.get("traits") or [])
    return fields


@login_required
def site_create(request):
    if not user_has_capability(request.user, roles.EDIT):
        raise NotFound()
    form = forms.SiteForm(request.POST or None, user=request.user,
                          initial={"kind": request.GET.get("kind") or SiteKind.ENTERPRISE, "status": "operating"})
    if request.method == "POST" and form.is_valid():
        try:
            site = services.create_site(request.user, **_site_fields(form.cleaned_data))
        except InvalidInput as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("已登记:%(name)s") % {"name": site.name})
            return redirect("registry:detail", pk=site.pk)
    return render(request, "registry/site_form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def site_edit(request, pk):
    site = get_visible(Site, request.user, pk)
    require_editable(site, request.user)
    initial = {f: getattr(site, f) for f in services.SITE_FIELDS if f not in ("sectors", "traits", "area",
                                                                               "industry")}
    initial.update(area=site.area_id, industry=site.industry_id,
                   sectors=list(site.sectors.values_list("pk", flat=True)),
                   traits=list(site.traits.values_list("pk", flat=True)), credit_code=site.credit_code or "")
    form = forms.SiteForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_site(request.user, site, **_site_fields(form.cleaned_data))
        except InvalidInput as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("已保存"))
            return redirect("registry:detail", pk=site.pk)
    return render(request, "registry/site_form.html", {"form": form, "site": site},
                  status=400 if form.errors else 200)


@login_required
@require_POST
def site_archive(request, pk):
    site = get_visible(Site, request.user, pk)
    try:
        services.archive_site(request.user, site, reason=request.POST.get("reason", ""))
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已归档:%(name)s") % {"name": site.name})
    return redirect("registry:detail", pk=site.pk)


@login_required
@require_POST
def site_set_host(request, pk):
    site = get_visible(Site, request.user, pk)
    form = forms.HostForm(request.POST)
    try:
        if not form.is_valid():
            raise InvalidInput(_("请检查填写的内容"))
        text = form.cleaned_data["host"].strip()
        host = queries.find_visible_site(request.user, text) if text else None
        services.set_host(request.user, site, host)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已设置所在厂房/园区") if host else _("已解除挂靠"))
    return redirect("registry:detail", pk=site.pk)


@login_required
@require_POST
def site_bind_manager(request, pk):
    site = get_visible(Site, request.user, pk)
    form = forms.BindManagerForm(request.POST)
    try:
        if not form.is_valid():
            raise InvalidInput(_("请填写企业账号用户名"))
        person = User.objects.filter(username__iexact=form.cleaned_data["username"].strip(), is_active=True).first()
        if person is None:
            raise InvalidInput(_("账号不存在或已停用"), detail={"user": _("账号不存在或已停用")})
        services.bind_site_manager(request.user, person, site)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已绑定企业安全管理员:%(name)s") % {"name": person})
    return redirect("registry:detail", pk=site.pk)


@login_required
@require_POST
def site_unbind_manager(request, pk, binding_pk):
    site = get_visible(Site, request.user, pk)
    binding = SiteBinding.objects.filter(pk=binding_pk, site=site).first()
    if binding is None:
        raise NotFound()
    try:
        services.unbind_site_manager(request.user, binding)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已解除绑定"))
    return redirect("registry:detail", pk=site.pk)
