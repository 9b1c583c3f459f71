from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..scoping import Grant, ScopedModel
from .base import Archivable


class Attachment(ScopedModel, Archivable):
    """A photo or document attached to any scoped record.

    Stored under ``MEDIA_ROOT`` (outside the web root) by a random name; served only by a view
    that first checks that the record it belongs to is visible to the user. Scoped through
    that record: whoever may view (edit) the record may view (add to / archive) its attachments.
    """

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField()
    original_name = models.CharField(_("文件名"), max_length=200)
    storage_name = models.CharField(max_length=200, unique=True)
    mime_type = models.CharField(_("类型"), max_length=100)
    size = models.PositiveBigIntegerField(_("大小"))
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    thumbnail_name = models.CharField(max_length=200, blank=True)
    caption = models.CharField(_("说明"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("附件")
        verbose_name_plural = _("附件")
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return self.original_name

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")

    @classmethod
    def scope_q(cls, grant: Grant, action: str) -> Q | None:
        from ..scoping import scoped_models

        q = None
        for model in scoped_models():
            if model in (cls,) or model.__name__ == "AuditEntry":
                continue
            inner = model.scope_q(grant, action)
            if inner is None:
                continue
            ct = ContentType.objects.get_for_model(model)
            part = Q(content_type_id=ct.pk)
            if inner:
                part &= Q(object_id__in=model.objects.filter(inner).values("pk"))
            q = part if q is None else q | part
        return q

    @classmethod
    def location_q(cls, grant: Grant) -> Q | None:
        return cls.scope_q(grant, "view")
