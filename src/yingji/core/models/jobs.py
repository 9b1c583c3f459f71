from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .. import roles
from ..scoping import Grant, ScopedModel, area_subtree_ids, subject_q


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("执行中")
    SUCCEEDED = "succeeded", _("已完成")
    FAILED = "failed", _("失败")
    CANCELLED = "cancelled", _("已取消")


class Job(ScopedModel):
    """A unit of background work (import, export, report, notification, escalation).

    Workers claim queued jobs by a conditional UPDATE (and ``SKIP LOCKED`` on PostgreSQL), so
    several workers never run one job twice; a job whose worker died is reclaimed after its
    lease expires; a job that raises is retried up to ``max_attempts`` and then marked failed
    with its error.

    Who sees a job (a side record: it reveals what it is about, see ``scope_q``): a person's job
    only that person (within the areas where they still view records); a system job (no
    creator) whoever may see its subject (``subject_type``/``subject_id``, e.g. the site of a
    risk regrade) and the user administrators (``manage_users``) of its area. Cancelling: one's
    own job, or a system job by the user administrators of its area.
    """

    scope_area = "area"
    scope_capabilities = {"view": roles.VIEW, "edit": roles.MANAGE_USERS}

    kind = models.CharField(_("任务类型"), max_length=64)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(default=0)
    message = models.CharField(_("进度说明"), max_length=200, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(_("错误"), blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    run_after = models.DateTimeField(_("计划时间"))
    claimed_by = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Written by the running worker every few seconds (core.jobs.Heartbeat); a RUNNING job whose
    # heartbeat is older than JOB_HEARTBEAT_TIMEOUT is reclaimed before its lease runs out.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)  # unique: Meta.constraints
    area = models.ForeignKey("core.Area", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    # The record a system job is about (a site for ``hazards.feed_risk``); see ``scope_q``.
    subject_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", db_index=False)
    subject_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("后台任务")
        verbose_name_plural = _("后台任务")
        indexes = [models.Index(fields=["status", "run_after"]),
                   # the retention purge: finished jobs of a status older than a cut-off
                   models.Index(fields=["status", "finished_at"], name="job_status_finished"),
                   models.Index(fields=["subject_type", "subject_id"], name="core_job_subject")]
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="job_idempotency_key_unique")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    @classmethod
    def scope_q(cls, grant: Grant, action: str) -> Q | None:
        if action not in ("view", "edit"):
            return None
        area = cls.location_q(grant)  # the job's area inside the grant's (None for site-bound grants)
        parts = []
        if area is not None and grant.user_id is not None and grant.allows(roles.VIEW):
            parts.append(Q(created_by_id=grant.user_id) & area)  # one's own jobs
        if area is not None and grant.allows(roles.MANAGE_USERS):
            parts.append(Q(created_by__isnull=True) & area)  # system jobs: the user administrators
        if action == "view":
            about = subject_q(grant, "view", type_field="subject_type", id_field="subject_id",
                              models=job_subject_models())
            if about is not None:
                parts.append(Q(created_by__isnull=True) & about)  # system jobs: who sees the subject
        if not parts:
            return None
        q = parts[0]
        for part in parts[1:]:
            q |= part
        return q

    @classmethod
    def location_q(cls, grant: Grant) -> Q | None:
        if grant.site_ids is not None:
            return None
        if grant.area_is_root:
            return Q()
        return Q(area_id__in=area_subtree_ids(grant.area_code))

    @property
    def percent(self) -> int:
        if self.status == JobStatus.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(self.progress_done * 100 / self.progress_total))


def job_subject_models() -> list:
    """The models system jobs are about (declared by their handlers: ``job_handler(subject=…)``)."""
    from django.apps import apps

    return [apps.get_model(label) for label in _subject_labels()]


def _no_subjects() -> list[str]:
    return []


# core.jobs (which holds the handlers and imports these models) installs the real source of
# subject labels when it is imported; a model importing core.jobs back would make a circle.
_subject_labels = _no_subjects


def set_subject_label_source(source) -> None:
    global _subject_labels
    _subject_labels = source
