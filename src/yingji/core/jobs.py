"""Background jobs: a database-backed queue that works on SQLite and PostgreSQL.

Enqueue work with :func:`enqueue` (a service: checked, audited); run it with ``yingji worker``
(:func:`run_worker`). A worker claims one due job at a time:

* PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED`` inside a transaction, so several workers
  never wait on or take the same row;
* SQLite: a compare-and-set ``UPDATE … WHERE id = ? AND status = 'queued'`` (writers are
  serialised by ``BEGIN IMMEDIATE``), and only the worker whose update changed one row owns it.

Every claim carries a lease (``JOB_LEASE_SECONDS``), renewed whenever the handler reports
progress and by the worker's heartbeat: while a handler runs, a thread of the worker writes
``heartbeat_at`` and extends the lease every ``JOB_HEARTBEAT_SECONDS``. A worker that dies (killed,
out of memory, machine restarted) stops beating; a RUNNING job whose heartbeat is older than
``JOB_HEARTBEAT_TIMEOUT`` (or whose lease ran out) is put back in the queue by the next reclaim
check of any worker (every ``RECLAIM_CHECK_SECONDS``), or marked failed once its attempts are used
up — within a minute of the last heartbeat with the defaults (10 s, 50 s, 10 s).
A handler that raises is retried with exponential backoff up to ``max_attempts``, then marked
failed with the tail of its traceback. Every status change writes an audit entry, so the audit
trail shows each job's whole life — except the routine start and success of kinds registered with
``audit_runs=False``: system bookkeeping queued by the system itself, many times a day (the risk
regrade after every hazard change), whose effects are audited where they change something and
whose job row keeps when it ran, where and with what result. Their queueing, retries, failures
and reclaims are audited like any other job's.

Handlers are registered with ``@job_handler("app.kind")`` in a module named ``jobs`` of an
installed app (discovered like ``admin.py``). A handler is ``func(job, progress)`` and
returns a JSON-able dict; ``progress(done, total, message="")`` records progress (throttled)
and renews the lease. Jobs run at least once: a handler whose lease was lost may have run in
part, so handlers must be safe to run again. Raise :class:`JobError` to fail without retrying.
"""
from __future__ import annotations

import datetime
import json
import logging
import os
import re
import secrets
import signal
import socket
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import audit, queries, roles, services
from .audit import service
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .models import Area, Job, JobStatus
from .models import jobs as _models_jobs
from .scoping import grants_for

log = logging.getLogger("yingji.jobs")

PROGRESS_INTERVAL = 0.5          # seconds between progress writes
RETRY_BASE_SECONDS = 30          # first retry after 30 s, then 60, 120, … (capped)
RETRY_MAX_SECONDS = 3600
RECLAIM_BATCH = 50
RECLAIM_CHECK_SECONDS = 10.0    # a running worker looks for expired leases at most this often
ERROR_TAIL_CHARS = 4000
IDEMPOTENCY_KEY_MAX = 100
MAX_ATTEMPTS_LIMIT = 20
EXPORT_DIR_NAME = "exports"
_EXPORT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.xlsx$")


class JobError(Exception):
    """Raise in a handler to fail the job at once (no retry); the message is shown to users."""


class JobLeaseLost(Exception):
    """The job is no longer ours (lease expired and reclaimed, or cancelled): stop working on it."""


# ---------------------------------------------------------------- handler registry

@dataclass(frozen=True)
class Handler:
    kind: str
    func: Callable
    label: object
    creator_only_download: bool = False
    audit_runs: bool = True
    subject: str | None = None        # model label of the record a job of this kind is about
    subject_param: str | None = None  # the param holding that record's id


HANDLERS: dict[str, Handler] = {}
_discovered = False


def job_handler(kind: str, *, label=None, creator_only_download: bool = False, audit_runs: bool = True,
                subject: tuple[str, str] | None = None):
    """Register ``func(job, progress) -> dict`` as the handler of jobs of ``kind``.

    ``creator_only_download``: the job's result file holds data read with its creator's rights,
    so only the creator may download it (others who see the job see its status only).
    ``audit_runs=False``: no audit entries for the routine start and success of these jobs (see
    the module's docstring); only for system work that no person queues.
    ``subject=("app.Model", "param")``: a job of this kind is about the record whose id is in
    ``params[param]``; it is recorded on the job, and a system job is visible to whoever may see
    that record (``Job.scope_q``).
    """
    subject_label, subject_param = subject if subject else (None, None)

    def decorate(func):
        if kind in HANDLERS and HANDLERS[kind].func is not func:
            raise ValueError(f"job kind {kind!r} is already registered")
        HANDLERS[kind] = Handler(kind=kind, func=func, label=label or kind,
                                 creator_only_download=creator_only_download, audit_runs=audit_runs,
                                 subject=subject_label, subject_param=subject_param)
        return func

    return decorate


def autodiscover() -> None:
    """Import the ``jobs`` module of every installed app so their handlers are registered."""
    global _discovered
    if not _discovered:
        autodiscover_modules("jobs")
        _discovered = True


def get_handler(kind: str) -> Handler | None:
    if kind not in HANDLERS:
        autodiscover()
    return HANDLERS.get(kind)


def subject_labels() -> list[str]:
    """The model labels jobs may be about (for ``Job.scope_q``): those handlers declare."""
    autodiscover()
    return sorted({h.subject for h in HANDLERS.values() if h.subject})


_models_jobs.set_subject_label_source(subject_labels)


def _subject_of(handler: Handler, params: dict) -> tuple[int | None, int | None]:
    """(content type id, object id) of the record a job is about, from the param its handler
    declares (``job_handler(subject=…)``)."""
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType

    if not handler.subject:
        return None, None
    try:
        object_id = int((params or {}).get(handler.subject_param))
    except (TypeError, ValueError):
        return None, None
    return ContentType.objects.get_for_model(apps.get_model(handler.subject)).pk, object_id


