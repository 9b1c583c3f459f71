"""The hazard list's export (``/exports/hazards/``): the list page's filters and filter function
(``queries.hazard_search``), one row per hazard, totals per state. Phones of the responsible
person in full only where the user may edit the hazard (as on the detail page)."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from yingji.core import exports
from yingji.core.privacy import PhoneReveal

from . import queries
from .models import Category, Hazard, Level, Source, State

C = exports.Column


class HazardExport(exports.ExportList):
    name = "hazards"
    action = "hazard.export"
    title = _("隐患清单")
    list_url = "hazards:list"
    filter_names = ("q", "state", "level", "area", "sector", "source", "overdue", "site")
    extra_labels = {"site": _("监管对象")}
    flag_names = ("overdue",)
    columns = [C(_("编号"), 8), C(_("隐患"), 32), C(_("隐患类别")), C(_("来源")), C(_("等级"), 8), C(_("状态"), 10),
               C(_("超期"), 6), C(_("监管对象"), 28), C(_("区域")), C(_("具体位置"), 24), C(_("整改责任单位"), 24),
               C(_("整改责任人")), C(_("责任人电话")), C(_("整改期限"), 12), C(_("上报时间"), 17), C(_("销号时间"), 17)]
    fields = ("id", "title", "category", "source", "level", "state", "is_overdue", "site__name", "area__name",
              "location", "responsible_unit", "responsible_person", "responsible_phone", "deadline", "reported_at",
              "closed_at")
    count_by = 5
    api_params = {"q": "关键词/编号", "state": "状态(open=未销号)", "level": "隐患等级 general/major",
                  "area": "区域ID(含下级)", "sector": "行业领域ID或编码", "source": "来源",
                  "overdue": "仅看超期(true/false)", "site": "监管对象ID"}

    @property
    def form_class(self):
        from .forms import HazardFilterForm

        return HazardFilterForm

    def search(self, user, filters):
        return queries.hazard_search(user, q=filters.get("q"), state=filters.get("state"),
                                     level=filters.get("level"), area=filters.get("area"),
                                     sector=filters.get("sector"), source=filters.get("source"),
                                     overdue=filters.get("overdue"), site=filters.get("site"))

    def describe_extra(self, user, name, value):
        if name == "site":
            from yingji.registry.models import Site

            found = Site.objects.visible_to(user).filter(pk=int(value)).values_list("name", flat=True).first() \
                if str(value).isdigit() else None
            return f"{found}(#{value})" if found else str(value)
        return super().describe_extra(user, name, value)

    def start(self, user, filters):
        return {"phones": PhoneReveal(user, Hazard), "category": exports.labels(Category),
                "source": exports.labels(Source), "level": exports.labels(Level), "state": exports.labels(State)}

    def prepare(self, user, chunk, ctx):
        ctx["phones"].load([v[0] for v in chunk])

    def row(self, v, ctx):
        (pk, title, category, source, level, state, overdue, site, area, location, unit, person, phone, deadline,
         reported_at, closed_at) = v
        return [pk, title, ctx["category"].get(category, category), ctx["source"].get(source, source),
                ctx["level"].get(level, level), ctx["state"].get(state, state),
                bool(overdue and state != State.CLOSED), site or "", area, location, unit, person,
                ctx["phones"].phone(pk, phone), exports.day(deadline), exports.local_time(reported_at),
                exports.local_time(closed_at)]


exports.register(HazardExport())
