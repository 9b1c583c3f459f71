"""The home page's to-do list: what the signed-in user may act on now, one line per kind of work.

The lines come from the apps (``core.contrib.register_work_items``): each app reads its own records
through the one access rule (``restrict``). Counts are bounded with :func:`bounded` (``LIMIT 1000``,
shown as "999+"), so the home page stays cheap at a million hazards. Each line links to the
filtered list.
"""
from __future__ import annotations

from dataclasses import dataclass

CAP = 1000


@dataclass
class WorkItem:
    label: str
    count: int
    url: str
    urgent: bool = False

    @property
    def shown(self) -> str:
        return shown(self.count)


def shown(count: int) -> str:
    return f"{CAP - 1}+" if count >= CAP else str(count)


def bounded(qs) -> int:
    """``qs.count()`` read no further than :data:`CAP` rows."""
    return qs.order_by()[:CAP].count()



def worklist(user) -> list[WorkItem]:
    """The lines for ``user``: only kinds of work the user's roles can do at all."""
    from .contrib import work_items

    return work_items(user)
