"""Risk grading API, mounted at /api/v1/risk: the active rule set (read; publish for
administrators) and a site's current grade with its factors and its history."""
from __future__ import annotations

import datetime

from ninja import Router, Schema, Status
from pydantic import Field

from yingji.core.api import ERRORS
from yingji.core.errors import NotFound
from yingji.core.pagination import keyset_page

from . import queries, services
from .models import RuleSet, SiteRiskAssessment

router = Router(tags=["risk"])


class Thresholds(Schema):
    red: int = Field(description="红色(重大风险)分值下限")
    orange: int = Field(description="橙色(较大风险)分值下限")
    yellow: int = Field(description="黄色(一般风险)分值下限")


class RuleOut(Schema):
    factor: str
    match: str
    points: int
    per_unit: int
    cap: int | None
    floor_colour: str
    label: str


class RuleSetOut(Schema):
    id: int
    name: str
    version: int
    is_active: bool
    thresholds: Thresholds
    published_at: datetime.datetime
    published_by: str | None
    note: str
    changes: dict
    rules: list[RuleOut]
    recompute_job_id: int | None = None


class RuleIn(Schema):
    factor: str
    match: str | int | None = ""
    points: int | str | None = None
    per_unit: int | str | None = 0
    cap: int | str | None = None
    floor_colour: str | None = ""
    label: str | None = ""


class RuleSetIn(Schema):
    name: str = ""
    note: str = ""
    thresholds: Thresholds
    rules: list[RuleIn]


class FactorOut(Schema):
    factor: str
    kind: str
    label: str
    value: int | str | None
    value_display: str
    points: int
    floor: str


class RiskSiteRef(Schema):
    id: int
    name: str


class AssessmentOut(Schema):
    id: int
    colour: str
    colour_label: str
    score: int
    ruleset_version: int
    reason: str
    previous_colour: str
    computed_at: datetime.datetime
    factors: list[FactorOut]


class SiteRiskOut(Schema):
    site: RiskSiteRef
    colour: str | None
    score: int | None
    assessment: AssessmentOut | None
    thresholds: Thresholds | None
    dynamic: dict


class HistoryPage(Schema):
    items: list[AssessmentOut]
    next_cursor: str | None


def _ruleset_out(rs: RuleSet, job=None) -> dict:
    return {
        "id": rs.pk, "name": rs.name, "version": rs.version, "is_active": rs.is_active, "thresholds": rs.thresholds,
        "published_at": rs.published_at, "published_by": str(rs.published_by) if rs.published_by_id else None,
        "note": rs.note, "changes": rs.changes or {},
        "rules": [services.rule_dict(r) for r in rs.rules.order_by("sort", "id")],
        "recompute_job_id": job.pk if job is not None else None,
    }


def _assessment_out(a: SiteRiskAssessment, hide_counts: bool = False) -> dict:
    return {"id": a.pk, "colour": a.colour, "colour_label": a.colour_label, "score": a.score,
            "ruleset_version": a.ruleset.version, "reason": a.reason, "previous_colour": a.previous_colour,
            "computed_at": a.computed_at, "factors": queries.explain(a.factors, hide_counts=hide_counts)}


@router.get("/rules", response={200: RuleSetOut, **ERRORS}, summary="现行风险分级规则")
def get_rules(request):
    rs = services.active_ruleset()
    if rs is None:
        raise NotFound("尚未发布风险分级规则")
    return _ruleset_out(rs)


@router.post("/rules", response={201: RuleSetOut, **ERRORS}, summary="发布新版本风险分级规则(管理员)")
def publish_rules(request, payload: RuleSetIn):
    rs = services.publish_ruleset(request.user, [r.dict() for r in payload.rules], payload.thresholds.dict(),
                                  name=payload.name, note=payload.note)
    from yingji.core.models import Job

    job = Job.objects.filter(idempotency_key=f"{services.RECOMPUTE_JOB}:{rs.pk}").first()
    return Status(201, _ruleset_out(rs, job))


@router.get("/sites/{int:site_id}", response={200: SiteRiskOut, **ERRORS}, summary="监管对象的风险等级及计分因素")
def site_risk(request, site_id: int):
    site = queries.visible_site(request.user, site_id)
    current = queries.current_assessment(request.user, site)
    visible = queries.visible_open_counts(request.user, site)
    hide = not queries.sees_all_hazards(request.user, site, visible)
    return {
        "site": {"id": site.pk, "name": site.name},
        "colour": current.colour if current else None,
        "score": current.score if current else None,
        "assessment": _assessment_out(current, hide) if current else None,
        "thresholds": current.ruleset.thresholds if current else None,
        "dynamic": {d["factor"]: d["count"] for d in queries.dynamic_counts(request.user, site, visible)},
    }


@router.get("/sites/{int:site_id}/history", response={200: HistoryPage, **ERRORS}, summary="风险评定历史(键集分页)")
def site_history(request, site_id: int, cursor: str | None = None, limit: int = 50):
    site = queries.visible_site(request.user, site_id)
    items, next_cursor = keyset_page(queries.assessments_of(request.user, site).select_related("ruleset"),
                                     cursor, limit)
    hide = not queries.sees_all_hazards(request.user, site)
    return {"items": [_assessment_out(a, hide) for a in items], "next_cursor": next_cursor}
