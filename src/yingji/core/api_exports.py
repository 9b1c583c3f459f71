"""List exports over the API, mounted at /api/v1/exports: ``GET /api/v1/exports/{list}`` with the
same query parameters as the list (documented per list in OpenAPI). A small export answers the
.xlsx (200); a big one answers its queued job (202; download from ``/api/v1/jobs/{id}/download``
when it has succeeded). Bad filters answer 422 with the field in ``detail``; a list the caller may
not export answers 404.
"""
from __future__ import annotations

from django.http import FileResponse
from ninja import Router, Status

from . import exports
from .api import ERRORS
from .api_jobs import JobOut
from .api_jobs import _out as job_out

router = Router(tags=["exports"])

XLSX_200 = {"description": "the .xlsx file (small exports)",
            "content": {exports.XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}}}


def _run(request, name: str):
    kind, result = exports.export(request.user, name, request.GET, form=False)
    if kind == "file":
        out, filename = result
        return FileResponse(out, as_attachment=True, filename=filename, content_type=exports.XLSX_CONTENT_TYPE)
    return Status(202, job_out(result, request.user))


def _operation(name: str):
    def export_list(request):
        return _run(request, name)

    export_list.__name__ = f"export_{name}"
    return export_list


for _name, _spec in exports.all_lists().items():
    _params = [{"in": "query", "name": p, "required": False, "schema": {"type": "string"}, "description": d}
               for p, d in _spec.api_params.items()]
    router.add_api_operation(
        f"/{_name}", ["GET"], _operation(_name), response={200: None, 202: JobOut, **ERRORS},
        summary=f"导出{_spec.title}(.xlsx,筛选条件同列表)", operation_id=f"export_{_name}",
        openapi_extra={"parameters": _params, "responses": {200: XLSX_200}})
