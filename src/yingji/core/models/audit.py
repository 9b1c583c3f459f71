from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .. import roles
from ..scoping import Grant, ScopedModel


class AuditEntry(ScopedModel):
    """Who changed what, when, from where. Written in the same transaction as the change.

    A side record: scoped through the record it describes. An entry is visible to a user holding
    ``view_audit`` through a grant that may view that record (see ``location_q``); entries about
    unscoped reference data are visible to county-level auditors only. The client address it
    keeps belongs to the actor's account: ``core.privacy.redact_audit_entries``.
    """

    scope_area = None
    scope_capabilities = {"view": roles.VIEW_AUDIT}

    at = models.DateTimeField(_("时间"), db_index=True)
    # Indexes: (actor, id), (content_type, object_id, id) and a plain one on action serve every
    # filter; no single-column FK or LIKE indexes (each report writes several entries).
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("操作人"), db_index=False)
    actor_name = models.CharField(_("操作人"), max_length=64, blank=True)
    action = models.CharField(_("操作"), max_length=64)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+", db_index=False)
    object_id = models.PositiveBigIntegerField()
    object_repr = models.CharField(_("对象"), max_length=200)
    changes = models.JSONField(_("变更"), default=dict, blank=True)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    request_id = models.CharField(_("请求号"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("来源IP"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        indexes = [
            models.Index(fields=["content_type", "object_id", "id"]),
            models.Index(fields=["actor", "id"]),
            models.Index(fields=["action"], name="audit_action"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_repr}"

    @classmethod
    def location_q(cls, grant: Grant) -> Q | None:
        """The entries about records the grant may view — by each record's own rule, capability
        included (``scoping.subject_q``): an account event (about a ``User`` — sign-in, sign-out,
        roles, tokens, passwords) needs ``manage_users`` where the person holds a role, like the
        account itself; a job's entries follow the job. County-level grants without sectors also
        read the entries about unscoped reference data."""
        from ..scoping import scoped_models

        parts: dict[int, Q | None] = {}
        for model in scoped_models():
            if model is cls:
                continue
            parts[ContentType.objects.get_for_model(model).pk] = (model, model.scope_q(grant, "view"))
        if not (grant.area_is_root and not grant.sector_ids and grant.site_ids is None):
            q = None
            for ct_id, (model, inner) in parts.items():
                if inner is None:
                    continue
                part = Q(content_type_id=ct_id)
                if inner:
                    part &= Q(object_id__in=model.objects.filter(inner).values("pk"))
                q = part if q is None else q | part
            return q
        # County level: everything but the subjects the grant does not (fully) reach.
        limited = sorted(ct_id for ct_id, (_m, inner) in parts.items() if inner is None or inner)
        if not limited:
            return Q()
        q = ~Q(content_type_id__in=limited)
        for ct_id, (model, inner) in parts.items():
            if inner:
                q |= Q(content_type_id=ct_id, object_id__in=model.objects.filter(inner).values("pk"))
        return q

    def delete(self, *args, **kwargs):
        from ..scoping import HardDeleteForbidden

        raise HardDeleteForbidden("audit entries are permanent")
