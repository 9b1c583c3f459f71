"""Exports of the inspection list (``/exports/inspections/``) and the campaign list
(``/exports/campaigns/``): the list pages' filters and filter functions
(``queries.inspection_search`` / ``queries.campaign_search``), totals per state / status."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from yingji.core import exports

from . import queries
from .models import CampaignStatus, InspectionState, Mode

C = exports.Column


class InspectionExport(exports.ExportList):
    name = "inspections"
    action = "inspection.export"
    title = _("检查记录")
    list_url = "inspections:list"
    filter_names = ("mode", "state", "campaign", "area", "date_from", "date_to", "mine", "site")
    extra_labels = {"site": _("监管对象")}
    flag_names = ("mine",)
    columns = [C(_("编号"), 8), C(_("监管对象"), 28), C(_("区域")), C(_("检查方式"), 12), C(_("状态"), 10),
               C(_("检查时间"), 17), C(_("完成时间"), 17), C(_("负责人")), C(_("检查项数"), 10), C(_("不符合项数"), 10),
               C(_("发现隐患数"), 10), C(_("专项行动"), 24)]
    fields = ("id", "site__name", "area__name", "mode", "state", "started_at", "completed_at", "lead__display_name",
              "lead__username", "items_total", "items_failed", "hazards_found", "campaign__name")
    count_by = 4
    api_params = {"mode": "检查方式", "state": "状态", "campaign": "专项行动ID", "area": "区域ID(含下级)",
                  "date_from": "检查日期自 YYYY-MM-DD", "date_to": "检查日期至 YYYY-MM-DD",
                  "mine": "只看我负责的(true/false)", "site": "监管对象ID"}

    @property
    def form_class(self):
        from .forms import InspectionFilterForm

        return InspectionFilterForm

    def search(self, user, filters):
        return queries.inspection_search(
            user, mode=filters.get("mode"), state=filters.get("state"), campaign=filters.get("campaign"),
            area=filters.get("area"), date_from=filters.get("date_from"), date_to=filters.get("date_to"),
            mine=exports.flag_filter(filters.get("mine")), site=filters.get("site"))

    def describe_extra(self, user, name, value):
        if name == "site" and str(value).isdigit():
            from yingji.registry.models import Site

            found = Site.objects.visible_to(user).filter(pk=int(value)).values_list("name", flat=True).first()
            return f"{found}(#{value})" if found else str(value)
        return super().describe_extra(user, name, value)

    def start(self, user, filters):
        return {"mode": exports.labels(Mode), "state": exports.labels(InspectionState)}

    def row(self, v, ctx):
        (pk, site, area, mode, state, started, completed, lead_name, lead_username, total, failed, found,
         campaign) = v
        return [pk, site, area, ctx["mode"].get(mode, mode), ctx["state"].get(state, state),
                exports.local_time(started), exports.local_time(completed), lead_name or lead_username,
                total, failed, found, campaign or ""]


class CampaignExport(exports.ExportList):
    name = "campaigns"
    action = "campaign.export"
    title = _("专项行动")
    list_url = "inspections:campaigns"
    filter_names = ("q", "status")
    columns = [C(_("编号"), 8), C(_("名称"), 32), C(_("状态"), 10), C(_("组织区域")), C(_("牵头单位"), 20),
               C(_("开始日期"), 12), C(_("结束日期"), 12), C(_("目标覆盖率(%)"), 12), C(_("目标说明"), 32)]
    fields = ("id", "name", "status", "area__name", "organiser__name", "starts_on", "ends_on", "target_coverage",
              "target_note")
    count_by = 2
    api_params = {"q": "名称", "status": "状态"}

    def make_form(self, user, data):
        from .forms import CampaignFilterForm

        return CampaignFilterForm(data)

    @property
    def form_class(self):
        from .forms import CampaignFilterForm

        return CampaignFilterForm

    def search(self, user, filters):
        return queries.campaign_search(user, status=filters.get("status"), q=filters.get("q"))

    def start(self, user, filters):
        return {"status": exports.labels(CampaignStatus)}

    def row(self, v, ctx):
        pk, name, status, area, organiser, starts, ends, coverage, note = v
        return [pk, name, ctx["status"].get(status, status), area, organiser or "", exports.day(starts),
                exports.day(ends), float(coverage) if coverage is not None else None, note]


exports.register(InspectionExport())
exports.register(CampaignExport())
