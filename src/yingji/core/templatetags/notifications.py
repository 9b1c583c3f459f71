"""``{% load notifications %}{% unread_badge %}``: the inbox link with the unread count, for the header."""
from django import template
from django.urls import reverse

from .. import notifications as service

register = template.Library()

BADGE_CAP = 100  # count at most this many (one cheap query per page); shown as "99+"


def badge_context(user) -> dict:
    count = service.unread_count(user, cap=BADGE_CAP) if getattr(user, "is_authenticated", False) else 0
    return {
        "count": count,
        "display": "99+" if count >= BADGE_CAP else str(count),
        "url": reverse("notifications:inbox"),
        "refresh_url": reverse("notifications:badge"),
    }


@register.inclusion_tag("core/partials/inbox_badge.html", takes_context=True)
def unread_badge(context):
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return {"count": 0, "hidden": True}
    return badge_context(user)
