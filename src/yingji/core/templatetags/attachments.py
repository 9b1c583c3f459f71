"""``{% load attachments %}{% attachment_panel object can_attach %}``: the attachments panel of a record.

The tag runs the read (visible, non-archived attachments of the record) so that templates
including the panel need not; ``can_attach`` may be passed by the page (it already knows
whether the record is editable) or is worked out here. The upload service re-checks it anyway.
"""
from django import template
from django.conf import settings

from .. import attachments as service

register = template.Library()


@register.inclusion_tag("core/partials/attachment_panel.html", takes_context=True)
def attachment_panel(context, obj, can_attach=None):
    request = context.get("request")
    user = getattr(request, "user", None)
    items = []
    model = ""
    if obj is not None and getattr(obj, "pk", None) is not None:
        items = list(service.attachments_for(user, obj)[:200])
        model = service.model_label(type(obj))
    if can_attach is None or can_attach == "":
        can_attach = service.can_attach(user, obj)
    else:
        can_attach = bool(can_attach) and model not in service.NOT_ATTACHABLE \
            and getattr(obj, "archived_at", None) is None
    return {
        "request": request,
        "object": obj,
        "model": model,
        "items": items,
        "can_attach": bool(can_attach) and bool(model),
        "max_mb": service.max_size_label(settings.ATTACHMENT_MAX_BYTES),
        "next": request.get_full_path() if request is not None else "",
    }
