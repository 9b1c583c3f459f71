"""Pages of inspections (phone-first: start on site, answer item by item with htmx, register
hazards from failed items, complete) and campaigns (list, create/edit, progress, assignments).

Views stay thin: parse with a form, call a service or query, render. Reads start from
``visible_to(user)``; records outside the user's scope answer 404.
"""
from __future__ import annotations

import io
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from yingji.core import roles
from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.core.pagination import keyset_page
from yingji.core.scoping import user_has_capability
from yingji.core.services import get_visible
from yingji.core.views import _form_error

from . import forms, queries, services
from .models import Campaign, CampaignStatus, Inspection, InspectionResult, Result

PAGE_SIZE = 50
SITE_CHOICES = 20


# ---------------------------------------------------------------- inspections

@login_required
def inspection_list(request):
    form = forms.InspectionFilterForm(request.GET or None, user=request.user)
    rows, next_cursor, error = [], None, None
    if not request.GET or form.is_valid():
        data = form.cleaned_data if request.GET else {}
        try:
            qs = queries.inspection_search(
                request.user, mode=data.get("mode"), state=data.get("state"), campaign=data.get("campaign"),
                area=data.get("area"), date_from=data.get("date_from"), date_to=data.get("date_to"),
                mine=data.get("mine"), site=request.GET.get("site"))
            rows, next_cursor = keyset_page(qs.select_related("site", "area", "campaign", "lead"),
                                            request.GET.get("cursor"), PAGE_SIZE)
        except InvalidInput as exc:
            error = exc.message
    query = request.GET.copy()
    query.pop("cursor", None)
    return render(request, "inspections/list.html", {
        "form": form, "inspections": rows, "next_cursor": next_cursor, "query": query.urlencode(), "error": error,
        "can_start": user_has_capability(request.user, roles.REPORT),
    }, status=400 if (form.errors or error) else 200)


def _chosen_site(user, value):
    from yingji.registry.models import Site

    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    return (Site.objects.visible_to(user).filter(pk=pk, archived_at__isnull=True)
            .select_related("area").first())


def _site_choices(user, q, campaign=None):
    from yingji.registry.queries import site_search

    try:
        qs = site_search(user, q=q)
    except InvalidInput:
        return []
    if campaign is not None:  # started from a campaign: its target sites
        qs = services.sites_in_scope(campaign, qs)
    return list(qs.select_related("area").order_by("name", "id")[:SITE_CHOICES])


def _start_campaign(user, value):
    """The campaign an inspection is started from (``?campaign=``): visible, active, not archived."""
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    return (Campaign.objects.visible_to(user)
            .filter(pk=pk, status=CampaignStatus.ACTIVE, archived_at__isnull=True).first())


@login_required
def inspection_start(request):
    user = request.user
    if not user_has_capability(user, roles.REPORT):
        raise NotFound()
    site_id = request.POST.get("site") if request.method == "POST" else request.GET.get("site")
    site = _chosen_site(user, site_id) if site_id not in (None, "") else None
    if site_id not in (None, "") and site is None:
        raise NotFound()
    q = request.GET.get("q", "").strip()[:100]
    campaign = _start_campaign(user, request.GET.get("campaign"))
    keep = [("campaign", campaign.pk)] if campaign is not None else []
    reset_url = reverse("inspections:start") + (f"?campaign={campaign.pk}" if campaign is not None else "")
    if site is None:
        return render(request, "inspections/start.html", {
            "site": None, "q": q, "site_choices": _site_choices(user, q, campaign), "campaign": campaign,
            "keep": keep, "reset_url": reset_url})
    modes = services.allowed_modes(user, site)
    if not modes:
        raise Forbidden(_("您无权检查该监管对象"))
    campaigns = services.campaigns_for_site(user, site)
    sectors = list(site.sectors.filter(archived_at__isnull=True).order_by("sort", "id"))
    initial = {"place": site.address, "mode": queries.default_mode(user, site, modes),
               "campaign": campaign.pk if campaign is not None and campaign in campaigns else None}
    colleagues = services.colleagues_for(user, site)
    form = forms.StartForm(request.POST or None, modes=modes, campaigns=campaigns, sectors=sectors,
                           colleagues=colleagues, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            inspection = services.start_inspection(
                user, site, data["mode"], campaign=data.get("campaign"), sector=data.get("sector"),
                inspectors=data.get("inspectors") or (),
                place=data.get("place"), latitude=data.get("latitude"), longitude=data.get("longitude"),
                gps_accuracy=data.get("gps_accuracy"), idempotency_key=data.get("idempotency_key"))
        except (InvalidInput, Conflict) as exc:
            _form_error(form, exc if isinstance(exc, InvalidInput) else InvalidInput(exc.message))
        except Forbidden as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("检查已开始,请逐项检查"))
            return redirect("inspections:detail", pk=inspection.pk)
    return render(request, "inspections/start.html", {
        "site": site, "form": form, "q": q, "campaign": campaign, "keep": keep, "reset_url": reset_url,
        "outside_campaign": campaign is not None and campaign not in campaigns,
    }, status=400 if form.errors else 200)


