"""What listed supervision contributes (registered from ``SupervisionConfig.ready``): the "listed"
to-do line and the home page's listed-supervision panel."""
from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from yingji.core import contrib
from yingji.core.contrib import Figure, Panel, Row
from yingji.core.scoping import grants_for
from yingji.core.worklist import WorkItem, bounded

from .models import ACTIVE_STATES, Listing

SHOWN = 5


def _active(user):
    return Listing.objects.visible_to(user).filter(state__in=ACTIVE_STATES, archived_at__isnull=True)


def work_items(user) -> list[WorkItem]:
    if not grants_for(user):
        return []
    return [WorkItem(_("挂牌督办中"), bounded(_active(user)), "/supervision/")]


def listings_panel(user) -> Panel:
    today = timezone.localdate()
    active = _active(user)
    rows = [Row(label=f"{item.hazard.site.name if item.hazard.site_id else item.hazard.title}",
                url=reverse("supervision:detail", args=[item.pk]), cells=[
                    Figure(_("状态"), item.get_state_display()),
                    Figure(_("整改期限"), item.deadline.strftime("%Y-%m-%d"), urgent=item.deadline < today)])
            for item in active.select_related("hazard", "hazard__site").order_by("deadline", "id")[:SHOWN]]
    figures = [Figure(_("挂牌督办中"), bounded(active), "/supervision/"),
               Figure(_("逾期未整改"), bounded(active.filter(deadline__lt=today)), "/supervision/?overdue=on",
                      urgent=True)]
    return Panel(key="supervision.listings", title=_("重大隐患挂牌督办"), figures=figures, links=rows,
                 more_url="/supervision/", empty_text=_("没有挂牌督办中的重大隐患"))


def register() -> None:
    contrib.register_work_items(work_items, key="supervision", order=30)
    contrib.register_home_panel("supervision.listings", listings_panel, order=35, roles=contrib.OVERVIEW_ROLES)
