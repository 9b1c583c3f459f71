"""Reading the figures (统计), for pages and the API alike.

Figures come from the newest rollup run (``yingji.stats.models``) filtered by the user's scope:
:func:`rollup_scope` is THE translation of a user's grants into a filter on rollup rows (area
subtree by code prefix, sectors for sector-bound grants), mirroring what
``Hazard.objects.visible_to(user)`` lets through. Users the rollup cannot serve exactly
(enterprise accounts bound to sites) get the same figures computed live from
``Hazard.objects.visible_to(user)`` / ``Inspection.objects.visible_to(user)`` (their data is
small), in the same shape, with ``live`` set and ``as_of`` = now.

Definitions (the same for rollup and live figures, and the reconcile test):

* a hazard counts in the month it was reported (Asia/Shanghai); archived hazards do not count;
* found = hazards; closed = state 已销号; open = found − closed; rectification rate = closed ÷
  found (the share of the hazards found in the period that are closed now);
* overdue = open and flagged overdue (``is_overdue``, set by the escalation job);
* closed on time = closed on or before the deadline (local date), or without a deadline;
* average time to close = mean of (closed_at − reported_at) over closed hazards, in days.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import F, Q, Sum
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from yingji.core import roles
from yingji.core.errors import InvalidInput
from yingji.core.models import Area, Sector
from yingji.core.scoping import area_subtree_ids, grants_for

from . import services
from .models import FINEST_GRAIN, GRAIN_CODE_LENGTH, HazardRollup, InspectionRollup, RollupRun

MAX_MONTHS = 120
CAMPAIGN_CHOICES = 200


def grain_for_code(code: str) -> int:
    """The coarsest grain whose area codes are at least as long as ``code`` (so that a prefix
    filter on ``code`` is exact on that grain's rows)."""
    for grain, length in sorted(GRAIN_CODE_LENGTH.items()):
        if length is not None and len(code) <= length:
            return grain
    return FINEST_GRAIN


# ---------------------------------------------------------------- scope → rollup filter (one place)

@dataclass(frozen=True)
class RollupScope:
    """How a user's grants translate onto rollup rows.

    ``live``: the rollup cannot serve the user exactly (site-bound grants): compute from records.
    ``q``: the filter on rollup rows (None = nothing visible, ``Q()`` = everything).
    ``grain``: the coarsest grain on which ``q`` is exact.
    """

    live: bool
    q: Q | None
    grain: int


def rollup_scope(user) -> RollupScope:
    """THE translation of the user's VIEW grants into a filter on rollup rows: per grant, the
    area subtree (``area_code`` prefix; none for a root area) AND its sectors if it has any,
    OR-ed over the grants — the same rule ``ScopedModel.location_q`` applies to the records."""
    grants = [g for g in grants_for(user) if g.allows(roles.VIEW)]
    if not grants:
        return RollupScope(live=False, q=None, grain=1)
    if any(g.site_ids is not None for g in grants):
        return RollupScope(live=True, q=None, grain=FINEST_GRAIN)
    condition, grain = None, 1
    for g in grants:
        part = Q()
        if not g.area_is_root:
            part &= Q(area_code__startswith=g.area_code)
            grain = max(grain, grain_for_code(g.area_code))
        if g.sector_ids:
            part &= Q(sector_id__in=sorted(g.sector_ids))
        if not part:
            return RollupScope(live=False, q=Q(), grain=1)
        condition = part if condition is None else condition | part
    return RollupScope(live=False, q=condition, grain=grain)


def home_area(user) -> Area | None:
    """The area a user's figures are about by default: the area of their grants (their nearest
    common ancestor when several), None for site-bound users."""
    codes = [g.area_code for g in grants_for(user) if g.allows(roles.VIEW) and g.site_ids is None]
    if not codes:
        return None
    common = codes[0]
    for code in codes[1:]:
        n = 0
        while n < min(len(common), len(code)) and common[n] == code[n]:
            n += 1
        common = common[:n]
    prefixes = [common[:n] for n in range(1, len(common) + 1)]
    return Area.objects.filter(code__in=prefixes).order_by("-level", "-code").first()


# ---------------------------------------------------------------- filters

@dataclass
class Filters:
    start: datetime.date             # first day of the first month
    end: datetime.date               # first day of the last month
    area: Area | None = None         # chosen area (its subtree)
    sector: Sector | None = None
    campaign: object | None = None   # inspections.Campaign
    level: str | None = None

    @property
    def months(self) -> list[datetime.date]:
        out, month = [], self.start
        while month <= self.end:
            out.append(month)
            month = _next_month(month)
        return out

    def as_dict(self) -> dict:
        return {
            "from": self.start.strftime("%Y-%m"), "to": self.end.strftime("%Y-%m"),
            "area": _ref(self.area), "sector": _ref(self.sector), "campaign": _ref(self.campaign),
            "level": self.level,
        }

    def query(self) -> dict:
        """The filters as URL parameters (for links that keep them)."""
        out = {"from": self.start.strftime("%Y-%m"), "to": self.end.strftime("%Y-%m")}
        for name in ("area", "sector", "campaign"):
            obj = getattr(self, name)
            if obj is not None:
                out[name] = obj.pk
        if self.level:
            out["level"] = self.level
        return out


def _ref(obj):
    return None if obj is None else {"id": obj.pk, "name": getattr(obj, "name", str(obj))}


def _next_month(month: datetime.date) -> datetime.date:
    return month.replace(year=month.year + 1, month=1) if month.month == 12 else month.replace(month=month.month + 1)


def _bad(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(message, detail={field_name: message})


def _month(value, field_name: str, label: str) -> datetime.date | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        if len(text) == 7:
            parsed = datetime.datetime.strptime(text, "%Y-%m").date()
        else:
            parsed = datetime.date.fromisoformat(text)
    except ValueError:
        raise _bad(field_name, _("%(label)s格式不正确,应为年-月,如2026-03") % {"label": label}) from None
    if parsed.year < 2000 or parsed.year > 2100:
        raise _bad(field_name, _("%(label)s超出范围") % {"label": label})
    return parsed.replace(day=1)


def _pk(value, field_name: str, message: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise _bad(field_name, message) from None


def sector_choices(user) -> list[Sector]:
    """Sectors a user may filter by: all (not archived) unless every grant is sector-bound."""
    grants = [g for g in grants_for(user) if g.allows(roles.VIEW)]
    qs = Sector.objects.filter(archived_at__isnull=True).order_by("sort", "code")
    if grants and all(g.sector_ids and g.site_ids is None for g in grants):
        ids = set().union(*(g.sector_ids for g in grants))
        qs = qs.filter(pk__in=ids)
    elif not grants:
        return []
    return list(qs)


def campaign_choices(user) -> list:
    from yingji.inspections.models import Campaign

    return list(Campaign.objects.visible_to(user).filter(archived_at__isnull=True)
                .order_by("-starts_on", "-id")[:CAMPAIGN_CHOICES])


def area_choices(user, focus: Area | None) -> list[Area]:
    """The areas offered in the area filter: the user's own areas, the way down to the focus
    area and its children (deeper areas are reached by drilling down)."""
    visible = Area.objects.visible_to(user).filter(archived_at__isnull=True)
    grant_ids = [g.area_id for g in grants_for(user) if g.site_ids is None and g.allows(roles.VIEW)]
    q = Q(pk__in=grant_ids)
    if focus is not None:
        q |= Q(code__in=[a.code for a in focus.ancestors(include_self=True)]) | Q(parent=focus)
    return list(visible.filter(q).order_by("code")[:500])


def parse_filters(user, data) -> Filters:
    """Filters from a query string (page and API alike); bad values → InvalidInput (Chinese)."""
    from yingji.hazards.models import Level
    from yingji.inspections.models import Campaign

    data = data or {}
    today = timezone.localdate()
    end = _month(data.get("to"), "to", _("截止月份")) or today.replace(day=1)
    start = _month(data.get("from"), "from", _("起始月份")) or end.replace(month=1)
    if start > end:
        raise _bad("from", _("起始月份不能晚于截止月份"))
    if (end.year - start.year) * 12 + end.month - start.month >= MAX_MONTHS:
        raise _bad("from", _("统计期间不能超过%(n)d个月") % {"n": MAX_MONTHS})
    filters = Filters(start=start, end=end)
    if data.get("area") not in (None, ""):
        pk = _pk(data.get("area"), "area", _("区域不存在"))
        filters.area = Area.objects.visible_to(user).filter(pk=pk).first()
        if filters.area is None:
            raise _bad("area", _("区域不存在"))
    if data.get("sector") not in (None, ""):
        value = str(data.get("sector")).strip()
        chosen = next((s for s in sector_choices(user) if str(s.pk) == value or s.code == value), None)
        if chosen is None:
            raise _bad("sector", _("行业领域无效"))
        filters.sector = chosen
    if data.get("campaign") not in (None, ""):
        pk = _pk(data.get("campaign"), "campaign", _("专项行动不存在"))
        filters.campaign = Campaign.objects.visible_to(user).filter(pk=pk).first()
        if filters.campaign is None:
            raise _bad("campaign", _("专项行动不存在"))
    if data.get("level") not in (None, ""):
        if data.get("level") not in Level.values:
            raise _bad("level", _("隐患等级无效"))
        filters.level = data.get("level")
    return filters


# ---------------------------------------------------------------- sources: rollup rows or live records

HAZARD_DIMENSIONS = ("state", "level", "area", "sector", "campaign", "month", "source")
INSPECTION_DIMENSIONS = ("mode", "state", "area", "sector", "campaign", "month")


class _Source:
    """Where figures are read from, with the user's scope and filters applied. Dimensions
    ``month``/``area``/``sector``/``campaign`` and the model's own (level, state, …) are
    grouped by name; measures are aggregated with the names of :data:`HAZARD_MEASURES` etc."""

    kind = "hazards"

    def __init__(self, user, filters: Filters, scope: RollupScope, run: RollupRun | None):
        self.user, self.filters, self.scope, self.run = user, filters, scope, run
        self.focus = filters.area or home_area(user)
        base = scope.grain
        if filters.area is not None:
            base = max(base, grain_for_code(filters.area.code))
        self.base_grain = base
        if self.focus is not None:
            self.area_grain = max(base, min(FINEST_GRAIN, grain_for_code(self.focus.code) + 1))
        else:
            self.area_grain = max(base, FINEST_GRAIN if scope.live else base)

    @property
    def live(self) -> bool:
        return self.scope.live

    @property
    def empty(self) -> bool:
        return (not self.live and (self.scope.q is None or self.run is None))

    # rows ------------------------------------------------------------
    def rows(self, grain: int):
        if self.live:
            return self._live_rows()
        f = self.filters
        qs = self.rollup_model.objects.filter(run=self.run, grain=grain, month__gte=f.start, month__lte=f.end)
        qs = qs.filter(self.scope.q)
        if f.area is not None:
            qs = qs.filter(area_code__startswith=f.area.code)
        if f.sector is not None:
            qs = qs.filter(sector_id=f.sector.pk)
        if f.campaign is not None:
            qs = qs.filter(campaign_id=f.campaign.pk)
        return self._extra_rollup_filters(qs)

    def _live_rows(self):
        f = self.filters
        tz = services.local_tz()
        start = datetime.datetime.combine(f.start, datetime.time.min, tzinfo=tz)
        end = datetime.datetime.combine(_next_month(f.end), datetime.time.min, tzinfo=tz)
        qs = self.records().filter(**{f"{self.time_field}__gte": start, f"{self.time_field}__lt": end})
        if f.area is not None:
            qs = qs.filter(area_id__in=area_subtree_ids(f.area.code))
        if f.sector is not None:
            qs = qs.filter(sector_id=f.sector.pk)
        if f.campaign is not None:
            qs = qs.filter(campaign_id=f.campaign.pk)
        return self._extra_live_filters(qs)

    def dimension(self, name: str, grain: int):
        if name == "month":
            return services.month_of(self.time_field) if self.live else F("month")
        if name == "area":
            if not self.live:
                return F("area_code")
            length = GRAIN_CODE_LENGTH[grain]
            return F("area__code") if length is None else Substr("area__code", 1, length)
        if name in ("sector", "campaign"):
            return F(f"{name}_id")
        return F(name)

    def measures(self) -> dict:
        return self.live_measures() if self.live else self.rollup_measures()

    def aggregate(self, grain: int) -> dict:
        if self.empty:
            return {}
        values = self.rows(grain).order_by().aggregate(**self.measures())
        return {k[2:]: v for k, v in values.items()}

    def group(self, name: str) -> list[dict]:
        if self.empty:
            return []
        grain = self.area_grain if name == "area" else self.base_grain
        qs = (self.rows(grain).order_by().values(d_key=self.dimension(name, grain))
              .annotate(**self.measures()))
        out = []
        for row in qs:
            out.append({"key": row.pop("d_key"), **{k[2:]: v for k, v in row.items()}})
        return out


class HazardSource(_Source):
    kind = "hazards"
    rollup_model = HazardRollup
    time_field = "reported_at"

    def records(self):
        from yingji.hazards.models import Hazard

        return services.hazard_records(Hazard.objects.visible_to(self.user))

    def _extra_rollup_filters(self, qs):
        return qs.filter(level=self.filters.level) if self.filters.level else qs

    _extra_live_filters = _extra_rollup_filters

    @staticmethod
    def rollup_measures() -> dict:
        from yingji.hazards.models import OPEN_STATES, Level, State

        return {
            "m_found": Sum("count"),
            "m_major": Sum("count", filter=Q(level=Level.MAJOR)),
            "m_closed": Sum("count", filter=Q(state=State.CLOSED)),
            "m_overdue_open": Sum("overdue", filter=Q(state__in=OPEN_STATES)),
            "m_fixed_on_spot": Sum("fixed_on_spot"),
            "m_closed_on_time": Sum("closed_on_time"),
            "m_closed_timed": Sum("closed_timed"),
            "m_close_time": Sum("close_time"),
        }

    @staticmethod
    def live_measures() -> dict:
        from django.db.models import Count

        from yingji.hazards.models import OPEN_STATES, Level, State

        timed = Q(state=State.CLOSED, closed_at__isnull=False)
        return {
            "m_found": Count("id"),
            "m_major": Count("id", filter=Q(level=Level.MAJOR)),
            "m_closed": Count("id", filter=Q(state=State.CLOSED)),
            "m_overdue_open": Count("id", filter=Q(state__in=OPEN_STATES, is_overdue=True)),
            "m_fixed_on_spot": Count("id", filter=Q(fixed_on_spot=True)),
            "m_closed_on_time": Count("id", filter=services.closed_on_time_q()),
            "m_closed_timed": Count("id", filter=timed),
            "m_close_time": Sum(services.close_duration(), filter=timed),
        }


class InspectionSource(_Source):
    kind = "inspections"
    rollup_model = InspectionRollup
    time_field = "started_at"

    def records(self):
        from yingji.inspections.models import Inspection

        return services.inspection_records(Inspection.objects.visible_to(self.user))

    def _extra_rollup_filters(self, qs):
        return qs

    _extra_live_filters = _extra_rollup_filters

    @staticmethod
    def rollup_measures() -> dict:
        from yingji.inspections.models import InspectionState

        return {
            "m_inspections": Sum("count"),
            "m_completed": Sum("count", filter=Q(state=InspectionState.COMPLETED)),
            "m_items_total": Sum("items_total"),
            "m_items_failed": Sum("items_failed"),
            "m_hazards_found": Sum("hazards_found"),
        }

    @staticmethod
    def live_measures() -> dict:
        from django.db.models import Count

        from yingji.inspections.models import InspectionState

        return {
            "m_inspections": Count("id"),
            "m_completed": Count("id", filter=Q(state=InspectionState.COMPLETED)),
            "m_items_total": Sum("items_total"),
            "m_items_failed": Sum("items_failed"),
            "m_hazards_found": Sum("hazards_found"),
        }


# ---------------------------------------------------------------- shaping

def _rate(part: int, whole: int):
    return round(part * 100 / whole, 1) if whole else None


def _hazard_numbers(m: dict) -> dict:
    found = int(m.get("found") or 0)
    closed = int(m.get("closed") or 0)
    timed = int(m.get("closed_timed") or 0)
    close_time = m.get("close_time")
    seconds = close_time.total_seconds() if isinstance(close_time, datetime.timedelta) else float(close_time or 0)
    closed_on_time = int(m.get("closed_on_time") or 0)
    return {
        "found": found,
        "major": int(m.get("major") or 0),
        "general": found - int(m.get("major") or 0),
        "closed": closed,
        "open": found - closed,
        "overdue_open": int(m.get("overdue_open") or 0),
        "fixed_on_spot": int(m.get("fixed_on_spot") or 0),
        "closed_on_time": closed_on_time,
        "rectification_rate": _rate(closed, found),
        "on_time_rate": _rate(closed_on_time, closed),
        "avg_close_days": round(seconds / timed / 86400, 1) if timed else None,
    }


def _inspection_numbers(m: dict) -> dict:
    n = int(m.get("inspections") or 0)
    return {
        "inspections": n,
        "completed": int(m.get("completed") or 0),
        "items_total": int(m.get("items_total") or 0),
        "items_failed": int(m.get("items_failed") or 0),
        "hazards_found": int(m.get("hazards_found") or 0),
    }


def _labels(source: _Source, name: str, keys: list) -> dict:
    """Readable names of dimension values (Chinese)."""
    from yingji.hazards.models import Level, Source, State
    from yingji.inspections.models import Campaign, InspectionState, Mode

    if name == "state":
        choices = State if source.kind == "hazards" else InspectionState
        return {k: str(choices(k).label) if k in choices.values else k for k in keys}
    if name == "level":
        return {k: str(Level(k).label) if k in Level.values else k for k in keys}
    if name == "source":
        return {k: str(Source(k).label) if k in Source.values else k for k in keys}
    if name == "mode":
        return {k: str(Mode(k).label) if k in Mode.values else k for k in keys}
    if name == "month":
        return {k: f"{k.year}年{k.month}月" for k in keys}
    if name == "sector":
        names = dict(Sector.objects.filter(pk__in=[k for k in keys if k]).values_list("pk", "name"))
        return {k: names.get(k, f"#{k}") if k else _("未分行业") for k in keys}
    if name == "campaign":
        names = dict(Campaign.objects.visible_to(source.user).filter(pk__in=[k for k in keys if k])
                     .values_list("pk", "name"))
        return {k: names.get(k, _("专项行动#%(id)s") % {"id": k}) if k else _("未关联专项行动") for k in keys}
    if name == "area":
        return _area_labels(source, keys)
    return {k: str(k) for k in keys}


def _area_labels(source: _Source, codes: list) -> dict:
    if source.live:
        # Site-bound users see no areas as such, but the areas of the records they see.
        areas = Area.objects.filter(code__in=codes, pk__in=source.records().values("area_id"))
    else:
        areas = Area.objects.visible_to(source.user).filter(code__in=codes)
    found = {a.code: a for a in areas}
    # At a grain finer than the focus area, rows with the focus's own code are records held
    # directly at that area (not in any of its children).
    own = (source.focus.code if source.focus is not None
           and source.area_grain > grain_for_code(source.focus.code) else None)
    out = {}
    for code in codes:
        area = found.get(code)
        label = area.name if area is not None else code
        if code == own:
            label = _("%(name)s(本级)") % {"name": label}
        out[code] = {"label": label, "id": area.pk if area is not None else None}
    return out


def _breakdown(source: _Source, name: str, numbers) -> list[dict]:
    rows = source.group(name)
    keys = [r["key"] for r in rows]
    labels = _labels(source, name, keys)
    out = []
    for r in rows:
        key = r.pop("key")
        label = labels.get(key, key)
        item = {"key": key, "label": label, **numbers(r)}
        if isinstance(label, dict):
            item.update(label=label["label"], area_id=label["id"])
        if isinstance(key, datetime.date):
            item["key"] = key.strftime("%Y-%m")
        out.append(item)
    if name == "month":
        present = {item["key"]: item for item in out}
        out = [present.get(m.strftime("%Y-%m")) or {"key": m.strftime("%Y-%m"), "label": f"{m.year}年{m.month}月",
                                                      **numbers({})}
               for m in source.filters.months]
    elif name == "area":
        out.sort(key=lambda i: str(i["key"]))
    elif name in ("state", "level", "source", "mode"):
        order = _choice_order(source, name)
        out.sort(key=lambda i: order.get(i["key"], 99))
    else:
        first = "found" if source.kind == "hazards" else "inspections"
        out.sort(key=lambda i: (-i[first], str(i["label"])))
    return out


def _choice_order(source: _Source, name: str) -> dict:
    from yingji.hazards.models import Level, Source, State
    from yingji.inspections.models import InspectionState, Mode

    choices = {"state": State if source.kind == "hazards" else InspectionState, "level": Level, "source": Source,
               "mode": Mode}[name]
    return {v: i for i, v in enumerate(choices.values)}


@dataclass
class Figures:
    kind: str
    as_of: datetime.datetime | None
    live: bool
    filters: Filters
    focus: Area | None
    totals: dict
    breakdowns: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "as_of": self.as_of, "live": self.live, "filters": self.filters.as_dict(),
                "focus_area": _ref(self.focus), "totals": self.totals, **{f"by_{k}": v for k, v in
                                                                           self.breakdowns.items()}}


def _figures(source: _Source, dimensions, numbers) -> Figures:
    as_of = timezone.now() if source.live else (source.run.as_of if source.run is not None else None)
    totals = numbers(source.aggregate(source.base_grain))
    return Figures(kind=source.kind, as_of=as_of, live=source.live, filters=source.filters, focus=source.focus,
                   totals=totals, breakdowns={name: _breakdown(source, name, numbers) for name in dimensions})


def hazard_figures(user, filters: Filters, run: RollupRun | None = None) -> Figures:
    """Hazard figures for ``user``: totals and breakdowns by state, level, area, sector,
    campaign, month and source."""
    run = run if run is not None else services.latest_run()
    return _figures(HazardSource(user, filters, rollup_scope(user), run), HAZARD_DIMENSIONS, _hazard_numbers)


def inspection_figures(user, filters: Filters, run: RollupRun | None = None) -> Figures:
    """Inspection figures for ``user``: totals and breakdowns by mode, state, area, sector,
    campaign and month (the level filter does not apply)."""
    run = run if run is not None else services.latest_run()
    return _figures(InspectionSource(user, filters, rollup_scope(user), run), INSPECTION_DIMENSIONS,
                    _inspection_numbers)
