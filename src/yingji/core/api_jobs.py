"""Background jobs over the API: list, status/progress, cancel, download a result file."""
from __future__ import annotations

import datetime

from django.http import FileResponse
from django.urls import reverse
from ninja import Router, Schema

from . import jobs, services
from .api import ERRORS, file_answer
from .errors import InvalidInput
from .models import Job, JobStatus
from .pagination import keyset_page

router = Router(tags=["jobs"])


class JobOut(Schema):
    id: int
    kind: str
    kind_label: str
    status: str
    status_label: str
    percent: int
    progress_done: int
    progress_total: int
    message: str
    result: dict
    error: str
    attempts: int
    max_attempts: int
    area_id: int
    created_by_id: int | None
    run_after: datetime.datetime
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    download_url: str | None


class JobPage(Schema):
    items: list[JobOut]
    next_cursor: str | None


def _out(job: Job, user) -> dict:
    job = jobs.redacted(user, job)
    download = None
    if jobs.result_file(job) is not None and jobs.can_download(user, job):
        download = reverse("api:job_download", kwargs={"job_id": job.pk})
    return {
        "id": job.pk, "kind": job.kind, "kind_label": jobs.kind_label(job.kind), "status": job.status,
        "status_label": str(job.get_status_display()), "percent": job.percent,
        "progress_done": job.progress_done, "progress_total": job.progress_total, "message": job.message,
        "result": job.result or {}, "error": job.error, "attempts": job.attempts,
        "max_attempts": job.max_attempts, "area_id": job.area_id, "created_by_id": job.created_by_id,
        "run_after": job.run_after, "created_at": job.created_at, "started_at": job.started_at,
        "finished_at": job.finished_at, "download_url": download,
    }


@router.get("", response={200: JobPage, **ERRORS}, summary="我可见的后台任务(键集分页)")
def list_jobs(request, status: str | None = None, kind: str | None = None, cursor: str | None = None,
              limit: int = 50):
    qs = Job.objects.visible_to(request.user).select_related("area")
    if status:
        if status not in JobStatus.values:
            raise InvalidInput("任务状态无效", detail={"status": "任务状态无效"})
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    items, next_cursor = keyset_page(qs, cursor, limit)
    return {"items": [_out(j, request.user) for j in items], "next_cursor": next_cursor}


@router.get("/{job_id}", response={200: JobOut, **ERRORS}, summary="任务状态与进度")
def get_job(request, job_id: int):
    return _out(services.get_visible(Job, request.user, job_id), request.user)


@router.post("/{job_id}/cancel", response={200: JobOut, **ERRORS}, summary="取消排队中的任务")
def cancel_job(request, job_id: int):
    job = jobs.cancel_job(request.user, services.get_visible(Job, request.user, job_id))
    return _out(job, request.user)


@router.get("/{job_id}/download", response=ERRORS, openapi_extra=file_answer(), url_name="job_download",
            summary="下载任务生成的文件")
def download(request, job_id: int):
    job, path = jobs.downloadable_file(request.user, job_id)
    return FileResponse(path.open("rb"), as_attachment=True, filename=jobs.download_name(job))
