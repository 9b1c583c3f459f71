"""``{% export_button "hazards" %}``: the list page's "导出Excel" link to ``/exports/<list>/``
carrying the page's current query string (without the page cursor); nothing for users who may
not export the list."""
from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag(takes_context=True)
def export_button(context, name):
    from yingji.core import exports
    from yingji.core.errors import NotFound

    request = context.get("request")
    user = getattr(request, "user", None)
    try:
        exports.exportable(user, name)
    except NotFound:
        return ""
    query = request.GET.copy()
    query.pop("cursor", None)
    url = reverse("exports:export", args=[name]) + ("?" + query.urlencode() if query else "")
    return format_html('<a class="btn" href="{}" data-testid="export-xlsx">{}</a>', url, _("导出Excel"))