def shows_result(user, job: Job) -> bool:
    """Whether ``user`` (who sees ``job``) may read what it found — its result, progress message
    and error: the person who queued it, or for a system job the user administrators of its area.
    Others who see a system job through its subject see its status only (the result of a regrade
    counts hazards they may not see)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if job.created_by_id is not None:
        return job.created_by_id == user.pk
    code = job.area.code
    return any(g.site_ids is None and g.allows(roles.MANAGE_USERS) and code.startswith(g.area_code)
               for g in grants_for(user))


def redacted(user, job: Job) -> Job:
    """``job`` as ``user`` may read it: without its result, progress message and error unless
    :func:`shows_result` (the instance is changed in memory only, never saved)."""
    if not shows_result(user, job):
        job.result, job.message, job.error = {}, "", ""
        job._redacted = True
    return job


def _audits_runs(kind: str) -> bool:
    handler = get_handler(kind)
    return handler is None or handler.audit_runs


def kind_label(kind: str) -> str:
    handler = get_handler(kind)
    return str(handler.label) if handler else kind


# ---------------------------------------------------------------- enqueue and cancel

def _json_dict(value, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(_("%(what)s须为JSON对象") % {"what": what}, detail={"params": _("须为JSON对象")})
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except (TypeError, ValueError):
        raise InvalidInput(_("%(what)s无法保存为JSON") % {"what": what},
                           detail={"params": _("无法保存为JSON")}) from None


def can_own_job_in(user, area: Area) -> bool:
    """Whether a job in ``area`` will be visible to ``user`` (jobs are scoped by area only, so a
    sector-narrowed grant over the area counts too)."""
    for g in grants_for(user):
        if g.site_ids is None and g.allows(roles.VIEW) and area.code.startswith(g.area_code):
            return True
    return False


@service("core.enqueue_job")
def enqueue(actor, kind: str, *, area: Area, params=None, run_after=None, idempotency_key=None,
            max_attempts=None) -> Job:
    """Queue a job of ``kind`` concerning ``area``. ``actor=None`` is the system (scheduled work).

    With an ``idempotency_key``, a second call with the same key returns the first job instead
    of queueing another one (also when two calls race).
    """
    handler = get_handler(kind or "")
    if handler is None:
        raise InvalidInput(_("未知的任务类型:%(kind)s") % {"kind": kind}, detail={"kind": _("未知的任务类型")})
    if area is None:
        raise InvalidInput(_("请选择任务所属区域"), detail={"area": _("请选择任务所属区域")})
    if actor is not None:
        if not getattr(actor, "is_authenticated", False):
            raise Forbidden(_("请先登录"))
        if not can_own_job_in(actor, area):
            services.require(actor, roles.VIEW, area)  # raises NotFound / Forbidden
            raise Forbidden()  # pragma: no cover - require() is stricter than can_own_job_in()
        if area.is_archived:
            raise InvalidInput(_("该区域已归档"), detail={"area": _("该区域已归档")})
    params = _json_dict(params, _("任务参数"))
    if max_attempts is None:
        max_attempts = settings.JOB_MAX_ATTEMPTS
    try:
        max_attempts = int(max_attempts)
    except (TypeError, ValueError):
        max_attempts = 0
    if not 1 <= max_attempts <= MAX_ATTEMPTS_LIMIT:
        raise InvalidInput(_("最多尝试次数须在1到%(n)d之间") % {"n": MAX_ATTEMPTS_LIMIT},
                           detail={"max_attempts": _("最多尝试次数无效")})
    if run_after is not None and timezone.is_naive(run_after):
        run_after = timezone.make_aware(run_after)
    key = (idempotency_key or "").strip() or None
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX:
        raise InvalidInput(_("幂等键不能超过%(n)d个字符") % {"n": IDEMPOTENCY_KEY_MAX},
                           detail={"idempotency_key": _("幂等键过长")})

    if key is not None:
        existing = Job.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return _repeat(actor, existing, kind)
    subject_type_id, subject_id = _subject_of(handler, params)
    job = Job(kind=kind, params=params, area=area, run_after=run_after or timezone.now(),
              max_attempts=max_attempts, idempotency_key=key,
              created_by=actor, subject_type_id=subject_type_id, subject_id=subject_id)
    try:
        with transaction.atomic():  # savepoint: a lost race on the unique key rolls back only this
            job.save(force_insert=True)
    except IntegrityError:
        existing = Job.objects.filter(idempotency_key=key).first() if key else None
        if existing is None:
            raise
        return _repeat(actor, existing, kind)
    audit.record("job.enqueue", job, {"kind": [None, kind], "area": [None, area.code], "params": [None, params],
                                      "run_after": [None, job.run_after]}, actor=actor)
    log.info("job %s queued (%s, area %s)", job.pk, kind, area.code)
    return job


def enqueue_coalesced(kind: str, *, area: Area, params: dict, run_after: datetime.datetime, key: str) -> str:
    """System work that many writes ask for but that must run once (e.g. one risk regrade per
    site and time slot): queue a job under ``key`` unless one exists. One statement in the
    common cases — ``INSERT … ON CONFLICT DO NOTHING RETURNING id`` (SQLite: ``INSERT OR
    IGNORE``); an existing key costs one more read. No checks of an actor: callers are services
    that have checked theirs. A new job is audited (``job.enqueue``, as the system); a request
    coalesced into an existing job writes nothing.

    Returns the status of the job under ``key`` — ``queued`` when this call queued it or a queued
    one was there, else the status of the job that has already started or finished.
    """
    handler = get_handler(kind)
    if handler is None:
        raise InvalidInput(_("未知的任务类型:%(kind)s") % {"kind": kind}, detail={"kind": _("未知的任务类型")})
    subject_type_id, subject_id = _subject_of(handler, params)
    job = Job(kind=kind, params=params, area=area, run_after=run_after, max_attempts=settings.JOB_MAX_ATTEMPTS,
              idempotency_key=key, created_by=None, subject_type_id=subject_type_id, subject_id=subject_id)
    if _insert_unless_exists(job):
        audit.record("job.enqueue", job, {"kind": [None, kind], "area": [None, area.code], "params": [None, params],
                                          "run_after": [None, run_after]}, actor=None)
        log.debug("job %s queued (%s, area %s)", job.pk, kind, area.code)
        return JobStatus.QUEUED
    status = Job.objects.filter(idempotency_key=key).values_list("status", flat=True).first()
    return status or JobStatus.QUEUED


def _insert_unless_exists(obj) -> bool:
    """Insert ``obj`` unless a row with one of its unique values exists (``ON CONFLICT DO
    NOTHING``); set its pk and say whether it was inserted. A concurrent insert of the same key
    waits for the other transaction and then inserts nothing (PostgreSQL) — no savepoint, no
    aborted transaction."""
    from .sqlinsert import insert

    return bool(insert([obj], returning_pk=True, ignore_conflicts=True))


def _repeat(actor, existing: Job, kind: str) -> Job:
    """A repeated enqueue with a known idempotency key: the same job, never someone else's."""
    if actor is not None and not Job.objects.visible_to(actor).filter(pk=existing.pk).exists():
        raise Conflict(_("该幂等键已被其他任务使用"), detail={"idempotency_key": _("幂等键已被使用")})
    if existing.kind != kind:
        raise Conflict(_("该幂等键已用于其他类型的任务"), detail={"idempotency_key": _("幂等键已被使用")})
    audit.record("job.enqueue_repeat", existing, {}, note=_("重复提交,返回已有任务"), actor=actor)
    return existing


