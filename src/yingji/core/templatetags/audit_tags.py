from django import template

from ..audit_labels import action_label

register = template.Library()


@register.filter
def audit_action(action: str) -> str:
    """``{{ entry.action|audit_action }}`` → a readable name such as 隐患:退回."""
    return action_label(action)
