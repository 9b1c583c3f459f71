"""Server-side clustering of sites for the map, per viewport (bbox) and zoom.

The map shows exactly the sites of the list: it starts from :func:`queries.site_search` with the
same filters, keeps the located sites inside the bounding box and groups them on a fixed grid in
SQL (``GROUP BY floor(lat/cell), floor(lng/cell)`` with COUNT, AVG and per-colour counts), so a
county of 170,000 sites costs one aggregate query and at most :data:`MAX_FEATURES` features.

* The grid is absolute (cells are aligned on multiples of the cell size, not on the viewport), so
  panning keeps clusters stable.
* The cell size follows the zoom (about :data:`CELL_PX` screen pixels) and is enlarged when a
  (possibly hostile) bbox would hold more than :data:`MAX_FEATURES` cells.
* A cell holding a single site becomes a point (id, name, colour). At zoom ≥ :data:`POINT_ZOOM`
  with at most :data:`POINT_LIMIT` sites in view, every site is a point.
* Sites without coordinates cannot be drawn; they are counted (``unlocated``).

Works on SQLite and PostgreSQL (ORM expressions only). Index used: ``(latitude, longitude)``
for the bbox range.

**Pre-aggregated cells.** Reading every site of a wide view does not scale (2M sites: over a
second per request). :func:`refresh_cells` (job ``registry.refresh_map``, every 10 minutes by
default) counts the located, not archived sites per cell of :data:`BASE_ZOOM` × own area × colour
× status into :class:`~yingji.registry.models.MapCell`; a view whose cells are that size or
larger adds those cells up instead of reading sites — when the user's scope is areas only (no
sector or site bindings) and the filters are among area, colour and status. The answer's
``as_of`` is then the run's time; anything else (text, sector, industry, trait, kind filters,
archived sites, sector-bound users, close zooms, no run yet) reads the sites live.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Avg, Count, F, FloatField, IntegerField, Min, Q, Sum, Value
from django.db.models.functions import Cast, Coalesce, Floor
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from yingji.core.errors import InvalidInput

from .models import MapCell, MapCellRun, RiskColour, Site, SiteStatus
from .queries import resolve_area, site_search

MAX_FEATURES = 2000      # upper bound of clusters + points in one answer
CELL_PX = 64             # target cell size in screen pixels
TILE_PX = 256
POINT_ZOOM = 16          # from this zoom on, small views show every site
POINT_LIMIT = 500        # … when at most this many are in view
MIN_ZOOM, MAX_ZOOM = 0, 22
COLOURS = [c.value for c in RiskColour]          # red, orange, yellow, blue (most severe first)
SEVERITY = {c: i for i, c in enumerate(COLOURS)}
NONE = "none"                                    # not rated (drawn grey)
FILTERS = ("q", "area", "sector", "industry", "trait", "colour", "status", "kind")
BASE_ZOOM = 14           # the pre-aggregated cells: the cell of this zoom (about 600 m)
CELL_FILTERS = {"area", "colour", "status"}   # filters the cells answer
KEEP_RUNS = 2            # cell runs kept (the newest answers; the one before serves readers mid-refresh)


@dataclass(frozen=True)
class BBox:
    west: float
    south: float
    east: float
    north: float


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, detail={field: message})


def parse_bbox(text) -> BBox:
    """``"w,s,e,n"`` in WGS-84 degrees → :class:`BBox`; anything else raises a Chinese error."""
    message = _("地图范围无效,应为“西,南,东,北”四个经纬度数值")
    if not isinstance(text, str) or not text.strip():
        raise _bad("bbox", message)
    parts = text.split(",")
    if len(parts) != 4:
        raise _bad("bbox", message)
    try:
        w, s, e, n = (float(p) for p in parts)
    except ValueError:
        raise _bad("bbox", message) from None
    if not all(math.isfinite(v) for v in (w, s, e, n)):
        raise _bad("bbox", message)
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise _bad("bbox", _("地图范围无效:须西<东、南<北,经度在±180、纬度在±90之间"))
    return BBox(w, s, e, n)


def parse_zoom(value) -> int:
    message = _("缩放级别无效,应为%(lo)d到%(hi)d之间的整数") % {"lo": MIN_ZOOM, "hi": MAX_ZOOM}
    try:
        zoom = int(str(value).strip())
    except (TypeError, ValueError):
        raise _bad("zoom", message) from None
    if not MIN_ZOOM <= zoom <= MAX_ZOOM:
        raise _bad("zoom", message)
    return zoom


def cell_size(zoom: int, bbox: BBox | None = None) -> float:
    """Grid cell in degrees for ``zoom``: about CELL_PX pixels, doubled until the bbox holds at
    most MAX_FEATURES cells. Always a power-of-two fraction of 360° so cells nest across zooms."""
    cell = 360.0 / (2 ** zoom) * CELL_PX / TILE_PX
    if bbox is not None:
        while math.ceil((bbox.east - bbox.west) / cell + 1) * math.ceil((bbox.north - bbox.south) / cell + 1) \
                > MAX_FEATURES:
            cell *= 2
    return cell


def _dec(value: float, rounding: str) -> Decimal:
    """``value`` at the coordinates' precision, rounded outwards so edge sites stay inside."""
    try:
        return Decimal(repr(value)).quantize(Decimal("0.000001"), rounding=rounding)
    except InvalidOperation:  # pragma: no cover - parse_bbox keeps values finite
        raise _bad("bbox", _("地图范围无效")) from None


