"""Read helpers of listed supervision, shared by pages and API.

Officers' reads start from ``Listing.objects.visible_to(user)``. The public list is the one
read without a user: ``public_listings()`` — published, publishable, not archived — and callers
show only the fields in ``public_row`` (no personal names, phones, addresses below the village or
internal notes).
"""
from __future__ import annotations

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from yingji.core.errors import InvalidInput
from yingji.core.models import Area, AreaLevel
from yingji.core.models.areas import LEVEL_CODE_LENGTH

from . import services
from .models import ACTIVE_STATES, Decision, ExtensionRequest, Listing, ListingEvent, ListingLevel, ListingState


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, detail={field: message})


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


def listing_search(user, *, level=None, state=None, overdue=None, pending_extension=None, q=None,
                   include_archived=False):
    """Listings visible to ``user`` matching every given filter (unordered; page with keyset).

    ``state`` may be ``"active"`` (not yet accepted). ``overdue`` = active and past the deadline.
    """
    qs = Listing.objects.visible_to(user)
    if not _flag(include_archived, "include_archived"):
        qs = qs.filter(archived_at__isnull=True)
    if level not in (None, ""):
        if level not in ListingLevel.values:
            raise _bad("level", _("挂牌级别无效"))
        qs = qs.filter(level=level)
    if state == "active":
        qs = qs.filter(state__in=ACTIVE_STATES)
    elif state not in (None, ""):
        if state not in ListingState.values:
            raise _bad("state", _("状态无效"))
        qs = qs.filter(state=state)
    if _flag(overdue, "overdue"):
        qs = qs.filter(state__in=ACTIVE_STATES, deadline__lt=services.today())
    if _flag(pending_extension, "pending_extension"):
        qs = qs.filter(pk__in=ExtensionRequest.objects.filter(decision=Decision.PENDING).values("listing_id"))
    if q and str(q).strip():
        text = str(q).strip()
        if len(text) > 100:
            raise _bad("q", _("查询内容过长"))
        cond = (Q(public_title__contains=text) | Q(notice_number__contains=text)
                | Q(hazard__title__contains=text) | Q(hazard__site__name__contains=text))
        if text.isdigit():
            cond |= Q(pk=int(text))
        qs = qs.filter(cond)
    return qs


def events_for(user, listing: Listing):
    return list(ListingEvent.objects.visible_to(user).filter(listing_id=listing.pk)
                .select_related("actor").order_by("id"))


def extensions_for(user, listing: Listing):
    return list(ExtensionRequest.objects.visible_to(user).filter(listing_id=listing.pk)
                .select_related("requested_by", "decided_by").order_by("-id"))


# ---------------------------------------------------------------- the public list

def public_listings():
    """Listings the public may see: the notice is published, the officer allowed publication,
    and the record is not archived. (The state shown is only what has been published.)"""
    return (Listing.objects.filter(publishable=True, published_at__isnull=False, archived_at__isnull=True)
            .select_related("hazard__site", "hazard__area").prefetch_related("hazard__site__sectors"))


def _place_names(listings) -> dict[str, str]:
    """Names of the towns and villages the listings sit in (by code), one query."""
    codes = set()
    for item in listings:
        code = item.hazard.area.code
        for level in (AreaLevel.TOWN, AreaLevel.VILLAGE):
            n = LEVEL_CODE_LENGTH[level]
            if len(code) >= n:
                codes.add(code[:n])
    return dict(Area.objects.filter(code__in=codes).values_list("code", "name")) if codes else {}


def public_rows(listings) -> list[dict]:
    """The published fields of each listing (and nothing else)."""
    names = _place_names(listings)
    town_n, village_n = LEVEL_CODE_LENGTH[AreaLevel.TOWN], LEVEL_CODE_LENGTH[AreaLevel.VILLAGE]
    rows = []
    for item in listings:
        code = item.hazard.area.code
        rows.append(public_row(item, names.get(code[:town_n], ""),
                               names.get(code[:village_n], "") if len(code) >= village_n else ""))
    return rows


SELF_BUILT_SECTORS = frozenset({"self_built_housing"})  # 自建房 (reference data code)


def public_site_name(site) -> str:
    """The name the public list may print for ``site``: a registered unit (it has a unified social
    credit code) by its name; anything else — a self-built house, a household, a person's
    unregistered shop — may be named after a private person, so only its first character
    (``王**户`` for a self-built house — its kind or its sector —, ``王**`` otherwise:
    ``core.privacy.mask_name``)."""
    from yingji.core.privacy import mask_name
    from yingji.registry.models import SiteKind

    if site is None:
        return ""
    self_built = site.kind == SiteKind.SELF_BUILT or any(
        s.code in SELF_BUILT_SECTORS for s in site.sectors.all())
    if site.credit_code and not self_built:
        return site.name
    return mask_name(site.name, "户" if self_built else "")


def public_row(listing: Listing, town: str = "", village: str = "") -> dict:
    """Published fields only: no address below the village (no street or house number), no
    personal names (``public_site_name``), no phones."""
    site = listing.hazard.site
    return {
        "id": listing.pk,
        "site_name": public_site_name(site),
        "town": town,
        "village": village,
        "title": listing.public_title,
        "level": listing.level,
        "level_label": listing.get_level_display(),
        "listing_body": listing.listing_body_name,
        "notice_number": listing.notice_number,
        "listed_on": listing.listed_on,
        "deadline": listing.deadline,
        "state": "delisted" if listing.delist_published_at else "listed",
        "state_label": listing.public_state,
        "delisted_on": timezone.localdate(listing.delisted_at) if listing.delist_published_at and listing.delisted_at else None,
    }
