"""Audit changes as a person reads them: Chinese field names, choice labels, 是/否, local times.

The stored ``changes`` stay raw (``{"state": ["reported", "accepted"]}``) for machines; this module
is the ONE place that turns them into ``[{"field": "state", "label": "状态", "before": "待受理",
"after": "已受理"}]`` — used by the audit list page, the audit export, the API
(``changes_display``) and the timelines of detail pages.

Field names: the subject model's field ``verbose_name`` when it is Chinese, else the fallback
table ``audit_labels.FIELDS``, else the key itself (never hidden). Values: a field's choices by
their label, booleans 是/否, date-times in the current time zone (Asia/Shanghai), lists joined,
anything else as text.
"""
from __future__ import annotations

import datetime
import json

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone

from . import audit_labels
from .audit_labels import action_label  # noqa: F401  (re-exported: one import for display code)


def _field(model, key: str):
    if model is None:
        return None
    try:
        return model._meta.get_field(key)
    except (FieldDoesNotExist, TypeError):
        return None


def field_label(model, key: str) -> str:
    field = _field(model, key)
    name = str(getattr(field, "verbose_name", "") or "") if field is not None else ""
    if name and not name.isascii():
        return name
    return str(audit_labels.FIELDS.get(key, key))


def _local_datetime(value: str) -> str | None:
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if timezone.is_naive(moment):
        return None
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def value_display(model, key: str, value) -> str:
    if value is None or value == "":
        return audit_labels.EMPTY
    field = _field(model, key)
    if isinstance(value, bool):
        return str(audit_labels.YES if value else audit_labels.NO)
    choices = getattr(field, "flatchoices", None) if field is not None else None
    if choices:
        for option, label in choices:
            if option == value or str(option) == str(value):
                return str(label)
    if isinstance(value, str):
        if isinstance(field, models.DateTimeField) or (len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T"):
            local = _local_datetime(value)
            if local is not None:
                return local
        return value
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (dict, list)) for v in value):
            return "、".join(value_display(None, key, v) for v in value) or audit_labels.EMPTY
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _model_of(entry):
    ct = getattr(entry, "content_type", None)
    return ct.model_class() if ct is not None else None


def changes_display(entry) -> list[dict]:
    """The entry's changes, readable: one dict per changed key (in the stored order)."""
    model = _model_of(entry)
    rows = []
    for key, pair in (entry.changes or {}).items():
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            before, after = pair
        else:  # a key recorded with a single value
            before, after = None, pair
        rows.append({
            "field": key, "label": field_label(model, key),
            "before": value_display(model, key, before), "after": value_display(model, key, after),
        })
    return rows


def changes_text(entry) -> str:
    """One line per change, for the export: ``状态: 待受理 → 已受理``."""
    return "\n".join(f"{r['label']}: {r['before']} → {r['after']}" for r in changes_display(entry))


def local_time(moment: datetime.datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def is_system_job_entry(entry) -> bool:
    """A job-machinery entry written by no person (queued/started/finished/retried by the worker)."""
    return entry.actor_id is None and str(entry.action).startswith("job.")
