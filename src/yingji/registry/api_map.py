"""Map API, mounted at /api/v1/map: clustered sites per viewport and zoom.

``GET /api/v1/map/sites?bbox=w,s,e,n&zoom=z&<filters>`` takes the filters of the site list
(``q, area (or area_id), sector, industry, trait, colour, status, kind, archived``) and answers
``{clusters, points, total, unlocated, cell, zoom, as_of}`` (see :mod:`yingji.registry.maps`).
``with_unlocated=0`` skips the count of sites without coordinates (``unlocated: null``): it does
not depend on the viewport, so the map page asks for it only when the filters change.
"""
from __future__ import annotations

from ninja import Router, Schema

from yingji.core.api import ERRORS

from . import maps

router = Router(tags=["registry"])

TRUE = {"1", "true", "on", "yes"}


class ColourCounts(Schema):
    red: int
    orange: int
    yellow: int
    blue: int
    none: int


class ClusterOut(Schema):
    lat: float
    lng: float
    count: int
    colour: str
    colours: ColourCounts


class PointOut(Schema):
    id: int
    name: str
    lat: float
    lng: float
    colour: str
    url: str


class MapOut(Schema):
    clusters: list[ClusterOut]
    points: list[PointOut]
    total: int
    unlocated: int | None
    cell: float
    zoom: int
    as_of: str


@router.get("/sites", response={200: MapOut, **ERRORS}, summary="地图:按视野与缩放级别聚合的监管对象")
def map_sites(request, bbox: str | None = None, zoom: str | None = None, q: str | None = None,
              area: str | None = None, area_id: str | None = None, sector: str | None = None,
              industry: str | None = None, trait: str | None = None, colour: str | None = None,
              status: str | None = None, kind: str | None = None, archived: str | None = None,
              include_archived: str | None = None, with_unlocated: str | None = None):
    box = maps.parse_bbox(bbox)
    z = maps.parse_zoom(zoom)
    filters = {"q": q, "area": area or area_id, "sector": sector, "industry": industry, "trait": trait,
               "colour": colour, "status": status, "kind": kind}
    with_archived = (archived or include_archived or "").strip().lower() in TRUE
    count_unlocated = (with_unlocated or "1").strip().lower() in TRUE
    return maps.site_map(request.user, box, z, filters, include_archived=with_archived,
                         count_unlocated=count_unlocated)
