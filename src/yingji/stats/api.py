"""Figures API, mounted at /api/v1/stats.

``GET /api/v1/stats/hazards`` and ``GET /api/v1/stats/inspections`` return the same numbers as
the page ``/stats/``: totals and breakdowns, scoped to the caller, with ``as_of`` (the time the
records were read by the last refresh; ``live`` = computed from the records just now).
Filters: ``from`` / ``to`` (months, ``YYYY-MM``; default: this year), ``area`` (id; its subtree),
``sector`` (id or code), ``campaign`` (id), ``level`` (hazards only). Bad values answer 422 with
the field in ``detail``.
"""
from __future__ import annotations

import datetime

from ninja import Query, Router, Schema, Status
from pydantic import Field

from yingji.core.api import ERRORS

from . import figures, services

router = Router(tags=["stats"])


class StatsRef(Schema):
    id: int
    name: str


class FiltersOut(Schema):
    from_: str = Field(..., alias="from")
    to: str
    area: StatsRef | None
    sector: StatsRef | None
    campaign: StatsRef | None
    level: str | None


class HazardNumbers(Schema):
    found: int
    major: int
    general: int
    closed: int
    open: int
    overdue_open: int
    fixed_on_spot: int
    closed_on_time: int
    rectification_rate: float | None = Field(None, description="整改率(%) = 已销号 ÷ 排查发现")
    on_time_rate: float | None = Field(None, description="按期整改率(%) = 按期销号 ÷ 已销号")
    avg_close_days: float | None = Field(None, description="平均整改用时(天)")


class HazardRow(HazardNumbers):
    key: str | int | None
    label: str
    area_id: int | None = None


class HazardFiguresOut(Schema):
    as_of: datetime.datetime | None
    live: bool
    filters: FiltersOut
    focus_area: StatsRef | None
    totals: HazardNumbers
    by_state: list[HazardRow]
    by_level: list[HazardRow]
    by_area: list[HazardRow]
    by_sector: list[HazardRow]
    by_campaign: list[HazardRow]
    by_month: list[HazardRow]
    by_source: list[HazardRow]


class InspectionNumbers(Schema):
    inspections: int
    completed: int
    items_total: int
    items_failed: int
    hazards_found: int


class InspectionRow(InspectionNumbers):
    key: str | int | None
    label: str
    area_id: int | None = None


class InspectionFiguresOut(Schema):
    as_of: datetime.datetime | None
    live: bool
    filters: FiltersOut
    focus_area: StatsRef | None
    totals: InspectionNumbers
    by_mode: list[InspectionRow]
    by_state: list[InspectionRow]
    by_area: list[InspectionRow]
    by_sector: list[InspectionRow]
    by_campaign: list[InspectionRow]
    by_month: list[InspectionRow]


class RefreshOut(Schema):
    job_id: int
    status: str


class FilterParams(Schema):
    from_: str | None = Field(None, alias="from", description="起始月份 YYYY-MM")
    to: str | None = Field(None, description="截止月份 YYYY-MM")
    area: str | None = Field(None, description="区域ID(含下级)")
    sector: str | None = Field(None, description="行业领域ID或编码")
    campaign: str | None = Field(None, description="专项行动ID")
    level: str | None = Field(None, description="隐患等级 general/major")


def _raw(params: FilterParams) -> dict:
    return {"from": params.from_, "to": params.to, "area": params.area, "sector": params.sector,
            "campaign": params.campaign, "level": params.level}


@router.get("/hazards", response={200: HazardFiguresOut, **ERRORS}, by_alias=True,
            summary="隐患统计(排查、整改、超期、整改率,按状态/等级/区域/行业/专项行动/月份/来源)")
def hazard_stats(request, params: Query[FilterParams]):
    filters = figures.parse_filters(request.user, _raw(params))
    return figures.hazard_figures(request.user, filters).as_dict()


@router.get("/inspections", response={200: InspectionFiguresOut, **ERRORS}, by_alias=True,
            summary="检查统计(按检查方式/状态/区域/行业/专项行动/月份)")
def inspection_stats(request, params: Query[FilterParams]):
    raw = _raw(params)
    raw["level"] = None
    filters = figures.parse_filters(request.user, raw)
    return figures.inspection_figures(request.user, filters).as_dict()


@router.post("/refresh", response={202: RefreshOut, **ERRORS}, summary="刷新统计数据(管理员;排队后台任务)")
def refresh(request):
    job = services.request_refresh(request.user)
    return Status(202, {"job_id": job.pk, "status": job.status})
