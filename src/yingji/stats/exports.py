"""The figures page's tables as .xlsx (``/exports/stats/``): the page's filters
(``figures.parse_filters``) and numbers (``figures.hazard_figures`` / ``inspection_figures``, the
rollups or live aggregates of the user's scope) — the totals, then every breakdown table, each
ending with its total row. Always small: written inline."""
from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yingji.core import exports

from . import figures, services

HAZARD_COLUMNS = [
    ("found", gettext_lazy("排查发现")), ("major", gettext_lazy("重大隐患")), ("general", gettext_lazy("一般隐患")),
    ("closed", gettext_lazy("已销号")), ("open", gettext_lazy("未整改")), ("overdue_open", gettext_lazy("超期未整改")),
    ("fixed_on_spot", gettext_lazy("当场整改")), ("closed_on_time", gettext_lazy("按期销号")),
    ("rectification_rate", gettext_lazy("整改率(%)")), ("on_time_rate", gettext_lazy("按期整改率(%)")),
    ("avg_close_days", gettext_lazy("平均整改用时(天)")),
]
INSPECTION_COLUMNS = [
    ("inspections", gettext_lazy("检查次数")), ("completed", gettext_lazy("已完成")),
    ("items_total", gettext_lazy("检查项数")), ("items_failed", gettext_lazy("不符合项")),
    ("hazards_found", gettext_lazy("发现隐患")),
]
DIMENSIONS = {
    "state": gettext_lazy("状态"), "level": gettext_lazy("隐患等级"), "area": gettext_lazy("区域"),
    "sector": gettext_lazy("行业领域"), "campaign": gettext_lazy("专项行动"), "month": gettext_lazy("月份"),
    "source": gettext_lazy("来源"), "mode": gettext_lazy("检查方式"),
}


class FiguresExport(exports.ExportList):
    name = "stats"
    action = "stats.export"
    title = gettext_lazy("统计分析")
    list_url = "stats:index"
    filter_names = ("from", "to", "area", "sector", "campaign", "level")
    count_total = False
    api_params = {"from": "起始月份 YYYY-MM", "to": "截止月份 YYYY-MM", "area": "区域ID(含下级)",
                  "sector": "行业领域ID或编码", "campaign": "专项行动ID", "level": "隐患等级 general/major"}

    def search(self, user, filters):
        return figures.parse_filters(user, filters)  # the page's own parser (InvalidInput in Chinese)

    def describe(self, user, filters):
        parsed = figures.parse_filters(user, filters)
        out = [(_("起始月份"), parsed.start.strftime("%Y-%m")), (_("截止月份"), parsed.end.strftime("%Y-%m"))]
        for name, label in (("area", _("区域")), ("sector", _("行业领域")), ("campaign", _("专项行动"))):
            obj = getattr(parsed, name)
            if obj is not None:
                out.append((label, str(getattr(obj, "name", obj))))
        if parsed.level:
            from yingji.hazards.models import Level

            out.append((_("隐患等级"), str(dict(Level.choices).get(parsed.level, parsed.level))))
        return out

    def is_small(self, user, filters):
        return True

    def write_body(self, book, sheet, first_row, user, filters, fmt, progress):
        parsed = figures.parse_filters(user, filters)
        run = services.latest_run()
        hz = figures.hazard_figures(user, parsed, run=run)
        insp = figures.inspection_figures(user, parsed, run=run)
        r = first_row
        as_of = exports.local_time(hz.as_of) if hz.as_of else _("统计数据尚未生成")
        sheet.write_string(r, 0, _("数据截至"), fmt["label"])
        sheet.write_string(r, 1, (_("实时统计") + " · " if hz.live else "") + as_of)
        rows = 0
        sheet.set_column(0, 0, 24)
        sheet.set_column(1, 12, 12)
        for heading, fig, columns in ((_("隐患统计"), hz, HAZARD_COLUMNS), (_("检查统计"), insp, INSPECTION_COLUMNS)):
            for dim, table in fig.breakdowns.items():
                r += 2
                sheet.write_string(r, 0, f"{heading} · {_('按')}{DIMENSIONS.get(dim, dim)}", fmt["label"])
                r += 1
                sheet.write_string(r, 0, str(DIMENSIONS.get(dim, dim)), fmt["head"])
                for col, (_key, label) in enumerate(columns, start=1):
                    sheet.write_string(r, col, str(label), fmt["head"])
                for item in table:
                    r += 1
                    rows += 1
                    exports.write_cells(sheet, r, [str(item["label"])] + [item.get(k) for k, _l in columns])
                r += 1
                exports.write_cells(sheet, r, [str(exports.TOTAL_LABEL)] + [fig.totals.get(k) for k, _l in columns])
        return rows, [], sheet, r


exports.register(FiguresExport())