@service("core.cancel_job")
def cancel_job(actor, job: Job) -> Job:
    """Cancel a job that has not started yet."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise Forbidden(_("请先登录"))
    services.require_editable(job, actor)
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.status != JobStatus.QUEUED:
        raise InvalidInput(_("只能取消排队中的任务,该任务%(status)s") % {"status": job.get_status_display()})
    now = timezone.now()
    # Compare-and-set: a worker that claimed the job a moment ago wins.
    changed = Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=now, lease_until=None)
    if changed != 1:
        raise Conflict(_("任务已开始执行,不能取消"))
    job.refresh_from_db()
    audit.record("job.cancel", job, {"status": [JobStatus.QUEUED, JobStatus.CANCELLED]}, actor=actor)
    return job


# ---------------------------------------------------------------- claiming

def default_worker_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_delta() -> datetime.timedelta:
    return datetime.timedelta(seconds=max(1, settings.JOB_LEASE_SECONDS))


def retry_delay(attempts: int) -> datetime.timedelta:
    """Exponential backoff after the ``attempts``-th failed attempt."""
    seconds = RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)
    return datetime.timedelta(seconds=min(RETRY_MAX_SECONDS, seconds))


def _skip_locked() -> bool:
    return connection.features.has_select_for_update_skip_locked


def _system_context(job_pk=None):
    """Worker actions are system actions: no actor, a request id that ties a job's entries."""
    return audit.context(actor=None, request_id=f"job-{job_pk}" if job_pk else f"worker-{uuid.uuid4().hex[:8]}")


def heartbeat_timeout() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT)


def _abandoned(now) -> Q:
    """RUNNING jobs whose worker is gone: the lease ran out, or the heartbeat stopped."""
    return Q(lease_until__lt=now) | Q(heartbeat_at__lt=now - heartbeat_timeout())


def reclaim_expired(now=None) -> int:
    """Put RUNNING jobs whose worker is gone (no heartbeat for ``JOB_HEARTBEAT_TIMEOUT``, or the
    lease ran out: the worker died or hung) back in the queue, or mark them failed once their
    attempts are used up. Returns how many were reclaimed."""
    now = now or timezone.now()
    expired = list(Job.objects.filter(_abandoned(now), status=JobStatus.RUNNING)
                   .order_by("lease_until").values_list("pk", flat=True)[:RECLAIM_BATCH])
    count = 0
    for pk in expired:
        with _system_context(pk), transaction.atomic():
            qs = Job.objects.filter(_abandoned(now), pk=pk, status=JobStatus.RUNNING)
            if _skip_locked():
                qs = qs.select_for_update(skip_locked=True)
            job = qs.first()
            if job is None:
                continue
            exhausted = job.attempts >= job.max_attempts
            if job.lease_until is not None and job.lease_until < now:
                error = _("工作进程 %(worker)s 未在租约期内完成(第%(n)d次尝试),可能已中断") % {
                    "worker": job.claimed_by or "?", "n": job.attempts}
            else:
                error = _("工作进程 %(worker)s 已%(s)d秒无心跳(第%(n)d次尝试),可能已中断") % {
                    "worker": job.claimed_by or "?", "n": job.attempts,
                    "s": int((now - job.heartbeat_at).total_seconds())}
            fields = {"status": JobStatus.FAILED if exhausted else JobStatus.QUEUED, "error": error,
                      "claimed_by": "", "lease_until": None}
            if exhausted:
                fields["finished_at"] = now
            else:
                fields["run_after"] = now
            changed = Job.objects.filter(_abandoned(now), pk=pk, status=JobStatus.RUNNING,
                                         attempts=job.attempts).update(**fields)
            if changed != 1:  # pragma: no cover - the row is locked (PostgreSQL) / writers serialised (SQLite)
                continue
            audit.record("job.failed" if exhausted else "job.reclaim", job,
                         {"status": [JobStatus.RUNNING, fields["status"]], "claimed_by": [job.claimed_by, ""]},
                         note=error)
            count += 1
            log.warning("job %s: worker %s gone (lease or heartbeat expired), %s", pk, job.claimed_by,
                        "failed" if exhausted else "re-queued")
    return count