def located(qs):
    return qs.filter(latitude__isnull=False, longitude__isnull=False)


def in_bbox(qs, bbox: BBox):
    return located(qs).filter(latitude__gte=_dec(bbox.south, ROUND_FLOOR),
                              latitude__lte=_dec(bbox.north, ROUND_CEILING),
                              longitude__gte=_dec(bbox.west, ROUND_FLOOR),
                              longitude__lte=_dec(bbox.east, ROUND_CEILING))


def filtered_sites(user, filters: dict, include_archived: bool = False):
    """The list's query (:func:`site_search`) with the same filters."""
    kwargs = {k: filters.get(k) for k in FILTERS if filters.get(k) not in (None, "")}
    return site_search(user, include_archived=include_archived, **kwargs)


def dominant_colour(counts: dict) -> str:
    """The most frequent rating among rated sites (ties: the more severe); ``none`` if unrated."""
    best, best_n = NONE, 0
    for colour in COLOURS:   # severe first, so ties keep the severe one
        if counts.get(colour, 0) > best_n:
            best, best_n = colour, counts[colour]
    return best


def _point(row: dict) -> dict:
    colour = row["risk_colour"] or NONE
    return {"id": row["id"], "name": row["name"], "lat": float(row["latitude"]), "lng": float(row["longitude"]),
            "colour": colour, "url": reverse("registry:detail", args=[row["id"]])}


def _points(qs) -> list[dict]:
    return [_point(r) for r in qs.order_by("id").values("id", "name", "latitude", "longitude", "risk_colour")]


def clusters(qs, cell: float):
    """Grid-aggregate ``qs`` (already restricted to the bbox): one dict per non-empty cell."""
    lat = Cast(F("latitude"), FloatField())
    lng = Cast(F("longitude"), FloatField())
    colour_counts = {f"n_{c}": Count("id", filter=Q(risk_colour=c)) for c in COLOURS}
    return (qs.order_by()
            .values(gy=Floor(lat / cell), gx=Floor(lng / cell))
            .annotate(n=Count("id"), lat=Avg(lat), lng=Avg(lng), first_id=Min("id"), **colour_counts))