def _item_context(request, inspection: Inspection, r: InspectionResult, can_record: bool, form=None,
                  hazard_form=None, fix_form=None) -> dict:
    ctx = {"inspection": inspection, "r": r, "can_record": can_record, "answer_form": form,
           "results": Result, "key": uuid.uuid4().hex}
    if can_record and r.result == Result.FAIL and r.hazard_id is None:
        proposal = services.hazard_proposal(r)
        sectors = services.hazard_sector_choices(request.user, r)
        ctx["hazard_form"] = hazard_form or forms.HazardForm(
            initial={**proposal, "idempotency_key": f"h-{uuid.uuid4().hex}"}, auto_id=f"id_h{r.pk}_%s",
            sectors=sectors)
        ctx["fix_form"] = fix_form or forms.FixForm(initial={"idempotency_key": f"f-{uuid.uuid4().hex}"},
                                                    auto_id=f"id_f{r.pk}_%s", sectors=sectors)
        ctx["fixable"] = proposal["level"] != "major"
    return ctx


def _load_detail(user, pk) -> Inspection:
    inspection = get_visible(Inspection, user, pk)
    return (Inspection.objects.select_related("site", "area", "sector", "campaign", "lead")
            .get(pk=inspection.pk))


@login_required
def inspection_detail(request, pk):
    return _detail_page(request, _load_detail(request.user, pk))


def _detail_page(request, inspection, bound: dict | None = None, status: int = 200):
    """The inspection page; ``bound`` = {result id: {"hazard_form"/"fix_form": bound form}} shows a
    refused form again with what the inspector typed and its errors."""
    user = request.user
    bound = bound or {}
    rows = queries.results_for(user, inspection)
    can_record = services.can_record(user, inspection)
    groups = queries.grouped_results(rows)
    for g in groups:
        for s in g["sections"]:
            s["items"] = [_item_context(request, inspection, r, can_record, **bound.get(r.pk, {}))
                          for r in s["rows"]]
    pending = sum(1 for r in rows if r.result == Result.PENDING)
    unresolved = sum(1 for r in rows if r.result == Result.FAIL and r.hazard_id is None)
    from yingji.hazards.models import Hazard

    hazards = list(Hazard.objects.visible_to(user).filter(inspection_id=inspection.pk).order_by("id"))
    return render(request, "inspections/detail.html", {
        "inspection": inspection, "groups": groups, "can_record": can_record, "pending": pending,
        "unresolved": unresolved, "answered": len(rows) - pending, "total": len(rows), "hazards": hazards,
        "complete_form": forms.CompleteForm(),
        "can_archive": inspection.archived_at is None
        and Inspection.objects.restrict(user, "manage").filter(pk=inspection.pk).exists(),
        "archive_form": forms.ReasonForm(),
        "inspectors": _named_inspectors(user, inspection),
    }, status=status)


def _named_inspectors(user, inspection) -> list:
    """The inspection's inspectors ``user`` may see named (``core.privacy.people_visible_to``)."""
    from yingji.core import privacy

    people = list(inspection.inspectors.all())
    shown = privacy.visible_people_ids(user, {u.pk for u in people})
    return [u for u in people if u.pk in shown]


def _result_row(user, pk, rid) -> tuple[Inspection, InspectionResult]:
    inspection = _load_detail(user, pk)
    row = (InspectionResult.objects.visible_to(user).filter(pk=rid, inspection_id=inspection.pk)
           .select_related("item__section", "item__version__module", "hazard").first())
    if row is None:
        raise NotFound()
    return inspection, row