def try_claim(pk: int, worker_id: str, now=None) -> Job | None:
    """Compare-and-set claim of job ``pk``: returns the job if this worker now owns it, None if
    another worker got there first (or it is no longer queued and due)."""
    now = now or timezone.now()
    # No savepoint: inside claim_next's transaction a failure here ends that transaction anyway.
    with _system_context(pk), transaction.atomic(savepoint=False):
        changed = Job.objects.filter(pk=pk, status=JobStatus.QUEUED, run_after__lte=now).update(
            status=JobStatus.RUNNING, claimed_by=worker_id[:100], lease_until=now + lease_delta(),
            heartbeat_at=now, attempts=F("attempts") + 1, started_at=now, error="")
        if changed != 1:
            return None
        job = Job.objects.get(pk=pk)
        if _audits_runs(job.kind):
            audit.record("job.start", job, {"status": [JobStatus.QUEUED, JobStatus.RUNNING]},
                         note=_("工作进程 %(worker)s 开始第%(n)d次尝试") % {"worker": worker_id, "n": job.attempts})
    return job


def claim_next(worker_id: str, now=None, reclaim: bool = True) -> Job | None:
    """Claim the next due job for ``worker_id`` (reclaiming expired leases first unless
    ``reclaim`` is false), or None."""
    now = now or timezone.now()
    if reclaim:
        reclaim_expired(now)
    due = Job.objects.filter(status=JobStatus.QUEUED, run_after__lte=now).order_by("run_after", "id")
    if _skip_locked():
        # PostgreSQL: lock one due row, skipping rows other workers hold; claim it in the same
        # transaction (the conditional update is a second line of defence).
        with transaction.atomic():
            pk = due.select_for_update(skip_locked=True).values_list("pk", flat=True).first()
            if pk is None:
                return None
            return try_claim(pk, worker_id, now)
    # SQLite: compare-and-set over a few candidates; a lost race moves on to the next one.
    for pk in list(due.values_list("pk", flat=True)[:10]):
        job = try_claim(pk, worker_id, now)
        if job is not None:
            return job
    return None


# ---------------------------------------------------------------- running

class Heartbeat:
    """While a handler runs, a thread writes the job's ``heartbeat_at`` and extends its lease every
    ``JOB_HEARTBEAT_SECONDS`` (one small UPDATE of the row the worker owns), so a long job that
    reports no progress keeps its lease and a dead worker's job is noticed within a minute.

    The thread has its own database connection; a failed beat (database restarting, SQLite busy
    past its timeout) is logged and tried again at the next beat. When the job is no longer this
    worker's (0 rows changed), ``lost`` is set and the next progress call raises ``JobLeaseLost``.
    No thread runs when the job runs inside a caller's transaction (tests, nested calls): another
    connection could not see the claimed row, and would wait on its lock on PostgreSQL.
    """

    def __init__(self, job: Job, interval: float | None = None):
        self.job = job
        self.interval = float(settings.JOB_HEARTBEAT_SECONDS if interval is None else interval)
        self.lost = threading.Event()
        self.beats = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> bool:
        now = timezone.now()
        changed = _owned(self.job).update(heartbeat_at=now, lease_until=now + lease_delta())
        if changed != 1:
            self.lost.set()
            return False
        self.beats += 1
        return True

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    if not self.beat():
                        log.warning("job %s: no longer held by %s; heartbeat stopped", self.job.pk,
                                    self.job.claimed_by)
                        return
                except DatabaseError:
                    log.warning("job %s: heartbeat failed, trying again in %.0fs", self.job.pk, self.interval,
                                exc_info=True)
                    connection.close()
        finally:
            connection.close()

    def __enter__(self) -> "Heartbeat":
        if not connection.in_atomic_block:
            self._thread = threading.Thread(target=self._run, name=f"heartbeat-job-{self.job.pk}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class Progress:
    """``progress(done, total, message="")``: throttled progress writes that renew the lease."""

    def __init__(self, job: Job, interval: float = PROGRESS_INTERVAL, heartbeat: Heartbeat | None = None):
        self.job = job
        self.interval = interval
        self.heartbeat = heartbeat
        self._last = 0.0

    def __call__(self, done: int, total: int | None = None, message: str = "") -> None:
        if self.heartbeat is not None and self.heartbeat.lost.is_set():
            raise JobLeaseLost(f"job {self.job.pk} is no longer held by {self.job.claimed_by}")
        done = max(0, int(done))
        total = self.job.progress_total if total is None else max(0, int(total))
        message = str(message or "")[:200]
        self.job.progress_done, self.job.progress_total, self.job.message = done, total, message
        now = time.monotonic()
        if now - self._last < self.interval and not (total and done >= total):
            return
        self._last = now
        self.flush()

    def flush(self) -> None:
        job = self.job
        changed = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, claimed_by=job.claimed_by,
                                     attempts=job.attempts).update(
            progress_done=job.progress_done, progress_total=job.progress_total, message=job.message,
            lease_until=timezone.now() + lease_delta(), heartbeat_at=timezone.now())
        if changed != 1:
            raise JobLeaseLost(f"job {job.pk} is no longer held by {job.claimed_by}")


def _owned(job: Job):
    return Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, claimed_by=job.claimed_by,
                              attempts=job.attempts)


