"""The home page's "how are we doing" panel (registered from ``StatsConfig.ready``): open, overdue
and major hazards and this month's findings and inspections, by town (a county user), by village
(a town officer) or by sector (sector-bound officers), with the trend against last month and the
same month last year.

Read from the newest rollup run filtered by :func:`figures.rollup_scope` (the one translation of
the user's grants onto rollup rows), so the panel costs a few indexed aggregates at any scale and
says how fresh it is ("as of"). Users the rollup cannot serve exactly (site-bound enterprise
accounts) get no panel: their home shows their own sites and tasks instead.
"""
from __future__ import annotations

import datetime
from urllib.parse import urlencode

from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from yingji.core import contrib, roles
from yingji.core.contrib import Figure, Panel, Row
from yingji.core.models import Area, Sector
from yingji.core.scoping import grants_for

from . import figures, services
from .models import FINEST_GRAIN, HazardRollup, InspectionRollup

MAX_ROWS = 40


def _month_back(month: datetime.date, n: int) -> datetime.date:
    y, m = divmod(month.year * 12 + month.month - 1 - n, 12)
    return datetime.date(y, m + 1, 1)


def _measures(this_month, last_month, last_year) -> dict:
    from yingji.hazards.models import OPEN_STATES, Level

    open_ = Q(state__in=OPEN_STATES)
    return {
        "open": Sum("count", filter=open_),
        "overdue": Sum("overdue", filter=open_),
        "major": Sum("count", filter=open_ & Q(level=Level.MAJOR)),
        "found": Sum("count", filter=Q(month=this_month)),
        "found_last_month": Sum("count", filter=Q(month=last_month)),
        "found_last_year": Sum("count", filter=Q(month=last_year)),
    }


def _inspection_measures(this_month, last_month, last_year) -> dict:
    return {
        "inspections": Sum("count", filter=Q(month=this_month)),
        "inspections_last_month": Sum("count", filter=Q(month=last_month)),
        "inspections_last_year": Sum("count", filter=Q(month=last_year)),
    }


def _n(row: dict, key: str) -> int:
    return int(row.get(key) or 0)


def _trend(now: int, last_month: int, last_year: int) -> str:
    def delta(x: int) -> str:
        d = now - x
        return f"+{d}" if d > 0 else ("±0" if d == 0 else f"−{-d}")

    return _("较上月 %(m)s · 较去年同月 %(y)s") % {"m": delta(last_month), "y": delta(last_year)}


def _hazards_url(extra: dict, **params) -> str:
    return "/hazards/?" + urlencode({**params, **extra})


def overview(user) -> dict | None:
    """The figures of the panel as plain data (also what the tests recount): ``totals`` and
    ``rows`` (``{"key", "label", "filter", <measures>}``), ``by`` ("area"/"sector"), ``as_of``."""
    scope = figures.rollup_scope(user)
    if scope.live or scope.q is None:
        return None
    run = services.latest_run()
    this_month = timezone.localdate().replace(day=1)
    months = (this_month, _month_back(this_month, 1), _month_back(this_month, 12))
    grants = [g for g in grants_for(user) if g.allows(roles.VIEW) and g.site_ids is None]
    by = "sector" if grants and all(g.sector_ids for g in grants) else "area"
    focus = figures.home_area(user)
    if by == "area":
        grain = scope.grain
        if focus is not None:
            grain = max(grain, min(FINEST_GRAIN, figures.grain_for_code(focus.code) + 1))
        key = "area_code"
    else:
        grain, key = scope.grain, "sector_id"
    result = {"by": by, "as_of": run.as_of if run is not None else None, "focus": focus, "totals": {}, "rows": []}
    if run is None:
        return result
    hz = HazardRollup.objects.filter(run=run, grain=grain).filter(scope.q)
    ins = InspectionRollup.objects.filter(run=run, grain=grain).filter(scope.q)
    hm, im = _measures(*months), _inspection_measures(*months)
    totals = {**hz.order_by().aggregate(**hm), **ins.order_by().aggregate(**im)}
    result["totals"] = {k: int(v or 0) for k, v in totals.items()}
    grouped: dict = {}
    for r in hz.order_by().values(key).annotate(**hm):
        grouped.setdefault(r.pop(key), {}).update(r)
    for r in ins.order_by().values(key).annotate(**im):
        grouped.setdefault(r.pop(key), {}).update(r)
    rows = []
    if by == "area":
        names = {a.code: a for a in Area.objects.visible_to(user).filter(code__in=[k for k in grouped if k])}
        for code in sorted(grouped, key=str):
            area = names.get(code)
            label = area.name if area is not None else code
            if focus is not None and code == focus.code:
                label = _("%(name)s(本级)") % {"name": label}
            rows.append({"key": code, "label": label, "filter": {"area": area.pk} if area is not None else {},
                         **{k: _n(grouped[code], k) for k in {**hm, **im}}})
    else:
        names = dict(Sector.objects.filter(pk__in=[k for k in grouped if k]).values_list("pk", "name"))
        for pk in sorted(grouped, key=lambda k: (k is None, k or 0)):
            rows.append({"key": pk, "label": names.get(pk, _("未分行业")) if pk else _("未分行业"),
                         "filter": {"sector": pk} if pk else {},
                         **{k: _n(grouped[pk], k) for k in {**hm, **im}}})
    result["rows"] = rows[:MAX_ROWS]
    return result


