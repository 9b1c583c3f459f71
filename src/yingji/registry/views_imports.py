"""Pages of the site import and export: upload, template, job page (progress, preview, error
report, confirm) and the export of the filtered site list.

Views stay thin: a form parses the upload, the services in :mod:`.imports` / :mod:`.exports`
check and decide. Only users with ``edit`` over some area see the import (others get 404);
import jobs outside the user's scope answer 404.
"""
from __future__ import annotations

import tempfile

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yingji.core import jobs
from yingji.core.errors import InvalidInput
from yingji.core.models import JobStatus
from yingji.core.views import _form_error

from . import exports, importing, imports

MODE_CHOICES = [(imports.MODE_ALL, gettext_lazy("全部成功才导入")),
                (imports.MODE_VALID, gettext_lazy("仅导入有效行"))]


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("导入文件"),
                           help_text=gettext_lazy("支持 .xlsx、.xls、.csv,最多20万行;请使用导入模板"))
    mode = forms.ChoiceField(label=gettext_lazy("导入方式"), choices=MODE_CHOICES, widget=forms.RadioSelect,
                             initial=imports.MODE_ALL)
    dry_run = forms.BooleanField(label=gettext_lazy("先试导入(只校验不写入)"), required=False, initial=True)
    acknowledge_unrecognised = forms.BooleanField(
        label=gettext_lazy("我已知晓未识别的列不会导入"), required=False,
        help_text=gettext_lazy("直接正式导入时,文件中未能识别的列须确认后才能导入"))


class ConfirmForm(forms.Form):
    mode = forms.ChoiceField(label=gettext_lazy("导入方式"), choices=MODE_CHOICES, widget=forms.RadioSelect)
    acknowledge_unrecognised = forms.BooleanField(label=gettext_lazy("我已知晓未识别的列不会导入"), required=False)


def _job_context(request, job) -> dict:
    result = job.result or {}
    active = job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    return {
        "job": job, "result": result, "params": job.params or {}, "active": active,
        "finished": job.status == JobStatus.SUCCEEDED,
        "mode_label": dict(MODE_CHOICES).get((job.params or {}).get("mode"), ""),
        "can_download": jobs.result_file(job) is not None and jobs.can_download(request.user, job),
        "can_cancel": False,
        "can_confirm": imports.can_confirm(request.user, job),
        "confirm_form": ConfirmForm(initial={"mode": (job.params or {}).get("mode")}),
    }


@login_required
@require_http_methods(["GET", "POST"])
def import_start(request):
    imports.require_importer(request.user)
    status = 200
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                job = imports.start_import(request.user, data["file"], mode=data["mode"],
                                           dry_run=bool(data["dry_run"]),
                                           acknowledge_unrecognised=bool(data["acknowledge_unrecognised"]))
            except InvalidInput as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("已提交导入任务") if not data["dry_run"] else _("已提交试导入任务"))
                return redirect("registry_imports:job", pk=job.pk)
        status = 400
    else:
        form = ImportForm()
    return render(request, "registry/import_start.html", {
        "form": form, "columns": importing.TEMPLATE_COLUMNS}, status=status)


@login_required
@require_GET
def import_template(request):
    imports.require_importer(request.user)
    with tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024) as buf:
        importing.write_template(buf)
        buf.seek(0)
        content = buf.read()
    response = HttpResponse(content, content_type=exports.XLSX_CONTENT_TYPE)
    from django.utils.http import content_disposition_header

    response["Content-Disposition"] = content_disposition_header(True, _("监管对象导入模板") + ".xlsx")
    return response


@login_required
@require_GET
def import_job(request, pk):
    job = imports.get_import_job(request.user, pk)
    return render(request, "registry/import_job.html", _job_context(request, job))


@login_required
@require_GET
def import_status(request, pk):
    job = imports.get_import_job(request.user, pk)
    return render(request, "registry/import_result.html", _job_context(request, job))


@login_required
@require_POST
def import_confirm(request, pk):
    job = imports.get_import_job(request.user, pk)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择导入方式"))
        return redirect("registry_imports:job", pk=job.pk)
    try:
        new_job = imports.confirm_import(request.user, job, mode=form.cleaned_data["mode"],
                                         acknowledge_unrecognised=form.cleaned_data["acknowledge_unrecognised"])
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect("registry_imports:job", pk=job.pk)
    messages.success(request, _("已开始正式导入"))
    return redirect("registry_imports:job", pk=new_job.pk)


@login_required
@require_GET
def export(request):
    """The filtered list (same query string as the list page) as .xlsx: the export framework's
    ``sites`` list (direct when small, otherwise a background job)."""
    from yingji.core import views_exports

    return views_exports.export(request, exports.SITES.name)
