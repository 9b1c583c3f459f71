"""The home page's to-do list: what the signed-in user may act on now, one line per kind of work.

Each count reads through the one access rule (``restrict``) and is bounded (``LIMIT 1000``, shown
as "999+"), so the home page stays cheap at a million hazards. Each line links to the filtered list.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

CAP = 1000


@dataclass
class WorkItem:
    label: str
    count: int
    url: str
    urgent: bool = False

    @property
    def shown(self) -> str:
        return f"{CAP - 1}+" if self.count >= CAP else str(self.count)


def _bounded(qs) -> int:
    return qs.order_by()[:CAP].count()


def worklist(user) -> list[WorkItem]:
    """The lines for ``user``: only kinds of work the user's roles can do at all."""
    from yingji.hazards.models import OPEN_STATES, Hazard, State
    from yingji.inspections.models import Inspection, InspectionState
    from yingji.supervision.models import ACTIVE_STATES, Listing

    from . import roles
    from .scoping import grants_for

    grants = grants_for(user)
    officer = any(g.allows(roles.EDIT) and g.site_ids is None for g in grants)
    rectifier = officer or any(g.site_ids is not None and g.allows(roles.REPORT) for g in grants)
    reporter = any(g.allows(roles.REPORT) for g in grants)
    live = Hazard.objects.filter(archived_at__isnull=True)
    items = []
    if rectifier:
        items += [
            # who accepts and who verifies: hazards.models.HANDLING (by the finder's side and level)
            WorkItem(_("待受理隐患"), _bounded(live.restrict(user, "accept").filter(state=State.REPORTED)),
                     "/hazards/?state=reported"),
            WorkItem(_("整改中隐患"), _bounded(live.restrict(user, "rectify").filter(state=State.RECTIFYING)),
                     "/hazards/?state=rectifying"),
        ]
    if rectifier:  # officers; enterprises close their self-found general hazards (自查自改)
        items.append(WorkItem(_("待验收销号"), _bounded(live.restrict(user, "verify").filter(state=State.SUBMITTED)),
                              "/hazards/?state=submitted"))
    if grants:
        items.append(WorkItem(_("超期未整改"), _bounded(live.visible_to(user).filter(state__in=OPEN_STATES,
                                                                                  is_overdue=True)),
                              "/hazards/?overdue=on", urgent=True))
    if reporter:
        items.append(WorkItem(_("我进行中的检查"), _bounded(Inspection.objects.visible_to(user).filter(
            lead_id=user.pk, state=InspectionState.IN_PROGRESS, archived_at__isnull=True)),
            "/inspections/?state=in_progress&mine=on"))
    if grants:
        items.append(WorkItem(_("挂牌督办中"), _bounded(Listing.objects.visible_to(user).filter(
            state__in=ACTIVE_STATES, archived_at__isnull=True)), "/supervision/"))
    return items
