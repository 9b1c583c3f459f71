"""The figures page (/stats/): totals, charts and tables of the hazard closed loop and of the
inspections, for the signed-in user's scope, read from the rollups (``figures``) with their
"as of" time. Thin: parse the filters, read the figures, render."""
from __future__ import annotations

from django.contrib import messages
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from yingji.core.errors import InvalidInput, NotFound
from yingji.hazards.models import Level

from . import figures, services


def _chart_data(hz: figures.Figures, insp: figures.Figures) -> dict:
    """What the charts draw (the same numbers as the tables)."""
    def pairs(rows, value="found"):
        return [{"name": str(r["label"]), "value": r[value]} for r in rows]

    months = hz.breakdowns["month"]
    return {
        "months": [r["label"] for r in months],
        "found": [r["found"] for r in months],
        "closed": [r["closed"] for r in months],
        "rate": [r["rectification_rate"] for r in months],
        "areas": [str(r["label"]) for r in hz.breakdowns["area"]],
        "area_found": [r["found"] for r in hz.breakdowns["area"]],
        "area_closed": [r["closed"] for r in hz.breakdowns["area"]],
        "state": pairs(hz.breakdowns["state"]),
        "level": pairs(hz.breakdowns["level"]),
        "source": pairs(hz.breakdowns["source"]),
        "sector": pairs(hz.breakdowns["sector"]),
        "mode": pairs(insp.breakdowns["mode"], "inspections"),
        "insp_months": [r["label"] for r in insp.breakdowns["month"]],
        "insp_count": [r["inspections"] for r in insp.breakdowns["month"]],
        "insp_hazards": [r["hazards_found"] for r in insp.breakdowns["month"]],
        "labels": {
            "found": _("排查发现"), "closed": _("已销号"), "rate": _("整改率(%)"), "inspections": _("检查次数"),
            "hazards_found": _("发现隐患"), "empty": _("暂无数据"),
        },
    }


def chart_tables(data: dict) -> list[dict]:
    """Each chart's numbers as a table (shown under the chart and downloaded as .xlsx): built from
    ``_chart_data`` itself, so the table is exactly what the chart draws."""
    L = data["labels"]
    count = _("数量")

    def pairs(rows, kind=""):
        return [([kind] if kind else []) + [r["name"], r["value"]] for r in rows]

    tables = [
        {"id": "month", "title": _("按月趋势"), "columns": [_("月份"), L["found"], L["closed"], L["rate"]],
         "rows": [list(r) for r in zip(data["months"], data["found"], data["closed"], data["rate"])]},
        {"id": "area", "title": _("按区域"), "columns": [_("区域"), L["found"], L["closed"]],
         "rows": [list(r) for r in zip(data["areas"], data["area_found"], data["area_closed"])]},
        {"id": "state", "title": _("按状态"), "columns": [_("状态"), count], "rows": pairs(data["state"])},
        {"id": "level", "title": _("按等级与来源"), "columns": [_("分类"), _("名称"), count],
         "rows": pairs(data["level"], _("隐患等级")) + pairs(data["source"], _("来源"))},
        {"id": "sector", "title": _("按行业领域"), "columns": [_("行业领域"), L["found"]], "rows": pairs(data["sector"])},
        {"id": "mode", "title": _("按检查方式"), "columns": [_("检查方式"), L["inspections"]], "rows": pairs(data["mode"])},
        {"id": "insp_month", "title": _("检查按月趋势"), "columns": [_("月份"), L["inspections"], L["hazards_found"]],
         "rows": [list(r) for r in zip(data["insp_months"], data["insp_count"], data["insp_hazards"])]},
    ]
    for t in tables:
        t["dom"] = "chart-" + t["id"].replace("_", "-")  # the element stats.js draws into
    return tables


def _figures(request):
    user = request.user
    error = None
    try:
        filters = figures.parse_filters(user, request.GET)
    except InvalidInput as exc:
        error = exc.message
        filters = figures.parse_filters(user, {})
    run = services.latest_run()
    hz = figures.hazard_figures(user, filters, run=run)
    insp = figures.inspection_figures(user, filters, run=run)
    return filters, run, hz, insp, error


@login_required
def chart_xlsx(request, chart: str):
    """One chart's data as .xlsx, for the same user and filters as the page (bad filters: 422)."""
    import io

    import xlsxwriter

    filters, _run, hz, insp, error = _figures(request)
    if error:
        raise InvalidInput(error)
    tables = {t["id"]: t for t in chart_tables(_chart_data(hz, insp))}
    table = tables.get(chart)
    if table is None:
        raise NotFound()
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False})
    sheet = book.add_worksheet(str(table["title"])[:31])
    bold = book.add_format({"bold": True})
    sheet.set_column(0, len(table["columns"]) - 1, 16)
    for col, title in enumerate(table["columns"]):
        sheet.write_string(0, col, str(title), bold)
    for row_no, row in enumerate(table["rows"], start=1):
        for col, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                sheet.write_number(row_no, col, value)
            else:
                sheet.write_string(row_no, col, str(value))  # strings only: no formula injection
    book.close()
    name = f"{table['title']}-{filters.start:%Y%m}-{filters.end:%Y%m}.xlsx"
    response = HttpResponse(out.getvalue(),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response


@login_required
def index(request):
    user = request.user
    filters, run, hz, insp, error = _figures(request)
    chart_data = _chart_data(hz, insp)
    base = filters.query()
    base.pop("area", None)
    return render(request, "stats/index.html", {
        "filters": filters, "hz": hz, "insp": insp, "run": run, "error": error,
        "area_choices": figures.area_choices(user, hz.focus),
        "sector_choices": figures.sector_choices(user),
        "campaign_choices": figures.campaign_choices(user),
        "level_choices": Level.choices,
        "drill_query": urlencode(base),
        "api_query": urlencode(filters.query()),
        "can_refresh": services.can_request_refresh(user),
        "chart_data": chart_data,
        "chart_tables": {t["id"]: t for t in chart_tables(chart_data)},
        "chart_query": urlencode(filters.query()),
    }, status=400 if error else 200)


@login_required
@require_POST
def refresh(request):
    job = services.request_refresh(request.user)  # Forbidden for non-administrators (403 page)
    messages.success(request, _("已排队刷新任务 #%(id)d,完成后统计数据将更新") % {"id": job.pk})
    return redirect(request.POST.get("next") if str(request.POST.get("next", "")).startswith("/stats/")
                    else reverse("stats:index"))
