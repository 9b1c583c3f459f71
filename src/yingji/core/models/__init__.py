"""Core models: areas, organisations, sectors, people and roles, audit, attachments, jobs."""
from .areas import Area, AreaLevel
from .orgs import Organisation, OrgKind, Sector
from .accounts import ApiToken, LoginFailure, RoleAssignment, User
from .audit import AuditEntry
from .attachments import Attachment
from .jobs import Job, JobStatus
from .notifications import Notification, NotificationKind, OutboxMessage, OutboxStatus

__all__ = [
    "Area", "AreaLevel", "Organisation", "OrgKind", "Sector", "User", "RoleAssignment",
    "ApiToken", "LoginFailure", "AuditEntry", "Attachment", "Job", "JobStatus",
    "Notification", "NotificationKind", "OutboxMessage", "OutboxStatus",
]
