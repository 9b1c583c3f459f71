"""Read helpers of the hazards module, shared by pages and API. Everything starts from
``Hazard.objects.visible_to(user)``; callers page by keyset on ``id``."""
from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from yingji.core import attachments
from yingji.core.errors import InvalidInput
from yingji.core.models import Area, Sector
from yingji.core.scoping import area_subtree_ids

from .models import OPEN_STATES, Hazard, HazardEvent, Level, Rectification, Source, State


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, detail={field: message})


def _int(value, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(field, _("编号无效")) from None


def _choice(value, choices, field: str, label: str):
    if value in (None, ""):
        return None
    if value not in choices.values:
        raise _bad(field, _("%(label)s无效") % {"label": label})
    return value


def _flag(value, field: str) -> bool | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise _bad(field, _("取值无效"))


def hazard_search(user, *, state=None, level=None, area=None, sector=None, overdue=None, source=None,
                  site=None, q=None, include_archived=False):
    """Hazards visible to ``user`` matching every given filter (unordered; page with keyset).

    ``state`` may also be ``"open"`` (any state before 销号). ``overdue`` = open and flagged
    overdue. ``area`` is an area (or id) whose subtree is searched; an area the user cannot see
    finds nothing beyond what they see anyway.
    """
    qs = Hazard.objects.visible_to(user)
    if not _flag(include_archived, "include_archived"):
        qs = qs.filter(archived_at__isnull=True)
    if state == "open":
        qs = qs.filter(state__in=OPEN_STATES)
    elif state not in (None, ""):
        if state not in State.values or state == State.DRAFT:
            raise _bad("state", _("状态无效"))
        qs = qs.filter(state=state)
    level = _choice(level, Level, "level", _("隐患等级"))
    if level:
        qs = qs.filter(level=level)
    source = _choice(source, Source, "source", _("来源"))
    if source:
        qs = qs.filter(source=source)
    if area not in (None, ""):
        obj = area if isinstance(area, Area) else Area.objects.filter(pk=_int(area, "area")).first()
        if obj is None:
            raise _bad("area", _("区域不存在"))
        qs = qs.filter(area_id__in=area_subtree_ids(obj.code))
    if sector not in (None, ""):
        obj = sector if isinstance(sector, Sector) else (
            Sector.objects.filter(pk=int(sector)).first() if str(sector).isdigit()
            else Sector.objects.filter(code=str(sector)).first())
        if obj is None:
            raise _bad("sector", _("行业领域不存在"))
        qs = qs.filter(sector_id=obj.pk)
    if _flag(overdue, "overdue"):
        qs = qs.filter(is_overdue=True, state__in=OPEN_STATES)
    if site not in (None, ""):
        qs = qs.filter(site_id=_int(site, "site"))
    if q and str(q).strip():
        text = str(q).strip()
        if len(text) > 100:
            raise _bad("q", _("查询内容过长"))
        cond = Q(title__contains=text) | Q(description__contains=text) | Q(location__contains=text)
        if text.isdigit():
            cond |= Q(pk=int(text))
        qs = qs.filter(cond)
    return qs


def events_for(user, hazard: Hazard):
    return list(HazardEvent.objects.visible_to(user).filter(hazard_id=hazard.pk)
                .select_related("actor").order_by("id"))


def rectifications_for(user, hazard: Hazard):
    """The hazard's submitted rectifications (newest first), each with its evidence."""
    rects = list(Rectification.objects.visible_to(user).filter(hazard_id=hazard.pk, submitted_at__isnull=False)
                 .select_related("submitted_by", "reviewed_by").order_by("-id"))
    for r in rects:
        r.evidence = list(attachments.attachments_for(user, r))
    return rects
