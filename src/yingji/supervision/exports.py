"""The listed-supervision list's export (``/exports/supervision/``): the list page's filters and
filter function (``queries.listing_search``), totals per state."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from yingji.core import exports

from . import queries, services
from .models import ACTIVE_STATES, ListingLevel, ListingState, Shutdown

C = exports.Column


class ListingExport(exports.ExportList):
    name = "supervision"
    action = "supervision.export"
    title = _("挂牌督办")
    list_url = "supervision:list"
    filter_names = ("q", "level", "state", "overdue", "pending_extension")
    columns = [C(_("编号"), 8), C(_("挂牌隐患"), 32), C(_("隐患编号"), 10), C(_("监管对象"), 28), C(_("区域")),
               C(_("挂牌级别"), 10), C(_("挂牌单位"), 20), C(_("督办通知书文号"), 20), C(_("状态"), 12),
               C(_("超期"), 6), C(_("停产情况"), 10), C(_("挂牌日期"), 12), C(_("整改期限"), 12),
               C(_("摘牌时间"), 17)]
    fields = ("id", "hazard__title", "hazard_id", "hazard__site__name", "hazard__area__name", "level",
              "listing_body_name", "notice_number", "state", "shutdown", "listed_on", "deadline", "delisted_at")
    count_by = 8
    api_params = {"q": "关键词/编号", "level": "挂牌级别", "state": "状态(active=督办中)",
                  "overdue": "仅看超期(true/false)", "pending_extension": "仅看待审批延期(true/false)"}

    def make_form(self, user, data):
        from .forms import FilterForm

        return FilterForm(data)

    @property
    def form_class(self):
        from .forms import FilterForm

        return FilterForm

    def search(self, user, filters):
        return queries.listing_search(user, q=filters.get("q"), level=filters.get("level"),
                                      state=filters.get("state"), overdue=filters.get("overdue"),
                                      pending_extension=filters.get("pending_extension"))

    def start(self, user, filters):
        return {"level": exports.labels(ListingLevel), "state": exports.labels(ListingState),
                "shutdown": exports.labels(Shutdown), "today": services.today()}

    def row(self, v, ctx):
        (pk, title, hazard_id, site, area, level, body, number, state, shutdown, listed_on, deadline,
         delisted_at) = v
        overdue = state in ACTIVE_STATES and deadline is not None and deadline < ctx["today"]
        return [pk, title, hazard_id, site or "", area, ctx["level"].get(level, level), body, number,
                ctx["state"].get(state, state), overdue, ctx["shutdown"].get(shutdown, shutdown),
                exports.day(listed_on), exports.day(deadline), exports.local_time(delisted_at)]


exports.register(ListingExport())