def _back(inspection, row=None):
    url = reverse("inspections:detail", kwargs={"pk": inspection.pk})
    return redirect(url + (f"#item-{row.pk}" if row is not None else ""))


def _render_item(request, inspection, row, status=200, **forms_):
    from yingji.core import attachments

    row.refresh_from_db()
    row.photos = list(attachments.attachments_for(request.user, row).order_by("id"))
    ctx = _item_context(request, inspection, row, services.can_record(request.user, inspection), **forms_)
    return render(request, "inspections/_item.html", ctx, status=status)


@login_required
@require_POST
def result_answer(request, pk, rid):
    user = request.user
    inspection, row = _result_row(user, pk, rid)
    form = forms.AnswerForm(request.POST, request.FILES or None)
    htmx = request.headers.get("HX-Request") == "true"
    error = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.record_result(user, inspection, row, data["result"], note=data.get("note", ""),
                                   files=data.get("files") or [])
        except (InvalidInput, Conflict, Forbidden) as exc:
            error = exc.message
    else:
        error = next(iter(form.errors.values()))[0]
    if htmx:
        if error:
            row.error = error
        return _render_item(request, inspection, row, status=200)
    if error:
        messages.error(request, error)
    return _back(inspection, row)


@login_required
@require_POST
def result_hazard(request, pk, rid):
    user = request.user
    inspection, row = _result_row(user, pk, rid)
    form = forms.HazardForm(request.POST, request.FILES or None, auto_id=f"id_h{row.pk}_%s",
                            sectors=services.hazard_sector_choices(user, row))
    if form.is_valid():
        data = form.cleaned_data
        try:
            hazard = services.confirm_hazard(
                user, row, title=data.get("title"), description=data["description"], level=data["level"],
                category=data["category"], deadline=data.get("deadline"),
                responsible_unit=data.get("responsible_unit"), responsible_person=data.get("responsible_person"),
                files=data.get("files") or [], idempotency_key=data.get("idempotency_key"),
                sector=data.get("sector"))
        except InvalidInput as exc:
            _form_error(form, exc)
            messages.error(request, exc.message)
        except (Conflict, Forbidden) as exc:
            messages.error(request, exc.message)
            return _back(inspection, row)
        else:
            messages.success(request, _("已登记隐患:%(title)s") % {"title": hazard.title})
            return _back(inspection, row)
    else:
        messages.error(request, _("隐患未登记,请按提示修改后重新提交"))
    # Refused: the page again, with the form as typed and its errors next to the fields.
    return _detail_page(request, inspection, {row.pk: {"hazard_form": form}}, status=400)


@login_required
@require_POST
def result_fix(request, pk, rid):
    user = request.user
    inspection, row = _result_row(user, pk, rid)
    form = forms.FixForm(request.POST, request.FILES or None, auto_id=f"id_f{row.pk}_%s",
                         sectors=services.hazard_sector_choices(user, row))
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.fix_on_spot(user, row, rectification_description=data["rectification_description"],
                                 files=data.get("files") or [], idempotency_key=data.get("idempotency_key"),
                                 sector=data.get("sector"))
        except InvalidInput as exc:
            _form_error(form, exc)
            messages.error(request, exc.message)
        except (Conflict, Forbidden) as exc:
            messages.error(request, exc.message)
            return _back(inspection, row)
        else:
            messages.success(request, _("已登记当场整改"))
            return _back(inspection, row)
    else:
        messages.error(request, _("当场整改未登记,请按提示修改后重新提交"))
    return _detail_page(request, inspection, {row.pk: {"fix_form": form}}, status=400)


@login_required
@require_POST
def inspection_complete(request, pk):
    user = request.user
    inspection = _load_detail(user, pk)
    form = forms.CompleteForm(request.POST)
    summary = form.cleaned_data.get("summary", "") if form.is_valid() else ""
    if form.errors:
        messages.error(request, "; ".join(str(e) for errs in form.errors.values() for e in errs))
        return _back(inspection)
    try:
        services.complete_inspection(user, inspection, summary=summary)
    except (InvalidInput, Conflict, Forbidden) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("检查已完成"))
    return _back(inspection)


