"""Reads of risk grading shared by pages, the API and the site-profile panel. Every read of
assessments starts from ``SiteRiskAssessment.objects.visible_to(user)``."""
from __future__ import annotations

from django.utils.translation import gettext as _

from yingji.core.services import get_visible

from .models import DYNAMIC_FIELDS, Colour, Factor, RuleSet, SiteRiskAssessment, SiteRiskFactor

# The dynamic factors that count hazards (the others come from other modules' records).
HAZARD_FIELDS = (str(Factor.OPEN_HAZARDS), str(Factor.OPEN_MAJOR_HAZARDS), str(Factor.OVERDUE_HAZARDS))
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


def explain(factors, *, hide_counts: bool = False) -> list[dict]:
    """Factors of an assessment, ready to show: kind, label, value, points, floor (highest points first
    is left to the caller: this keeps rule order). ``hide_counts``: leave out the hazard counts of
    the dynamic factors (the viewer does not see every hazard they count; see :func:`sees_all_hazards`)."""
    rows = []
    for f in factors or []:
        factor = f.get("factor", "")
        value = f.get("value")
        if factor in HAZARD_FIELDS and hide_counts:
            value, shown = None, ""
        elif factor in DYNAMIC_FIELDS:
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


def _no_counts(user, site) -> dict:
    return {f: 0 for f in HAZARD_FIELDS}


# The hazards app (above risk) installs the source of a site's open-hazard counts when it is
# ready: ``source(user, site)`` with ``user`` None counting every hazard. Without it: zeros.
_open_counts_source = None


def set_open_counts_source(source) -> None:
    global _open_counts_source
    _open_counts_source = source


def _open_counts(user, site) -> dict:
    if _open_counts_source is None:
        return _no_counts(user, site)
    row = _open_counts_source(user, site)
    return {f: row.get(f) or 0 for f in HAZARD_FIELDS}


def visible_open_counts(user, site) -> dict:
    """The site's open, open major and overdue hazards that ``user`` may see (a count is a side
    record of the hazards it counts: ``Hazard.objects.visible_to``)."""
    return _open_counts(user, site)


def sees_all_hazards(user, site, visible: dict | None = None) -> bool:
    """Whether ``user`` sees every open hazard the site's dynamic factors count (else the
    factors' counts are left out of the explanation; the grade itself belongs to the site)."""
    if _open_counts_source is None:
        return True
    visible = visible_open_counts(user, site) if visible is None else visible
    return _open_counts(None, site) == visible


def dynamic_counts(user, site, visible: dict | None = None) -> list[dict]:
    """The dynamic factors as ``user`` may read them: the hazard counts of the hazards they see;
    the other factors as stored for the site."""
    row = SiteRiskFactor.objects.filter(site_id=site.pk).first()
    counts = row.counts() if row else {f: 0 for f in DYNAMIC_FIELDS}
    counts.update(visible_open_counts(user, site) if visible is None else visible)
    return [{"factor": f, "label": factor_kind_label(f), "count": counts[f]} for f in DYNAMIC_FIELDS]


def rules_of(ruleset: RuleSet) -> list[dict]:
    out = []
    for r in ruleset.rules.order_by("sort", "id"):
        out.append({"factor": r.factor, "kind": factor_kind_label(r.factor), "match": r.match,
                    "match_label": match_label(r.factor, r.match) if r.match else "",
                    "points": r.points, "per_unit": r.per_unit, "cap": r.cap, "floor_colour": r.floor_colour,
                    "floor_label": colour_label(r.floor_colour), "label": r.label, "is_dynamic": r.is_dynamic})
    return out
