"""The one export view of every list: ``/exports/<list>/?<the list page's query string>``.

Small exports answer the .xlsx at once; big ones become a background job (redirect to its page,
where the file is downloaded when done). Bad filters go back to the list with the Chinese error.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from . import exports
from .errors import InvalidInput


@login_required
@require_GET
def export(request, name):
    spec = exports.exportable(request.user, name)
    try:
        kind, result = exports.export(request.user, spec.name, request.GET)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        query = request.GET.urlencode()
        return redirect(reverse(spec.list_url) + ("?" + query if query else ""))
    if kind == "file":
        out, filename = result
        return FileResponse(out, as_attachment=True, filename=filename, content_type=exports.XLSX_CONTENT_TYPE)
    messages.success(request, _("导出数据较多,已转为后台任务,完成后可在此页下载"))
    return redirect("jobs:detail", pk=result.pk)