def _error_tail(exc: BaseException) -> str:
    if isinstance(exc, JobError):
        return str(exc)[:ERROR_TAIL_CHARS]
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return text[-ERROR_TAIL_CHARS:]


def _succeed(job: Job, result: dict) -> bool:
    now = timezone.now()
    with _system_context(job.pk), transaction.atomic():
        done = max(job.progress_done, job.progress_total)
        changed = _owned(job).update(status=JobStatus.SUCCEEDED, result=result, finished_at=now, lease_until=None,
                                     progress_done=done, progress_total=job.progress_total, message=job.message)
        if changed != 1:
            return False
        # The row is what this worker held plus what it just wrote: no need to read it back.
        job.status, job.result, job.finished_at, job.lease_until, job.progress_done = (
            JobStatus.SUCCEEDED, result, now, None, done)
        if _audits_runs(job.kind):
            audit.record("job.succeeded", job, {"status": [JobStatus.RUNNING, JobStatus.SUCCEEDED]},
                         note=_("第%(n)d次尝试成功") % {"n": job.attempts})
    return True


def _fail(job: Job, exc: BaseException) -> bool:
    now = timezone.now()
    error = _error_tail(exc)
    final = isinstance(exc, JobError) or job.attempts >= job.max_attempts
    with _system_context(job.pk), transaction.atomic():
        fields = {"error": error, "lease_until": None, "claimed_by": "",
                  "progress_done": job.progress_done, "progress_total": job.progress_total, "message": job.message}
        if final:
            fields.update(status=JobStatus.FAILED, finished_at=now)
        else:
            fields.update(status=JobStatus.QUEUED, run_after=now + retry_delay(job.attempts))
        changed = _owned(job).update(**fields)
        if changed != 1:
            return False
        claimed_by = job.claimed_by
        job.refresh_from_db()
        summary = (str(exc) or type(exc).__name__)[:300]
        if final:
            note = _("第%(n)d次尝试失败,任务失败:%(e)s") % {"n": job.attempts, "e": summary}
        else:
            note = _("第%(n)d次尝试失败,将于%(t)s重试:%(e)s") % {
                "n": job.attempts, "e": summary, "t": timezone.localtime(job.run_after).strftime("%H:%M:%S")}
        audit.record("job.failed" if final else "job.retry", job,
                     {"status": [JobStatus.RUNNING, job.status], "claimed_by": [claimed_by, ""]}, note=note)
    return True


def run_job(job: Job) -> Job:
    """Run a claimed job's handler and record the outcome (succeeded / retry / failed)."""
    handler = get_handler(job.kind)
    heartbeat = Heartbeat(job)
    progress = Progress(job)
    progress.heartbeat = heartbeat
    log.info("job %s (%s) attempt %d/%d started by %s", job.pk, job.kind, job.attempts, job.max_attempts,
             job.claimed_by)
    started = time.monotonic()
    try:
        if handler is None:
            raise JobError(_("未知的任务类型:%(kind)s") % {"kind": job.kind})
        with _system_context(job.pk), heartbeat:
            result = handler.func(job, progress)
        if result is None:
            result = {}
        if not isinstance(result, dict):
            raise JobError(_("任务结果须为JSON对象"))
        try:
            result = json.loads(json.dumps(result, cls=DjangoJSONEncoder))
        except (TypeError, ValueError):
            raise JobError(_("任务结果无法保存为JSON")) from None
    except JobLeaseLost:
        log.warning("job %s: lease lost, result discarded", job.pk)
        return job
    except Exception as exc:  # noqa: BLE001 - any handler failure is recorded, never lost
        if not _fail(job, exc):
            log.warning("job %s: failed after its lease was lost; outcome discarded", job.pk)
        else:
            log.warning("job %s (%s) %s after %.1fs: %s", job.pk, job.kind,
                        "failed" if job.status == JobStatus.FAILED else "will retry",
                        time.monotonic() - started, exc)
        return job
    if _succeed(job, result):
        log.info("job %s (%s) succeeded in %.1fs", job.pk, job.kind, time.monotonic() - started)
    else:
        log.warning("job %s: finished after its lease was lost; result discarded", job.pk)
    return job


SCHEDULE_CHECK_SECONDS = 30


def check_schedule(schedule=None) -> None:
    """Fail loudly when the schedule names a job kind nobody handles."""
    autodiscover()
    unknown = [kind for kind, _period in (settings.JOB_SCHEDULE if schedule is None else schedule)
               if kind not in HANDLERS]
    if unknown:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"YINGJI_SCHEDULE names unknown job kinds: {', '.join(unknown)}")


def enqueue_scheduled(now=None, schedule=None) -> list[Job]:
    """Queue the periodic jobs whose period slot has no job yet (``settings.JOB_SCHEDULE``).

    The idempotency key is the kind plus the slot number (time ÷ period), so any number of
    workers calling this at any rate queue each periodic job once per period."""
    check_schedule(schedule)
    root = Area.objects.filter(parent__isnull=True, archived_at__isnull=True).order_by("id").first()
    if root is None:
        return []
    now = now or timezone.now()
    queued = []
    with audit.context(request_id="scheduler"):
        for kind, period in settings.JOB_SCHEDULE if schedule is None else schedule:
            slot = int(now.timestamp()) // period
            queued.append(enqueue(None, kind, area=root, idempotency_key=f"schedule:{kind}:{period}:{slot}"))
    return queued


