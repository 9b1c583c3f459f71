"""Background-job pages: list, detail with a live progress bar, cancel, download, audit export.

Reads start from ``Job.objects.visible_to(user)``; a job outside the user's scope answers 404.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from . import forms, jobs, privacy, queries, roles, services
from .errors import InvalidInput, NotFound
from .models import Area, AuditEntry, Job, JobStatus
from .pagination import keyset_page
from .scoping import grants_for, user_has_capability


def _job_context(request, job: Job) -> dict:
    user = request.user
    job = jobs.redacted(user, job)
    return {
        "job": job,
        "kind_label": jobs.kind_label(job.kind),
        "active": job.status in (JobStatus.QUEUED, JobStatus.RUNNING),
        "can_cancel": job.status == JobStatus.QUEUED
        and Job.objects.editable_by(user).filter(pk=job.pk).exists(),
        "can_download": jobs.result_file(job) is not None and jobs.can_download(user, job),
    }


@login_required
@require_GET
def job_list(request):
    status = request.GET.get("status") or ""
    qs = Job.objects.visible_to(request.user).select_related("area", "created_by")
    if status:
        if status not in JobStatus.values:
            raise InvalidInput(_("任务状态无效"))
        qs = qs.filter(status=status)
    items, next_cursor = keyset_page(qs, request.GET.get("cursor"), 50)
    rows = [{"job": jobs.redacted(request.user, j), "kind_label": jobs.kind_label(j.kind)} for j in items]
    return render(request, "core/job_list.html", {
        "rows": rows, "next_cursor": next_cursor, "status": status, "statuses": JobStatus.choices,
    })


@login_required
@require_GET
def job_detail(request, pk):
    job = services.get_visible(Job, request.user, pk)
    history = []
    if user_has_capability(request.user, roles.VIEW_AUDIT) and jobs.shows_result(request.user, job):
        history = privacy.redact_audit_entries(request.user, AuditEntry.objects.visible_to(request.user)
                                               .filter(content_type=ContentType.objects.get_for_model(Job),
                                                       object_id=job.pk).order_by("id")[:200])
    return render(request, "core/job_detail.html", dict(_job_context(request, job), history=history))


@login_required
@require_GET
def job_progress(request, pk):
    job = services.get_visible(Job, request.user, pk)
    return render(request, "core/partials/job_progress.html", _job_context(request, job))


@login_required
@require_POST
def job_cancel(request, pk):
    job = services.get_visible(Job, request.user, pk)
    try:
        jobs.cancel_job(request.user, job)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已取消任务"))
    return redirect("jobs:detail", pk=job.pk)


@login_required
@require_GET
def job_download(request, pk):
    job, path = jobs.downloadable_file(request.user, pk)
    return FileResponse(path.open("rb"), as_attachment=True, filename=jobs.download_name(job))


def _audit_area(user) -> Area:
    """The area an audit export job belongs to: the widest area where the user reads the audit trail."""
    candidates = [g for g in grants_for(user) if g.site_ids is None and g.allows(roles.VIEW_AUDIT)]
    if not candidates:
        raise NotFound()
    best = min(candidates, key=lambda g: (len(g.area_code), g.area_code))
    return Area.objects.get(pk=best.area_id)


@login_required
@require_POST
def export_audit(request):
    """Queue an .xlsx export of the audit entries matching the posted filters."""
    if not user_has_capability(request.user, roles.VIEW_AUDIT):
        raise NotFound()
    form = forms.AuditFilterForm(request.POST, model_choices=queries.audited_model_choices())
    if not form.is_valid():
        messages.error(request, _("导出条件有误,请检查筛选条件"))
        back = {k: v for k, v in request.POST.items() if k in form.fields and v}
        return redirect(reverse("core:audit") + ("?" + urlencode(back) if back else ""))
    params = {}
    for name, value in form.cleaned_data.items():
        if value in (None, "", False):
            continue
        params[name] = value.isoformat() if hasattr(value, "isoformat") else value
    try:
        job = jobs.enqueue(request.user, "core.audit_export", area=_audit_area(request.user), params=params)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect("core:audit")
    messages.success(request, _("已提交导出任务,完成后可在此页下载"))
    return redirect("jobs:detail", pk=job.pk)
