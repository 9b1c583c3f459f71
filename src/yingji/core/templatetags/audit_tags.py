from django import template

from ..audit_labels import action_label

register = template.Library()


@register.filter
def audit_action(action: str) -> str:
    """``{{ entry.action|audit_action }}`` → a readable name such as 隐患:退回."""
    return action_label(action)


@register.filter
def audit_changes(entry) -> list[dict]:
    """``{% for c in entry|audit_changes %}{{ c.label }}: {{ c.before }} → {{ c.after }}`` (Chinese)."""
    from ..audit_display import changes_display

    return changes_display(entry)