def run_worker(worker_id: str | None = None, once: bool = False, max_jobs: int | None = None,
               poll: float | None = None, stop_event: threading.Event | None = None,
               schedule: bool = False) -> int:
    """Claim and run jobs until stopped. ``once``: run the jobs that are due now, then return.
    ``schedule``: also queue the periodic jobs of ``settings.JOB_SCHEDULE`` when their time comes.
    SIGTERM/SIGINT stop the loop after the current job. Returns the number of jobs run."""
    autodiscover()
    if schedule:
        check_schedule()
    next_schedule = next_reclaim = 0.0
    worker_id = worker_id or default_worker_id()
    poll = settings.WORKER_POLL_SECONDS if poll is None else max(0.05, float(poll))
    stop_event = stop_event or threading.Event()
    previous = {}

    def on_signal(signum, frame):
        log.info("worker %s: %s received, stopping after the current job", worker_id, signal.Signals(signum).name)
        stop_event.set()
        for sig, old in previous.items():  # a second signal acts as usual
            signal.signal(sig, old)

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.getsignal(sig)
            signal.signal(sig, on_signal)
    ran = 0
    log.info("worker %s started (poll %.1fs, lease %ss)", worker_id, poll, settings.JOB_LEASE_SECONDS)
    try:
        while not stop_event.is_set():
            if not connection.in_atomic_block:
                close_old_connections()
            if schedule and time.monotonic() >= next_schedule:
                next_schedule = time.monotonic() + SCHEDULE_CHECK_SECONDS
                try:
                    enqueue_scheduled()
                except DatabaseError:
                    log.exception("worker %s: could not queue the periodic jobs", worker_id)
            reclaim = time.monotonic() >= next_reclaim
            if reclaim:
                next_reclaim = time.monotonic() + RECLAIM_CHECK_SECONDS
            try:
                job = claim_next(worker_id, reclaim=reclaim)
            except DatabaseError:
                if once or connection.in_atomic_block:
                    raise
                # Database restarting or locked for too long: keep the worker alive and try again.
                log.exception("worker %s: database error while claiming, retrying in %.1fs", worker_id, poll)
                connection.close()
                stop_event.wait(poll)
                continue
            if job is None:
                if once:
                    break
                stop_event.wait(poll)
                continue
            try:
                run_job(job)
            except DatabaseError:
                if once or connection.in_atomic_block:
                    raise
                # The outcome could not be written; the lease runs out and the job is reclaimed.
                log.exception("worker %s: database error while finishing job %s", worker_id, job.pk)
                connection.close()
            ran += 1
            if max_jobs and ran >= max_jobs:
                break
    finally:
        for sig, old in previous.items():
            if signal.getsignal(sig) is on_signal:
                signal.signal(sig, old)
        log.info("worker %s stopped after %d job(s)", worker_id, ran)
    return ran


# ---------------------------------------------------------------- result files

def export_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / EXPORT_DIR_NAME


def result_file(job: Job) -> Path | None:
    """The export file a succeeded job produced, if it still exists."""
    name = (job.result or {}).get("file") if job.status == JobStatus.SUCCEEDED else None
    if not isinstance(name, str) or not _EXPORT_NAME_RE.match(name) or ".." in name:
        return None
    path = export_dir() / name
    return path if path.is_file() else None


def can_download(user, job: Job) -> bool:
    """Whether ``user`` (who can see the job) may download its result file."""
    handler = get_handler(job.kind)
    if handler is not None and handler.creator_only_download and job.created_by_id is not None:
        return user is not None and user.pk == job.created_by_id
    return True


def downloadable_file(user, job_pk) -> tuple[Job, Path]:
    """The visible job ``job_pk`` and its result file, for a download by ``user``."""
    job = services.get_visible(Job, user, job_pk)
    if not can_download(user, job):
        raise Forbidden(_("只有任务发起人可以下载该导出文件"))
    path = result_file(job)
    if path is None:
        raise NotFound(_("该任务没有可下载的文件,或文件已被清理"))
    return job, path


def download_name(job: Job) -> str:
    name = (job.result or {}).get("filename")
    return name if isinstance(name, str) and name else f"job-{job.pk}.xlsx"


# ---------------------------------------------------------------- built-in handlers

@job_handler("core.echo", label=gettext_lazy("测试任务"), subject=("core.Area", "about_area"))
def echo(job: Job, progress: Progress) -> dict:
    """Test handler. Params: ``about_area`` (the area the job is about: its subject), ``steps`` (progress steps), ``sleep`` (seconds per step, ≤ 5),
    ``fail_times`` (raise on the first N attempts), ``fatal`` (fail at once, no retry),
    ``echo`` (returned as is)."""
    params = job.params or {}
    try:
        steps = max(0, min(10_000, int(params.get("steps", 0))))
        pause = max(0.0, min(5.0, float(params.get("sleep", 0))))
        fail_times = max(0, int(params.get("fail_times", 0)))
    except (TypeError, ValueError):
        raise JobError(_("任务参数无效")) from None
    if params.get("fatal"):
        raise JobError(str(params["fatal"]))
    if job.attempts <= fail_times:
        raise RuntimeError(f"echo: planned failure on attempt {job.attempts} of {fail_times}")
    for i in range(1, steps + 1):
        if pause:
            time.sleep(pause)
        progress(i, steps, _("第%(i)d步,共%(n)d步") % {"i": i, "n": steps})
    return {"echo": params.get("echo"), "steps": steps, "attempt": job.attempts}


AUDIT_EXPORT_HEADERS = [
    gettext_lazy("时间"), gettext_lazy("操作人"), gettext_lazy("操作"), gettext_lazy("对象类型"),
    gettext_lazy("对象编号"), gettext_lazy("对象"), gettext_lazy("变更"), gettext_lazy("说明"),
    gettext_lazy("来源IP"), gettext_lazy("请求号"),
]
XLSX_MAX_ROWS = 1_000_000  # data rows per sheet (Excel's limit is 1,048,576 rows)
XLSX_CELL_MAX = 32_767