def site_map(user, bbox: BBox, zoom: int, filters: dict | None = None, include_archived: bool = False,
             count_unlocated: bool = True) -> dict:
    """Clusters and points of the sites ``user`` sees with ``filters`` inside ``bbox`` at ``zoom``:
    ``{"clusters", "points", "total", "unlocated", "cell", "zoom", "as_of"}``. ``total`` is the
    number of located sites in the bbox (= sum of cluster counts + number of points).
    ``unlocated`` does not depend on the bbox: a client that only pans may skip it
    (``count_unlocated=False`` gives ``None``)."""
    base = filtered_sites(user, filters or {}, include_archived)
    cell = cell_size(zoom, bbox)
    if zoom < POINT_ZOOM and not include_archived:
        from_cells = _from_cells(user, base, bbox, cell, filters or {}, count_unlocated)
        if from_cells is not None:
            from_cells["zoom"] = zoom
            return from_cells
    view = in_bbox(base, bbox)
    unlocated = None
    if count_unlocated:
        unlocated = base.filter(Q(latitude__isnull=True) | Q(longitude__isnull=True)).count()
    result = {"clusters": [], "points": [], "total": 0, "unlocated": unlocated, "zoom": zoom,
              "as_of": timezone.now().isoformat(), "cell": cell}
    if zoom >= POINT_ZOOM:
        limit = min(POINT_LIMIT, MAX_FEATURES)
        rows = list(view.order_by("id").values("id", "name", "latitude", "longitude", "risk_colour")[:limit + 1])
        if len(rows) <= limit:
            result["points"] = [_point(r) for r in rows]
            result["total"] = len(rows)
            return result
    single_ids = []
    for row in clusters(view, cell):
        result["total"] += row["n"]
        if row["n"] == 1:
            single_ids.append(row["first_id"])
            continue
        counts = {c: row[f"n_{c}"] for c in COLOURS}
        counts[NONE] = row["n"] - sum(counts.values())
        result["clusters"].append({
            "lat": round(row["lat"], 6), "lng": round(row["lng"], 6), "count": row["n"],
            "colour": dominant_colour(counts), "colours": counts,
        })
    if single_ids:
        result["points"] = _points(view.filter(pk__in=single_ids))
    result["clusters"].sort(key=lambda c: (-c["count"], c["lat"], c["lng"]))
    return result


# ---------------------------------------------------------------- pre-aggregated cells

def base_cell() -> float:
    return cell_size(BASE_ZOOM)


def refresh_cells() -> MapCellRun:
    """Recount the map cells from the sites (one ``INSERT … SELECT``), as a new run; older runs
    beyond :data:`KEEP_RUNS` are deleted (derived data). Run by the ``registry.refresh_map`` job."""
    from yingji.core.sqlinsert import insert_select

    started = timezone.now()
    base = base_cell()
    lat = Cast(F("latitude"), FloatField())
    lng = Cast(F("longitude"), FloatField())
    with transaction.atomic():
        run = MapCellRun.objects.create(as_of=started, finished_at=started)
        rows = (located(Site.objects.filter(archived_at__isnull=True)).order_by()
                .values("status", d_gy=Cast(Floor(lat / base), IntegerField()),
                        d_gx=Cast(Floor(lng / base), IntegerField()), d_area_code=F("area__code"),
                        d_colour=Coalesce(F("risk_colour"), Value("")))
                .annotate(m_n=Count("id"), m_sum_lat=Sum(lat), m_sum_lng=Sum(lng), m_min_id=Min("id"),
                          d_run_id=Value(run.pk, output_field=IntegerField())))
        cells = insert_select(MapCell, rows)
        sites = MapCell.objects.filter(run=run).aggregate(n=Sum("n"))["n"] or 0
        finished = timezone.now()
        MapCellRun.objects.filter(pk=run.pk).update(
            finished_at=finished, cells=cells, sites=sites,
            duration_ms=int((finished - started).total_seconds() * 1000))
        old = list(MapCellRun.objects.order_by("-id").values_list("pk", flat=True)[KEEP_RUNS:])
        if old:
            MapCell.objects.filter(run_id__in=old).delete()
            MapCellRun.objects.filter(pk__in=old).delete()
    run.refresh_from_db()
    return run


def _cell_scope(user) -> Q | None:
    """The user's scope as a filter on ``MapCell.area_code`` — None when the cells cannot answer
    exactly (a grant bound to sectors or sites, or no grant that may view)."""
    from yingji.core import roles
    from yingji.core.scoping import grants_for

    grants = [g for g in grants_for(user) if g.allows(roles.VIEW)]
    if not grants or any(g.sector_ids or g.site_ids is not None for g in grants):
        return None
    if any(g.area_is_root for g in grants):
        return Q()
    q = Q(pk__in=[])
    for g in grants:
        q |= Q(area_code__startswith=g.area_code)
    return q