@login_required
@require_POST
def inspection_pass_remaining(request, pk):
    user = request.user
    inspection = _load_detail(user, pk)
    try:
        count = services.pass_remaining(user, inspection)
    except (InvalidInput, Conflict, Forbidden) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已将其余 %(n)d 项标记为符合") % {"n": count})
    return _back(inspection)


@login_required
@require_POST
def inspection_archive(request, pk):
    user = request.user
    inspection = _load_detail(user, pk)
    try:
        services.archive_inspection(user, inspection, reason=request.POST.get("reason", ""))
    except (InvalidInput, Conflict, Forbidden) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已归档"))
    return _back(inspection)


# ---------------------------------------------------------------- campaigns

@login_required
def campaign_list(request):
    if not user_has_capability(request.user, roles.VIEW):
        raise NotFound()
    form = forms.CampaignFilterForm(request.GET or None)
    rows, next_cursor, error = [], None, None
    if not request.GET or form.is_valid():
        data = form.cleaned_data if request.GET else {}
        try:
            qs = queries.campaign_search(request.user, status=data.get("status"), q=data.get("q"))
            rows, next_cursor = keyset_page(qs.select_related("area", "organiser"), request.GET.get("cursor"),
                                            PAGE_SIZE)
        except InvalidInput as exc:
            error = exc.message
    query = request.GET.copy()
    query.pop("cursor", None)
    return render(request, "inspections/campaign_list.html", {
        "form": form, "campaigns": rows, "next_cursor": next_cursor, "query": query.urlencode(), "error": error,
        "can_create": user_has_capability(request.user, roles.EDIT),
    }, status=400 if (form.errors or error) else 200)


def _campaign_fields(data: dict) -> dict:
    return {
        "name": data["name"], "area": data["area"], "organiser": data.get("organiser"),
        "starts_on": data["starts_on"], "ends_on": data["ends_on"], "description": data.get("description", ""),
        "scope_areas": list(data.get("scope_areas") or []), "scope_sectors": list(data.get("scope_sectors") or []),
        "scope_traits": list(data.get("scope_traits") or []), "scope_kinds": list(data.get("scope_kinds") or []),
        "target_coverage": data.get("target_coverage"), "target_note": data.get("target_note", ""),
    }


@login_required
def campaign_new(request):
    user = request.user
    if not user_has_capability(user, roles.EDIT):
        raise NotFound()
    form = forms.CampaignForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.create_campaign(user, **_campaign_fields(form.cleaned_data))
        except InvalidInput as exc:
            _form_error(form, exc)
        except (Forbidden, NotFound) as exc:
            form.add_error("area", exc.message)
        else:
            messages.success(request, _("已创建专项行动:%(name)s") % {"name": campaign.name})
            return redirect("inspections:campaign_detail", pk=campaign.pk)
    return render(request, "inspections/campaign_form.html", {"form": form, "campaign": None},
                  status=400 if form.errors else 200)


@login_required
def campaign_edit(request, pk):
    user = request.user
    campaign = services.get_campaign(user, pk)
    if not services.can_edit_campaign(user, campaign):
        raise Forbidden(_("您无权修改该专项行动"))
    initial = {
        "name": campaign.name, "area": campaign.area_id, "organiser": campaign.organiser_id,
        "starts_on": campaign.starts_on, "ends_on": campaign.ends_on, "description": campaign.description,
        "scope_areas": list(campaign.scope_areas.values_list("pk", flat=True)),
        "scope_sectors": list(campaign.scope_sectors.values_list("pk", flat=True)),
        "scope_traits": list(campaign.scope_traits.values_list("pk", flat=True)),
        "scope_kinds": list(campaign.scope_kinds), "target_coverage": campaign.target_coverage,
        "target_note": campaign.target_note,
    }
    form = forms.CampaignForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_campaign(user, campaign, **_campaign_fields(form.cleaned_data))
        except InvalidInput as exc:
            _form_error(form, exc)
        except (Conflict, Forbidden) as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("已保存"))
            return redirect("inspections:campaign_detail", pk=campaign.pk)
    return render(request, "inspections/campaign_form.html", {"form": form, "campaign": campaign},
                  status=400 if form.errors else 200)


