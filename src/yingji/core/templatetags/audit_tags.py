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


@register.filter
def audit_field(key: str) -> str:
    """A recorded key's Chinese name (fallback table; model fields use their verbose_name)."""
    from ..audit_display import field_label

    return field_label(None, key)
