"""``{{ value|mask_phone }}``: the one phone mask of ``core.privacy`` in templates."""
from django import template

from .. import privacy

register = template.Library()


@register.filter
def mask_phone(value) -> str:
    return privacy.mask_phone(value)
