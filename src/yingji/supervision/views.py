"""Pages of listed supervision (thin: they call services and queries).

Officers' pages need a sign-in (``login_required``) and read through ``visible_to(user)``: a
listing outside the user's scope answers 404. The public list (``/public/major-hazards/``) is
the one page without sign-in; it reads only ``queries.public_listings()`` and shows only the
published fields.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.core.pagination import keyset_page
from yingji.core.services import get_visible
from yingji.core.views import _form_error

from . import forms, queries, services, workdays
from .models import ExtensionRequest, Listing

PAGE_SIZE = 50

ACTION_LABELS = {
    "publish_notice": gettext_lazy("公布督办通知"),
    "set_public": gettext_lazy("公开信息设置"),
    "file_plan": gettext_lazy("报送整改方案(五落实)"),
    "shutdown": gettext_lazy("停产情况"),
    "request_extension": gettext_lazy("申请延期"),
    "request_acceptance": gettext_lazy("申请验收"),
    "acceptance": gettext_lazy("验收"),
    "delist": gettext_lazy("摘牌销号"),
    "publish_delisting": gettext_lazy("公布摘牌销号"),
    "archive": gettext_lazy("归档"),
}
DANGER = {"archive"}


def _load(pk) -> Listing:
    return Listing.objects.select_related(
        "hazard", "hazard__area", "hazard__site", "listing_body", "listed_by", "published_by", "plan_filed_by",
        "acceptance_requested_by", "acceptance_by", "delisted_by").get(pk=pk)


@login_required
def listing_list(request):
    form = forms.FilterForm(request.GET or None)
    items, next_cursor, error = [], None, None
    if not request.GET or form.is_valid():
        data = form.cleaned_data if request.GET else {}
        try:
            qs = queries.listing_search(request.user, q=data.get("q"), level=data.get("level"),
                                        state=data.get("state"), overdue=data.get("overdue"),
                                        pending_extension=data.get("pending_extension"))
            items, next_cursor = keyset_page(qs.select_related("hazard", "hazard__site", "hazard__area"),
                                             request.GET.get("cursor"), PAGE_SIZE)
        except InvalidInput as exc:
            error = exc.message
    query = request.GET.copy()
    query.pop("cursor", None)
    return render(request, "supervision/list.html", {
        "form": form, "listings": items, "next_cursor": next_cursor, "query": query.urlencode(), "error": error,
    }, status=400 if (form.errors or error) else 200)


@login_required
def listing_new(request):
    user = request.user
    hazard_id = request.POST.get("hazard") if request.method == "POST" else request.GET.get("hazard")
    if hazard_id in (None, ""):
        raise NotFound(_("请从重大隐患详情页进入挂牌督办"))
    hazard = services.check_listable(user, hazard_id)
    levels = services.listing_levels_for(user, hazard)
    form = forms.ListingForm(request.POST or None, levels=levels,
                             initial={"public_title": hazard.title[:100], "publishable": True,
                                      "level": levels[0] if levels else None})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            listing = services.list_hazard(user, hazard, **data)
        except InvalidInput as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("已挂牌督办:%(t)s") % {"t": hazard.title})
            return redirect("supervision:detail", pk=listing.pk)
    today = services.today()
    publish_due = workdays.add_working_days(today, services.PUBLISH_WORKING_DAYS)
    return render(request, "supervision/new.html", {"form": form, "hazard": hazard,
                                                    "calendar_warning": workdays.calendar_warning(today, publish_due)},
                  status=400 if form.errors else 200)


def _detail(request, listing: Listing, bound: dict | None = None, status: int = 200):
    user = request.user
    action_forms = []
    for action in services.allowed_actions(user, listing):
        form = (bound or {}).get(action)
        if form is None:
            initial = {}
            if action == "file_plan":
                initial = {f: getattr(listing, f) for f in ("measures", "funds", "responsible_people",
                                                             "plan_deadline", "contingency")}
            elif action == "set_public":
                initial = {"public_title": listing.public_title, "publishable": listing.publishable}
            elif action == "shutdown":
                initial = {"shutdown": listing.shutdown}
            form = forms.ACTION_FORMS[action](initial=initial, auto_id=f"id_{action}_%s")
        action_forms.append({"action": action, "label": ACTION_LABELS[action], "form": form,
                             "danger": action in DANGER})
    extensions = queries.extensions_for(user, listing)
    for ext in extensions:
        ext.can_decide = services.can_decide(user, ext)
        ext.decide_form = (bound or {}).get(f"decide:{ext.pk}") or forms.DecideForm(auto_id=f"id_decide{ext.pk}_%s")
    return render(request, "supervision/detail.html", {
        "listing": listing, "hazard": listing.hazard, "events": queries.events_for(user, listing),
        "extensions": extensions, "action_forms": action_forms,
        "last_extension_day": services.last_extension_day(listing),
        "latest_deadline": services.latest_deadline(listing),
        "calendar_warning": services.calendar_warning(listing),
    }, status=status)


@login_required
def listing_detail(request, pk):
    listing = get_visible(Listing, request.user, pk)
    return _detail(request, _load(listing.pk))


def _call(user, listing, action: str, data: dict, version):
    if action == "publish_notice":
        return services.publish_notice(user, listing, version=version)
    if action == "set_public":
        return services.set_public(user, listing, version=version, **data)
    if action == "file_plan":
        return services.file_plan(user, listing, version=version, **data)
    if action == "shutdown":
        return services.set_shutdown(user, listing, version=version, **data)
    if action == "request_extension":
        return services.request_extension(user, listing, version=version, **data)
    if action == "request_acceptance":
        return services.request_acceptance(user, listing, version=version, **data)
    if action == "acceptance":
        return services.accept(user, listing, version=version, **data)
    if action == "delist":
        return services.delist(user, listing, version=version, **data)
    if action == "publish_delisting":
        return services.publish_delisting(user, listing, version=version)
    return services.archive(user, listing, version=version, **data)


@login_required
@require_POST
def listing_action(request, pk, action):
    user = request.user
    if action not in forms.ACTION_FORMS:
        raise NotFound()
    listing = get_visible(Listing, user, pk)
    form = forms.ACTION_FORMS[action](request.POST, auto_id=f"id_{action}_%s")
    if form.is_valid():
        try:
            _call(user, listing, action, form.cleaned_data, request.POST.get("version") or None)
        except InvalidInput as exc:
            _form_error(form, exc)
        except (Conflict, Forbidden) as exc:
            messages.error(request, exc.message)
            return redirect("supervision:detail", pk=listing.pk)
        else:
            messages.success(request, _("已办理:%(action)s") % {"action": ACTION_LABELS[action]})
            return redirect("supervision:detail", pk=listing.pk)
    listing = _load(listing.pk)
    if action not in services.allowed_actions(user, listing):
        messages.error(request, form.non_field_errors()[0] if form.non_field_errors() else _("无权执行此操作"))
        return redirect("supervision:detail", pk=listing.pk)
    return _detail(request, listing, bound={action: form}, status=400)


@login_required
@require_POST
def extension_decide(request, pk):
    user = request.user
    ext = get_visible(ExtensionRequest, user, pk)
    form = forms.DecideForm(request.POST, auto_id=f"id_decide{ext.pk}_%s")
    if form.is_valid():
        try:
            services.decide_extension(user, ext, **form.cleaned_data)
        except InvalidInput as exc:
            _form_error(form, exc)
        except (Conflict, Forbidden) as exc:
            messages.error(request, exc.message)
            return redirect("supervision:detail", pk=ext.listing_id)
        else:
            messages.success(request, _("已审批延期申请"))
            return redirect("supervision:detail", pk=ext.listing_id)
    return _detail(request, _load(ext.listing_id), bound={f"decide:{ext.pk}": form}, status=400)


# ---------------------------------------------------------------- public (no sign-in)

def public_list(request):
    """公开:重大事故隐患挂牌督办名单 — published and publishable listings, published fields only."""
    try:
        items, next_cursor = keyset_page(queries.public_listings(), request.GET.get("cursor"), PAGE_SIZE)
    except InvalidInput:
        raise Http404() from None
    return render(request, "supervision/public_list.html", {
        "rows": queries.public_rows(items), "next_cursor": next_cursor})


def public_detail(request, pk):
    listing = queries.public_listings().filter(pk=pk).first()
    if listing is None:
        raise Http404()
    return render(request, "supervision/public_detail.html", {"row": queries.public_rows([listing])[0]})
