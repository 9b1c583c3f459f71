"""``{% load risk_tags %}{% site_risk_panel site %}``: the risk card of a site profile (colour,
top factors, link to the risk page). The tag runs its own scoped read of the latest assessment."""
from django import template

from .. import queries

register = template.Library()


@register.inclusion_tag("risk/partials/site_risk.html", takes_context=True)
def site_risk_panel(context, site, top: int = 3):
    request = context.get("request")
    user = getattr(request, "user", None)
    assessment = queries.current_assessment(user, site) if site is not None and site.pk else None
    return {
        "request": request, "risk_site": site, "risk_assessment": assessment,
        "risk_top_factors": queries.top_factors(assessment.factors, top) if assessment else [],
    }
