"""The figures page (/stats/): totals, charts and tables of the hazard closed loop and of the
inspections, for the signed-in user's scope, read from the rollups (``figures``) with their
"as of" time. Thin: parse the filters, read the figures, render."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from yingji.core.errors import InvalidInput
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


@login_required
def index(request):
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
        "chart_data": _chart_data(hz, insp),
    }, status=400 if error else 200)


@login_required
@require_POST
def refresh(request):
    job = services.request_refresh(request.user)  # Forbidden for non-administrators (403 page)
    messages.success(request, _("已排队刷新任务 #%(id)d,完成后统计数据将更新") % {"id": job.pk})
    return redirect(request.POST.get("next") if str(request.POST.get("next", "")).startswith("/stats/")
                    else reverse("stats:index"))
