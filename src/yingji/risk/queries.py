"""Reads of risk grading shared by pages, the API and the site-profile panel. Every read of
assessments starts from ``SiteRiskAssessment.objects.visible_to(user)``."""
from __future__ import annotations

from django.utils.translation import gettext as _

from yingji.core.services import get_visible

from .models import DYNAMIC_FIELDS, Colour, Factor, RuleSet, SiteRiskAssessment, SiteRiskFactor
from .services import match_label


def visible_site(user, site_id):
    from yingji.registry.models import Site

    return get_visible(Site, user, site_id)


def assessments_of(user, site):
    return SiteRiskAssessment.objects.visible_to(user).filter(site_id=site.pk)


def current_assessment(user, site) -> SiteRiskAssessment | None:
    return assessments_of(user, site).select_related("ruleset").order_by("-id").first()


def factor_kind_label(factor: str) -> str:
    return str(Factor(factor).label) if factor in Factor.values else factor


def colour_label(colour: str) -> str:
    return str(Colour(colour).label) if colour in Colour.values else ""


def explain(factors) -> list[dict]:
    """Factors of an assessment, ready to show: kind, label, value, points, floor (highest points first
    is left to the caller: this keeps rule order)."""
    rows = []
    for f in factors or []:
        factor = f.get("factor", "")
        value = f.get("value")
        if factor in DYNAMIC_FIELDS:
            shown = _("%(n)s项") % {"n": value}
        elif factor == Factor.EMPLOYEES_AT_LEAST:
            shown = _("%(n)s人") % {"n": value}
        else:
            shown = match_label(factor, str(value)) if value is not None else ""
        rows.append({"factor": factor, "kind": factor_kind_label(factor), "label": f.get("label", ""),
                     "value": value, "value_display": shown, "points": f.get("points", 0),
                     "floor": f.get("floor") or "", "floor_label": colour_label(f.get("floor") or "")})
    return rows


def top_factors(factors, n: int = 3) -> list[dict]:
    return sorted(explain(factors), key=lambda f: -abs(int(f["points"] or 0)))[:n]


def dynamic_counts(site) -> list[dict]:
    row = SiteRiskFactor.objects.filter(site_id=site.pk).first()
    counts = row.counts() if row else {f: 0 for f in DYNAMIC_FIELDS}
    return [{"factor": f, "label": factor_kind_label(f), "count": counts[f]} for f in DYNAMIC_FIELDS]


def rules_of(ruleset: RuleSet) -> list[dict]:
    out = []
    for r in ruleset.rules.order_by("sort", "id"):
        out.append({"factor": r.factor, "kind": factor_kind_label(r.factor), "match": r.match,
                    "match_label": match_label(r.factor, r.match) if r.match else "",
                    "points": r.points, "per_unit": r.per_unit, "cap": r.cap, "floor_colour": r.floor_colour,
                    "floor_label": colour_label(r.floor_colour), "label": r.label, "is_dynamic": r.is_dynamic})
    return out
