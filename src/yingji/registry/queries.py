"""Read helpers of the site registry, shared by pages, API, exports and the map.

Everything starts from ``Site.objects.visible_to(user)``. Filters are single-column (or
subquery) conditions that each have an index; callers page the result by keyset on ``id``.
"""
from __future__ import annotations

import re

from django.db.models import Q
from django.utils.translation import gettext as _

from yingji.core import roles
from yingji.core.errors import InvalidInput
from yingji.core.models import Area, Sector
from yingji.core.scoping import area_subtree_ids, grants_for

from .creditcode import ALPHABET
from .models import Industry, RiskColour, RiskTrait, Site, SiteKind, SiteStatus

_PINYIN_RE = re.compile(r"^[A-Za-z]{2,40}$")
_CODE_RE = re.compile(r"^[%s]{2,18}$" % ALPHABET)


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, detail={field: message})


def text_q(q: str) -> Q:
    """Name or address substring; pinyin initials (ascii letters); credit-code prefix."""
    q = q.strip()
    cond = Q(name__contains=q) | Q(address__contains=q)
    if _PINYIN_RE.match(q):
        cond |= Q(name_pinyin__contains=q.lower())
    upper = q.upper()
    if _CODE_RE.match(upper) and any(c.isdigit() for c in upper):
        cond |= Q(credit_code__startswith=upper)
    return cond


def _as_int(value, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(field, _("编号无效")) from None


def resolve_area(value) -> Area | None:
    if value in (None, ""):
        return None
    if isinstance(value, Area):
        return value
    area = Area.objects.filter(pk=_as_int(value, "area")).first()
    if area is None:
        raise _bad("area", _("区域不存在"))
    return area


def resolve_sector(value) -> Sector | None:
    if value in (None, ""):
        return None
    if isinstance(value, Sector):
        return value
    value = str(value)
    sector = Sector.objects.filter(**({"pk": int(value)} if value.isdigit() else {"code": value})).first()
    if sector is None:
        raise _bad("sector", _("行业领域不存在"))
    return sector


def resolve_industry(value) -> Industry | None:
    if value in (None, ""):
        return None
    if isinstance(value, Industry):
        return value
    value = str(value).strip()
    industry = Industry.objects.filter(code=value.upper() if value.isalpha() else value.zfill(2)).first()
    if industry is None:
        raise _bad("industry", _("国民经济行业代码无效"))
    return industry


def resolve_trait(value) -> RiskTrait | None:
    if value in (None, ""):
        return None
    if isinstance(value, RiskTrait):
        return value
    value = str(value)
    trait = RiskTrait.objects.filter(**({"pk": int(value)} if value.isdigit() else {"code": value})).first()
    if trait is None:
        raise _bad("trait", _("风险特征不存在"))
    return trait


def _choice(value, choices, field: str, label: str) -> str | None:
    if value in (None, ""):
        return None
    if value not in choices.values:
        raise _bad(field, _("%(label)s无效") % {"label": label})
    return value


def _covers_scope(user, area: Area) -> bool:
    """Whether every site ``user`` may see lies under ``area`` (the filter would change nothing:
    a town officer filtering by their own town)."""
    grants = [g for g in grants_for(user) if g.allows(roles.VIEW)]
    return bool(grants) and all(g.site_ids is None and g.area_code.startswith(area.code) for g in grants)


def site_search(user, q=None, area=None, sector=None, industry=None, trait=None, colour=None, status=None,
                kind=None, include_archived: bool = False):
    """Sites visible to ``user`` matching every given filter. Unknown filter values raise a
    Chinese ``InvalidInput``. Not ordered or sliced: page it with ``keyset_page``."""
    qs = Site.objects.visible_to(user)
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    if q and q.strip():
        if len(q.strip()) > 100:
            raise _bad("q", _("查询内容过长"))
        qs = qs.filter(text_q(q))
    area = resolve_area(area)
    if area is not None and not _covers_scope(user, area):
        # The subtree as literal ids (one cheap query): the planner estimates ``area_id IN (…)``
        # from the column's statistics, while ``IN (SELECT … LIKE 'code%')`` next to the scope's
        # own area subquery made it pick plans 100x slower.
        qs = qs.filter(area_id__in=list(area_subtree_ids(area.code).values_list("pk", flat=True)))
    sector = resolve_sector(sector)
    if sector is not None:
        qs = qs.filter(pk__in=Site.sectors.through.objects.filter(sector_id=sector.pk).values("site_id"))
    industry = resolve_industry(industry)
    if industry is not None:
        if industry.is_section:
            qs = qs.filter(industry_id__in=list(Industry.objects.filter(section=industry.section)
                                                .values_list("pk", flat=True)))
        else:
            qs = qs.filter(industry_id=industry.pk)
    trait = resolve_trait(trait)
    if trait is not None:
        qs = qs.filter(pk__in=Site.traits.through.objects.filter(risktrait_id=trait.pk).values("site_id"))
    colour = _choice(colour, RiskColour, "colour", _("风险等级"))
    if colour:
        qs = qs.filter(risk_colour=colour)
    status = _choice(status, SiteStatus, "status", _("经营状态"))
    if status:
        qs = qs.filter(status=status)
    kind = _choice(kind, SiteKind, "kind", _("类别"))
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def site_timeline(user, site: Site, limit: int = 100):
    """The audit entries about ``site`` the user may read (newest first)."""
    from django.contrib.contenttypes.models import ContentType

    from yingji.core.models import AuditEntry

    from yingji.core.privacy import redact_audit_entries

    ct = ContentType.objects.get_for_model(Site)
    return redact_audit_entries(user, AuditEntry.objects.visible_to(user).filter(content_type=ct, object_id=site.pk)
                                .order_by("-id")[:limit])


def find_visible_site(user, text: str) -> Site:
    """A visible, live site by id, credit code or exact name (for the host picker)."""
    text = (text or "").strip()
    live = Site.objects.visible_to(user).filter(archived_at__isnull=True)
    if text.isdigit() and len(text) < 18:
        matches = list(live.filter(pk=int(text))[:2])
    elif len(text) == 18 and _CODE_RE.match(text.upper()):
        matches = list(live.filter(credit_code=text.upper())[:2])
    else:
        matches = list(live.filter(name=text)[:2])
    if not matches:
        raise _bad("host", _("没有找到“%(t)s”,请填写编号、统一社会信用代码或完整名称") % {"t": text})
    if len(matches) > 1:
        raise _bad("host", _("“%(t)s”对应多个对象,请改填编号或统一社会信用代码") % {"t": text})
    return matches[0]
