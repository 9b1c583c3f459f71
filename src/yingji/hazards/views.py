"""Hazard pages: list with filters, report form (phone-friendly, photos, GPS), detail with the
timeline, the evidence and the actions the user may perform now.

Views stay thin: parse with a form, call a service or query, render. Reads start from
``visible_to(user)``; a hazard outside the user's scope answers 404.
"""
from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from yingji.core import pending, roles
from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.core.pagination import keyset_page
from yingji.core.privacy import PhoneReveal
from yingji.core.scoping import user_has_capability
from yingji.core.services import get_visible
from yingji.core.views import _form_error

from . import forms, queries, services
from .models import TRANSITIONS, Action, Hazard

PAGE_SIZE = 50
# The columns the list shows, read as plain rows (no model instances) and formatted by _rows.
LIST_FIELDS = ("id", "title", "archived_at", "category", "source", "level", "state", "is_overdue", "deadline",
               "reported_at", "site_id", "site__name", "area__name")
SITE_CHOICES = 20


@login_required
def hazard_list(request):
    form = forms.HazardFilterForm(request.GET or None, user=request.user)
    hazards, next_cursor, error = [], None, None
    if not request.GET or form.is_valid():
        data = form.cleaned_data if request.GET else {}
        try:
            qs = queries.hazard_search(request.user, q=data.get("q"), state=data.get("state"),
                                       level=data.get("level"), area=data.get("area"), sector=data.get("sector"),
                                       source=data.get("source"), overdue=data.get("overdue"),
                                       site=request.GET.get("site"))
            hazards, next_cursor = keyset_page(qs, request.GET.get("cursor"), PAGE_SIZE, keys_first=True,
                                               values=LIST_FIELDS)
        except InvalidInput as exc:
            error = exc.message
    query = request.GET.copy()
    query.pop("cursor", None)
    return render(request, "hazards/list.html", {
        "form": form, "hazards": _rows(hazards), "next_cursor": next_cursor, "query": query.urlencode(), "error": error,
        "can_report": user_has_capability(request.user, roles.REPORT),
    }, status=400 if (form.errors or error) else 200)


def _rows(hazards) -> list[dict]:
    """The list's rows (``LIST_FIELDS`` dicts), formatted in Python once (much cheaper than
    per-cell template filters)."""
    from django.utils import timezone

    from .models import Category, Level, Source, State

    labels = {name: {k: str(v) for k, v in choices.choices} for name, choices in
              (("category", Category), ("source", Source), ("level", Level), ("state", State))}
    detail = reverse("hazards:detail", args=[0]).rsplit("0/", 1)[0]
    rows = []
    for h in hazards:
        pk, state, deadline = h["id"], h["state"], h["deadline"]
        rows.append({
            "pk": pk, "url": f"{detail}{pk}/", "title": h["title"], "archived": h["archived_at"] is not None,
            "meta": f"{labels['category'].get(h['category'], h['category'])} · "
                    f"{labels['source'].get(h['source'], h['source'])}",
            "major": h["level"] == Level.MAJOR, "level": labels["level"].get(h["level"], h["level"]),
            "state": labels["state"].get(state, state), "overdue": h["is_overdue"] and state != State.CLOSED,
            "site": h["site__name"] if h["site_id"] else "", "area": h["area__name"],
            "deadline": deadline.isoformat() if deadline else "—",
            "reported": timezone.localtime(h["reported_at"]).strftime("%Y-%m-%d %H:%M"),
        })
    return rows


def _site_choices(user, q):
    from yingji.registry.queries import site_search

    try:
        qs = site_search(user, q=q)
    except InvalidInput:
        return []
    return list(qs.select_related("area").order_by("name", "id")[:SITE_CHOICES])


def _chosen_site(user, value):
    from yingji.registry.models import Site

    if value in (None, ""):
        return None
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    return Site.objects.visible_to(user).filter(pk=pk, archived_at__isnull=True).select_related("area").first()


