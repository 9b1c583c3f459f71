"""Attachment pages: upload to a record, download, thumbnail, archive.

Files are served only here, after ``Attachment.objects.visible_to(user)`` found the row; an
attachment outside the user's scope answers 404. Upload and archive redirect back with a
Chinese flash message; bad input never becomes a 500.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from . import attachments, services
from .errors import Forbidden, InvalidInput
from .models import Attachment

MAX_FILES_PER_UPLOAD = 10


def _back(request, fallback: str | None = None) -> HttpResponseRedirect:
    """Redirect to ``next`` (or the referer) when it is on this site, else ``fallback`` or home."""
    for candidate in (request.POST.get("next"), request.META.get("HTTP_REFERER")):
        if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()},
                                                         require_https=request.is_secure()):
            return HttpResponseRedirect(candidate)
    return HttpResponseRedirect(fallback or reverse("core:home"))


def _record_url(obj) -> str | None:
    if hasattr(obj, "get_absolute_url"):
        return obj.get_absolute_url()
    if obj._meta.label_lower == "core.area":
        return reverse("core:area_detail", args=[obj.pk])
    return None


@login_required
@require_POST
def upload(request, model, object_id):
    model_class = attachments.resolve_model(model)
    obj = services.get_visible(model_class, request.user, object_id)
    files = request.FILES.getlist("file")
    if not files:
        messages.error(request, _("请选择要上传的文件"))
        return _back(request, _record_url(obj))
    if len(files) > MAX_FILES_PER_UPLOAD:
        messages.error(request, _("一次最多上传%(n)d个文件") % {"n": MAX_FILES_PER_UPLOAD})
        return _back(request, _record_url(obj))
    caption = request.POST.get("caption", "")
    added = []
    for f in files:
        try:
            added.append(attachments.add_attachment(request.user, obj, f, caption=caption))
        except Forbidden as exc:  # view-only: say so once, upload nothing
            messages.error(request, exc.message)
            break
        except InvalidInput as exc:
            messages.error(request, exc.message)
    if added:
        messages.success(request, _("已上传附件:%(names)s") % {"names": "、".join(a.original_name for a in added)})
    return _back(request, _record_url(obj))


@login_required
@require_safe
def download(request, pk):
    attachment = services.get_visible(Attachment, request.user, pk)
    return attachments.file_response(attachment)


@login_required
@require_safe
def thumb(request, pk):
    attachment = services.get_visible(Attachment, request.user, pk)
    return attachments.file_response(attachment, thumbnail=True)


@login_required
@require_POST
def archive(request, pk):
    attachment = services.get_visible(Attachment, request.user, pk)
    parent = attachments.parent_of(attachment)
    try:
        attachments.archive_attachment(request.user, attachment)
    except (Forbidden, InvalidInput) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已归档附件:%(name)s") % {"name": attachment.original_name})
    return _back(request, _record_url(parent) if parent is not None else None)
