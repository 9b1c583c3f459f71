"""Read helpers shared by pages, API and exports (all start from ``visible_to``)."""
from __future__ import annotations

import datetime

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.utils import timezone

from .errors import InvalidInput
from .models import Area, AuditEntry, User
from .scoping import grants_for


def audited_model_choices() -> list[tuple[str, str]]:
    """(``app_label.model``, verbose name) for every model of ours; for filters."""
    result = []
    for model in apps.get_models():
        if model.__module__.startswith("yingji.") and model is not AuditEntry:
            result.append((f"{model._meta.app_label}.{model._meta.model_name}", str(model._meta.verbose_name)))
    return sorted(result)


EARLIEST_DAY = datetime.date(1900, 1, 1)
LATEST_DAY = datetime.date(9998, 12, 31)


def audit_queryset(user, *, model: str | None = None, object_id: int | None = None, actor: str | None = None,
                   action: str | None = None, since: datetime.date | None = None,
                   until: datetime.date | None = None, include_system: bool = True):
    """The audit entries ``user`` may read, filtered. ``include_system=False`` leaves out the job
    machinery's own entries (queued/started/finished by the worker, no person acting)."""
    qs = AuditEntry.objects.visible_to(user).select_related("content_type")
    if not include_system:
        qs = qs.exclude(actor__isnull=True, action__startswith="job.")
    if model:
        try:
            app_label, model_name = model.split(".", 1)
            ct = ContentType.objects.get_by_natural_key(app_label, model_name)
        except (ValueError, ContentType.DoesNotExist):
            raise InvalidInput("对象类型无效", detail={"model": "对象类型无效"}) from None
        qs = qs.filter(content_type=ct)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if actor:
        qs = qs.filter(Q(actor__username=actor) | Q(actor_name=actor))
    if action:
        qs = qs.filter(action=action)
    tz = timezone.get_current_timezone()
    for name, day in (("since", since), ("until", until)):
        if day and not (EARLIEST_DAY <= day <= LATEST_DAY):
            raise InvalidInput("日期超出范围", detail={name: "日期须在1900-01-01至9998-12-31之间"})
    if since:
        qs = qs.filter(at__gte=datetime.datetime.combine(since, datetime.time.min, tzinfo=tz))
    if until:
        qs = qs.filter(at__lt=datetime.datetime.combine(until + datetime.timedelta(days=1), datetime.time.min,
                                                        tzinfo=tz))
    return qs


def top_areas(user):
    """The roots of the user's visible area forest: their grants' areas, outermost first."""
    codes = sorted({g.area_code for g in grants_for(user) if g.site_ids is None and g.allows("view")}, key=len)
    roots: list[str] = []
    for code in codes:
        if not any(code.startswith(r) for r in roots):
            roots.append(code)
    return list(Area.objects.filter(code__in=roots, archived_at__isnull=True).order_by("code"))


def user_search(user, q: str | None):
    qs = User.objects.visible_to(user)
    if q:
        q = q.strip()
        qs = qs.filter(Q(username__icontains=q) | Q(display_name__icontains=q) | Q(phone__startswith=q))
    return qs