# The report form's file fields: their uploads are kept when the form is shown again (core.pending).
PENDING_FIELDS = ("files", "rectification_files")


@login_required
def hazard_report(request):
    user = request.user
    if not user_has_capability(user, roles.REPORT):
        raise NotFound()
    site_id = request.POST.get("site") if request.method == "POST" else request.GET.get("site")
    site = _chosen_site(user, site_id)
    form = forms.ReportForm(request.POST or None, request.FILES or None, user=user, site=site,
                            initial={"site": site.pk if site else None})
    token, kept = None, []
    if request.method == "POST":
        # Files kept from an earlier attempt: each has a "keep" checkbox; an unticked one is dropped.
        token = request.POST.get("pending_uploads") or None
        drop = ({k.key for k in pending.listed(user, token)} - set(request.POST.getlist("pending_keep"))
                if token else set())
        refused: set[str] = set()
        if form.is_valid():
            hazard = _report(request, form, token, drop, refused)
            if hazard is not None:
                pending.discard(user, token)
                messages.success(request, (_("已登记当场整改并销号:%(title)s") if hazard.fixed_on_spot
                                           else _("已上报隐患:%(title)s")) % {"title": hazard.title})
                return redirect("hazards:detail", pk=hazard.pk)
        # Shown again with an error: keep this attempt's uploads (except those the service refused)
        # so that the user does not have to pick the photos again.
        uploads = {name: request.FILES.getlist(name) for name in PENDING_FIELDS
                   if name in form.fields and name not in refused}
        token, problems = pending.keep(user, uploads, token, drop=drop)
        for name, msgs in problems.items():
            form.add_error(name, msgs)
        kept = pending.listed(user, token)
    q = request.GET.get("q", "").strip()[:100]
    return render(request, "hazards/report.html", {
        "form": form, "site": site, "q": q, "site_choices": _site_choices(user, q) if not site else [],
        "pending_token": token or "", "kept_files": kept,
    }, status=400 if form.errors else 200)


def _report(request, form, token, drop, refused: set) -> Hazard | None:
    """Report the hazard of a valid form with its new and kept files; None (and the error on the
    form, the file fields the service refused in ``refused``) when the service refuses it."""
    user, data = request.user, form.cleaned_data
    kept = pending.take(user, token, drop=drop) if token else {}
    try:
        return services.report_hazard(
            user, site=data.get("site"), area=data.get("area"), sector=data.get("sector"),
            source=data.get("source"), level=data.get("level"), category=data.get("category"),
            title=data.get("title"), description=data.get("description"), location=data.get("location"),
            latitude=data.get("latitude"), longitude=data.get("longitude"), deadline=data.get("deadline"),
            files=kept.get("files", []) + (data.get("files") or []), idempotency_key=data.get("idempotency_key"),
            fixed_on_spot=bool(data.get("fixed_on_spot")),
            rectification_description=data.get("rectification_description") or "", cost=data.get("cost"),
            rectification_files=kept.get("rectification_files", []) + (data.get("rectification_files") or []))
    except (InvalidInput, Conflict) as exc:
        _form_error(form, exc)
        refused.update(set(exc.detail or {}) & set(PENDING_FIELDS))
    except Forbidden as exc:
        if not data.get("fixed_on_spot"):
            raise
        _form_error(form, InvalidInput(exc.message, detail={"fixed_on_spot": exc.message}))
    except NotFound as exc:
        if not exc.detail:
            raise
        _form_error(form, InvalidInput(exc.message, detail=exc.detail))
    finally:
        pending.close_all(kept)
    return None


ACTION_BUTTONS = {
    Action.ACCEPT: gettext_lazy("受理并指定整改"),
    Action.SUBMIT: gettext_lazy("提交整改"),
    Action.VERIFY: gettext_lazy("验收销号"),
    Action.SEND_BACK: gettext_lazy("退回重新整改"),
    Action.ARCHIVE: gettext_lazy("归档"),
}