@login_required
def campaign_detail(request, pk):
    user = request.user
    campaign = services.get_campaign(user, pk)
    campaign = Campaign.objects.select_related("area", "organiser", "created_by").get(pk=campaign.pk)
    progress = services.campaign_progress(campaign, user)
    can_edit = services.can_edit_campaign(user, campaign)
    chart = {
        "labels": [r["label"] for r in progress["by_area"]],
        "sites": [r["sites_in_scope"] for r in progress["by_area"]],
        "inspected": [r["sites_inspected"] for r in progress["by_area"]],
        "hazards": [r["hazards_found"] for r in progress["by_area"]],
        "names": {"sites": _("范围内对象"), "inspected": _("已检查对象"), "hazards": _("发现隐患")},
    }
    return render(request, "inspections/campaign_detail.html", {
        "campaign": campaign, "progress": progress, "chart": chart, "can_edit": can_edit,
        "can_start": campaign.status == CampaignStatus.ACTIVE and campaign.archived_at is None
        and user_has_capability(user, roles.REPORT),
        "archive_form": forms.ReasonForm() if can_edit and campaign.archived_at is None else None,
        "assignments": queries.assignments_for(user, campaign),
        "assignment_form": forms.AssignmentForm(user=user, campaign=campaign) if can_edit else None,
        "statuses": CampaignStatus,
        "recent": list(queries.inspection_search(user, campaign=campaign.pk)
                       .select_related("site", "lead").order_by("-id")[:20]),
    })


@login_required
def campaign_export(request, pk):
    """The progress figures as .xlsx: the same ``campaign_progress`` as the page and the API."""
    from django.http import HttpResponse

    from . import progress_export as exports

    user = request.user
    campaign = services.get_campaign(user, pk)
    campaign = Campaign.objects.select_related("area").get(pk=campaign.pk)
    out = io.BytesIO()
    exports.write_progress(campaign, services.campaign_progress(campaign, user), out)
    response = HttpResponse(out.getvalue(), content_type=exports.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, exports.download_name(campaign))
    return response


@login_required
@require_POST
def campaign_archive(request, pk):
    user = request.user
    campaign = services.get_campaign(user, pk)
    try:
        services.archive_campaign(user, campaign, reason=request.POST.get("reason", ""))
    except (InvalidInput, Conflict, Forbidden) as exc:
        messages.error(request, exc.message)
        return redirect("inspections:campaign_detail", pk=campaign.pk)
    messages.success(request, _("已归档"))
    return redirect("inspections:campaigns")


@login_required
@require_POST
def campaign_status(request, pk, action):
    user = request.user
    campaign = services.get_campaign(user, pk)
    try:
        if action == "activate":
            services.activate_campaign(user, campaign)
            messages.success(request, _("专项行动已启动"))
        elif action == "close":
            services.close_campaign(user, campaign)
            messages.success(request, _("专项行动已结束"))
        else:
            raise NotFound()
    except (Conflict, Forbidden) as exc:
        messages.error(request, exc.message)
    return redirect("inspections:campaign_detail", pk=campaign.pk)


@login_required
@require_POST
def assignment_add(request, pk):
    user = request.user
    campaign = services.get_campaign(user, pk)
    form = forms.AssignmentForm(request.POST, user=user, campaign=campaign)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.add_assignment(user, campaign, task=data["task"], area=data.get("area"),
                                    organisation=data.get("organisation"), user=data.get("user"),
                                    target_sites=data.get("target_sites"))
        except (InvalidInput, Conflict, Forbidden) as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("已分派任务"))
    else:
        messages.error(request, "; ".join(str(e) for errs in form.errors.values() for e in errs))
    return redirect(reverse("inspections:campaign_detail", kwargs={"pk": campaign.pk}) + "#assignments")


@login_required
@require_POST
def assignment_revoke(request, pk, aid):
    user = request.user
    campaign = services.get_campaign(user, pk)
    from .models import CampaignAssignment

    row = CampaignAssignment.objects.visible_to(user).filter(pk=aid, campaign_id=campaign.pk).first()
    if row is None:
        raise NotFound()
    try:
        services.revoke_assignment(user, row)
    except (Conflict, Forbidden) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已撤销分工"))
    return redirect(reverse("inspections:campaign_detail", kwargs={"pk": campaign.pk}) + "#assignments")

