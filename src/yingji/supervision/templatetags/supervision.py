"""``{% supervision_panel hazard %}``: on a hazard's page, its listing (挂牌督办) if it has one the
user may see, or the "挂牌督办" button for a major, open hazard the user may list."""
from django import template

from yingji.core.errors import YingjiError

from .. import services
from ..models import Listing

register = template.Library()


@register.inclusion_tag("supervision/partials/hazard_panel.html", takes_context=True)
def supervision_panel(context, hazard):
    user = context.get("user") or getattr(context.get("request"), "user", None)
    listing = Listing.objects.visible_to(user).filter(hazard_id=hazard.pk).first()
    can_list = False
    if listing is None and hazard.level == "major" and hazard.is_open:
        try:
            services.check_listable(user, hazard)
            can_list = True
        except YingjiError:
            can_list = False
    return {"hazard": hazard, "listing": listing, "can_list": can_list}