def _from_cells(user, base_qs, bbox: BBox, cell: float, filters: dict, count_unlocated: bool) -> dict | None:
    """The clusters from the newest cell run, or None when the cells cannot answer this request."""
    given = {k for k in FILTERS if filters.get(k) not in (None, "")}
    base = base_cell()
    if not given <= CELL_FILTERS or cell < base:
        return None
    factor = round(cell / base)
    if factor < 1 or abs(factor * base - cell) > 1e-12 or factor & (factor - 1):
        return None  # pragma: no cover - cell sizes are the base cell times a power of two
    scope = _cell_scope(user)
    if scope is None:
        return None
    run = MapCellRun.objects.order_by("-id").first()
    if run is None:
        return None
    cond = scope
    if "area" in given:
        area = resolve_area(filters["area"])  # raises the list's Chinese error for a bad value
        cond &= Q(area_code__startswith=area.code)
    if "colour" in given:
        if filters["colour"] not in RiskColour.values:
            return None  # the live path answers with the list's error
        cond &= Q(colour=filters["colour"])
    if "status" in given:
        if filters["status"] not in SiteStatus.values:
            return None
        cond &= Q(status=filters["status"])
    cells = (MapCell.objects.filter(run=run).filter(cond)
             .filter(gy__gte=math.floor(bbox.south / base), gy__lte=math.floor(bbox.north / base),
                     gx__gte=math.floor(bbox.west / base), gx__lte=math.floor(bbox.east / base)))
    gy = Floor(Cast(F("gy"), FloatField()) / factor)
    gx = Floor(Cast(F("gx"), FloatField()) / factor)
    colour_counts = {f"n_{c}": Sum("n", filter=Q(colour=c)) for c in COLOURS}
    rows = (cells.order_by().values(cy=gy, cx=gx)
            .annotate(total=Sum("n"), slat=Sum("sum_lat"), slng=Sum("sum_lng"), first_id=Min("min_id"),
                      **colour_counts))
    result = {"clusters": [], "points": [], "total": 0, "cell": cell, "as_of": run.as_of.isoformat(),
              "unlocated": (base_qs.filter(Q(latitude__isnull=True) | Q(longitude__isnull=True)).count()
                            if count_unlocated else None)}
    single_ids = []
    for row in rows:
        n = row["total"]
        result["total"] += n
        if n == 1:
            single_ids.append(row["first_id"])
            continue
        counts = {c: row[f"n_{c}"] or 0 for c in COLOURS}
        counts[NONE] = n - sum(counts.values())
        result["clusters"].append({
            "lat": round(row["slat"] / n, 6), "lng": round(row["slng"] / n, 6), "count": n,
            "colour": dominant_colour(counts), "colours": counts,
        })
    if single_ids:
        # Points are read live, through the user's scope (a site archived since the run drops out).
        result["points"] = _points(base_qs.filter(pk__in=single_ids))
    result["clusters"].sort(key=lambda c: (-c["count"], c["lat"], c["lng"]))
    return result


TOWN_CODE_LEN = 9   # 330681001: the town level of the prefix-nested area codes


def town_labels(user, towns) -> list[dict]:
    """A light base layer for maps without tiles: one label per town of ``towns`` (an Area
    queryset already limited to the user's scope), placed at the town's own coordinates or, when
    it has none (we hold no boundary polygons), at the centroid of the located sites the user can
    see in it. Towns with neither are left out. ``[{"name", "lat", "lng", "sites"}]``."""
    from yingji.core.models import AreaLevel

    towns = list(towns.filter(level=AreaLevel.TOWN).values("code", "name", "latitude", "longitude"))
    if not towns:
        return []
    sums: dict[str, list[float]] = {}
    rows = (located(Site.objects.visible_to(user).filter(archived_at__isnull=True))
            .values("area__code").annotate(n=Count("id"), lat=Avg("latitude"), lng=Avg("longitude")))
    for row in rows:
        town = (row["area__code"] or "")[:TOWN_CODE_LEN]
        acc = sums.setdefault(town, [0, 0.0, 0.0])
        acc[0] += row["n"]
        acc[1] += float(row["lat"]) * row["n"]
        acc[2] += float(row["lng"]) * row["n"]
    labels = []
    for t in towns:
        n, slat, slng = sums.get(t["code"], (0, 0.0, 0.0))
        if t["latitude"] is not None and t["longitude"] is not None:
            lat, lng = float(t["latitude"]), float(t["longitude"])
        elif n:
            lat, lng = slat / n, slng / n
        else:
            continue
        labels.append({"name": t["name"], "lat": round(lat, 5), "lng": round(lng, 5), "sites": n})
    return labels
