"""Every audit action the code writes has a Chinese name (object and verb) in core/audit_labels.py."""
from __future__ import annotations

import ast
import pathlib

from yingji.core import audit_labels

SRC = pathlib.Path(audit_labels.__file__).resolve().parents[1]
# audit.record(action, …), audit.record_many(action, …), privacy.record_export(user, action, …),
# registry.bulk.record_audit_many(model, action, …). (@audit.service names are the write paths'
# names, not audit actions: nobody reads them, so they need no label.)
RECORDERS = {"record": 0, "record_many": 0, "record_export": 1, "record_audit_many": 1}


def _actions() -> dict[str, str]:
    """Action strings passed as the first argument of audit.record / record_many / @audit.service
    (and privacy.record_export), with the file they are used in."""
    found: dict[str, str] = {}
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name not in RECORDERS:
                continue
            for arg in node.args[RECORDERS[name]:RECORDERS[name] + 1]:
                values = [arg]
                if isinstance(arg, ast.IfExp):  # "job.failed" if exhausted else "job.reclaim"
                    values = [arg.body, arg.orelse]
                for value in values:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str) and "." in value.value:
                        found.setdefault(value.value, str(path.relative_to(SRC)))
    return found


def _dynamic_actions() -> dict[str, str]:
    """Actions built from a choice value (``f"hazard.{action}"`` and the like)."""
    from yingji.core.models.notifications import OutboxStatus
    from yingji.hazards.models import Action
    from yingji.supervision.models import EventAction

    found = {}
    for value in Action.values:
        found[f"hazard.{value}"] = found[f"hazard.{value}_repeat"] = "hazards/services.py"
    for value in EventAction.values:
        found[f"supervision.{value}"] = "supervision/services.py"
    for value in OutboxStatus.values:
        found[f"outbox.{value}"] = "core/notifications.py"
    found["campaign.activate"] = found["campaign.close"] = "inspections/services.py"
    return found


def test_the_scan_finds_the_actions():
    actions = _actions()
    assert len(actions) > 50
    assert {"site.import_create", "job.failed", "job.reclaim", "auth.login", "audit.export"} <= set(actions)


def test_every_action_has_a_chinese_label():
    missing = []
    for action, where in sorted({**_actions(), **_dynamic_actions()}.items()):
        label = audit_labels.action_label(action)
        if not label or any(part.isascii() for part in label.split(":")):
            missing.append(f"{action} ({where}): {label}")
    assert not missing, "audit actions without a Chinese label in core/audit_labels.py:\n" + "\n".join(missing)


def test_labels_read_as_chinese():
    assert audit_labels.action_label("hazard.send_back") == "隐患:退回"
    assert audit_labels.action_label("auth.login") == "账号:登录"
    assert audit_labels.action_label("hazard.verify_repeat") == "隐患:验收销号(重复提交)"
    assert audit_labels.action_label("nothing.new") == "nothing:new"  # unknown: shown, never hidden