def _detail(request, hazard: Hazard, bound: dict | None = None, status: int = 200):
    user = request.user
    allowed = services.allowed_actions(user, hazard)
    action_forms = []
    for action in allowed:
        form = (bound or {}).get(action)
        if form is None:
            initial = {}
            if action == Action.ACCEPT:
                initial = {"responsible_unit": hazard.responsible_unit or (hazard.site.name if hazard.site else ""),
                           "responsible_person": hazard.responsible_person,
                           "responsible_phone": hazard.responsible_phone, "deadline": hazard.deadline}
            form = forms.ACTION_FORMS[action](initial=initial, auto_id=f"id_{action}_%s")
        action_forms.append({"action": action, "label": ACTION_BUTTONS[action], "form": form,
                             "multipart": action == Action.SUBMIT, "danger": action in (Action.SEND_BACK,
                                                                                         Action.ARCHIVE)})
    return render(request, "hazards/detail.html", {
        "hazard": hazard, "events": queries.events_for(user, hazard),
        "finder": services.finder_label(hazard), "handling_rule": services.handling_rule(hazard),
        "next_step": services.next_step(user, hazard, allowed),
        "rectifications": queries.rectifications_for(user, hazard), "action_forms": action_forms,
        "idempotency_key": uuid.uuid4().hex,
        "full_phone": PhoneReveal(user, Hazard).load([hazard.pk]).shows(hazard.pk),
    }, status=status)


@login_required
def hazard_detail(request, pk):
    hazard = get_visible(Hazard, request.user, pk)
    hazard = Hazard.objects.select_related("area", "site", "sector", "reported_by", "closed_by",
                                           "escalated_to").get(pk=hazard.pk)
    return _detail(request, hazard)


@login_required
@require_POST
def hazard_action(request, pk, action):
    user = request.user
    if action not in forms.ACTION_FORMS or action not in TRANSITIONS:
        raise NotFound()
    hazard = get_visible(Hazard, user, pk)
    try:
        services.precheck(user, hazard, action, request.POST.get("version") or None,
                          request.POST.get("idempotency_key") if action != Action.ARCHIVE else None)
    except (Conflict, Forbidden, InvalidInput) as exc:
        messages.error(request, exc.message)
        return redirect("hazards:detail", pk=hazard.pk)
    form = forms.ACTION_FORMS[action](request.POST, request.FILES or None, auto_id=f"id_{action}_%s")
    common = {"version": request.POST.get("version") or None}
    if action != Action.ARCHIVE:
        common["idempotency_key"] = request.POST.get("idempotency_key") or None
    if form.is_valid():
        data = form.cleaned_data
        try:
            if action == Action.ACCEPT:
                services.accept(user, hazard, **data, **common)
            elif action == Action.SUBMIT:
                services.submit_rectification(user, hazard, description=data["description"], cost=data.get("cost"),
                                              files=data.get("files") or [], **common)
            elif action == Action.VERIFY:
                services.verify(user, hazard, note=data.get("note", ""), **common)
            elif action == Action.SEND_BACK:
                services.send_back(user, hazard, reason=data["reason"], **common)
            else:
                services.archive(user, hazard, reason=data["reason"], **common)
        except InvalidInput as exc:
            _form_error(form, exc)
        except (Conflict, Forbidden) as exc:
            messages.error(request, exc.message)
            return redirect("hazards:detail", pk=hazard.pk)
        else:
            messages.success(request, _("已%(action)s") % {"action": services.action_label(action)})
            return redirect("hazards:detail", pk=hazard.pk)
    hazard = Hazard.objects.select_related("area", "site", "sector", "reported_by", "closed_by",
                                           "escalated_to").get(pk=hazard.pk)
    return _detail(request, hazard, bound={action: form}, status=400)
