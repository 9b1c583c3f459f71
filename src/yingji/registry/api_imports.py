"""Site import/export over the API, mounted at /api/v1/site-imports.

POST ``""`` (multipart: file, mode, dry_run, acknowledge_unrecognised) queues an import and returns
its job; GET ``/{job_id}`` is the job's status (as ``/api/v1/jobs/{id}``; ``result`` holds the
dry-run report: counts, ``column_warnings`` / ``needs_acknowledgement`` for unrecognised columns,
``notices`` for skipped footer and duplicate rows, all in Chinese), GET ``/{job_id}/errors`` the
error report, POST ``/{job_id}/confirm`` starts the real import of a dry run (422
``unrecognised_columns`` until ``acknowledge_unrecognised`` is true when the dry run found some); GET ``/export`` returns
the filtered site list as .xlsx (or, for big lists, a queued job with status 202).
"""
from __future__ import annotations


from django.http import FileResponse
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from yingji.core import jobs
from yingji.core.api import ERRORS, file_answer
from yingji.core.api_jobs import JobOut
from yingji.core.api_jobs import _out as job_out
from yingji.core.errors import InvalidInput, NotFound

from . import exports, imports

router = Router(tags=["registry"])


class ConfirmIn(Schema):
    mode: str | None = None
    # Required (true) when the dry run found unrecognised columns: their data is not imported.
    acknowledge_unrecognised: bool = False


def _bool(value) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "on", "yes")


@router.post("", response={200: JobOut, **ERRORS}, summary="上传文件导入监管对象(后台任务)")
def upload(request, file: File[UploadedFile], mode: Form[str] = imports.MODE_ALL, dry_run: Form[str] = "false",
           acknowledge_unrecognised: Form[str] = "false"):
    job = imports.start_import(request.user, file, mode=mode, dry_run=_bool(dry_run),
                               acknowledge_unrecognised=_bool(acknowledge_unrecognised))
    return job_out(job, request.user)


@router.get("/export", response={202: JobOut, **ERRORS}, openapi_extra=file_answer(exports.XLSX_CONTENT_TYPE),
            summary="导出筛选后的监管对象(.xlsx)")
def export(request, q: str | None = None, area_id: int | None = None, sector: str | None = None,
           industry: str | None = None, trait: str | None = None, colour: str | None = None,
           status: str | None = None, kind: str | None = None, include_archived: bool = False):
    from yingji.core import exports as core_exports

    query = {"q": q, "area": str(area_id) if area_id else "", "sector": sector, "industry": industry,
             "trait": trait, "colour": colour, "status": status, "kind": kind,
             "archived": "1" if include_archived else ""}
    kind_, result = core_exports.export(request.user, exports.SITES.name,
                                        {k: v for k, v in query.items() if v}, form=False)
    if kind_ == "file":
        out, filename = result
        return FileResponse(out, as_attachment=True, filename=filename, content_type=exports.XLSX_CONTENT_TYPE)
    return Status(202, job_out(result, request.user))


@router.get("/{int:job_id}", response={200: JobOut, **ERRORS}, summary="导入任务状态、预览与统计")
def status(request, job_id: int):
    return job_out(imports.get_import_job(request.user, job_id), request.user)


@router.get("/{int:job_id}/errors", response=ERRORS, openapi_extra=file_answer(exports.XLSX_CONTENT_TYPE),
            summary="下载导入错误报告")
def error_report(request, job_id: int):
    job = imports.get_import_job(request.user, job_id)
    if not (job.result or {}).get("errors"):
        raise NotFound("该导入没有错误报告")
    job, path = jobs.downloadable_file(request.user, job.pk)
    return FileResponse(path.open("rb"), as_attachment=True, filename=jobs.download_name(job),
                        content_type=exports.XLSX_CONTENT_TYPE)


@router.post("/{int:job_id}/confirm", response={200: JobOut, **ERRORS}, summary="确认试导入,开始正式导入")
def confirm(request, job_id: int, payload: ConfirmIn | None = None):
    job = imports.get_import_job(request.user, job_id)
    mode = payload.mode if payload else None
    if mode is not None and mode not in imports.MODES:
        raise InvalidInput("导入方式无效", detail={"mode": "导入方式无效"})
    ack = bool(payload and payload.acknowledge_unrecognised)
    return job_out(imports.confirm_import(request.user, job, mode=mode, acknowledge_unrecognised=ack), request.user)
