"""Roles and what each may do: the one readable table.

A user holds role assignments; each binds a role to an area subtree (块) and optionally to
sectors (条) or, for enterprise safety managers, to sites. What a role may do is the set of
capabilities below; where it may do it is the assignment's area/sector/site binding, applied by
``yingji.core.scoping``.
"""
from django.utils.translation import gettext_lazy as _

CITY_ADMIN = "city_admin"
DEPT_OFFICER = "dept_officer"
TOWN_OFFICER = "town_officer"
GRID_WORKER = "grid_worker"
INSPECTOR = "inspector"
ENTERPRISE = "enterprise"
LEADER = "leader"

ROLE_CHOICES = [
    (CITY_ADMIN, _("市级管理员")),
    (DEPT_OFFICER, _("部门监管人员")),
    (TOWN_OFFICER, _("镇街工作人员")),
    (GRID_WORKER, _("村社/网格员")),
    (INSPECTOR, _("执法检查人员")),
    (ENTERPRISE, _("企业安全管理员")),
    (LEADER, _("领导(只读)")),
]
ROLE_LABELS = dict(ROLE_CHOICES)

# Capabilities.
VIEW = "view"                  # read records in scope
EDIT = "edit"                  # change records in scope
REPORT = "report"              # report hazards / events in scope
ENFORCE = "enforce"            # enforcement actions (cases, penalties)
VIEW_AUDIT = "view_audit"      # read the audit trail of records in scope
MANAGE_USERS = "manage_users"  # create users, grant and revoke roles in scope
MANAGE_AREAS = "manage_areas"  # create, rename, move and archive areas in scope
MANAGE_REFERENCE = "manage_reference"  # organisations, sectors and other reference data

CAPABILITIES: dict[str, frozenset[str]] = {
    CITY_ADMIN: frozenset({VIEW, EDIT, REPORT, ENFORCE, VIEW_AUDIT, MANAGE_USERS, MANAGE_AREAS, MANAGE_REFERENCE}),
    DEPT_OFFICER: frozenset({VIEW, EDIT, REPORT, VIEW_AUDIT}),
    TOWN_OFFICER: frozenset({VIEW, EDIT, REPORT, VIEW_AUDIT, MANAGE_USERS}),
    GRID_WORKER: frozenset({VIEW, REPORT}),
    INSPECTOR: frozenset({VIEW, EDIT, REPORT, ENFORCE, VIEW_AUDIT}),
    ENTERPRISE: frozenset({VIEW, REPORT}),
    LEADER: frozenset({VIEW, VIEW_AUDIT}),
}

# Which roles a holder of MANAGE_USERS may grant (always inside their own area subtree).
GRANTABLE: dict[str, frozenset[str]] = {
    CITY_ADMIN: frozenset(CAPABILITIES),
    TOWN_OFFICER: frozenset({TOWN_OFFICER, GRID_WORKER, ENTERPRISE}),
}

# Roles that are bound to sites rather than to an area subtree (the registry adds sites).
SITE_BOUND_ROLES = frozenset({ENTERPRISE})
# Roles that may be narrowed to sectors.
SECTOR_ROLES = frozenset({DEPT_OFFICER, INSPECTOR, LEADER, CITY_ADMIN})


def has_capability(role: str, capability: str) -> bool:
    return capability in CAPABILITIES.get(role, frozenset())