def overview_panel(user) -> Panel | None:
    data = overview(user)
    if data is None:
        return None
    t = data["totals"]
    title = _("隐患与检查概况(按行业领域)") if data["by"] == "sector" else (
        _("隐患与检查概况(%(area)s,按下级区域)") % {"area": data["focus"].name} if data["focus"] is not None
        else _("隐患与检查概况"))
    if data["as_of"] is None:
        return Panel(key="stats.overview", title=title, empty_text=_("统计数据尚未生成,请稍后再看(每10分钟刷新)"),
                     more_url="/stats/")
    figures_ = [
        Figure(_("未销号隐患"), _n(t, "open"), _hazards_url({}, state="open")),
        Figure(_("超期未整改"), _n(t, "overdue"), _hazards_url({}, state="open", overdue="on"), urgent=True),
        Figure(_("未销号重大隐患"), _n(t, "major"), _hazards_url({}, state="open", level="major"), urgent=True),
        Figure(_("本月新发现隐患"), _n(t, "found"), "/stats/",
               note=_trend(_n(t, "found"), _n(t, "found_last_month"), _n(t, "found_last_year"))),
        Figure(_("本月检查"), _n(t, "inspections"), "/stats/",
               note=_trend(_n(t, "inspections"), _n(t, "inspections_last_month"), _n(t, "inspections_last_year"))),
    ]
    rows = []
    for r in data["rows"]:
        f = r["filter"]
        stats_url = "/stats/?" + urlencode(f) if f else "/stats/"
        rows.append(Row(label=r["label"], url=stats_url, cells=[
            Figure(_("未销号"), r["open"], _hazards_url(f, state="open")),
            Figure(_("超期"), r["overdue"], _hazards_url(f, state="open", overdue="on"), urgent=True),
            Figure(_("重大"), r["major"], _hazards_url(f, state="open", level="major"), urgent=True),
            Figure(_("本月发现"), r["found"], stats_url,
                   note=_trend(r["found"], r["found_last_month"], r["found_last_year"])),
            Figure(_("本月检查"), r["inspections"], stats_url),
        ]))
    first = _("行业领域") if data["by"] == "sector" else _("区域")
    return Panel(key="stats.overview", title=title, figures=figures_, rows=rows,
                 columns=[first, _("未销号"), _("超期"), _("重大"), _("本月发现(趋势)"), _("本月检查")],
                 as_of=data["as_of"], more_url="/stats/",
                 note=_("趋势:本月截至目前与上月、去年同月全月相比"))


def register() -> None:
    contrib.register_home_panel("stats.overview", overview_panel, order=10, roles=contrib.OVERVIEW_ROLES)