def audit_filters(params: dict) -> dict:
    """The audit filters stored in a job's params, parsed back (bad values fail the job)."""
    out: dict = {}
    try:
        for name in ("model", "actor", "action"):
            value = params.get(name)
            if value:
                out[name] = str(value)
        if params.get("object_id"):
            out["object_id"] = int(params["object_id"])
        out["include_system"] = bool(params.get("include_system"))
        for name in ("since", "until"):
            if params.get(name):
                out[name] = datetime.date.fromisoformat(str(params[name]))
    except (TypeError, ValueError):
        raise JobError(_("导出条件无效")) from None
    return out


def _redacted_chunks(user, entries, cache: dict, size: int = 2000):
    """``entries`` with client addresses the user may not read left out, a chunk at a time."""
    from .privacy import redact_audit_entries

    chunk = []
    for entry in entries:
        chunk.append(entry)
        if len(chunk) >= size:
            yield from redact_audit_entries(user, chunk, cache)
            chunk = []
    if chunk:
        yield from redact_audit_entries(user, chunk, cache)


def _cell(value) -> str:
    return str(value if value is not None else "")[:XLSX_CELL_MAX]


@job_handler("core.audit_export", label=gettext_lazy("审计日志导出"), creator_only_download=True)
def audit_export(job: Job, progress: Progress) -> dict:
    """Export the audit entries the job's creator may see (with the filters in params) to .xlsx."""
    import xlsxwriter

    from . import audit_display

    user = job.created_by
    if user is None or not user.is_active:
        raise JobError(_("审计日志导出须由有效账号发起"))
    try:
        qs = queries.audit_queryset(user, **audit_filters(job.params or {}))
    except InvalidInput as exc:
        raise JobError(exc.message) from None
    qs = qs.order_by("-id")
    total = qs.count()
    progress(0, total, _("准备导出%(n)d条记录") % {"n": total})
    folder = export_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"audit-{job.pk}-{secrets.token_hex(8)}.xlsx"
    final_path = folder / name
    part_path = folder / (name + ".part")
    rows = 0
    try:
        book = xlsxwriter.Workbook(str(part_path), {"constant_memory": True, "strings_to_formulas": False,
                                                    "strings_to_urls": False, "strings_to_numbers": False})
        bold = book.add_format({"bold": True})
        sheet, sheet_rows, sheet_no = None, XLSX_MAX_ROWS, 0
        shown_ips: dict = {}  # actor id -> whether the creator may open that account
        for entry in _redacted_chunks(user, qs.iterator(chunk_size=2000), shown_ips):
            if sheet_rows >= XLSX_MAX_ROWS:
                sheet_no += 1
                sheet = book.add_worksheet(_("审计日志") if sheet_no == 1 else f"{_('审计日志')}{sheet_no}")
                sheet.set_column(0, 0, 20)
                sheet.set_column(1, 5, 14)
                sheet.set_column(6, 7, 40)
                for col, title in enumerate(AUDIT_EXPORT_HEADERS):
                    sheet.write_string(0, col, str(title), bold)
                sheet_rows = 0
            sheet_rows += 1
            rows += 1
            values = [
                timezone.localtime(entry.at).strftime("%Y-%m-%d %H:%M:%S"), entry.actor_name,
                audit_display.action_label(entry.action), entry.content_type.name, str(entry.object_id),
                entry.object_repr, audit_display.changes_text(entry),
                entry.note, entry.ip or "", entry.request_id,
            ]
            for col, value in enumerate(values):
                sheet.write_string(sheet_rows, col, _cell(value))  # strings only: no formula injection
            if rows % 500 == 0:
                progress(rows, max(total, rows), _("已导出%(n)d条") % {"n": rows})
        if sheet is None:  # nothing matched: still a readable file with the header row
            sheet = book.add_worksheet(_("审计日志"))
            for col, title in enumerate(AUDIT_EXPORT_HEADERS):
                sheet.write_string(0, col, str(title), bold)
        book.close()
        os.replace(part_path, final_path)
    finally:
        if part_path.exists():
            part_path.unlink()
    progress(rows, max(total, rows), _("已导出%(n)d条") % {"n": rows})
    from .privacy import record_export

    record_export(user, "audit.export", filters=job.params or {}, rows=rows,
                  note=_("后台任务 #%(n)d") % {"n": job.pk})
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return {"file": name, "rows": rows, "filename": f"{_('审计日志')}-{stamp}.xlsx"}


# ---------------------------------------------------------------- retention (job core.cleanup)

PURGE_BATCH = 1000           # job rows deleted per transaction
PURGE_MAX_ROWS = 200_000     # per run; a backlog larger than this is worked off by the next runs
PART_FILE_DAYS = 1           # an unfinished export (``.part``) older than this was abandoned
IMPORT_DIR_NAME = "imports"  # registry.imports stores uploads here (MEDIA_ROOT/imports/<hex32>.<ext>)
_IMPORT_NAME_RE = re.compile(r"^[0-9a-f]{32}\.[a-z]{3,4}$")
FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


def retention_cutoffs(now=None) -> dict[str, datetime.datetime]:
    """Finished jobs older than these (by ``finished_at``) are purged; files older than these removed."""
    now = now or timezone.now()
    days = datetime.timedelta(days=1)
    return {
        JobStatus.SUCCEEDED: now - settings.JOB_RETENTION_DAYS * days,
        JobStatus.CANCELLED: now - settings.JOB_RETENTION_DAYS * days,
        JobStatus.FAILED: now - settings.JOB_FAILED_RETENTION_DAYS * days,
        "exports": now - settings.EXPORT_RETENTION_DAYS * days,
        "imports": now - settings.IMPORT_RETENTION_DAYS * days,
    }


