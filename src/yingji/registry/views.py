"""Site registry pages: list with filters, profile, create/edit, archive, host, managers.

Views stay thin: parse with a form, call a service or query, render. Reads start from
``visible_to(user)``; a site outside the user's scope answers 404.
"""
from __future__ import annotations

import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models.signals import post_delete, post_save
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from yingji.core import roles
from yingji.core.errors import Forbidden, InvalidInput, NotFound
from yingji.core.models import Sector, User
from yingji.core.pagination import keyset_page
from yingji.core.scoping import user_has_capability
from yingji.core.services import can, get_visible, require_editable
from yingji.core.views import _form_error

from . import forms, queries, services
from .models import Industry, RiskColour, RiskTrait, Site, SiteBinding, SiteKind, SiteStatus

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
            sites, next_cursor = keyset_page(qs.select_related("area", "industry").only(*LIST_FIELDS),
                                             request.GET.get("cursor"), PAGE_SIZE)
        except InvalidInput as exc:
            error = exc.message
    query = request.GET.copy()
    query.pop("cursor", None)
    return render(request, "registry/site_list.html", {
        "form": form, "filters": _filter_controls(form), "rows": _rows_html(sites), "sites": sites,
        "next_cursor": next_cursor, "query": query.urlencode(), "error": error,
        "can_create": user_has_capability(request.user, roles.EDIT),
    }, status=400 if (form.errors or error) else 200)


# What the list shows (select_related joins area and industry; only() keeps the rest of the
# wide row out of the query and the model instances).
LIST_FIELDS = ("id", "name", "credit_code", "kind", "address", "risk_colour", "status", "archived_at",
               "area__id", "area__name", "industry__id", "industry__name")


def _filter_controls(form) -> list[dict]:
    """The filter form's fields as ``{id, label, html, errors}``: the names, ids, choices and
    labels of the form's own fields, but the <input>/<select> HTML built here. Rendering ~170
    <option>s through the widget templates cost more than everything else on the page."""
    from django import forms as dj_forms

    controls = []
    for bf in form:
        field, name, control_id = bf.field, bf.html_name, bf.auto_id
        value = bf.value()
        if isinstance(field, dj_forms.BooleanField):
            checked = " checked" if value else ""
            html = f'<input type="checkbox" name="{name}" id="{control_id}"{checked}>'
        elif isinstance(field, dj_forms.ChoiceField):  # includes ModelChoiceField
            selected = "" if value in (None, "") else str(value)
            if isinstance(field, dj_forms.ModelChoiceField):
                options = [("", field.empty_label or "")] + _model_options(field)
            else:
                options = [(str(v), label) for v, label in field.choices]
            parts = [f'<select name="{name}" id="{control_id}">']
            for v, label in options:
                sel = " selected" if v == selected else ""
                parts.append(f'<option value="{escape(v)}"{sel}>{escape(label)}</option>')
            parts.append("</select>")
            html = "".join(parts)
        else:
            maxlength = getattr(field, "max_length", None)
            attrs = f' maxlength="{maxlength}"' if maxlength else ""
            current = "" if value in (None, "") else f' value="{escape(value)}"'
            html = f'<input type="text" name="{name}"{current}{attrs} id="{control_id}">'
        controls.append({"id": control_id, "label": bf.label, "html": mark_safe(html),  # noqa: S308 - escaped above
                         "errors": bf.errors})
    return controls


# Options of the reference-data dropdowns (sectors, industries, traits: the same for everybody),
# per language, for REFERENCE_TTL seconds; cleared in this process whenever one of them is saved.
REFERENCE_TTL = 60.0
_reference_options: dict = {}


def _model_options(field) -> list[tuple[str, str]]:
    model = field.queryset.model
    shared = model in (Sector, Industry, RiskTrait)
    if shared:
        key = (model, get_language())
        hit = _reference_options.get(key)
        if hit is not None and time.monotonic() - hit[0] < REFERENCE_TTL:
            return hit[1]
    options = [(str(field.prepare_value(obj)), str(field.label_from_instance(obj))) for obj in field.queryset]
    if shared:
        _reference_options[key] = (time.monotonic(), options)
    return options


def _forget_reference_options(**_kwargs) -> None:
    _reference_options.clear()


for _model in (Sector, Industry, RiskTrait):
    post_save.connect(_forget_reference_options, sender=_model, dispatch_uid=f"registry-options-{_model.__name__}")
    post_delete.connect(_forget_reference_options, sender=_model, dispatch_uid=f"registry-options-d-{_model.__name__}")


def _rows_html(sites) -> str:
    """The result table's rows (50 per page), built in one pass instead of ~25 template nodes per
    row; every value is escaped."""
    if not sites:
        return format_html('<tr><td colspan="7">{}</td></tr>', _("没有找到匹配的监管对象"))
    kinds = {v: str(label) for v, label in SiteKind.choices}
    statuses = {v: str(label) for v, label in SiteStatus.choices}
    colours = {v: str(label) for v, label in RiskColour.choices}
    archived = escape(_("已归档"))
    unrated = escape(_("未评定"))
    marker = 987654321
    url = reverse("registry:detail", kwargs={"pk": marker})
    prefix, suffix = url.split(str(marker))
    out = []
    for s in sites:
        name = f'<a href="{prefix}{s.pk}{suffix}">{escape(s.name)}</a>'
        if s.archived_at is not None:
            name += f' <span class="tag">{archived}</span>'
        if s.credit_code:
            name += f'<div class="muted">{escape(s.credit_code)}</div>'
        if s.risk_colour:
            colour = f'<span class="tag {escape(s.risk_colour)}">{escape(colours.get(s.risk_colour, ""))}</span>'
        else:
            colour = f'<span class="muted">{unrated}</span>'
        out.append(
            f"<tr><td>{name}</td><td>{escape(kinds.get(s.kind, s.kind))}</td><td>{escape(s.area.name)}</td>"
            f'<td class="hide-sm">{escape(s.address)}</td>'
            f'<td class="hide-sm">{escape(s.industry.name) if s.industry_id else ""}</td>'
            f"<td>{colour}</td><td>{escape(statuses.get(s.status, s.status))}</td></tr>")
    return mark_safe("\n".join(out))  # noqa: S308 - every value escaped above


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
    except (InvalidInput, Forbidden) as exc:
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
    except (InvalidInput, Forbidden) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已解除绑定"))
    return redirect("registry:detail", pk=site.pk)
