from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..scoping import ScopedModel


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
    with its error. Scoped by the area it concerns.
    """

    scope_area = "area"

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
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("后台任务")
        verbose_name_plural = _("后台任务")
        indexes = [models.Index(fields=["status", "run_after"]),
                   # the retention purge: finished jobs of a status older than a cut-off
                   models.Index(fields=["status", "finished_at"], name="job_status_finished")]
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="job_idempotency_key_unique")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    @property
    def percent(self) -> int:
        if self.status == JobStatus.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(self.progress_done * 100 / self.progress_total))