def _purge_job_rows(ids: list[int]) -> int:
    """THE one hard delete of ``Job`` rows (``ScopedModel`` forbids deletes everywhere else).

    Jobs are system bookkeeping, not business records: what they did is in the audit trail,
    which keeps every entry. Only :func:`purge_expired` calls this, and it audits each run."""
    if not ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(Job._meta.db_table)} "
                       f"WHERE id IN ({', '.join(['%s'] * len(ids))})", ids)
        return cursor.rowcount


def _purge_jobs(status: str, cutoff, limit: int, exclude_pk=None) -> int:
    deleted = 0
    while deleted < limit:
        qs = Job.objects.filter(status=status, finished_at__lt=cutoff)
        if exclude_pk is not None:
            qs = qs.exclude(pk=exclude_pk)
        with transaction.atomic():
            ids = list(qs.order_by("finished_at", "id").values_list("pk", flat=True)[:min(PURGE_BATCH, limit - deleted)])
            if not ids:
                break
            deleted += _purge_job_rows(ids)
    return deleted


def _expired_files(folder: Path, name_ok: Callable[[str], bool], cutoff: float) -> list[Path]:
    """Regular files directly in ``folder`` (never below it, never a link) whose name passes
    ``name_ok`` and which were last modified before ``cutoff`` (a timestamp)."""
    if not folder.is_dir():
        return []
    out = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.is_file(follow_symlinks=False) or not name_ok(entry.name):
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    out.append(Path(entry.path))
            except FileNotFoundError:
                continue
    return out


def _unlink(paths) -> int:
    removed = 0
    for path in paths:
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
        except OSError:
            log.warning("cleanup: could not remove %s", path, exc_info=True)
    return removed


def _purge_export_files(cutoff: datetime.datetime, now: datetime.datetime) -> int:
    """Generated export files (``MEDIA_ROOT/exports``) older than the cut-off, and abandoned
    ``.part`` files. Only names an export can have; attachments live elsewhere and are never touched."""
    folder = export_dir()
    old = _expired_files(folder, lambda n: bool(_EXPORT_NAME_RE.match(n)), cutoff.timestamp())
    part_cutoff = (now - datetime.timedelta(days=PART_FILE_DAYS)).timestamp()
    parts = _expired_files(folder, lambda n: n.endswith(".part") and bool(_EXPORT_NAME_RE.match(n[:-5])),
                           part_cutoff)
    return _unlink(old + parts)


def _purge_import_files(cutoff: datetime.datetime) -> int:
    """Uploaded import files (``MEDIA_ROOT/imports``) whose every job finished before the cut-off;
    a file no job refers to (its jobs already purged, or an upload that never became a job) goes
    when it is older than the cut-off. A file of a queued or running job always stays."""
    folder = Path(settings.MEDIA_ROOT) / IMPORT_DIR_NAME
    candidates = _expired_files(folder, lambda n: bool(_IMPORT_NAME_RE.match(n)), cutoff.timestamp())
    doomed = []
    for i in range(0, len(candidates), 500):
        chunk = {p.name: p for p in candidates[i:i + 500]}
        keep = set()
        for name, status, finished_at in (Job.objects.filter(params__file__in=list(chunk))
                                          .values_list("params__file", "status", "finished_at")):
            if status not in FINISHED or finished_at is None or finished_at >= cutoff:
                keep.add(name)
        doomed.extend(p for name, p in chunk.items() if name not in keep)
    return _unlink(doomed)


def purge_expired(job: Job | None, now=None) -> dict:
    """Apply the retention rules once: delete finished job rows past their retention (in batches
    of ``PURGE_BATCH``, each its own transaction, at most ``PURGE_MAX_ROWS`` a run) and remove
    expired export and import files. Writes ONE audit entry (``job.purge``, on the cleanup job)
    with the counts, also when a step failed part way. Returns the counts."""
    now = now or timezone.now()
    cutoffs = retention_cutoffs(now)
    counts = {"jobs_succeeded": 0, "jobs_cancelled": 0, "jobs_failed": 0, "export_files": 0, "import_files": 0}
    exclude = job.pk if job is not None else None
    error = None
    try:
        budget = PURGE_MAX_ROWS
        for status in (JobStatus.SUCCEEDED, JobStatus.CANCELLED, JobStatus.FAILED):
            n = _purge_jobs(status, cutoffs[status], budget, exclude_pk=exclude)
            counts[f"jobs_{status}"] = n
            budget -= n
        counts["export_files"] = _purge_export_files(cutoffs["exports"], now)
        counts["import_files"] = _purge_import_files(cutoffs["imports"])
    except Exception as exc:  # noqa: BLE001 - recorded below, then raised
        error = exc
        raise
    finally:
        if job is not None:
            note = _("保留期清理:删除任务记录%(j)d条,导出文件%(e)d个,导入文件%(i)d个") % {
                "j": counts["jobs_succeeded"] + counts["jobs_cancelled"] + counts["jobs_failed"],
                "e": counts["export_files"], "i": counts["import_files"]}
            if error is not None:
                note += _("(中途出错:%(e)s)") % {"e": str(error)[:200]}
            changes = {k: [None, v] for k, v in counts.items()}
            changes["cutoffs"] = [None, {str(k): v.isoformat() for k, v in cutoffs.items()}]
            with transaction.atomic():
                audit.record("job.purge", job, changes, note=note)
        log.info("cleanup: %s", counts)
    return counts


@job_handler("core.cleanup", label=gettext_lazy("保留期清理"), audit_runs=False)
def cleanup(job: Job, progress: Progress) -> dict:
    """Periodic retention clean-up (``YINGJI_SCHEDULE``, daily by default): see :func:`purge_expired`.
    Its own start and success are not audited; its one ``job.purge`` entry per run is."""
    progress(0, 1, _("清理过期任务记录与文件"))
    counts = purge_expired(job)
    progress(1, 1, _("清理完成"))
    return counts
