from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..scoping import ScopedModel


class Archivable(models.Model):
    """Business records are archived instead of deleted."""

    archived_at = models.DateTimeField(_("归档时间"), null=True, blank=True)
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class Timestamped(models.Model):
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        abstract = True


__all__ = ["Archivable", "Timestamped", "ScopedModel"]
