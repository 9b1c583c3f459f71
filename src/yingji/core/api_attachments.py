"""Attachments API under /api/v1/attachments: list a record's attachments, upload (multipart),
metadata, file content, thumbnail, archive. Same rules as the pages: a record or attachment
outside the caller's scope answers 404; view-only callers get 403 on writes."""
from __future__ import annotations

import datetime

from django.urls import reverse
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from . import attachments, services
from .api import ERRORS, file_answer
from .models import Attachment
from .pagination import keyset_page

router = Router(tags=["attachments"])




class AttachmentOut(Schema):
    id: int
    model: str
    object_id: int
    name: str
    mime_type: str
    size: int
    sha256: str
    is_image: bool
    width: int | None
    height: int | None
    caption: str
    uploaded_by_id: int
    uploaded_by_name: str
    uploaded_at: datetime.datetime
    archived: bool
    content_url: str
    thumbnail_url: str | None

    @staticmethod
    def resolve_model(obj):
        return f"{obj.content_type.app_label}.{obj.content_type.model}"

    @staticmethod
    def resolve_name(obj):
        return obj.original_name

    @staticmethod
    def resolve_uploaded_by_name(obj):
        return str(obj.uploaded_by)

    @staticmethod
    def resolve_archived(obj):
        return obj.archived_at is not None

    @staticmethod
    def resolve_content_url(obj):
        return reverse("api:attachment_content", kwargs={"attachment_id": obj.pk})

    @staticmethod
    def resolve_thumbnail_url(obj):
        if not obj.thumbnail_name:
            return None
        return reverse("api:attachment_thumbnail", kwargs={"attachment_id": obj.pk})


class AttachmentPage(Schema):
    items: list[AttachmentOut]
    next_cursor: str | None


def _visible(user, attachment_id) -> Attachment:
    return services.get_visible(Attachment, user, attachment_id)


def _parent(user, model: str, object_id: int):
    return services.get_visible(attachments.resolve_model(model), user, object_id)


@router.get("", response={200: AttachmentPage, **ERRORS}, summary="某条记录的附件(不含已归档)")
def list_attachments(request, model: str, object_id: int, cursor: str | None = None, limit: int = 100):
    obj = _parent(request.auth, model, object_id)
    items, next_cursor = keyset_page(attachments.attachments_for(request.auth, obj)
                                     .select_related("content_type"), cursor, limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post("", response={201: AttachmentOut, **ERRORS}, summary="上传附件(multipart:model、object_id、file、caption)")
def upload_attachment(request, model: Form[str], object_id: Form[int], file: File[UploadedFile],
                      caption: Form[str] = ""):
    obj = _parent(request.auth, model, object_id)
    return Status(201, attachments.add_attachment(request.auth, obj, file, caption=caption))


@router.get("/{attachment_id}", response={200: AttachmentOut, **ERRORS}, summary="附件信息")
def get_attachment(request, attachment_id: int):
    return _visible(request.auth, attachment_id)


@router.get("/{attachment_id}/content", response=ERRORS, openapi_extra=file_answer("*/*"), url_name="attachment_content",
            summary="下载附件文件")
def attachment_content(request, attachment_id: int):
    return attachments.file_response(_visible(request.auth, attachment_id))


@router.get("/{attachment_id}/thumbnail", response=ERRORS, openapi_extra=file_answer("*/*"), url_name="attachment_thumbnail",
            summary="图片缩略图")
def attachment_thumbnail(request, attachment_id: int):
    return attachments.file_response(_visible(request.auth, attachment_id), thumbnail=True)


@router.post("/{attachment_id}/archive", response={200: AttachmentOut, **ERRORS}, summary="归档附件(文件保留)")
def archive_attachment(request, attachment_id: int):
    return attachments.archive_attachment(request.auth, _visible(request.auth, attachment_id))
